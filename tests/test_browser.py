"""The browser behind view_card, rendered without Metaflow: its DevTools pipe when a render is cut
short, what a page's scripts do (exceptions, dialogs, memory), whom it runs as, and what it leaves
behind. Tests with a real Chromium are e2e; those with a fake browser are quick."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import anyio
import pytest

from flowmcp.app import browser, browser_process

from .conftest import BROWSER, fake_browser, needs_browser

pytestmark = pytest.mark.anyio


def _page(folder: Path, html: str) -> Path:
    page = folder / "page.html"
    page.write_text(html)
    return page


async def test_a_read_left_by_a_timed_out_render_takes_nothing_from_the_next_pipes(tmp_path, monkeypatch):
    """A render times out while its read of the browser's answers is on its way (a worker thread
    that comes to it late, as on a busy machine); the render closes its pipes and new pipes get
    their numbers. Whatever is written to the new pipes stays there for their readers."""
    late = threading.Event()
    real_read = os.read

    def read(fd: int, size: int) -> bytes:
        if threading.current_thread() is not threading.main_thread():
            late.wait(5)
        return real_read(fd, size)

    monkeypatch.setattr(os, "read", read)
    hangs = fake_browser(tmp_path, "time.sleep(3600)")  # never answers on fd 4
    with pytest.raises(browser.BrowserFailed, match="did not finish within 1 s"):
        await browser.render(str(hangs), _page(tmp_path, "<p>card</p>"), width=400, full_page=False, timeout=1)
    pipes = [os.pipe() for _ in range(6)]
    try:
        for _, w in pipes:
            os.write(w, b'{"id": 1, "result": {}}\0')
        late.set()
        await anyio.sleep(0.5)  # time for a read left behind to take its bytes
        kept = []
        for r, _ in pipes:
            os.set_blocking(r, False)
            try:
                kept.append(real_read(r, 100))
            except BlockingIOError:
                kept.append(b"")
    finally:
        late.set()
        for pair in pipes:
            for fd in pair:
                os.close(fd)
    assert kept == [b'{"id": 1, "result": {}}\0'] * len(pipes), kept


def _a_server_killed_mid_render(tmp_path: Path, temp: Path, page: Path) -> None:
    """A process rendering with a browser that hangs, killed (with its browser) once the profile is made."""
    hangs = fake_browser(tmp_path, "time.sleep(3600)")
    script = ("import anyio, pathlib, sys; from flowmcp.app import browser; "
              f"anyio.run(lambda: browser.render({str(hangs)!r}, pathlib.Path({str(page)!r}), width=400, "
              "full_page=False, timeout=600))")
    server = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "TMPDIR": str(temp)})
    try:
        for _ in range(400):
            if (tmp_path / "pid").exists() and list(temp.glob("flowmcp-browser-*")):
                break
            time.sleep(0.05)
        assert len(list(temp.glob("flowmcp-browser-*"))) == 1  # the render's profile
    finally:
        server.kill()
        server.wait()
        os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)  # a fake browser does not watch its pipe


def _descendants() -> list[tuple[int, str]]:
    """(uid, command line) of each live process below this one."""
    parents: dict[int, int] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(pid)] = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    below, found = {os.getpid()}, []
    for _ in range(10):  # generations
        below |= {pid for pid, parent in parents.items() if parent in below}
    for pid in below - {os.getpid()}:
        with contextlib.suppress(OSError):
            found.append((os.stat(f"/proc/{pid}").st_uid, Path(f"/proc/{pid}/cmdline").read_text()))
    return [(uid, cmdline) for uid, cmdline in found if cmdline]  # not the ones dying


async def test_the_profile_of_a_killed_render_is_removed_at_the_next_render(tmp_path, monkeypatch):
    """A server killed mid-render leaves its browser's profile; the next render, by any server of
    this user, removes it (and its own). A live server's profile stays."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    page = _page(tmp_path, "<p>card</p>")
    _a_server_killed_mid_render(tmp_path, temp, page)
    live = temp / f"flowmcp-browser-{os.getpid()}-inuse"  # a render of this (live) server, under way
    live.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    dies = fake_browser(tmp_path, "sys.exit(1)")
    with pytest.raises(browser.BrowserFailed, match="closed its DevTools pipe"):
        await browser.render(str(dies), page, width=400, full_page=False, timeout=10)
    assert sorted(p.name for p in temp.iterdir()) == [live.name]


@pytest.mark.e2e
@needs_browser
async def test_a_navigation_that_fails_is_said(tmp_path, monkeypatch):
    """Page.navigate's errorText (here: the card's own request failed) is the answer, at once."""
    monkeypatch.setattr(browser, "STEP_TIMEOUT_S", 5.0)
    monkeypatch.setattr(browser, "_only_the_page", lambda html, frame: lambda paused: (
        "Fetch.failRequest", {"requestId": paused["requestId"], "errorReason": "ConnectionRefused"}))
    with pytest.raises(browser.BrowserFailed, match="the card's page did not load: net::ERR_CONNECTION_REFUSED"):
        await browser.render(BROWSER, _page(tmp_path, "<p>card</p>"), width=400, full_page=False)


@pytest.mark.e2e
@needs_browser
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="the browser leaves root only as root")
async def test_as_root_the_browser_runs_as_nobody_with_its_sandbox(tmp_path):
    """Every process of the browser is nobody's; sandboxed, unless Chromium said no sandbox starts
    here (then test_as_root_where_the_sandbox_does_not_start... shows what happens)."""
    seen: list[tuple[int, str]] = []

    async def watch():  # the browser's processes as they are last seen
        while True:
            await anyio.sleep(0.2)
            seen[:] = await anyio.to_thread.run_sync(_descendants) or seen

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        shot = await browser.render(BROWSER, _page(tmp_path, "<p>card</p>"), width=400, full_page=False)
        group.cancel_scope.cancel()
    assert shot.images and len(seen) >= 2, seen  # the browser and its renderer at least
    nobody = browser_process.pwd.getpwnam("nobody").pw_uid
    sandboxed = BROWSER not in browser_process._UNSANDBOXED
    assert all(uid == nobody and ("--no-sandbox" not in cmdline) == sandboxed for uid, cmdline in seen), seen


def _a_browser_without_sandbox() -> Path:
    """A fake Chromium whose sandbox never starts, where nobody reaches it (pytest's folders are
    0700); each start is written to `starts` beside it: uid, then arguments."""
    folder = Path(tempfile.mkdtemp(prefix="fake-browser-"))
    folder.chmod(0o777)
    fake = folder / "chromium"
    fake.write_text(f'#!/bin/sh\necho "$(id -u) $*" >> {folder}/starts\n'
                    'case "$*" in *--no-sandbox*) exec sleep 3600;; esac\n'
                    'echo "FATAL:zygote_host_impl_linux.cc No usable sandbox!" >&2\nexit 1\n')
    fake.chmod(0o755)
    return fake


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="the browser leaves root only as root")
async def test_as_root_where_the_sandbox_does_not_start_the_browser_runs_as_nobody_without_it(tmp_path, monkeypatch):
    """Chromium says "No usable sandbox" (no user namespaces, no setuid helper): the render starts
    it again as nobody with --no-sandbox, rather than as root."""
    fake = _a_browser_without_sandbox()
    try:
        monkeypatch.setattr(browser_process, "_UNSANDBOXED", set())
        with pytest.raises(browser.BrowserFailed, match="did not finish within 1 s"):
            await browser.render(str(fake), _page(tmp_path, "<p>card</p>"), width=400, full_page=False, timeout=1)
        starts = _lines(fake.parent / "starts")
    finally:
        shutil.rmtree(fake.parent, ignore_errors=True)
    nobody = str(browser_process.pwd.getpwnam("nobody").pw_uid)
    assert [start.split()[0] for start in starts] == [nobody, nobody], starts
    assert "--no-sandbox" not in starts[0] and "--no-sandbox" in starts[1], starts
