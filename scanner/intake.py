"""The intake station behind `scanner watch`: scan each device as it is plugged in.

Each registered transport (scanner.connectors.TRANSPORTS) of the chosen
platforms is followed by a tracker thread of its own: the transport's
`track()` tells this Intake (interface.Plugs) which devices are attached,
which were seen, and which to read, and whether the transport answers. How
a transport learns that is its own business (adb `host:track-devices`,
usbmuxd `Listen`: scanner.connectors.android.tracking, .ios.tracking); one
transport's trouble never stops the other.

Each scan is the ordinary scan of that one device, by a transport opened
through the registry for it alone (the same code as `scanner scan
--serial/--udid`), in a daemon thread of its own, so a slow iPhone never
holds up the next phone and Ctrl-C never waits for one.

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
- A transport may start what serves it (the adb server) only as watch
  begins, on the user's port, as `scan` does; its per-device scans never do
  (may_start=False). A server that answered and then went away (a simulator
  stopped) is waited for, never replaced: a server of ours must not stay
  behind on a port someone else's server used.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable

from scanner import connectors
from scanner.connectors.interface import DeviceTransport, Notify, Progress, ScannerError
from scanner.matcher import Matcher
from scanner.model import DeviceResult, Report, Transport

__all__ = ["Intake"]

MAX_SCANS = 16  # devices read at once; more wait their turn
READING = "being read"  # what a device whose scan has been asked for and not reported is doing

Key = tuple[str, str]  # (platform, transport serial or UDID): what tells two attached devices apart


@dataclass(frozen=True)
class _Unread:
    """A device seen whose current attachment has no verdict yet."""

    trigger: int  # the number of the event that made it so; a scan begun before it does not answer it
    state: str  # READING, or the state its tracker last saw it in (adb's "offline", "recovery", ...)


class Intake:
    """Follow the transports of the chosen platforms, scan what is attached, report each device as it is read.

    `platforms` maps each chosen platform to whether it was asked for by name; `addresses` gives a platform's
    transport address (none given: the user's default). The trackers call the interface.Plugs methods
    (attached, seen, scan, answering) from their own threads.
    """

    def __init__(self, *, platforms: Mapping[str, bool], addresses: Mapping[str, str | None] | None = None,
                 timeout: float, matcher: Matcher, fail_on: str,
                 on_report: Callable[[Report, str, tuple[str, str]], None], notify: Notify,
                 progress: Progress | None = None,
                 remover: Callable[[Report, DeviceTransport, Callable], Report] | None = None) -> None:
        self.platforms = dict(platforms)
        self.addresses = dict(addresses or {})
        self.timeout = timeout
        self.matcher = matcher
        self.fail_on = fail_on
        self.on_report = on_report
        self.notify = notify
        self.progress = progress
        #: watch --remove (scanner.removal.WatchRemover): (scan's report, transport, rescan) -> the after-state.
        self.remover = remover
        self.stop = threading.Event()
        self.started = datetime.now(timezone.utc)
        self.latest: dict[Key, DeviceResult] = {}  # the last result of every device
        self.scans = 0
        self.in_progress: set[Key] = set()
        self._queued: dict[Key, str] = {}  # asked for again while being read: why; read when the scan ends
        self._unread: dict[Key, _Unread] = {}  # seen, and no verdict since
        self._attached: dict[str, set[Key]] = {}  # listed by the trackers now, by platform
        self._events = 0
        # Transports that do not answer right now: devices attached behind them are unseen, so a session that
        # ends while one is down is never complete (as a scan whose usbmuxd is down is not).
        self._down: dict[str, Transport] = {}
        self._lock = threading.Lock()  # all of the above, and the order of on_report calls
        self._slots = threading.Semaphore(MAX_SCANS)
        self._tracking: dict[str, DeviceTransport] = {}  # the transport each tracker follows, by platform
        self.trackers: list[threading.Thread] = []  # scan threads are daemons nobody waits for

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """One tracker thread per chosen platform, in registry order."""
        for entry in connectors.TRANSPORTS:
            if entry.platform in self.platforms:
                self.trackers.append(self._thread(self._track, f"watch-{entry.platform}", entry.platform))

    def close(self) -> None:
        """Stop following the transports; scans still running are abandoned (never reported)."""
        self.stop.set()
        for thread in self.trackers:
            thread.join(5)

    def _open(self, platform: str, select: Sequence[str] = (), *, may_start: bool) -> DeviceTransport:
        """A transport of `platform` through the registry; ScannerError for an address it cannot use.

        Asked for by name (`required`): a device watch asks to read is one whose failure is a verdict.
        """
        from scanner.live import open_transports

        (transport,) = open_transports({platform: True}, select={platform: select}, addresses=self.addresses,
                                       timeout=self.timeout, notify=self.notify, progress=self.progress,
                                       may_start=may_start)
        return transport

    def _track(self, platform: str) -> None:
        # Only as watch begins may a transport start what serves it (the adb server on the user's port).
        try:
            transport = self._open(platform, may_start=True)
        except ScannerError as err:
            self.notify(str(err))
            self.answering(platform, connectors.transport_entry(platform).name, self.addresses.get(platform) or "",
                           str(err))
            return
        with self._lock:
            self._tracking[platform] = transport
        transport.track(self, self.stop)

    def report(self) -> Report | None:
        """The session as one report: the last result of every device seen, and a failed one for each device
        seen but never read (None when no device was seen at all)."""
        from scanner import __version__
        from scanner.model import merge_results as merge

        with self._lock:
            results = dict(self.latest)
            unread = [(key, u.state) for key, u in self._unread.items()]
            down = tuple(self._down[p] for p in sorted(self._down))
        for key, state in unread:
            never = self._never_read(key, state)
            results[key] = merge(results[key], never) if key in results else never
        if not results:
            return None
        from scanner.audit import ran_by
        from scanner.model import by_device

        host, user = ran_by()
        ordered = sorted(results.values(), key=by_device)
        return Report(tool="scanner", version=__version__, started=self.started, finished=datetime.now(timezone.utc),
                      policies=self.matcher.policy_refs(), signature_files=self.matcher.signatures.files,
                      results=tuple(ordered), fail_on=self.fail_on, transports=down, host=host, user=user)

    def unanswered(self) -> list[Transport]:
        """The transports that did not answer when asked last: for the summary."""
        with self._lock:
            return [self._down[p] for p in sorted(self._down)]

    def answering(self, platform: str, transport: str, where: str, message: str | None) -> None:
        """A tracker's transport answers now (message None) or not (what happened, what to do)."""
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
            transport = self._open(platform, [serial], may_start=False)  # a server gone is never replaced
            report = scan_live([transport], self.matcher, fail_on=self.fail_on)
            if self.remover is not None and not self.stop.is_set():
                def rescan(devices: list) -> Report:
                    again = self._open(platform, [serial], may_start=False)
                    return scan_live([again], self.matcher, inventory=True, fail_on=self.fail_on)

                report = self.remover(report, transport, rescan)
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
        attached = self._attached.get(platform, set())
        for other, earlier in list(self.latest.items()):
            if (other != key and other[0] == platform and other not in attached and serial
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

    def _never_read(self, key: Key, state: str) -> DeviceResult:
        """The verdict of a device seen but never read: failed, with what to do, shaped by its transport."""
        platform, serial = key
        with self._lock:
            transport = self._tracking.get(platform)
        if transport is None:  # scanned without a tracker (Intake.scan called directly)
            transport = self._open(platform, [serial], may_start=False)
        if state == READING:
            reason = "interrupted"
            message = ("watch was stopped while this device was being read, so nothing of it is reported: plug it "
                       "in again under watch, or scan it with scanner scan")
        else:
            reason, what = transport.explain_state(state)
            message = f"Seen {state} and never read: {what}"
        unread = transport.unread(serial, reason, message)
        return DeviceResult(device=unread.device, status=unread.status, reason=unread.reason, message=unread.message,
                            coverage=unread.coverage, findings=(), app_count=0)
