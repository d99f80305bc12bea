"""A real headless Chromium (or Chrome) that renders a card's HTML to a bounded PNG.

No browser is ever downloaded: `--browser PATH`, else $FLOWMCP_BROWSER, else the usual names on
PATH and the usual macOS application paths. The browser speaks the DevTools protocol on a pipe
(`--remote-debugging-pipe`: it reads commands on fd 3 and writes answers on fd 4, each a JSON
text ending in NUL), so there is no port to find and no websocket library to depend on.

Every exchange has a deadline, and the browser's whole process group is killed when a render
ends, however it ends (whom it runs as, its profile and its memory cap: browser_process.py). A
dialog the page opens is dismissed at once; its uncaught exceptions are counted.

The page can fetch nothing but itself: it is served as CARD_URL, a web
origin, which Chromium never lets load a local file (an iframe, an image, a navigation to
file://), and every other request it makes, navigations too, is failed before it leaves the
browser (host names resolve to nothing besides). What a card embeds (data: URIs, inline scripts
and styles, as Metaflow's cards are made) still draws.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from . import browser_process

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "microsoft-edge",
         "microsoft-edge-stable")
MAC_APPS = ("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
            "/Applications/Chromium.app/Contents/MacOS/Chromium")
MAX_PNG_BYTES = 1_000_000  # one answer's picture: what a client reads without choking
MIN_SCALE = 0.5  # smaller than this, text in a card is no longer readable
MAX_PAGE_HEIGHT = 12_000  # px captured of a full page; the rest is said to be cut
VIEWPORT_HEIGHT = 900
MIN_PAGE_HEIGHT = 120  # px: a picture no shorter than this
TILE_HEIGHT = 1_500  # px of page per picture: clients shrink taller pictures until text is unreadable
STEP_TIMEOUT_S = 20.0  # one DevTools exchange (start, load, a screenshot)
SETTLE_S = 5.0  # how long a page's scripts get to finish drawing (charts, dynamic cards)
# Where the page seems to come from: a web origin (so no file:// for it), under a name reserved
# never to resolve. Only this URL, in the page's own frame, is answered: with the page.
CARD_URL = "https://card.flowmcp.invalid/"


class BrowserMissing(Exception):
    """No browser to render with; the message says how to install one."""


class BrowserFailed(Exception):
    """The browser did not start, answer, or render in time; the message says what happened."""


@dataclass(frozen=True)
class Shot:
    images: list[bytes]  # PNGs, top to bottom: a tall page comes as tiles a reader can read
    width: int  # px of the page captured (before scaling)
    height: int  # px of the page captured, all tiles together
    page_height: int  # px of the whole page at this width
    scale: float  # < 1 when the pictures were scaled down to stay under MAX_PNG_BYTES together
    cut: bool  # the pictures end before the page does
    value: Any = None  # what `value_of` evaluated to in the page, once it was drawn
    errors: int = 0  # exceptions the page's scripts threw and nothing caught
    first_error: str | None = None  # the first of them: its message and line
    dialogs: tuple[str, ...] = ()  # alert, confirm, prompt... the page opened (each dismissed at once)

    @property
    def bytes(self) -> int:
        return sum(len(png) for png in self.images)


def find_browser(explicit: str | None = None, env: dict[str, str] | None = None) -> str:
    """The browser to use, or BrowserMissing with the way to install one here."""
    env = os.environ if env is None else env
    wanted = explicit or env.get("FLOWMCP_BROWSER")
    if wanted:
        path = shutil.which(wanted, path=env.get("PATH")) or (wanted if Path(wanted).is_file() else None)
        if path is None or not os.access(path, os.X_OK):
            raise BrowserMissing(f"the browser {wanted!r} (from {'--browser' if explicit else '$FLOWMCP_BROWSER'}) "
                                 "is not an executable file; pass the path of Chromium or Chrome")
        return path
    for name in NAMES:
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return found
    for app in MAC_APPS:
        if os.access(app, os.X_OK):
            return app
    raise BrowserMissing(f"no Chromium or Chrome found (looked for {', '.join(NAMES)} on PATH). {install_hint()}, "
                         "or start flowmcp with --browser PATH")


def install_hint() -> str:
    if sys.platform == "darwin":
        return "Install one with `brew install --cask chromium` (or Google Chrome)"
    if sys.platform.startswith("linux"):
        family = _linux_family()
        if family & {"debian", "ubuntu"}:
            return "Install one with `sudo apt-get install chromium`"
        if family & {"fedora", "rhel", "centos"}:
            return "Install one with `sudo dnf install chromium`"
        if "arch" in family:
            return "Install one with `sudo pacman -S chromium`"
        return "Install Chromium with your distribution's package manager"
    return "Install Chromium or Google Chrome"


def _linux_family() -> set[str]:
    """The distribution and what it derives from (/etc/os-release ID and ID_LIKE)."""
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return set()
    names: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            names.update(value.strip().strip('"').split())
    return names


# A small trampoline puts the pipes on the fds Chromium expects (3 and 4), leaves root for the
# browser's user where it should (argv 3, 4: uid and gid, -1 to stay), then becomes the browser (a
# shell's redirections take one-digit fds only).
_TRAMPOLINE = ("import os, sys; os.dup2(int(sys.argv[1]), 3, inheritable=True); "
               "os.dup2(int(sys.argv[2]), 4, inheritable=True); uid, gid = int(sys.argv[3]), int(sys.argv[4]); "
               "uid < 0 or (os.setgroups([]), os.setgid(gid), os.setuid(uid)); os.execv(sys.argv[5], sys.argv[5:])")


def _flags(data: Path, run_as: browser_process.Runner, cap_mb: int) -> list[str]:
    flags = [
        "--headless", "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check", "--disable-gpu",
        "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={data}",
        # A page's heap ends at the cap (the watchdog sees the rest), in one renderer process.
        f"--js-flags=--max-old-space-size={cap_mb}", "--renderer-process-limit=1", "about:blank",
    ]
    if not run_as.sandbox:
        flags.insert(0, "--no-sandbox")  # as root (with no one to run as), or where no sandbox starts
    return flags


async def render(browser: str, html: Path, *, width: int, full_page: bool, timeout: float = 60.0,
                 wait_for: str | None = None, value_of: str | None = None) -> Shot:
    """`html` (a file) rendered at `width` px: its first screen, or the whole page (up to
    MAX_PAGE_HEIGHT) in tiles, as PNGs of at most MAX_PNG_BYTES together. `wait_for` (a script
    expression) must be true before the page counts as drawn; `value_of` is evaluated after."""
    if not html.is_absolute():
        raise ValueError(f"render() takes an absolute path, not {html}")
    page = await anyio.Path(html).read_bytes()
    try:
        return await _render(browser, browser_process.runner(browser), page, width, full_page, timeout, wait_for,
                             value_of)
    except _NoSandbox:
        browser_process.no_sandbox_here(browser)
        return await _render(browser, browser_process.runner(browser), page, width, full_page, timeout, wait_for,
                             value_of)


class _NoSandbox(BrowserFailed):
    """The browser's sandbox did not start as the unprivileged user."""


async def _render(browser: str, run_as: browser_process.Runner, page: bytes, width: int, full_page: bool,
                  timeout: float, wait_for: str | None, value_of: str | None) -> Shot:
    profile = browser_process.new_profile(run_as)
    log = profile / "browser.log"
    cap = browser_process.MAX_MEMORY_MB
    commands_r, commands_w = os.pipe()  # we write; the browser reads on fd 3
    answers_r, answers_w = os.pipe()  # the browser writes on fd 4; we read
    process = None
    over: list[float] = []
    shot: list[Shot] = []
    failed: list[Exception] = []
    try:
        with open(log, "wb") as out:  # noqa: ASYNC230 (a local file, opened once)
            ids = [str(-1 if run_as.uid is None else run_as.uid), str(-1 if run_as.gid is None else run_as.gid)]
            process = await anyio.open_process(
                [sys.executable, "-I", "-S", "-c", _TRAMPOLINE, str(commands_r), str(answers_w), *ids, browser,
                 *_flags(profile / "data", run_as, cap)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, pass_fds=(commands_r, answers_w),
                start_new_session=True, env=browser_process.environment(run_as, profile))
        os.close(commands_r)
        os.close(answers_w)
        commands_r = answers_w = -1
        pipe = _Pipe(commands_w, answers_r, log)
        with anyio.fail_after(timeout):
            async with anyio.create_task_group() as group:
                group.start_soon(browser_process.watch_memory, process.pid, cap, over, group.cancel_scope)
                try:
                    shot.append(await _capture(pipe, page, width, full_page, wait_for, value_of))
                except Exception as ex:  # raised below as itself, not in an exception group
                    failed.append(ex)
                group.cancel_scope.cancel()
        if failed and not over:
            raise failed[0]
        if over or not shot:
            raise BrowserFailed(_too_much_memory(cap))
        return shot[0]
    except TimeoutError:
        raise BrowserFailed(f"the browser did not finish within {timeout:g} s and was stopped{_tail(log)}") from None
    except BrowserFailed as ex:
        if _out_of_memory(log):
            raise BrowserFailed(_too_much_memory(cap)) from None
        if run_as.uid is not None and run_as.sandbox and "No usable sandbox" in _tail(log, 2000):
            raise _NoSandbox(str(ex)) from None
        raise
    except OSError as ex:
        raise BrowserFailed(f"the browser {browser} could not be started: {ex}") from None
    finally:
        for fd in (commands_r, answers_w, commands_w, answers_r):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if process is not None:
            await _stop(process)
        browser_process.remove_profile(profile)


def _too_much_memory(cap: int) -> str:
    return (f"the card used more than {cap} MB of memory, so its browser was stopped (list_cards describes the "
            "card in words)")


def _out_of_memory(log: Path) -> bool:
    """V8 ended the page at its heap limit (it says so on the browser's output)."""
    return any(sign in _tail(log, 4000) for sign in ("out of memory", "heap limit", "Out of memory"))


async def _capture(pipe: _Pipe, html: bytes, width: int, full_page: bool, wait_for: str | None,
                   value_of: str | None) -> Shot:
    target = await pipe.send("Target.createTarget", {"url": "about:blank"})
    attached = await pipe.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
    session = attached["sessionId"]
    await pipe.send("Page.enable", session=session)
    await pipe.send("Runtime.enable", session=session)  # for the exceptions the page's scripts throw
    frame = (await pipe.send("Page.getFrameTree", session=session))["frameTree"]["frame"]["id"]
    pipe.answer_requests = _only_the_page(html, frame)
    await pipe.send("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session=session)
    await _viewport(pipe, session, width, VIEWPORT_HEIGHT)
    navigated = await pipe.send("Page.navigate", {"url": CARD_URL}, session=session)
    if navigated.get("errorText"):
        raise BrowserFailed(f"the card's page did not load: {navigated['errorText']}")
    await pipe.event("Page.loadEventFired", session)
    if wait_for:
        with anyio.move_on_after(STEP_TIMEOUT_S):
            while not await _evaluate(pipe, session, f"Boolean({wait_for})"):  # noqa: ASYNC110 (polling the page)
                await anyio.sleep(0.1)
    value = await _evaluate(pipe, session, value_of) if value_of else None
    page_height = await _settled_height(pipe, session, width)
    # The first screen; a page not much taller than that comes whole rather than cut just short of its end.
    first_screen = page_height if page_height <= VIEWPORT_HEIGHT * 1.25 else VIEWPORT_HEIGHT
    height = min(page_height, MAX_PAGE_HEIGHT) if full_page else first_screen
    cut = page_height > height
    await _viewport(pipe, session, width, height)
    tiles = [(top, min(TILE_HEIGHT, height - top)) for top in range(0, height, TILE_HEIGHT)]
    scale = 1.0
    images = [await _screenshot(pipe, session, width, top, tall, scale) for top, tall in tiles]
    while sum(map(len, images)) > MAX_PNG_BYTES and scale > MIN_SCALE:
        scale = max(MIN_SCALE, scale * math.sqrt(MAX_PNG_BYTES / sum(map(len, images))) * 0.95)
        images = [await _screenshot(pipe, session, width, top, tall, scale) for top, tall in tiles]
    while sum(map(len, images)) > MAX_PNG_BYTES and len(images) > 1:  # at the smallest readable scale: less page
        images.pop()
        tiles.pop()
        cut = True
    while sum(map(len, images)) > MAX_PNG_BYTES and tiles[0][1] > 200:
        tiles = [(0, int(tiles[0][1] * MAX_PNG_BYTES / len(images[0]) * 0.9))]
        images = [await _screenshot(pipe, session, width, 0, tiles[0][1], scale)]
        cut = True
    await pipe.send("Browser.close")
    return Shot(images, width, sum(tall for _, tall in tiles), page_height, round(scale, 2), cut, value,
                pipe.errors, pipe.first_error, tuple(pipe.dialogs))


def _only_the_page(html: bytes, frame: str) -> Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]:
    """How to answer each request the page makes: CARD_URL in its own frame gets the page; every
    other request fails, as aborted (a navigation aborted leaves the page as it was)."""
    body = base64.b64encode(html).decode("ascii")

    def answer(paused: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if (paused["request"]["url"] == CARD_URL and paused.get("frameId") == frame
                and paused.get("resourceType") == "Document"):
            return "Fetch.fulfillRequest", {
                "requestId": paused["requestId"], "responseCode": 200, "body": body,
                "responseHeaders": [{"name": "Content-Type", "value": "text/html; charset=utf-8"}]}
        return "Fetch.failRequest", {"requestId": paused["requestId"], "errorReason": "Aborted"}

    return answer


async def _evaluate(pipe: _Pipe, session: str, expression: str) -> Any:
    answer = await pipe.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
    return answer.get("result", {}).get("value")


async def _viewport(pipe: _Pipe, session: str, width: int, height: int) -> None:
    await pipe.send("Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": max(1, height), "deviceScaleFactor": 1, "mobile": False},
                    session=session)


async def _settled_height(pipe: _Pipe, session: str, width: int) -> int:
    """The page's height once its scripts are done drawing: the same height, text and loaded
    images twice in a row (a card renders from its embedded data after load; charts after that)."""
    probe = ("JSON.stringify([document.readyState, document.documentElement.scrollHeight, "
             "document.body ? document.body.innerText.length : 0, "
             "Array.from(document.images).every(i => i.complete)])")
    previous, same = None, 0
    with anyio.move_on_after(SETTLE_S):
        while same < 2:
            answer = await pipe.send("Runtime.evaluate", {"expression": probe, "returnByValue": True},
                                     session=session)
            reading = answer.get("result", {}).get("value")
            ready = bool(reading) and json.loads(reading)[0] == "complete" and json.loads(reading)[3]
            same = same + 1 if reading == previous and ready else 0
            previous = reading
            await anyio.sleep(0.08)
    if not previous:
        return VIEWPORT_HEIGHT
    # A page styled to fill the window (min-height: 100vh) is as tall as any window: its content's
    # own height shows in a short one, so the picture has no blank tail.
    await _viewport(pipe, session, width, MIN_PAGE_HEIGHT)
    answer = await pipe.send("Runtime.evaluate", {"expression": "document.documentElement.scrollHeight",
                                                  "returnByValue": True}, session=session)
    return max(MIN_PAGE_HEIGHT, int(answer.get("result", {}).get("value") or json.loads(previous)[1]))


async def _screenshot(pipe: _Pipe, session: str, width: int, top: int, height: int, scale: float) -> bytes:
    shot = await pipe.send("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": top, "width": width, "height": height, "scale": scale}}, session=session)
    png = base64.b64decode(shot["data"])
    png_size(png)  # a PNG, or BrowserFailed
    return png


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise BrowserFailed("the browser's screenshot is not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


class _Pipe:
    """DevTools protocol messages over the browser's pipe: commands answered by id, events kept
    until asked for, a paused request answered as soon as it arrives (by `answer_requests`: the
    page waits for it), a dialog dismissed as it opens (the page's scripts wait for it), the page's
    exceptions counted. Each exchange has STEP_TIMEOUT_S.

    The descriptors are non-blocking and waited on in the event loop: an exchange cancelled leaves
    no read or write behind in a thread, to land on a descriptor number the next pipe reuses."""

    def __init__(self, write_fd: int, read_fd: int, log: Path):
        self.write_fd, self.read_fd, self.log = write_fd, read_fd, log
        os.set_blocking(write_fd, False)
        os.set_blocking(read_fd, False)
        self._id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self.answer_requests: Callable[[dict[str, Any]], tuple[str, dict[str, Any]]] | None = None
        self.errors = 0
        self.first_error: str | None = None
        self.dialogs: list[str] = []

    async def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None) -> dict:
        with self._deadline(method):
            sent = await self._post(method, params, session)
            while True:
                reply = await self._next()
                if reply.get("id") == sent:
                    if "error" in reply:
                        raise BrowserFailed(f"{method}: {reply['error'].get('message')}")
                    return reply.get("result", {})
                if "method" in reply:
                    self._events.append(reply)

    async def event(self, method: str, session: str) -> dict:
        with self._deadline(method):
            while True:
                for i, event in enumerate(self._events):
                    if event["method"] == method and event.get("sessionId") == session:
                        return self._events.pop(i).get("params", {})
                reply = await self._next()
                if "method" in reply:
                    self._events.append(reply)

    async def _post(self, method: str, params: dict[str, Any] | None, session: str | None) -> int:
        """Write a command; its id (its answer is read by whoever waits for it)."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self._write(json.dumps(message).encode() + b"\0")
        return message["id"]

    async def _write(self, data: bytes) -> None:
        view = memoryview(data)  # a pipe takes part of a large message (a page of megabytes) at a time
        while view:
            try:
                view = view[os.write(self.write_fd, view):]
            except BlockingIOError:
                await anyio.wait_writable(self.write_fd)
            except BrokenPipeError:
                raise BrowserFailed(f"the browser closed its DevTools pipe{_tail(self.log)}") from None

    async def _read(self) -> bytes:
        while True:
            try:
                return os.read(self.read_fd, 1 << 20)
            except BlockingIOError:
                await anyio.wait_readable(self.read_fd)

    @contextlib.contextmanager
    def _deadline(self, method: str):
        try:
            with anyio.fail_after(STEP_TIMEOUT_S):
                yield
        except TimeoutError:
            raise BrowserFailed(f"the browser did not answer {method} within {STEP_TIMEOUT_S:g} s and was "
                                f"stopped{_tail(self.log)}") from None

    async def _next(self) -> dict:
        while True:
            while b"\0" not in self._buffer:
                chunk = await self._read()
                if not chunk:
                    raise BrowserFailed(f"the browser closed its DevTools pipe{_tail(self.log)}")
                self._buffer += chunk
            data, _, self._buffer = self._buffer.partition(b"\0")
            message = json.loads(data)
            method, params = message.get("method"), message.get("params", {})
            if method == "Fetch.requestPaused" and self.answer_requests is not None:
                await self._post(*self.answer_requests(params), message.get("sessionId"))
            elif method == "Page.javascriptDialogOpening":  # else the page waits for a click (~24 s)
                self.dialogs.append(params.get("type", "dialog"))
                await self._post("Page.handleJavaScriptDialog", {"accept": False}, message.get("sessionId"))
            elif method == "Runtime.exceptionThrown":
                self.errors += 1
                self.first_error = self.first_error or _page_error(params.get("exceptionDetails", {}))
            elif method == "Inspector.targetCrashed":
                raise BrowserFailed(f"the card's page crashed{_tail(self.log)}")
            elif not (method or "").startswith("Runtime."):  # console lines, contexts: nobody waits for them
                return message


def _page_error(details: dict[str, Any]) -> str:
    """`Uncaught Error: boom (line 12)`: the first line of what was thrown, and where."""
    thrown = details.get("exception") or {}
    text = thrown.get("description") or " ".join(
        str(part) for part in (details.get("text", "Uncaught"), thrown.get("value")) if part is not None)
    line = details.get("lineNumber")
    first = (text.strip().splitlines() or ["an exception"])[0]
    return f"{first} (line {line + 1})" if isinstance(line, int) else first


async def _stop(process) -> None:
    """Kill the browser's whole process group (renderers, GPU and zygote processes too)."""
    browser_process.kill_group(process.pid)
    with anyio.move_on_after(5), anyio.CancelScope(shield=True):
        await process.wait()


def _tail(log: Path, chars: int = 300) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines()
                 if line.strip() and "dbus" not in line.lower()]
    except OSError:
        return ""
    text = "\n".join(lines)[-chars:]
    return f" (its last output: {text})" if text else ""
