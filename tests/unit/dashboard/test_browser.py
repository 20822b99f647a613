"""The dashboard in a real browser: Debian's headless Chromium, driven over DevTools.

How: uvicorn serves the app (the central API with the dashboard included) from a background
thread on a socket bound to a free loopback port; Chromium starts headless with
``--remote-debugging-port=0`` and writes the port it chose to ``DevToolsActivePort`` in its
profile folder; the page's websocket comes from ``/json/list`` (stdlib HTTP + JSON), and the
test speaks the Chrome DevTools Protocol over it with the ``websockets`` package's synchronous
client. It types into the login form and submits it (so the CSRF cookie and token, the redirect
and the session cookie all go through the browser), picks a unit in the filter, reads the
rendered DOM, and saves full-page screenshots under ``artifacts/dashboard-*.png``.

Waiting is by polling an expression until it holds, never by sleeping a fixed time: a new page
is recognised because the marker set on the old document is gone.

Without Chromium (or ``websockets``) the test skips with the reason, unless
``HADIR_REQUIRE_BROWSER=1`` (CI), where it fails instead.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn

from central.db import make_engine, upgrade
from tests.unit.dashboard import NOW, PASSWORD, FakeClock, make_app, seed

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
CHROMIUM = os.environ.get("HADIR_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1280,900",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("HADIR_REQUIRE_BROWSER") == "1":
        pytest.fail(f"HADIR_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


class DevTools:
    """A minimal CDP client: commands with ids, events ignored, results or errors raised."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    def call(self, method: str, timeout: float = 15.0, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply["result"]
                return result

    def js(self, expression: str) -> Any:
        """The value of ``expression`` in the page (JSON-serialisable)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 20.0) -> None:
        """Poll until ``expression`` is true in the page (a page mid-navigation is retried)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.js(expression):
                    return
            except RuntimeError:
                pass  # the old document went away while evaluating
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    def navigating(self, action: str) -> None:
        """Run ``action`` (JS that navigates) and wait until the next document has loaded."""
        self.js("window.__hadirOld = true")
        self.js(action)
        self.wait("!window.__hadirOld && document.readyState === 'complete'")

    def screenshot(self, path: Path) -> None:
        """A full-page PNG of the current document."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.call(
            "Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    upgrade(url)
    engine = make_engine(url)
    ids = seed(engine)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(make_app(engine, FakeClock(NOW)), log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", ids
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()
        engine.dispose()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from websockets.sync.client import connect
    except ImportError:
        _unavailable("the websockets package is not installed")
    profile = tmp_path / "chromium"
    log = (tmp_path / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and active.read_text().count("\n") >= 1):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                output = (tmp_path / "chromium.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"chromium did not start (exit {proc.returncode}): {output}")
            time.sleep(0.1)
        port = int(active.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page = next(t for t in targets if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            tools = DevTools(ws)
            tools.call("Page.enable")
            yield tools
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _rows(tools: DevTools, table: str) -> dict[str, dict[str, int]]:
    """``{unit code: {column: number}}`` of a table in the rendered DOM."""
    rows: dict[str, dict[str, int]] = tools.js(
        f"""Object.fromEntries([...document.querySelectorAll('#{table} tr[data-unit]')].map(
            tr => [tr.dataset.unit, Object.fromEntries([...tr.querySelectorAll('td[data-col]')]
                  .map(td => [td.dataset.col, parseInt(td.textContent.trim(), 10)]))]))"""
    )
    return rows


def _login(tools: DevTools, base: str, username: str) -> None:
    tools.navigating(f"location.href = {json.dumps(base + '/dashboard')}")
    assert tools.js("location.pathname") == "/dashboard/login"
    tools.navigating(
        f"""document.getElementById('username').value = {json.dumps(username)};
            document.getElementById('password').value = {json.dumps(PASSWORD)};
            document.getElementById('login').requestSubmit();"""
    )
    assert tools.js("location.pathname") == "/dashboard", tools.js("document.body.innerText")


def test_dashboard_in_chromium(server: tuple[str, dict[str, Any]], browser: DevTools) -> None:
    base, ids = server
    _login(browser, base, "admin")
    assert browser.js("document.getElementById('who').textContent") == "admin"
    today = _rows(browser, "today")
    assert set(today) == {"BKPPD", "DINKES", "SATPOL", "*"}
    assert today["BKPPD"]["seen"] == 2
    assert today["DINKES"]["seen"] == 1
    assert today["*"]["people"] == 5
    assert browser.js("document.querySelectorAll('#terminals tr[data-device]').length") == 3
    # Bars (those with a tooltip): 16 Nov H, Izin, TK, TL, PSW; 17 Nov H, Izin, TK, TL; 18 Izin.
    assert browser.js("document.querySelectorAll('figure.chart svg rect title').length") == 10
    browser.screenshot(ARTIFACTS / "dashboard-admin-all-units.png")

    # The unit filter: choose DINKES in the dropdown and submit the form.
    browser.navigating(
        f"""document.getElementById('unit').value = '{ids["units"]["DINKES"]}';
            document.getElementById('filter').requestSubmit();"""
    )
    assert browser.js("new URLSearchParams(location.search).get('unit')") == str(
        ids["units"]["DINKES"]
    )
    today = _rows(browser, "today")
    assert set(today) == {"DINKES"}
    assert today["DINKES"] == {
        "people": 2, "seen": 1, "hadir": 0, "tl": 0, "psw": 0, "tk": 0, "absen": 1, "off": 0,
        "pending": 1,
    }  # fmt: skip
    assert _rows(browser, "month-units") == {
        "DINKES": {"h": 2, "tl": 1, "psw": 0, "tk": 1, "absen": 2}
    }
    devices = browser.js(
        "[...document.querySelectorAll('#terminals tr[data-device]')].map(r => r.dataset.device)"
    )
    assert devices == ["term-dinkes-1"]
    browser.screenshot(ARTIFACTS / "dashboard-admin-dinkes.png")

    # Log out with the button, then a unit operator: the unit is fixed, no dropdown.
    browser.navigating("document.querySelector('form[action$=\"/logout\"]').requestSubmit()")
    assert browser.js("location.pathname") == "/dashboard/login"
    _login(browser, base, "op_a")
    assert browser.js("document.getElementById('unit')") is None
    assert "BKPPD" in browser.js("document.getElementById('unit-fixed').textContent")
    assert set(_rows(browser, "today")) == {"BKPPD"}
    assert "Dinas Kesehatan" not in browser.js("document.body.innerText")
    browser.screenshot(ARTIFACTS / "dashboard-operator-bkppd.png")
