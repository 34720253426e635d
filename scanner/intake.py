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

A device is known by what tells two attached devices apart: the transport
serial adb track-devices gives (cheap clones share ro.serialno
0123456789ABCDEF), or the UDID. Two devices attached at the same time never
share a verdict, whatever hardware serial they report; a result replaces the
verdict of another transport only when that transport is gone and reported the
same hardware serial (the same phone plugged into another port).

Nothing seen is ever lost:

- A state change that asks for a scan while the device is still being read
  (the prompt accepted as the unauthorized verdict is written, a replug) is
  queued and read once the running scan ends, never dropped.
- A device seen but whose current attachment has no verdict yet (offline the
  whole time, in recovery, still being read when watch is stopped) is in the
  session report as failed: "never read", so the exit code is 4 or 5, never a
  pass. `never_read()` names them for the summary.
- watch starts an adb server only when none answers as it begins (on the
  user's port, as `scan` does). A server that answered and then went away (a
  simulator stopped) is waited for, never replaced: a server of ours must not
  stay behind on a port someone else's server used.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable

from scanner.connectors.android.connector import AndroidConnector
from scanner.connectors.interface import Notify, Progress
from scanner.matcher import Matcher
from scanner.model import DeviceInfo, DeviceResult, Report, Scope, Transport
from scanner.signatures import Signatures

__all__ = ["Intake"]

RETRY = 2.0  # seconds between attempts to reach a transport that is not there
MAX_SCANS = 16  # devices read at once; more wait their turn
SCAN_STATES = ("device", "unauthorized", "no permissions")  # adb states worth a verdict
PASSING_STATES = ("offline", "connecting", "authorizing")  # adb states that usually turn into `device`
READING = "being read"  # what a device whose scan has been asked for and not reported is doing

Key = tuple[str, str]  # (platform, transport serial or UDID): what tells two attached devices apart


@dataclass(frozen=True)
class _Unread:
    """A device seen whose current attachment has no verdict yet."""

    trigger: int  # the number of the event that made it so; a scan begun before it does not answer it
    state: str  # READING, or the adb state it was last seen in ("offline", "recovery", ...)


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
        self.started = datetime.now(timezone.utc)
        self.latest: dict[Key, DeviceResult] = {}  # the last result of every device
        self.scans = 0
        self.in_progress: set[Key] = set()
        self._queued: dict[Key, str] = {}  # asked for again while being read: why; read when the scan ends
        self._unread: dict[Key, _Unread] = {}  # seen, and no verdict since
        self._attached: dict[str, set[Key]] = {"android": set(), "ios": set()}  # listed by the trackers now
        self._events = 0
        # Transports that do not answer right now: devices attached behind them are unseen, so a session that
        # ends while one is down is never complete (as a scan whose usbmuxd is down is not).
        self._down: dict[str, Transport] = {}
        self._lock = threading.Lock()  # all of the above, and the order of on_report calls
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
        """The session as one report: the last result of every device seen, and a failed one for each device
        seen but never read (None when no device was seen at all)."""
        from scanner import __version__
        from scanner.model import merge_results as merge

        with self._lock:
            results = dict(self.latest)
            for key, unread in self._unread.items():
                never = _never_read(key, unread.state)
                results[key] = merge(results[key], never) if key in results else never
            down = tuple(self._down[p] for p in sorted(self._down))
        if not results:
            return None
        from scanner.model import by_device

        ordered = sorted(results.values(), key=by_device)
        return Report(tool="scanner", version=__version__, started=self.started, finished=datetime.now(timezone.utc),
                      policies=self.matcher.policy_refs(), signature_files=self.signatures.files,
                      results=tuple(ordered), fail_on=self.fail_on, transports=down)

    def unanswered(self) -> list[Transport]:
        """The transports that did not answer when asked last: for the summary."""
        with self._lock:
            return [self._down[p] for p in sorted(self._down)]

    def _transport(self, platform: str, transport: str, where: str, message: str | None) -> None:
        """Record whether a transport answers now (message None) or not (what happened, what to do)."""
        with self._lock:
            if message is None:
                self._down.pop(platform, None)
            else:
                self._down[platform] = Transport(platform, transport, where, False, message)

    def never_read(self) -> list[tuple[Key, str]]:
        """Devices seen whose current attachment was never read, with what they were doing: for the summary."""
        with self._lock:
            return sorted((key, unread.state) for key, unread in self._unread.items())

    def _thread(self, target: Callable, name: str, *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        return thread

    # -- scanning one device -----------------------------------------------------------------------

    def seen(self, key: Key, state: str) -> None:
        """A tracker saw a device appear (or asked for it to be read): it counts as unread until a verdict."""
        with self._lock:
            self._events += 1
            self._unread[key] = _Unread(self._events, state)

    def attached(self, platform: str, keys: set[Key]) -> None:
        """What a tracker lists now; a verdict replaces another transport's only once that one is gone."""
        with self._lock:
            self._attached[platform] = set(keys)

    def scan(self, platform: str, serial: str, why: str) -> None:
        """Read one device in a thread of its own. A device already being read is not read twice at once: it is
        read again when that scan ends, since what asked for it (a prompt accepted, a replug) came after."""
        key = (platform, serial)
        self.seen(key, READING)
        with self._lock:
            if self.stop.is_set():
                return
            if key in self.in_progress:
                self._queued[key] = why
                return
            self.in_progress.add(key)
        self._thread(self._scan, f"scan-{platform}-{serial}", key, why)

    def _scan(self, key: Key, why: str) -> None:
        try:
            while True:
                self._scan_once(key, why)
                with self._lock:  # with scan()'s check: a request is either queued here or starts a thread
                    if self.stop.is_set() or key not in self._queued:
                        self.in_progress.discard(key)
                        return
                    why = self._queued.pop(key)
        except BaseException:
            with self._lock:
                self.in_progress.discard(key)
            raise

    def _scan_once(self, key: Key, why: str) -> None:
        from scanner.live import scan as scan_live
        from scanner.model import merge_results as merge

        platform, serial = key
        with self._slots:
            if self.stop.is_set():
                return
            with self._lock:
                begun = self._events  # events after this one are not answered by this scan
            connector = self._connector(platform, serial)
            report = scan_live([connector], self.matcher, fail_on=self.fail_on)
        with self._lock:
            if self.stop.is_set():
                return  # interrupted: a scan cut short is never reported (the device stays unread)
            self.scans += 1
            if report.results:
                # One verdict per device. A scan that read two phones for one name (an adb without USB paths
                # lists clones under one serial) counts them as one: every finding kept, the worst status.
                verdict = report.results[0]
                for result in report.results[1:]:
                    verdict = merge(verdict, result)
                self._replace(key, verdict)
                unread = self._unread.get(key)
                if unread is not None and unread.trigger <= begun:
                    del self._unread[key]
            self.on_report(report, why, key)

    def _replace(self, key: Key, result: DeviceResult) -> None:
        """Record a device's last verdict (under the lock).

        Its own transport's earlier verdict is replaced (an unauthorized phone read once the prompt was
        accepted), but its findings are kept for the session's exit code. Another transport's is replaced only when that transport is no longer attached and reported
        the same hardware serial: the same phone plugged into another port. Two phones attached at once that
        report one ro.serialno stay two devices, so a clean clone never hides the other's findings.
        """
        platform = key[0]
        serial = result.device.serial
        carried: list = []
        for other, earlier in list(self.latest.items()):
            if (other != key and other[0] == platform and other not in self._attached[platform] and serial
                    and earlier.device.serial == serial and earlier.device.source == result.device.source):
                carried.extend(earlier.findings)
                del self.latest[other]
        if key in self.latest:
            carried.extend(self.latest[key].findings)
        # A later verdict never wipes a finding seen earlier in the session: clones that share ro.serialno
        # plugged in one after the other get one name from adb (no USB path while only one is attached), and
        # a clean second clone must not hide the first one's WeChat. The status is the latest scan's.
        from scanner.model import one_finding_each

        kept = one_finding_each((*result.findings, *carried))  # one per app, rule and user (an app updated since)
        self.latest[key] = replace(result, findings=kept) if len(kept) > len(result.findings) else result

    def _connector(self, platform: str, serial: str):
        if platform == "android":
            return _WatchAndroid(self.adb_server, serials=[serial], timeout=self.timeout, notify=self.notify,
                                 progress=self.progress, required=True)
        from scanner.connectors.ios.connector import IOSConnector

        return IOSConnector(self.usbmuxd, udids=[serial], timeout=self.timeout, notify=self.notify,
                            progress=self.progress, required=True)

    # -- Android: host:track-devices -----------------------------------------------------------------

    def _track_android(self) -> None:
        from adbutils import AdbError

        from scanner.connectors.android.server import Client, parse_server, user_server
        from scanner.connectors.interface import ScannerError

        try:
            address = parse_server(self.adb_server) if self.adb_server else user_server()
        except ScannerError as err:
            self.notify(str(err))
            self._transport("android", "adb", self.adb_server or "", str(err))
            return
        where = f"{address.host}:{address.port}"
        may_start = not address.explicit  # only as watch begins: a server that went away is never replaced
        listing_long = True  # track-devices-l: with USB paths, which tell clones with one serial apart
        outage = False
        while not self.stop.is_set():
            try:  # a smart-socket connection with `host:track-devices` accepted
                conn = Client(address).make_connection(timeout=5)
            except (AdbError, OSError) as err:
                if may_start:
                    may_start = False
                    if self._start_adb_server():
                        continue
                if not outage:
                    self.notify(f"no adb server answers on {where} ({_why(err)}); Android devices will be "
                                f"scanned once one runs (`adb start-server`), retrying every {RETRY:.0f} s")
                    outage = True
                    self._transport("android", "adb", where, (
                        f"no adb server answered on {where} ({_why(err)}), so Android devices attached then were "
                        f"not seen; start one (adb start-server), or watch only iPhones on purpose with "
                        f"--platform ios"))
                self.stop.wait(RETRY)
                continue
            may_start = False
            try:
                service = "host:track-devices-l" if listing_long else "host:track-devices"
                conn.send_command(service)
                try:
                    conn.check_okay()
                except AdbError:
                    if not listing_long:
                        raise
                    listing_long = False  # an adb older than platform-tools 30: no USB paths
                    continue
                if outage:
                    self.notify(f"the adb server on {where} answers again")
                    outage = False
                self._transport("android", "adb", where, None)
                self._follow_android(conn.conn, listing_long)
            except (AdbError, OSError, ValueError) as err:
                if not self.stop.is_set():
                    self.notify(f"lost the adb server on {where} ({_why(err)}); retrying every {RETRY:.0f} s")
                    outage = True
                    self._transport("android", "adb", where, (
                        f"the adb server on {where} went away ({_why(err)}), so Android devices attached since "
                        f"were not seen; start it again (adb start-server) and rescan"))
                    self.stop.wait(RETRY)
            finally:
                conn.close()

    def _start_adb_server(self) -> bool:
        """The default path starts the bundled adb on the user's port, as `scan` does; never for --adb-server."""
        from scanner.connectors.android.server import ServerUnavailable, start_server, user_server

        try:
            address = user_server()
            started = start_server(address)
        except (ServerUnavailable, OSError):
            return False
        if started is None:
            return False
        self.notify(f"No adb server was running, so one was started on {address} (pid {started.pid}, "
                    f"{started.adb}); it keeps running for later scans: stop it with {started.stop_command}")
        return True

    def _follow_android(self, sock: socket.socket, listing_long: bool) -> None:
        states: dict[str, str] = {}
        refused: set[str] = set()  # listed unauthorized / no permissions since it was plugged in
        sock.settimeout(0.5)
        reader = _Blocks(sock)
        while not self.stop.is_set():
            block = reader.next()
            if block is None:
                continue  # no change yet: look at the stop flag again
            now = parse_tracked(block, listing_long)
            self.attached("android", {("android", serial) for serial in now})
            for serial in states.keys() - now.keys():
                refused.discard(serial)
                self.notify(f"android {_safe(serial)}: unplugged")
            for serial, state in now.items():
                if states.get(serial) == state:
                    continue
                if serial not in states:
                    self.seen(("android", serial), state)  # plugged in: unread until a verdict
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

        from scanner.connectors.ios.connector import _where, resolve_address

        try:
            address = resolve_address(self.usbmuxd)
        except ValueError as err:
            self.notify(f"usbmuxd address: {err}")
            self._transport("ios", "usbmux", self.usbmuxd or "", f"usbmuxd address: {err}")
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
                    self._transport("ios", "usbmux", where, (
                        f"usbmuxd was not reachable at {where} ({_why(err)}), so iPhones and iPads attached then "
                        f"were not seen; start it (Linux: systemctl start usbmuxd), or watch only Android devices "
                        f"on purpose with --platform android"))
                await asyncio.sleep(RETRY)
                continue
            try:
                await mux.listen()
                if outage:
                    self.notify(f"usbmuxd at {where} answers again")
                    outage = False
                self._transport("ios", "usbmux", where, None)
                known: set[str] = set()
                while not self.stop.is_set():
                    now = {d.serial for d in mux.devices if isinstance(d.serial, str) and d.serial}
                    self.attached("ios", {("ios", udid) for udid in now})
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
                    self._transport("ios", "usbmux", where, (
                        f"usbmuxd at {where} went away ({_why(err)}), so iPhones and iPads attached since were "
                        f"not seen; start it again and rescan"))
                    await asyncio.sleep(RETRY)
            finally:
                await mux.close()


_TAGS = ("usb:", "product:", "model:", "device:", "transport_id:")


def parse_tracked(block: str, listing_long: bool) -> dict[str, str]:
    """A track-devices block as {what tells the phone apart: its state}.

    That is the transport serial, or, for phones listed under one serial (cheap clones share ro.serialno
    0123456789ABCDEF, which USB reports as the serial), each one's USB path `usb:1-1.2` (else
    `transport_id:N`), as the Android connector names them, so a scan asked for it reads that phone alone.
    `-l` lines are `SERIAL<spaces>STATE TAG:VALUE...`; the state may hold spaces ("no permissions (...)").
    """
    rows: list[tuple[str, str, dict[str, str]]] = []
    for line in block.splitlines():
        if listing_long:
            words = line.split()
            if len(words) < 2:
                continue
            end = len(words)
            while end > 2 and words[end - 1].startswith(_TAGS):
                end -= 1
            tags = dict(word.split(":", 1) for word in words[end:])
            rows.append((words[0], " ".join(words[1:end]), tags))
        else:
            serial, sep, state = line.partition("\t")
            if sep and serial:
                rows.append((serial, state.strip(), {}))
    shared = Counter(serial for serial, _, _ in rows)
    tracked: dict[str, str] = {}
    for serial, state, tags in rows:
        if shared[serial] > 1 and (tags.get("usb") or tags.get("transport_id")):
            serial = f"usb:{tags['usb']}" if tags.get("usb") else f"transport_id:{tags['transport_id']}"
        tracked[serial] = "no permissions" if state.startswith("no permissions") else state
    return tracked


class _WatchAndroid(AndroidConnector):
    """The Android connector as watch uses it: it never starts an adb server.

    The tracker decides that, once, as watch begins. A scan that finds no server found one that went away
    while watch followed it (a simulator stopped): starting ours there would leave it running on a port
    another server used.
    """

    def _start(self, why: str | None) -> None:
        from scanner.connectors.android.server import ServerUnavailable

        raise ServerUnavailable(
            f"The adb server on {self.address} stopped answering while watch followed it"
            f"{f' ({why})' if why else ''}; watch does not start one in its place: start that server again "
            f"(or the simulator that served it), then replug the phone")


def _never_read(key: Key, state: str) -> DeviceResult:
    """The verdict of a device seen but never read: failed, with what to do."""
    from scanner.connectors.android.errors import explain_state

    platform, serial = key
    if state == READING:
        reason = "interrupted"
        message = ("watch was stopped while this device was being read, so nothing of it is reported: plug it in "
                   "again under watch, or scan it with scanner scan")
    else:
        reason, what = explain_state(state)
        message = f"Seen {state} and never read: {what}"
    return DeviceResult(
        device=DeviceInfo(platform=platform, serial=serial, source="adb" if platform == "android" else "usbmux",
                          transport=serial if platform == "android" else None),
        status="failed", reason=reason, message=message,
        coverage=(Scope("all users" if platform == "android" else "apps", read=False, reason=reason),),
        findings=(), app_count=0)


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
    from scanner.terminal.text import safe

    return safe(value, limit=200)
