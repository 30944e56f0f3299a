"""Sphinx extension: serve the ipywidgets JavaScript (and MathJax) from the built book, not CDNs.

myst-nb embeds the widget state of every executed notebook in its HTML page and,
by default, loads two scripts from public CDNs to render it: require.js and the
``@jupyter-widgets/html-manager`` bundle ``embed-amd.js``; Sphinx loads MathJax
from jsDelivr on every page with maths. Offline (or behind a firewall) the
widgets then stay blank and the equations raw. This extension instead

1. downloads the npm registry tarballs listed in :data:`PACKAGES` with pooch,
   checking each against the pinned sha256 below (the provenance of the files we
   ship: registry URL + hash). Pooch keeps them in its cache
   (``$MRS_CACHE_DIR/npm``, else ``~/.cache/mrs_lib/npm`` on Linux), so only
   the first build needs the registry;
2. extracts ``require.js``, ``dist/embed-amd.js`` plus the font files that
   ``embed-amd.js`` loads relative to its own URL (Font Awesome, for widget
   icons), and MathJax's ``es5/tex-mml-chtml.js`` with the components it loads
   lazily from its own folder, into ``<outdir>/_vendor/``, with a
   ``PROVENANCE.json`` (URLs, tarball and per-file sha256, licences). Not under
   ``_static``: Jupyter Book 1 injects every ``_static/**/*.js`` into every page;
3. points myst-nb's ``nb_ipywidgets_js`` and Sphinx's ``mathjax_path`` at those
   files. Sphinx prefixes local script paths with ``_static/`` and then makes
   them relative to each page, so ``../_vendor/x.js`` becomes
   ``_static/../_vendor/x.js``, which resolves from every page depth
   (``index.html``, ``book/intro.html``, ...);
4. warns (so ``-W`` fails the build) when a page's widget state needs a module
   that ``embed-amd.js`` does not bundle, since that module would be fetched from
   a CDN at view time;
5. sets ``MRS_STATIC_WIDGETS=1`` (unless already set) before notebooks are executed,
   so ``mrs_lib.widgets.explore`` precomputes its views for the static pages
   (``make book`` exports it too);
6. keeps the browser console clean (``tests/test_browser.py::test_no_console_errors``):
   ``widget_compat.js`` (the project's own, loaded before ``embed-amd.js``) maps the
   bundle's require.js path to ``_vendor/`` so its fonts load, and gives MathJax 3 the
   MathJax 2 ``Hub.Queue`` that ``embed-amd.js`` calls; and repeated ``<script>``
   entries (sphinx-thebe's ``const THEBE_JS_URL``, registered twice) are dropped.

Versions: html-manager 1.0.15 is the registry's latest (``dist-tags.latest``)
and bundles ``@jupyter-widgets/base`` 2.x / ``controls`` 2.x (with the 7.x models
as ``base7``/``controls7``) and ``output``: the models that ipywidgets 8.1.9
(``__jupyter_widgets_controls_version__ == "2.0.0"``, widget-state schema v2)
writes. require.js 2.3.8 is the latest 2.3.x; MathJax 3.2.2 is the latest 3.x
(Sphinx 7.4 targets MathJax 3). To update: change the version, URL and sha256
below (``sha256sum`` of the tarball from
``https://registry.npmjs.org/<name>/-/<name>-<version>.tgz``; the registry
metadata also gives its sha512 ``integrity``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Output folder (relative to the HTML root) for the vendored JavaScript.
VENDOR_DIR = "_vendor"

#: npm tarballs we ship files from: registry URL, sha256 of the tarball, and which
#: members to extract (``root`` + glob patterns -> ``dest`` under VENDOR_DIR).
PACKAGES: dict[str, dict[str, Any]] = {
    "requirejs": {
        "version": "2.3.8",
        "url": "https://registry.npmjs.org/requirejs/-/requirejs-2.3.8.tgz",
        "sha256": "777158e89275e16bd51aec3ef714fbcb5dc45789e7078659933bc814916d7dec",
        "license": "MIT",
        "root": "package/",
        "include": ("require.js",),
        "dest": "",
    },
    "@jupyter-widgets/html-manager": {
        "version": "1.0.15",
        "url": "https://registry.npmjs.org/@jupyter-widgets/html-manager/-/html-manager-1.0.15.tgz",
        "sha256": "2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638",
        "license": "BSD-3-Clause",
        "root": "package/dist/",
        # embed-amd.js and the webpack-emitted font files it loads relative to its own URL
        "include": ("embed-amd.js", "*.woff2", "*.woff", "*.ttf", "*.eot", "*.svg"),
        "dest": "",
    },
    "mathjax": {
        # Sphinx loads MathJax 3 from jsDelivr on every page with maths; serve it too.
        "version": "3.2.2",
        "url": "https://registry.npmjs.org/mathjax/-/mathjax-3.2.2.tgz",
        "sha256": "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09",
        "license": "Apache-2.0",
        "root": "package/es5/",
        # the combined component plus what it loads lazily from its own folder
        # (CHTML fonts, TeX extensions, menu, accessibility, speech rule engine)
        "include": (
            "tex-mml-chtml.js",
            "output/chtml/*",
            "input/tex/extensions/*",
            "ui/*",
            "a11y/*",
            "sre/*",
        ),
        "dest": "mathjax/",
    },
}

#: Widget modules that embed-amd.js renders without loading anything else.
BUNDLED_MODULES = {"@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"}

STATIC_ENV_VAR = "MRS_STATIC_WIDGETS"


def cache_dir() -> Path:
    """Pooch cache for the npm tarballs: ``$MRS_CACHE_DIR/npm`` or the OS cache of mrs_lib."""
    import pooch

    root = os.environ.get("MRS_CACHE_DIR")
    return (Path(root).expanduser() if root else Path(pooch.os_cache("mrs_lib"))) / "npm"


def fetch_tarball(name: str) -> Path:
    """The verified tarball of package ``name`` (downloaded once, then from the cache)."""
    import pooch

    pkg = PACKAGES[name]
    fname = pkg["url"].rsplit("/", 1)[-1]
    return Path(
        pooch.retrieve(
            pkg["url"], known_hash=f"sha256:{pkg['sha256']}", fname=fname, path=cache_dir()
        )
    )


def vendor(outdir: Path) -> dict[str, Any]:
    """Extract the shipped files of every package into ``outdir``; return the provenance record.

    ``outdir`` is emptied first, so it holds exactly the files of :data:`PACKAGES`.
    """
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    record: dict[str, Any] = {}
    for name, pkg in PACKAGES.items():
        written: dict[str, str] = {}
        with tarfile.open(fetch_tarball(name), "r:gz") as tar:
            for member in tar.getmembers():
                rel = member.name.removeprefix(pkg["root"])
                if not (
                    member.isfile()
                    and member.name.startswith(pkg["root"])
                    and ".." not in Path(rel).parts
                    and any(fnmatch.fnmatchcase(rel, pat) for pat in pkg["include"])
                ):
                    continue
                source = tar.extractfile(member)
                assert source is not None
                data = source.read()
                target = outdir / pkg["dest"] / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                written[pkg["dest"] + rel] = hashlib.sha256(data).hexdigest()
        missing = [p for p in pkg["include"] if "*" not in p and pkg["dest"] + p not in written]
        if missing:
            raise RuntimeError(f"{pkg['url']}: missing {missing}")
        record[name] = {
            "version": pkg["version"],
            "tarball": pkg["url"],
            "tarball_sha256": pkg["sha256"],
            "license": pkg["license"],
            "files_sha256": written,
        }
    (outdir / "PROVENANCE.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


#: The book's own script for embed-amd.js (see the file): the require.js path of the
#: html-manager bundle (so its fonts load from _vendor/) and MathJax 2's ``Hub.Queue``
#: on top of MathJax 3.
WIDGET_COMPAT = Path(__file__).with_name("widget_compat.js")


def _point_myst_nb(app: Sphinx, config: Config) -> None:
    prefix = f"../{VENDOR_DIR}"  # Sphinx prepends "_static/" (module docstring, step 3)
    # No crossorigin/integrity attributes: pages opened via file:// have an opaque
    # origin, and Chromium refuses CORS-mode script loads from file URLs. widget_compat.js
    # comes first: it configures require.js and must run before embed-amd.js.
    config.nb_ipywidgets_js = {
        f"{prefix}/{WIDGET_COMPAT.name}": {},
        f"{prefix}/require.js": {},
        f"{prefix}/embed-amd.js": {},
    }
    config.mathjax_path = f"{prefix}/mathjax/tex-mml-chtml.js"


def _copy_assets(app: Sphinx) -> None:
    if app.builder is None or app.builder.format != "html":
        return
    outdir = Path(app.outdir) / VENDOR_DIR
    record = vendor(outdir)
    compat = WIDGET_COMPAT.read_bytes()
    (outdir / WIDGET_COMPAT.name).write_bytes(compat)
    record["mrs-book"] = {
        "version": "-",
        "source": f"book/_ext/{WIDGET_COMPAT.name} (this project)",
        "license": "BSD-3-Clause",
        "files_sha256": {WIDGET_COMPAT.name: hashlib.sha256(compat).hexdigest()},
    }
    (outdir / "PROVENANCE.json").write_text(json.dumps(record, indent=2) + "\n")
    versions = ", ".join(f"{n} {r['version']}" for n, r in record.items() if n != "mrs-book")
    logger.info(f"offline_widgets: {versions} -> {VENDOR_DIR}/ (sha256 verified)")


def _dedupe_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Drop repeated ``<script>`` entries of a page.

    sphinx-thebe (and sphinx-togglebutton) register inline scripts with
    ``app.add_js_file(None, body=...)`` from an ``env-before-read-docs`` hook, after the
    HTML builder has started: the builder keeps that entry (file ``None``) and adds the
    registry's copy again (file ``""``) for every page, and Sphinx sees two different
    assets. In the browser the second ``const THEBE_JS_URL = ...`` is a SyntaxError
    ("Identifier 'THEBE_JS_URL' has already been declared"). A script with the same file,
    body and attributes as an earlier one is never needed twice on a page.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[Any] = set()
    unique = []
    for script in scripts:
        filename = getattr(script, "filename", script) or ""
        attributes = getattr(script, "attributes", {})
        try:
            key = (str(filename), tuple(sorted(attributes.items())))
        except TypeError:  # attributes that cannot be compared: keep the entry
            unique.append(script)
            continue
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def _check_modules(app: Sphinx, pagename: str, *_args: Any) -> None:
    """Warn when a page's widget state needs a module that embed-amd.js does not bundle."""
    from myst_nb.sphinx_ import NbMetadataCollector

    if app.env is None or pagename not in getattr(app.env, "nb_metadata", {}):
        return
    js_files = NbMetadataCollector.get_js_files(app.env, pagename)
    if "ipywidgets_state" not in js_files:
        return
    state = json.loads(js_files["ipywidgets_state"][1]["body"]).get("state", {})
    missing = sorted(
        {
            f"{m.get('model_module')}@{m.get('model_module_version')}"
            for m in state.values()
            if m.get("model_module") not in BUNDLED_MODULES
        }
    )
    if missing:
        logger.warning(
            f"{pagename}: widget modules not bundled in the offline embed-amd.js "
            f"(they would be loaded from a CDN): {', '.join(missing)}",
            location=pagename,
        )


def setup(app: Sphinx) -> dict[str, Any]:
    # Before myst-nb executes any notebook: explore() precomputes its views.
    os.environ.setdefault(STATIC_ENV_VAR, "1")
    app.connect("config-inited", _point_myst_nb)
    app.connect("builder-inited", _copy_assets)
    app.connect("html-page-context", _check_modules)
    app.connect("html-page-context", _dedupe_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
