"""Sphinx extension: the API reference of ``mrs_lib``, generated from its ``__all__`` lists.

Every public module (no path component starting with ``_``) declares its public
names in ``__all__``; packages re-export names that submodules define. The
reference documents each public name once, at its **home**: the module that
defines it when that module is public, else the shallowest public module that
lists it (``blas_threads`` of the private ``mrs_lib._threads`` lives at
:mod:`mrs_lib.fit.lcm`). Everything is computed when the book is built, so a name
added to an ``__all__`` appears without editing a page.

``.. mrs-api:: mrs_lib.sim`` (one per page of ``book/api/``) renders

1. a table of the package's ``__all__``, each name linked to its home with the first
   paragraph of its docstring (``#:`` comments for data);
2. one section per public module of the package (``:shallow:``: only the package's
   direct, non-package children): its docstring (``automodule``) and one
   ``autoclass``/``autofunction``/``autodata`` per name whose home it is. A module
   without ``__all__`` counts the names its own source defines as public.

A ``missing-reference`` handler resolves every other spelling of a public name to its
home: ``{class}`mrs_lib.sim.MegaPress``` (re-export) and
``mrs_lib.sim.sequence.MegaPress`` (home) are the same link, and so are the types in
autodoc's signatures and short names in docstrings, looked up through the imports of
the module (and of the class's bases) they are written in. Names of other packages are
expanded the same way and then left to ``nitpick_ignore_regex``; type variables and
private type aliases in signatures stay plain text. Anything else is a warning, which
``-n -W`` turns into a failed build.

Docstrings are numpy style (napoleon), except for data and attributes, whose ``#:``
comments napoleon would misread as ``type: text``; "chapter 4" in a docstring becomes
a link to that chapter, so the reference points back at the book.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
import re
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

PACKAGE = "mrs_lib"


def is_public(module: str) -> bool:
    """``mrs_lib.sim.sequence`` is public; ``mrs_lib._threads`` and ``__main__`` are not."""
    return not any(part.startswith("_") for part in module.split("."))


@functools.cache
def public_modules(package: str = PACKAGE) -> tuple[str, ...]:
    """Every public module of ``package`` (itself included), in walk order."""
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if is_public(info.name):
            names.append(info.name)
    return tuple(names)


@functools.cache
def _module_all(module: str) -> list[str]:
    """The module's ``__all__``; without one, the public names its own source defines."""
    mod = importlib.import_module(module)
    declared = getattr(mod, "__all__", None)
    if declared is not None:
        return list(declared)
    path = getattr(mod, "__file__", None)
    if path is None or path.endswith("__init__.py"):
        return []  # a package without __all__ re-exports nothing of its own
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in dict.fromkeys(names) if not n.startswith("_") and n != "logger"]


def _source_module(module: str, name: str, depth: int = 0) -> str:
    """The module whose top level assigns ``name`` (data and aliases), following imports."""
    mod = importlib.import_module(module)
    path = getattr(mod, "__file__", None)
    if path is None or depth > 10:
        return module
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return module
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any(
            (a.asname or a.name) == name for a in node.names
        ):
            base = module if path.endswith("__init__.py") else module.rpartition(".")[0]
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            source = f"{base}.{node.module}" if node.level and node.module else node.module or base
            if source.startswith(PACKAGE):
                return _source_module(source, name, depth + 1)
    return module


def defining_module(module: str, name: str) -> str:
    """Where ``module.name`` is defined (``__module__`` for classes and functions)."""
    obj = getattr(importlib.import_module(module), name)
    home = getattr(obj, "__module__", None)
    if (inspect.isclass(obj) or inspect.isroutine(obj)) and isinstance(home, str):
        if home == PACKAGE or home.startswith(PACKAGE + "."):
            return home
    return _source_module(module, name)


@dataclass(frozen=True)
class Home:
    """Where a public object is documented: ``module.name``."""

    module: str
    name: str

    @property
    def target(self) -> str:
        return f"{self.module}.{self.name}"


@functools.cache
def homes() -> dict[tuple[str, str], Home]:
    """(defining module, name) -> its home, for every name of every public ``__all__``."""
    listed: dict[tuple[str, str], list[str]] = {}
    for module in public_modules():
        for name in _module_all(module):
            listed.setdefault((defining_module(module, name), name), []).append(module)
    out: dict[tuple[str, str], Home] = {}
    for (where, name), listers in listed.items():
        if is_public(where):
            out[(where, name)] = Home(where, name)
        else:
            best = min(listers, key=lambda m: (m.count("."), m))
            out[(where, name)] = Home(best, name)
    return out


@functools.cache
def names_at(module: str) -> tuple[str, ...]:
    """The names documented at ``module`` (those whose home it is), sorted."""
    return tuple(sorted(h.name for h in homes().values() if h.module == module))


@functools.cache
def alias_table() -> dict[str, str]:
    """Every dotted spelling of a public name (each lister, the definer) -> its home target."""
    table: dict[str, str] = {}
    for (where, name), home in homes().items():
        table[f"{where}.{name}"] = home.target
    for module in public_modules():
        for name in _module_all(module):
            home = homes()[(defining_module(module, name), name)]
            table[f"{module}.{name}"] = home.target
    return table


def home_of(module: str, name: str) -> Home:
    return homes()[(defining_module(module, name), name)]


def _first_paragraph(text: str | None) -> str:
    lines: list[str] = []
    for line in (text or "").strip().splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    return " ".join(lines)


def _plain_roles(text: str) -> str:
    """``:class:`~a.b.C``` -> ````C````: the summary table links only its first column."""

    def literal(m: re.Match[str]) -> str:
        body = m.group(1)
        if "<" in body and body.endswith(">"):
            body = body[: body.index("<")].strip()
        elif body.startswith("~"):
            body = body.rsplit(".", 1)[-1]
        return f"``{body.lstrip('!')}``"

    return re.sub(r":(?:py:)?[a-z]+:`([^`]+)`", literal, text)


def summary(home: Home) -> str:
    """First paragraph of the docstring (or of the ``#:`` comment of data)."""
    from sphinx.pycode import ModuleAnalyzer

    obj = getattr(importlib.import_module(home.module), home.name)
    if inspect.isclass(obj) or inspect.isroutine(obj):
        return _first_paragraph(inspect.getdoc(obj))
    try:
        docs = ModuleAnalyzer.for_module(home.module).find_attr_docs()
    except Exception:  # no source: nothing to say beyond the name
        return ""
    return _first_paragraph("\n".join(docs.get(("", home.name), [])))


def _table(package: str) -> list[str]:
    names = _module_all(package)
    if not names:
        return []
    rows = [".. list-table::", "   :header-rows: 1", "   :widths: 30 70", ""]
    rows += ["   * - name", "     - summary"]
    for name in sorted(names, key=str.lower):
        home = home_of(package, name)
        text = _plain_roles(summary(home)).replace("|", "\\|") or "\\"
        rows += [f"   * - :py:obj:`{name} <{home.target}>`", f"     - {text}"]
    return [*rows, ""]


def submodules(package: str, shallow: bool = False) -> list[str]:
    """Public modules below ``package``; ``shallow``: only its direct, non-package children."""
    below = [m for m in public_modules() if m.startswith(package + ".")]
    if not shallow:
        return below
    return [
        m
        for m in below
        if "." not in m[len(package) + 1 :] and not hasattr(importlib.import_module(m), "__path__")
    ]


def subpackages(package: str = PACKAGE) -> list[str]:
    """The public packages directly below ``package`` (one reference page each)."""
    return [
        m
        for m in public_modules()
        if m.startswith(package + ".")
        and "." not in m[len(package) + 1 :]
        and hasattr(importlib.import_module(m), "__path__")
    ]


def render(package: str, shallow: bool = False) -> list[str]:
    """The reST of one package page (see the module docstring)."""
    lines = [f".. automodule:: {package}", "   :no-members:", ""]
    if names := _module_all(package):
        lines += [f"``{package}`` exports {len(names)} names:", ""]
        lines += _table(package)
    if own := names_at(package):
        title = f"Defined in ``{package}``"
        lines += [title, "-" * len(title), "", f".. currentmodule:: {package}", ""]
        for name in own:
            lines += _one(package, name)
    for module in submodules(package, shallow):
        title = f"``{module}``"
        lines += [title, "-" * len(title), "", f".. automodule:: {module}", "   :no-members:", ""]
        for name in names_at(module):
            lines += _one(module, name)
    return lines


#: Longest value repr that ``autodata`` shows; longer values (tables of presets) are left out.
MAX_VALUE_REPR = 80


def _one(module: str, name: str) -> list[str]:
    """The autodoc directive of one public name, at its home ``module``."""
    obj = getattr(importlib.import_module(module), name)
    if inspect.isclass(obj):
        return [
            f".. autoclass:: {module}.{name}",
            "   :members:",
            "   :undoc-members:",
            "   :show-inheritance:",
            "",
        ]
    if inspect.isroutine(obj):
        return [f".. autofunction:: {module}.{name}", ""]
    lines = [f".. autodata:: {module}.{name}"]
    try:
        short = len(repr(obj)) <= MAX_VALUE_REPR
    except Exception:
        short = False
    if not short:
        lines.append("   :no-value:")
    return [*lines, ""]


class ApiDirective(SphinxDirective):
    """``.. mrs-api:: mrs_lib.sim``: the reference of one package (see the module docstring)."""

    required_arguments = 1
    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"shallow": directives.flag}

    def run(self) -> list[nodes.Node]:
        package = self.arguments[0]
        shallow = "shallow" in self.options
        text = render(package, shallow)
        for module in [package, *submodules(package, shallow)]:
            path = getattr(sys.modules.get(module), "__file__", None)
            if path:
                self.env.note_dependency(path)
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(text, source=f"<mrs-api {package}>"), node)
        return node.children


@functools.cache
def import_map(module: str) -> dict[str, str]:
    """Local name -> dotted origin for every import in ``module``'s source.

    Imports under ``if TYPE_CHECKING:`` count too: they are how annotations that
    autodoc cannot evaluate (``"Spectrum"``, ``"Axes"``) name their type.
    """
    mod = sys.modules.get(module) or importlib.import_module(module)
    path = getattr(mod, "__file__", None)
    if not path:
        return {}
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            if node.level:
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for a in node.names:
                out[a.asname or a.name] = f"{source}.{a.name}"
    for name in vars(mod):  # the module's own names: ``Loss`` in a signature of its module
        out.setdefault(name, f"{module}.{name}")
    return out


def _home_target(dotted: str) -> str | None:
    """The documented home of a dotted ``mrs_lib`` name, members of classes included."""
    table = alias_table()
    if dotted in table:
        return table[dotted]
    head, _, tail = dotted.rpartition(".")
    while head and head not in table:
        head, _, more = head.rpartition(".")
        tail = f"{more}.{tail}"
    if not head:
        return None
    obj = _lookup(table[head])
    for attr in tail.split("."):
        if not inspect.isclass(obj) or not hasattr(obj, attr):
            return None
        obj = getattr(obj, attr)
    return f"{table[head]}.{tail}"


def expand(target: str, module: str | None, cls: str | None) -> tuple[str, str] | None:
    """Where a reference written in ``module`` (inside class ``cls``) points.

    ("home", documented target) for a public ``mrs_lib`` object, ("private", dotted)
    for an undocumented one, ("external", dotted) for another package's, None if the
    name is unknown.
    """
    target = target.lstrip(".~")
    if target.startswith(PACKAGE + "."):
        home = _home_target(target)
        return ("home", home) if home else None
    if module and module.startswith(PACKAGE):
        scopes = []
        if cls:
            scopes.append(f"{module}.{cls}")
        parts = module.split(".")
        scopes += [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
        for scope in scopes:
            home = _home_target(f"{scope}.{target}")
            if home:
                return "home", home
        first, _, rest = target.partition(".")
        maps = [import_map(module)]
        owner = _lookup(f"{module}.{cls}") if cls else None
        # an inherited attribute's annotation is spelled in its base class's module
        for base in getattr(owner, "__mro__", ()):
            where = getattr(base, "__module__", "")
            if where.startswith(PACKAGE):
                maps.append(import_map(where))
                home = _home_target(f"{where}.{target}")
                if home:
                    return "home", home
        origin = next((m[first] for m in maps if first in m), None)
        if origin:
            dotted = f"{origin}.{rest}" if rest else origin
            if dotted.startswith(PACKAGE + "."):
                home = _home_target(dotted)
                return ("home", home) if home else ("private", dotted)
            return "external", dotted
    return None


def _lookup(dotted: str) -> object:
    """The object a dotted ``mrs_lib`` name refers to (module attribute or class member)."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:i])
        if not module.startswith(PACKAGE):
            return None
        try:
            obj: object = importlib.import_module(module)
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj
    return None


def _local(name: str, module: str | None) -> object:
    """``name`` looked up in ``module`` (a signature's own module)."""
    if not module or not module.startswith(PACKAGE) or "." in name:
        return None
    return getattr(sys.modules.get(module), name, None)


def _is_type_alias(obj: object) -> bool:
    """A ``TypeVar``, or a typing construct such as ``tuple[...]`` or ``A | B``."""
    import types

    return isinstance(obj, typing.TypeVar | types.GenericAlias | types.UnionType) or (
        type(obj).__module__ == "typing" and not inspect.isclass(obj)
    )


def _ignored(app: Sphinx, reftype: str, target: str) -> bool:
    """Whether ``nitpick_ignore_regex`` (third-party and standard-library names) covers it."""
    return any(
        re.fullmatch(kind, f"py:{reftype}") and re.fullmatch(pattern, target)
        for kind, pattern in app.config.nitpick_ignore_regex
    )


def resolve_alias(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Element
) -> nodes.Element | None:
    """Resolve any spelling of a public ``mrs_lib`` name to its documented home.

    ``mrs_lib.sim.MegaPress`` (a re-export), ``MegaPress`` inside a docstring of
    :mod:`mrs_lib.sim`, or an annotation string naming an import are all found;
    an external name that annotations spell locally (``"Axes"``) is expanded to its
    dotted origin (``matplotlib.axes.Axes``) and checked against ``nitpick_ignore_regex``.
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    module, cls = node.get("py:module"), node.get("py:class")
    found = expand(target, module, cls)
    if found is None:
        # A type variable (``pick(...) -> T``) or a module's private type alias
        # (``Item = tuple[Tensor, Tensor, Tensor]``) in a signature names no object with
        # an entry of its own; it stays plain text. Anything else is a broken reference.
        obj = _lookup(target) if target.startswith(PACKAGE) else _local(target, module)
        return contnode if _is_type_alias(obj) else None
    kind, dotted = found
    if kind == "external":
        return contnode if _ignored(app, node["reftype"], dotted) else None
    if kind == "private":
        return contnode if _is_type_alias(_lookup(dotted)) else None
    domain = env.get_domain("py")
    new = node.deepcopy()
    new["reftarget"] = dotted
    refdoc = node.get("refdoc", "")
    for reftype in (node["reftype"], "obj"):
        found_node = domain.resolve_xref(env, refdoc, app.builder, reftype, dotted, new, contnode)
        if found_node is not None:
            return found_node
    return None


def _drop_type_docstrings(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Data without a ``#:`` comment inherit the docstring of their type (``dict``'s); drop it."""
    if what in ("data", "attribute") and not inspect.isclass(obj) and not inspect.isroutine(obj):
        own = inspect.getdoc(type(obj)) or ""
        if own and "\n".join(lines).strip() == own.strip():
            lines[:] = []


#: "chapter 4" in a docstring.
CHAPTER = re.compile(r"(?<![`\w])([Cc]hapter) ([1-9])\b")


@functools.cache
def chapter_docs(srcdir: str) -> dict[str, str]:
    """Chapter number -> docname (``"1"`` -> ``"book/01_simulation"``)."""
    out = {}
    for path in sorted(Path(srcdir, "book").glob("[0-9][0-9]_*.ipynb")):
        out[str(int(path.name[:2]))] = f"book/{path.stem}"
    return out


def _link_chapters(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Turn "chapter 4" into a link to that chapter: the API points back at the book."""
    docs = chapter_docs(str(app.srcdir))
    if not docs:
        return

    def link(m: re.Match[str]) -> str:
        doc = docs.get(m.group(2))
        return f":doc:`{m.group(1)} {m.group(2)} </{doc}>`" if doc else m.group(0)

    in_literal = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.endswith("::") or stripped.startswith(">>>"):
            in_literal = True  # an indented literal block or doctest follows: leave it
            continue
        if in_literal and stripped and not line.startswith((" ", "\t")):
            in_literal = False
        if not in_literal and "chapter" in line.lower():
            parts = line.split("``")  # odd parts are ``inline literals``: leave them
            parts[::2] = [CHAPTER.sub(link, part) for part in parts[::2]]
            lines[i] = "``".join(parts)


def _numpy_docstrings_except_data(app: Sphinx) -> None:
    """Napoleon for functions and classes only.

    Napoleon reads the first line of an attribute's docstring as ``type: text``, so a
    ``#:`` comment such as "Lorentzian linewidth (Hz): ..." would become a type. Its
    listener is replaced by one that leaves data and attributes alone.
    """
    from sphinx.ext.napoleon import _process_docstring

    listeners = app.events.listeners.get("autodoc-process-docstring", [])
    for listener in list(listeners):
        if listener.handler is _process_docstring:
            app.disconnect(listener.id)

    def process(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list) -> None:
        if what not in ("data", "attribute"):
            _process_docstring(app, what, name, obj, options, lines)

    app.connect("autodoc-process-docstring", process)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.napoleon")
    _numpy_docstrings_except_data(app)
    app.connect("autodoc-process-docstring", _drop_type_docstrings, priority=400)
    app.connect("autodoc-process-docstring", _link_chapters, priority=600)
    app.add_directive("mrs-api", ApiDirective)
    app.connect("missing-reference", resolve_alias)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
