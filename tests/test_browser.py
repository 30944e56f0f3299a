"""The built book's widgets render offline in headless Chromium (``make check-browser``).

Run after ``make book``: ``make check-browser`` points ``$MRS_BROWSER_PAGE`` at
``_build/html/book/intro.html`` (the introduction, which holds a precomputed
``mrs_lib.widgets.explore`` widget: a linewidth slider and a phase dropdown over
30 pre-rendered figures). Skipped, with the reason, when Debian's ``chromium``
is not on PATH or the page has not been built.

Every browser run blocks name resolution (``--host-resolver-rules="MAP *
~NOTFOUND"``), so anything that still renders came from the book's own files.
Oracles: the ipywidgets 8 DOM of the ``@jupyter-widgets/html-manager`` views
(``widget-hslider``/``widget-slider``, ``noUi-handle``, ``widget-readout``,
``img.widget-image`` with a ``blob:`` source), and the list of requests that
Chromium's DevTools protocol reports (only ``file:``, ``data:`` and ``blob:``).
Every built page, once its widgets have rendered and MathJax has typeset, must have
logged no console error, uncaught exception or failed resource load
(``test_no_console_errors``; book/_ext/offline_widgets.py and widget_compat.js).
"""

from __future__ import annotations

import asyncio
import hashlib
import html.parser
import itertools
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
PAGE = Path(os.environ.get("MRS_BROWSER_PAGE", ROOT / "_build" / "html" / "book" / "intro.html"))
HTML_ROOT = PAGE.parents[1]  # _build/html (the intro page lives in book/)
CHROMIUM = shutil.which("chromium")
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome-error:", "devtools:")


@pytest.fixture(scope="module")
def page() -> Path:
    if not PAGE.is_file():
        pytest.skip(f"built page {PAGE} missing: run `make book` first")
    return PAGE


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        pytest.skip("`chromium` is not on PATH (Debian: apt-get install chromium)")
    return CHROMIUM


def chromium_flags(user_data_dir: Path) -> list[str]:
    """Headless flags from docs/stack.md, plus name resolution blocked (offline proof)."""
    flags = [
        "--headless",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--mute-audio",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={user_data_dir}",
    ]
    if os.geteuid() == 0:
        flags.insert(1, "--no-sandbox")
    return flags


class _Scripts(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        src = dict(attrs).get("src")
        if tag == "script" and src:
            self.srcs.append(src)


def test_page_loads_only_local_scripts(page: Path) -> None:
    """Every <script src> is a relative path that exists, and the widget JS is among them."""
    parser = _Scripts()
    parser.feed(page.read_text(encoding="utf-8"))
    remote = [s for s in parser.srcs if "://" in s or s.startswith("//")]
    assert not remote, f"scripts loaded from the network: {remote}"
    files = {s.split("?")[0] for s in parser.srcs}
    for src in files:
        assert (page.parent / src).resolve().is_file(), f"{src} missing from the built book"
    names = {Path(s).name for s in files}
    assert {"require.js", "embed-amd.js", "tex-mml-chtml.js"} <= names
    assert "application/vnd.jupyter.widget-state+json" in page.read_text(encoding="utf-8")


def test_every_page_loads_only_local_scripts(page: Path) -> None:
    """No built page (chapters with maths or widgets included) loads a script from the network."""
    pages = [
        p
        for p in HTML_ROOT.rglob("*.html")
        if not p.relative_to(HTML_ROOT).parts[0].startswith("_")
    ]
    assert page in pages
    offenders = {}
    for path in pages:
        parser = _Scripts()
        parser.feed(path.read_text(encoding="utf-8"))
        remote = [s for s in parser.srcs if "://" in s or s.startswith("//")]
        if remote:
            offenders[str(path.relative_to(HTML_ROOT))] = remote
    assert not offenders, f"pages loading network scripts: {offenders}"


def test_vendored_files_match_provenance(page: Path) -> None:
    """The shipped JS is byte-identical to what PROVENANCE.json records (sha256)."""
    vendor = HTML_ROOT / "_vendor"
    record = json.loads((vendor / "PROVENANCE.json").read_text())
    assert record["@jupyter-widgets/html-manager"]["version"] == "1.0.15"
    assert record["@jupyter-widgets/html-manager"]["tarball"].startswith(
        "https://registry.npmjs.org/"
    )
    for pkg in record.values():
        for rel, sha in pkg["files_sha256"].items():
            assert hashlib.sha256((vendor / rel).read_bytes()).hexdigest() == sha, rel


def test_widgets_render_offline(chromium: str, page: Path, tmp_path: Path) -> None:
    """--dump-dom after the page settled: slider, dropdown and the first view's <img> exist."""
    cmd = [
        chromium,
        *chromium_flags(tmp_path / "profile"),
        "--virtual-time-budget=20000",
        "--dump-dom",
        page.as_uri(),
    ]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "widget-hslider" in dom and "widget-slider" in dom, "no ipywidgets slider rendered"
    assert "noUi-handle" in dom
    assert "widget-dropdown" in dom
    assert (
        'class="lm-Widget jupyter-widgets-disconnected jupyter-widgets widget-image" src="blob:'
        in dom
    )
    assert "mjx-container" in dom, "MathJax did not typeset offline"


# --------------------------------------------------------------------------- DevTools protocol


class _Browser:
    """Minimal Chrome DevTools Protocol client (tornado websocket) for one page target."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        await self.ws.write_message(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            raw = await asyncio.wait_for(self.ws.read_message(), timeout=30)
            assert raw is not None, "DevTools connection closed"
            msg = json.loads(raw)
            if msg.get("id") == msg_id:
                assert "error" not in msg, msg["error"]
                return msg.get("result", {})
            self.events.append(msg)

    async def js(self, expression: str) -> Any:
        res = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return res["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float = 30) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = await self.js(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")


@pytest.fixture
def devtools(chromium: str, tmp_path: Path) -> Iterator[str]:
    """Start headless Chromium with remote debugging on loopback; yield its page websocket URL."""
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [chromium, *chromium_flags(profile), "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            assert proc.poll() is None, "chromium exited early"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        yield next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _close(ws: Any) -> None:
    """Close the websocket and wait until Chromium closed its side (no socket left open)."""
    ws.close()
    try:
        while await asyncio.wait_for(ws.read_message(), timeout=5) is not None:
            pass
    except TimeoutError:
        pass


IMG = "document.querySelector('img.widget-image')"
READOUT = "document.querySelector('.widget-readout')"
HANDLE = "document.querySelector('.noUi-handle')"
SELECT = "document.querySelector('.widget-dropdown select')"


async def _slide(ws_url: str, page_uri: str) -> dict[str, Any]:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(ws_url, max_message_size=64 * 2**20)
    b = _Browser(ws)
    try:
        await b.send("Network.enable")
        await b.send("Page.enable")
        await b.send("Page.navigate", url=page_uri)
        first = await b.wait_for(f"{IMG} && {IMG}.src.startsWith('blob:') && {IMG}.src")
        before = await b.js(f"{READOUT}.textContent")
        await b.js(f"{HANDLE}.scrollIntoView(); {HANDLE}.focus()")
        for kind in ("keyDown", "keyUp"):
            await b.send(
                "Input.dispatchKeyEvent",
                type=kind,
                key="ArrowRight",
                code="ArrowRight",
                windowsVirtualKeyCode=39,
                nativeVirtualKeyCode=39,
            )
        second = await b.wait_for(
            f"{IMG} && {IMG}.src !== {json.dumps(first)} && {IMG}.offsetWidth > 0 && {IMG}.src"
        )
        after = await b.js(f"{READOUT}.textContent")
        n_images = await b.js("document.querySelectorAll('img.widget-image').length")
        # the second parameter (a dropdown) switches the inner stack
        await b.js(
            f"{SELECT}.selectedIndex = 1; "
            f"{SELECT}.dispatchEvent(new Event('change', {{bubbles: true}}))"
        )
        third = await b.wait_for(
            f"{IMG} && ![{json.dumps(first)}, {json.dumps(second)}].includes({IMG}.src) "
            f"&& {IMG}.src"
        )
        await asyncio.sleep(0.5)  # let late requests (fonts, lazy modules) show up
        await b.js("1")
    finally:
        await _close(ws)
    requests = [
        e["params"]["request"]["url"]
        for e in b.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    return {
        "first": first,
        "second": second,
        "third": third,
        "before": before,
        "after": after,
        "n_images": n_images,
        "requests": requests,
    }


def test_slider_switches_precomputed_view_offline(devtools: str, page: Path) -> None:
    """Pressing -> on the linewidth slider, then choosing 90° in the dropdown, each show another
    pre-rendered figure, with no kernel.

    Also: every request the page made was local (file:/data:/blob:), none to a CDN.
    """
    res = asyncio.run(_slide(devtools, page.as_uri()))
    assert (res["before"], res["after"]) == ("1", "2"), "slider readout did not move 1 -> 2 Hz"
    assert len({res["first"], res["second"], res["third"]}) == 3
    assert res["n_images"] == 1  # the stacks show one view at a time
    assert any(u.endswith(".js") or ".js?" in u for u in res["requests"])
    remote = [u for u in res["requests"] if not u.startswith(LOCAL_SCHEMES)]
    assert not remote, f"the page requested network resources: {remote}"


def _widget_pages() -> list[Path]:
    if not HTML_ROOT.is_dir():
        return []
    return sorted(
        p
        for p in HTML_ROOT.rglob("*.html")
        if not p.relative_to(HTML_ROOT).parts[0].startswith("_")
        and "application/vnd.jupyter.widget-view+json" in p.read_text(encoding="utf-8")
    )


async def _rendered_views(ws_url: str, page_uri: str) -> list[str]:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(ws_url, max_message_size=64 * 2**20)
    b = _Browser(ws)
    try:
        await b.send("Page.navigate", url=page_uri)
        n_views = (
            "document.querySelectorAll("
            "'script[type=\"application/vnd.jupyter.widget-view+json\"]').length"
        )
        subareas = "Array.from(document.querySelectorAll('.widget-subarea'))"
        await b.wait_for(
            f"{n_views} > 0 && {subareas}.length === {n_views}"
            f" && {subareas}.every(s => s.firstElementChild)",
            timeout_s=60,
        )
        return await b.js(f"{subareas}.map(s => s.firstElementChild.className)")
    finally:
        await _close(ws)


@pytest.mark.parametrize(
    "widget_page", _widget_pages(), ids=lambda p: str(p.relative_to(HTML_ROOT))
)
def test_every_widget_view_renders_offline(devtools: str, widget_page: Path) -> None:
    """On every built page with widgets, each embedded view becomes a widget, none an error."""
    classes = asyncio.run(_rendered_views(devtools, widget_page.as_uri()))
    assert classes and all("jupyter-widgets" in c for c in classes), classes
    assert not [c for c in classes if "error" in c.lower()], classes


# --------------------------------------------------------------------------- stray outputs

#: Reprs that leak into a page when a cell's last line returns a matplotlib artist or a numpy
#: scalar (``ax.set_title(...)``, ``ax.legend()``, ``np.abs(x).max()``) instead of nothing.
STRAY_REPRS = ("<matplotlib.", "Text(", "np.float64(", "np.int64(", " at 0x", "<Figure size")
#: ipywidgets progress-bar models: a tqdm bar left in a chapter is an empty gap in the static page.
PROGRESS_MODELS = ('"FloatProgressModel"', '"IntProgressModel"')
_VOID_TAGS = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _CellOutputs(html.parser.HTMLParser):
    """Text of every myst-nb cell output (``div.cell_output``), one string per output block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.inside_at: int | None = None
        self.outputs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_TAGS:
            return
        self.depth += 1
        classes = (dict(attrs).get("class") or "").split()
        if self.inside_at is None and "cell_output" in classes:
            self.inside_at = self.depth
            self.outputs.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID_TAGS:
            return
        if self.inside_at is not None and self.depth == self.inside_at:
            self.inside_at = None
        self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.inside_at is not None:
            self.outputs[-1] += data


def stray_outputs(page_html: str) -> list[str]:
    """The cell outputs of a built page that show a stray repr or nothing but ``[]``."""
    parser = _CellOutputs()
    parser.feed(page_html)
    bad = [o for o in parser.outputs if any(s in o for s in STRAY_REPRS) or o.strip() == "[]"]
    bad += [f"progress bar widget {m}" for m in PROGRESS_MODELS if m in page_html]
    return [" ".join(b.split())[:200] for b in bad]


def test_stray_output_detector() -> None:
    """The detector on hand-written myst-nb markup: reprs and ``[]`` in outputs, not in code."""
    out = (
        '<div class="cell_output docutils container"><div class="output text_plain">{}</div></div>'
    )
    code = '<div class="cell_input"><pre>ax.set_title("x")  # Text( in code is fine</pre></div>'
    assert stray_outputs(code + out.format("a table<br>of numbers")) == []
    for leak in (
        "Text(0.5, 1.0, 'GABA')",
        "&lt;matplotlib.legend.Legend at 0x7f3&gt;",
        "[]",
        "np.float64(1.0)",
        "{'Cr': np.float64(1.0)}",
    ):
        assert stray_outputs(code + out.format(leak)), leak
    assert stray_outputs('<script>{"model_name": "FloatProgressModel"}</script>')


def test_no_stray_outputs_in_built_pages(page: Path) -> None:
    """No built page prints an artist's repr, a numpy scalar repr, ``[]`` or a progress bar."""
    offenders = {
        str(p.relative_to(HTML_ROOT)): found
        for p in sorted(HTML_ROOT.rglob("*.html"))
        if not p.relative_to(HTML_ROOT).parts[0].startswith("_")
        and (found := stray_outputs(p.read_text(encoding="utf-8")))
    }
    assert not offenders, json.dumps(offenders, indent=1)


# ------------------------------------------------------------------------ console errors


def _built_pages() -> list[Path]:
    if not HTML_ROOT.is_dir():
        return []
    return sorted(
        p
        for p in HTML_ROOT.rglob("*.html")
        if not p.relative_to(HTML_ROOT).parts[0].startswith("_")
        and p.name not in ("genindex.html", "search.html", "py-modindex.html")
    )


def _describe(event: dict[str, Any]) -> str | None:
    """The text of a console error, an uncaught exception or a failed load, else None."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        exc = details.get("exception", {})
        return f"uncaught: {exc.get('description') or details.get('text')}"
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        args = params.get("args", [])
        return "console.error: " + " ".join(
            str(a.get("value", a.get("description", ""))) for a in args
        )
    if method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        entry = params["entry"]
        return f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip()
    return None


async def _console_errors(ws_url: str, page_uri: str, has_widgets: bool) -> list[str]:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(ws_url, max_message_size=64 * 2**20)
    b = _Browser(ws)
    try:
        for domain in ("Runtime", "Log", "Page"):
            await b.send(f"{domain}.enable")
        b.events.clear()
        await b.send("Page.navigate", url=page_uri)
        await b.wait_for("document.readyState === 'complete'")
        if has_widgets:
            n_views = (
                "document.querySelectorAll("
                "'script[type=\"application/vnd.jupyter.widget-view+json\"]').length"
            )
            subareas = "Array.from(document.querySelectorAll('.widget-subarea'))"
            await b.wait_for(
                f"{subareas}.length === {n_views} && {subareas}.every(s => s.firstElementChild)",
                timeout_s=60,
            )
        # MathJax typesets asynchronously: wait for its first typeset, then for late scripts
        await b.send(
            "Runtime.evaluate",
            expression=(
                "(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)"
                " ? window.MathJax.startup.promise.then(() => true) : true"
            ),
            awaitPromise=True,
            returnByValue=True,
        )
        await asyncio.sleep(1.0)
        await b.js("1")
    finally:
        await _close(ws)
    return [text for e in b.events if (text := _describe(e))]


@pytest.mark.parametrize("built_page", _built_pages(), ids=lambda p: str(p.relative_to(HTML_ROOT)))
def test_no_console_errors(devtools: str, built_page: Path) -> None:
    """Every built page loads, renders its widgets and typesets its maths with zero console
    errors: no uncaught exception (a duplicated `const THEBE_JS_URL`, the MathJax 2 call
    `MathJax.Hub.Queue` of embed-amd.js), no console.error, no failed resource load."""
    has_widgets = "application/vnd.jupyter.widget-view+json" in built_page.read_text(
        encoding="utf-8"
    )
    errors = asyncio.run(_console_errors(devtools, built_page.as_uri(), has_widgets))
    assert not errors, "\n".join(errors)
