"""Debian's chromium, headless, driven over the DevTools protocol on a pipe (--remote-debugging-pipe): stdlib only.

The browser reads commands from its fd 3 and writes answers and events to fd 4, one JSON object each,
ended by a NUL byte. No port is opened and no websocket is needed. `render()` opens one local page in a
fresh profile and returns what the page did: every request it made, every console message, log entry and
exception, a screenshot, and the page printed to PDF on A4 and on Letter.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"

# The flags the brief asks for, plus what keeps the browser's own traffic home: every host name resolves
# to nothing, so even a request the page should never make could not leave the machine.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--no-default-browser-check",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe")


class BrowserError(Exception):
    pass


@dataclass
class Rendered:
    url: str
    requests: list[str] = field(default_factory=list)  # every URL the page asked for (Network domain)
    failed: list[str] = field(default_factory=list)  # Network.loadingFailed: URL and error text
    console: list[dict] = field(default_factory=list)  # Runtime.consoleAPICalled
    log: list[dict] = field(default_factory=list)  # Log.entryAdded (CSP violations, failed loads...)
    exceptions: list[dict] = field(default_factory=list)  # Runtime.exceptionThrown
    screenshot: bytes = b""
    print_screenshot: bytes = b""  # the print layout at A4's printable width
    pdfs: dict[str, bytes] = field(default_factory=dict)  # "A4" / "Letter" -> PDF
    layout: dict = field(default_factory=dict)  # document and viewport sizes, on screen and in print

    @property
    def errors(self) -> list[str]:
        found = [f"console.{c.get('type')}: {c.get('args')}" for c in self.console
                 if c.get("type") in ("error", "warning", "assert")]
        found += [f"log {e.get('level')} ({e.get('source')}): {e.get('text')} {e.get('url', '')}" for e in self.log
                  if e.get("level") in ("error", "warning")]
        found += [f"exception: {x.get('exceptionDetails', {}).get('text')}" for x in self.exceptions]
        return found


class _Pipe:
    def __init__(self, proc: subprocess.Popen, to_browser: int, from_browser: int) -> None:
        self.proc, self.out, self.inp = proc, to_browser, from_browser
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def _read_one(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            ready, _, _ = select.select([self.inp], [], [], min(left, 1.0))
            if not ready:
                if self.proc.poll() is not None:
                    raise BrowserError(f"chromium exited with {self.proc.returncode}")
                continue
            chunk = os.read(self.inp, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed its DevTools pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 60.0) -> dict:
        self.next_id += 1
        message: dict = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.out, data):]
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_one(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str, session: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method and event.get("sessionId") == session:
                return event
        while True:
            event = self._read_one(deadline)
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return event


_MEASURE = ("JSON.stringify({scrollWidth: document.documentElement.scrollWidth, "
            "clientWidth: document.documentElement.clientWidth, scrollHeight: document.documentElement.scrollHeight,"
            " elements: document.getElementsByTagName('*').length, "
            "scripts: document.scripts.length, title: document.title, "
            "wide: Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > "
            "document.documentElement.clientWidth + 0.5).slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' "
            "+ (e.textContent || '').slice(0, 40))})")

# Paper sizes in inches, as Page.printToPDF takes them.
PAPER = {"A4": (8.27, 11.69), "Letter": (8.5, 11.0)}


def render(page: Path, profile: Path, log: Path, width: int = 1200) -> Rendered:
    """Open `page` (a local file) in headless chromium with a fresh profile; what the page did."""
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def fds() -> None:  # in the child: the DevTools pipe on fds 3 and 4, where chromium looks for it
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]  # out of the way
        for fd, target in zip(high, (3, 4), strict=True):
            os.dup2(fd, target)
            os.set_inheritable(target, True)

    with log.open("wb") as stderr:
        proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
                                 f"--window-size={width},900", "about:blank"],
                                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, close_fds=False,
                                preexec_fn=fds)  # noqa: PLW1509 - fds only, before exec
    os.close(to_browser_r)
    os.close(from_browser_w)
    pipe = _Pipe(proc, to_browser_w, from_browser_r)
    url = page.resolve().as_uri()
    result = Rendered(url)
    try:
        targets = pipe.call("Target.getTargets")["targetInfos"]
        page_target = next((t for t in targets if t["type"] == "page"), None)
        target_id = page_target["targetId"] if page_target else pipe.call("Target.createTarget",
                                                                          {"url": "about:blank"})["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            pipe.call(f"{domain}.enable", session=session)
        pipe.events.clear()  # what about:blank did is not the page's
        pipe.call("Page.navigate", {"url": url}, session=session)
        pipe.wait_for("Page.loadEventFired", session)
        screen = json.loads(pipe.call("Runtime.evaluate", {"expression": _MEASURE, "returnByValue": True},
                                      session=session)["result"]["value"])
        pipe.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": max(900, screen["scrollHeight"]),
                                                         "deviceScaleFactor": 1, "mobile": False}, session=session)
        shot = pipe.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
        result.screenshot = base64.b64decode(shot["data"])
        pipe.call("Emulation.clearDeviceMetricsOverride", session=session)
        for name, (w, h) in PAPER.items():
            pdf = pipe.call("Page.printToPDF", {"paperWidth": w, "paperHeight": h, "printBackground": True,
                                                "marginTop": 0, "marginBottom": 0, "marginLeft": 0,
                                                "marginRight": 0, "preferCSSPageSize": False}, session=session)
            result.pdfs[name] = base64.b64decode(pdf["data"])
        # The print layout at A4's printable width (210 mm less the page margins, at 96 px per inch).
        pipe.call("Emulation.setEmulatedMedia", {"media": "print"}, session=session)
        a4 = int((210 - 22) / 25.4 * 96)
        pipe.call("Emulation.setDeviceMetricsOverride", {"width": a4, "height": 1000, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=session)
        printed = json.loads(pipe.call("Runtime.evaluate", {"expression": _MEASURE, "returnByValue": True},
                                       session=session)["result"]["value"])
        result.layout = {"screen": screen, "print": printed, "print_width": a4}
        pipe.call("Emulation.setDeviceMetricsOverride", {"width": a4, "height": max(1000, printed["scrollHeight"]),
                                                         "deviceScaleFactor": 1, "mobile": False}, session=session)
        shot = pipe.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
        result.print_screenshot = base64.b64decode(shot["data"])
        # Every event so far: one more round trip makes sure the last ones have arrived.
        pipe.call("Runtime.evaluate", {"expression": "1"}, session=session)
    finally:
        try:
            pipe.call("Browser.close", timeout=10)
        except (BrowserError, OSError):
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(to_browser_w)
        os.close(from_browser_r)
    for event in pipe.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            result.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            result.failed.append(f"{params.get('errorText')} {params.get('blockedReason', '')}")
        elif method == "Runtime.consoleAPICalled":
            result.console.append({"type": params.get("type"), "args": [a.get("value") for a in params.get("args", [])]})
        elif method == "Log.entryAdded":
            result.log.append(params.get("entry", {}))
        elif method == "Runtime.exceptionThrown":
            result.exceptions.append(params)
    return result
