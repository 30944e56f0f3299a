"""The API reference covers every public name, and every cross-reference in the book resolves.

The nitpicky book build (``make book``: ``-n -W``) is the final judge; these checks
give the same answers in seconds, without executing a chapter:

* every public subpackage of ``mrs_lib`` has a page under ``book/api/`` listed in
  ``_toc.yml``, and every name of every public ``__all__`` has exactly one documented
  home (book/_ext/api_reference.py);
* every ``{func}``/``{class}``/``{meth}``/``{mod}``/... role in the chapters points at a
  documented ``mrs_lib`` object or module, or at another package's name that
  ``nitpick_ignore_regex`` covers (no inventory offline).
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(BOOK / "_ext"))

api = pytest.importorskip("api_reference", reason="needs sphinx (the book extra)")

ROLE = re.compile(r"\{(?:py:)?(func|class|meth|mod|attr|data|obj|exc)\}`([^`]+)`")


def _toc_files(node: object) -> list[str]:
    if isinstance(node, dict):
        out = [v for k, v in node.items() if k in ("file", "root") and isinstance(v, str)]
        rest = [v for k, v in node.items() if k not in ("file", "root")]
        return out + [f for v in rest for f in _toc_files(v)]
    if isinstance(node, list):
        return [f for item in node for f in _toc_files(item)]
    return []


def _pages() -> dict[str, tuple[str, bool]]:
    """``book/api/<page>.rst`` -> (package, shallow) from its ``.. mrs-api::`` directive."""
    out = {}
    for page in sorted((BOOK / "api").glob("*.rst")):
        text = page.read_text(encoding="utf-8")
        m = re.search(r"^\.\. mrs-api:: (\S+)\s*$", text, re.M)
        assert m, f"{page.name}: no `.. mrs-api::` directive"
        out[f"book/api/{page.stem}"] = (m.group(1), ":shallow:" in text)
    return out


def test_every_public_subpackage_has_a_page_in_the_toc() -> None:
    pages = _pages()
    toc = set(_toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))))
    assert "book/api/index" in toc
    assert set(pages) <= toc, f"API pages missing from _toc.yml: {sorted(set(pages) - toc)}"
    documented = {pkg for pkg, _ in pages.values()}
    missing = sorted(set(api.subpackages()) - documented)
    assert not missing, (
        f"no API page for {missing}: add book/api/<name>.rst holding `.. mrs-api:: <package>` "
        "(see book/api/sim.rst) and list it under book/api/index in _toc.yml"
    )
    assert documented == {"mrs_lib", *api.subpackages()}
    assert pages["book/api/core"] == ("mrs_lib", True)


def test_every_public_name_has_one_home_on_a_page() -> None:
    """Each name of each public ``__all__`` is documented once, at a public module that a page
    renders, and the object found there is the object the ``__all__`` exports."""
    rendered = {"mrs_lib", *api.submodules("mrs_lib", shallow=True)}
    for sub in api.subpackages():
        rendered |= {sub, *api.submodules(sub)}
    n = 0
    for module in api.public_modules():
        mod = importlib.import_module(module)
        for name in getattr(mod, "__all__", None) or []:
            home = api.home_of(module, name)
            assert api.is_public(home.module), (module, name, home)
            assert home.module in rendered, (module, name, home)
            assert name in api.names_at(home.module)
            assert getattr(importlib.import_module(home.module), name) is getattr(mod, name)
            n += 1
    assert n > 300  # the library's public surface, re-exports included


@pytest.mark.parametrize(
    ("spelling", "home"),
    [
        ("mrs_lib.sim.MegaPress", "mrs_lib.sim.sequence.MegaPress"),
        ("mrs_lib.sim.sequence.MegaPress.with_te", "mrs_lib.sim.sequence.MegaPress.with_te"),
        ("mrs_lib.Spectrum", "mrs_lib.spectrum.Spectrum"),
        ("mrs_lib.fit.lcm.blas_threads", "mrs_lib.fit.lcm.blas_threads"),  # private definer
        ("mrs_lib.types.METABOLITES", "mrs_lib.types.METABOLITES"),  # data
    ],
)
def test_re_exports_resolve_to_the_home(spelling: str, home: str) -> None:
    assert api.expand(spelling, None, None) == ("home", home)


def _chapter_roles() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(BOOK.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        found += [(path.name, kind, target) for kind, target in ROLE.findall(text)]
    for path in sorted(BOOK.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        found += [(path.name, kind, target) for kind, target in ROLE.findall(text)]
    return found


def _ignored(target: str) -> bool:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    patterns = config["sphinx"]["config"]["nitpick_ignore_regex"]
    return any(re.fullmatch(pattern, target) for _, pattern in patterns)


def test_every_role_in_the_chapters_resolves() -> None:
    roles = _chapter_roles()
    assert len(roles) > 50
    modules = set(api.public_modules())
    broken = []
    for page, kind, raw in roles:
        target = raw.split("<")[-1].rstrip(">").strip() if "<" in raw else raw
        target = target.lstrip("~!.")
        if kind == "mod":
            ok = target in modules or _ignored(target)
        elif target.startswith("mrs_lib."):
            found = api.expand(target, None, None)
            ok = found is not None and found[0] == "home"
        else:
            ok = _ignored(target)
        if not ok:
            broken.append(f"{page}: {{{kind}}}`{raw}`")
    assert not broken, "roles without a documented target:\n" + "\n".join(broken)
