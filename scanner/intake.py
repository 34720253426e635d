"""The intake station behind `scanner watch`: scan each device as it is plugged in.

Two trackers follow the transports:

- Android: the adb server's `host:track-devices` smart-socket service (a
  length-prefixed `serial<TAB>state` list, sent again on every change). A
  phone in state `device` is scanned; `unauthorized` and `no permissions`
  are scanned too, which gives their failed verdict with what to do, and
  the phone is scanned again once it turns `device`; the passing states
  (`offline`, `connecting`, `authorizing`) are only noted.
- iOS: usbmuxd `Listen` through pymobiledevice3 (its mux connection keeps
  the device list up to date from the Attached/Detached events). A UDID
  seen on USB or Wi-Fi is one device; it is scanned when it first appears.

Each scan is the ordinary connector scan of that one device (the same code
as `scanner scan --serial/--udid`), in a daemon thread of its own, so a slow
iPhone never holds up the next phone and Ctrl-C never waits for one. A
transport that is not there (no adb server yet, usbmuxd restarting) is
retried every RETRY seconds and noted once per outage; one transport's
trouble never stops the other.

The result of a device is handed to `on_report` with a one-device Report
(its exit code is the code that device alone gives), why it was scanned, and
the (platform, transport serial) it was scanned by. The last result of each
device counts for the session's exit code: a phone that was unauthorized and
then scanned clean after the prompt was accepted is clean.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import replace
from typing import Callable

from scanner.connectors.base import Notify, Progress
from scanner.matcher import Matcher
from scanner.model import DeviceResult, Report
from scanner.signatures import Signatures

__all__ = ["Intake"]

RETRY = 2.0  # seconds between attempts to reach a transport that is not there
MAX_SCANS = 16  # devices read at once; more wait their turn
SCAN_STATES = ("device", "unauthorized", "no permissions")  # adb states worth a verdict
PASSING_STATES = ("offline", "connecting", "authorizing")  # adb states that usually turn into `device`


class Intake:
    """Follow the adb server and usbmuxd, scan what is attached, report each device as it is read."""

    def __init__(self, *, platforms: dict[str, bool], adb_server: str | None, usbmuxd: str | None, timeout: float,
                 signatures: Signatures, matcher: Matcher, fail_on: str,
                 on_report: Callable[[Report, str, tuple[str, str]], None], notify: Notify, progress: Progress | None = None) -> None:
        self.platforms = platforms
        self.adb_server = adb_server
        self.usbmuxd = usbmuxd
        self.timeout = timeout
        self.signatures = signatures
        self.matcher = matcher
        self.fail_on = fail_on
        self.on_report = on_report
        self.notify = notify
        self.progress = progress
        self.stop = threading.Event()
        self.latest: dict[tuple, DeviceResult] = {}  # the last result of every device, by (platform, transport serial)
        self.first: Report | None = None
        self.scans = 0
        self.in_progress: set[tuple[str, str]] = set()
        self._lock = threading.Lock()  # latest, in_progress, and the order of on_report calls
        self._slots = threading.Semaphore(MAX_SCANS)
        self._ios_loop: asyncio.AbstractEventLoop | None = None
        self._ios_task: asyncio.Task | None = None
        self.trackers: list[threading.Thread] = []  # scan threads are daemons nobody waits for

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if "android" in self.platforms:
            self.trackers.append(self._thread(self._track_android, "watch-adb"))
        if "ios" in self.platforms:
            self.trackers.append(self._thread(self._track_ios, "watch-usbmux"))

    def close(self) -> None:
        """Stop following the transports; scans still running are abandoned (never reported)."""
        self.stop.set()
        loop, task = self._ios_loop, self._ios_task
        if loop is not None and task is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop has already ended
                pass
        for thread in self.trackers:
            thread.join(5)

    def report(self) -> Report | None:
        """The session as one report: the last result of every device seen (None when nothing was scanned)."""
        with self._lock:
            if self.first is None:
                return None
            ordered = sorted(self.latest.values(),
                             key=lambda r: (r.device.platform or "", r.device.serial or "", r.device.source))
            return replace(self.first, results=tuple(ordered))

    def _thread(self, target: Callable, name: str, *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        return thread

    # -- scanning one device -----------------------------------------------------------------------

    def scan(self, platform: str, serial: str, why: str) -> None:
        """Read one device in a thread of its own; a device already being read is not read twice at once."""
        with self._lock:
            if (platform, serial) in self.in_progress or self.stop.is_set():
                return
            self.in_progress.add((platform, serial))
        self._thread(self._scan, f"scan-{platform}-{serial}", platform, serial, why)

    def _scan(self, platform: str, serial: str, why: str) -> None:
        from scanner.audit import run

        try:
            with self._slots:
                if self.stop.is_set():
                    return
                if platform == "android":
                    from scanner.connectors.android import AndroidConnector

                    connector = AndroidConnector(self.adb_server, serials=[serial], timeout=self.timeout,
                                                 notify=self.notify, progress=self.progress, required=True)
                else:
                    from scanner.connectors.ios import IOSConnector

                    connector = IOSConnector(self.usbmuxd, udids=[serial], timeout=self.timeout, notify=self.notify,
                                             progress=self.progress, required=True)
                report = run([connector], self.signatures, self.matcher, fail_on=self.fail_on, live=True)
            with self._lock:
                if self.stop.is_set():
                    return  # interrupted: a scan cut short is never reported
                self.scans += 1
                if self.first is None:
                    self.first = report
                for result in report.results:
                    # The last result of a device replaces its earlier ones, whether it is known by the
                    # transport it was scanned through (an unauthorized phone has no hardware serial yet)
                    # or by its hardware serial (the same phone plugged into another port).
                    for key in [k for k, r in self.latest.items() if r.device.key == result.device.key]:
                        del self.latest[key]
                    self.latest[(platform, serial)] = result
                self.on_report(report, why, (platform, serial))
        finally:
            with self._lock:
                self.in_progress.discard((platform, serial))

    # -- Android: host:track-devices -----------------------------------------------------------------

    def _track_android(self) -> None:
        from adbutils import AdbError

        from scanner.connectors.adb_server import Client, parse_server, user_server
        from scanner.connectors.base import ScannerError

        try:
            address = parse_server(self.adb_server) if self.adb_server else user_server()
        except ScannerError as err:
            self.notify(str(err))
            return
        where = f"{address.host}:{address.port}"
        tried_start = address.explicit
        outage = False
        while not self.stop.is_set():
            try:  # a smart-socket connection with `host:track-devices` accepted
                conn = Client(address).make_connection(timeout=5)
            except (AdbError, OSError) as err:
                if not tried_start:
                    tried_start = True
                    if self._start_adb_server():
                        continue
                if not outage:
                    self.notify(f"no adb server answers on {where} ({_why(err)}); Android devices will be "
                                f"scanned once one runs (`adb start-server`), retrying every {RETRY:.0f} s")
                    outage = True
                self.stop.wait(RETRY)
                continue
            try:
                conn.send_command("host:track-devices")
                conn.check_okay()
                if outage:
                    self.notify(f"the adb server on {where} answers again")
                    outage = False
                self._follow_android(conn.conn)
            except (AdbError, OSError, ValueError) as err:
                if not self.stop.is_set():
                    self.notify(f"lost the adb server on {where} ({_why(err)}); retrying every {RETRY:.0f} s")
                    outage = True
                    self.stop.wait(RETRY)
            finally:
                conn.close()

    def _start_adb_server(self) -> bool:
        """The default path starts the bundled adb on the user's port, as `scan` does; never for --adb-server."""
        from scanner.connectors.adb_server import ServerUnavailable, start_server, user_server

        try:
            address = user_server()
            started = start_server(address)
        except (ServerUnavailable, OSError):
            return False
        if started is None:
            return False
        self.notify(f"No adb server was running, so one was started on {address} (pid {started.pid}, "
                    f"{started.adb}); it keeps running for later scans: stop it with adb -P {address.port} kill-server")
        return True

    def _follow_android(self, sock: socket.socket) -> None:
        states: dict[str, str] = {}
        refused: set[str] = set()  # listed unauthorized / no permissions since it was plugged in
        sock.settimeout(0.5)
        reader = _Blocks(sock)
        while not self.stop.is_set():
            block = reader.next()
            if block is None:
                continue  # no change yet: look at the stop flag again
            now: dict[str, str] = {}
            for line in block.splitlines():
                serial, sep, state = line.partition("\t")
                if sep and serial:
                    now[serial] = state.strip()
            for serial in states.keys() - now.keys():
                refused.discard(serial)
                self.notify(f"android {_safe(serial)}: unplugged")
            for serial, state in now.items():
                if states.get(serial) == state:
                    continue
                if state in SCAN_STATES:
                    # a phone listed unauthorized (or without permissions) while plugged in, now readable, was let in
                    why = "authorized" if state == "device" and serial in refused else "attached"
                    if state == "device":
                        refused.discard(serial)
                    else:
                        refused.add(serial)
                    self.scan("android", serial, why)
                elif state in PASSING_STATES:
                    if serial in states:  # it was there: a cable pulled, or adb lost it
                        self.notify(f"android {_safe(serial)}: {_safe(state)}")
                    else:
                        self.notify(f"android {_safe(serial)}: {_safe(state)}; it is scanned once it is ready")
                else:
                    self.notify(f"android {_safe(serial)}: {_safe(state)}: not a state a phone can be read in "
                                "(bootloader, recovery or sideload?); restart it normally")
            states = now

    # -- iOS: usbmuxd Listen ---------------------------------------------------------------------------

    def _track_ios(self) -> None:
        loop = asyncio.new_event_loop()
        self._ios_loop = loop
        try:
            self._ios_task = loop.create_task(self._follow_ios())
            if self.stop.is_set():
                self._ios_task.cancel()
            loop.run_until_complete(self._ios_task)
        except asyncio.CancelledError:
            pass
        finally:
            loop.close()

    async def _follow_ios(self) -> None:
        from pymobiledevice3 import usbmux

        from scanner.connectors.ios import _where, resolve_address

        try:
            address = resolve_address(self.usbmuxd)
        except ValueError as err:
            self.notify(f"usbmuxd address: {err}")
            return
        where = _where(address)
        outage = False
        while not self.stop.is_set():
            try:
                mux = await usbmux.create_mux(usbmux_address=address)
            except Exception as err:  # noqa: BLE001 - ConnectionFailedToUsbmuxdError, OSError, a garbled answer
                if not outage:
                    self.notify(f"usbmuxd is not reachable at {where} ({_why(err)}); iPhones will be scanned once "
                                f"it is (Linux: `systemctl start usbmuxd`), retrying every {RETRY:.0f} s")
                    outage = True
                await asyncio.sleep(RETRY)
                continue
            try:
                await mux.listen()
                if outage:
                    self.notify(f"usbmuxd at {where} answers again")
                    outage = False
                known: set[str] = set()
                while not self.stop.is_set():
                    now = {d.serial for d in mux.devices if isinstance(d.serial, str) and d.serial}
                    for udid in sorted(now - known):
                        self.scan("ios", udid, "attached")
                    for udid in sorted(known - now):
                        self.notify(f"ios {_safe(udid)}: unplugged")
                    known = now
                    await mux.receive_device_state_update()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - usbmuxd went away or answered garbage: reconnect
                if not self.stop.is_set():
                    self.notify(f"lost usbmuxd at {where} ({_why(err)}); retrying every {RETRY:.0f} s")
                    outage = True
                    await asyncio.sleep(RETRY)
            finally:
                await mux.close()


class _Blocks:
    """Length-prefixed blocks (`%04x` + payload) from a socket with a short timeout, kept whole across timeouts."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def next(self) -> str | None:
        """The next whole block, or None when nothing complete arrived within the socket's timeout."""
        while True:
            if len(self.buffer) >= 4:
                try:
                    size = int(self.buffer[:4], 16)
                except ValueError:
                    raise ValueError(f"not an adb length prefix: {self.buffer[:4]!r}") from None
                if len(self.buffer) >= 4 + size:
                    block, self.buffer = self.buffer[4:4 + size], self.buffer[4 + size:]
                    return block.decode("utf-8", errors="replace")
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionError("the adb server closed the connection")
            self.buffer += chunk


def _why(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return _safe(text.splitlines()[0] if text else text)


def _safe(value: object) -> str:
    from scanner.formats.text import safe

    return safe(value, limit=200)
