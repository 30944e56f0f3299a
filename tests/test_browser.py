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
