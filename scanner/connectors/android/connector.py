"""Android phones through an adb server: which are attached, and every user's apps on each.

Discovery is `host:devices-l` (adbutils `list(extended=True)`), which also
shows unauthorized, offline and permission-less phones: each of those
becomes a failed result that says what to do, never a silent skip. The
answer's length is checked against its prefix (adb_server.Client.list):
a list cut in transit is a server that did not answer, never a shorter
list. Each phone's `DeviceInfo.transport` is its transport serial, or its
USB path when adb lists several phones under one serial (clones, see
_Listed); `asked` records whether the server answered at all.

A ready phone is read in at most three shell round trips (the design is in
scanner.connectors.android.device): (1) all props, the users and a probe of the
optional pm flags; (2) every user's package listings; (3) only when a listing
rejected a flag after all, those listings again without the optional flags.

Phones are read side by side, one thread each (a bounded pool), each bounded
by `timeout` seconds as a whole: at its deadline the device's sockets are
cut and it is reported `timeout`, while the others go on. Results are
yielded as they complete.

The adb server (scanner.connectors.android.server): `server="HOST:PORT"` is used
as given and never started. Otherwise the user's own server on 127.0.0.1 and
$ANDROID_ADB_SERVER_PORT (default 5037); when nothing listens there, one is
started on that same port with the adb adbutils finds, the person is told
so and how to stop it, and its pid is kept in `started_server`; with
`may_start=False` (watch's scans) never. adbutils' own habit of running
`adb start-server` on any failed connection is switched off, so no server
ever appears on a port nobody asked for.

`track()` follows the server's plug events for `scanner watch`
(scanner.connectors.android.tracking).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from adbutils import AdbDeviceInfo
from adbutils.errors import AdbConnectionError, AdbError

from scanner.connectors.android.device import READ_ERRORS, DeviceReader, Identity
from scanner.connectors.android.errors import explain_error, explain_state
from scanner.connectors.android.server import (
    Client,
    ServerAddress,
    ServerUnavailable,
    StartedServer,
    parse_server,
    start_server,
    user_server,
)
from scanner.connectors.interface import Attached, Notify, Plugs, Progress, Removal, ScannerError, Stopping
from scanner.model import DeviceInfo, Inventory, Scope, Transport

__all__ = ["AndroidConnector"]

PLATFORM = "android"
MAX_THREADS = 32
GRACE = 2.0  # seconds after a deadline before a device stuck outside a socket is given up
DEVICES_TIMEOUT = 10.0  # `scanner devices`: per phone, for its model and Android version


@dataclass(frozen=True)
class _Listed:
    """One line of `adb devices -l`, and what tells that phone apart from every other one attached.

    `transport` (DeviceInfo.transport) is the transport serial adb lists, which is unique for network
    transports (host:port) and for USB phones with distinct serials. Cheap clones all report the same USB
    serial (ro.serialno 0123456789ABCDEF), so adb lists two phones under one serial: those get the USB path
    adb gives for each instead (`usb:1-1.2`, which `adb -s` and `--serial` also accept). A phone keeps its
    transport serial whenever it is the only one with it, so its identity (and its finding ids) do not
    depend on the hub port it is plugged into.
    """

    info: AdbDeviceInfo
    transport: str


def _identify(listed: list[AdbDeviceInfo]) -> list[_Listed]:
    shared = Counter(info.serial for info in listed)
    out = []
    for info in listed:
        transport = info.serial
        if shared[info.serial] > 1:
            usb = info.tags.get("usb")
            transport = f"usb:{usb}" if usb else f"transport_id:{info.transport_id}"
        out.append(_Listed(info, transport))
    return out


@dataclass
class _Job:
    """One attached, ready phone to read. `identify`: read only to learn its ro.serialno (for --serial), and
    go on only if it is one of the serials asked for."""

    info: AdbDeviceInfo
    transport: str
    identify: bool = False
    deadline: float | None = None
    reader: DeviceReader | None = None
    aborted: bool = False
    finished: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class _Skip:
    """An identify job that turned out not to be one of the serials asked for."""

    transport: str
    serialno: str | None
    error: str | None = None


class AndroidConnector:
    """Every attached Android phone (or those in `serials`), read through an adb server."""

    name = "adb"
    platform = PLATFORM

    def __init__(
        self,
        server: str | None = None,
        *,
        serials: Sequence[str] = (),
        timeout: float = 60.0,
        notify: Notify | None = None,
        progress: Progress | None = None,
        required: bool = False,
        may_start: bool = True,
    ) -> None:
        self.address = parse_server(server) if server else user_server()  # ScannerError for a bad value
        if timeout <= 0:
            raise ScannerError(f"--timeout {timeout:g}: must be more than 0 seconds")
        self.serials = list(dict.fromkeys(s.strip() for s in serials if s.strip()))
        self.timeout = timeout
        self.notify = notify or (lambda message: None)
        self.progress = progress
        self.required = required
        self.may_start = may_start  # whether an adb server may be started when none answers (watch's scans: no)
        #: The adb server this connector started, if it did (Android only: usbmuxd is the system's).
        self.started_server: StartedServer | None = None
        #: The adb server this connector asked for its phones, and whether it answered (None until asked):
        #: one that did not may hide attached phones, so the report is then never complete.
        self.asked: Transport | None = None

    # --- the server ---------------------------------------------------------------------------------

    def _start(self, why: str | None) -> None:
        """Nothing usable answered at the address: start the user's server there, or say why not.

        Never with may_start False: watch's tracker decides that, once, as watch begins, and a scan that then
        finds no server found one that went away while watch followed it (a simulator stopped); starting
        ours there would leave it running on a port another server used.
        """
        address = self.address
        if not self.may_start:
            raise ServerUnavailable(
                f"The adb server on {address} stopped answering while watch followed it"
                f"{f' ({why})' if why else ''}; watch does not start one in its place: start that server again "
                f"(or the simulator that served it), then replug the phone")
        if address.explicit:
            raise ServerUnavailable(
                f"No adb server answers at {address} (--adb-server){f': {why}' if why else ''}; start one there "
                f"(adb -P {address.port} start-server) or leave out --adb-server to use this computer's"
            )
        if why:
            raise ServerUnavailable(
                f"Something that is not an adb server answers on {address} ({why}): stop it, or point "
                f"ANDROID_ADB_SERVER_PORT at the port your adb server uses"
            )
        started = start_server(address)  # ServerUnavailable when that fails too
        if started is not None:
            self.started_server = started
            self.notify(
                f"No adb server was running, so one was started on {address} (pid {started.pid}, {started.adb}); "
                f"it keeps running for later scans: stop it with {started.stop_command}"
            )

    def start_server(self) -> bool:
        """Start the user's adb server on this connector's address, as a scan does when nothing listens there;
        whether one was started (never for --adb-server, nor with may_start False). Said through notify."""
        try:
            self._start(None)
        except (ServerUnavailable, OSError):
            return False
        return self.started_server is not None

    def _answered(self, answered: bool, message: str | None = None) -> None:
        self.asked = Transport(PLATFORM, self.name, str(self.address), answered, message)

    def _unreachable(self, message: str, verb: str) -> str:
        """Record that the server did not answer; the message, with how to leave Android out on purpose
        when Android was not asked for by name."""
        if not self.required:
            message += ("; Android phones attached here may be missing from this report (to scan only iPhones "
                        "and iPads, on purpose, use --platform ios)")
            self.notify(f"Android devices were not {verb}: {message}")
        self._answered(False, message)
        return message

    def _unavailable(self, message: str) -> Iterator[Inventory]:
        message = self._unreachable(message, "scanned")
        if not self.required:
            return
        yield Inventory(
            device=DeviceInfo(platform=PLATFORM, serial=None, source=self.name),
            apps=(),
            coverage=(Scope("adb server", read=False, reason="adb-unavailable"),),
            status="failed",
            reason="adb-unavailable",
            message=message,
        )

    def _list(self) -> list[_Listed]:
        """`host:devices-l` (its length checked: a cut list raises CutAnswer); when nothing listens on the
        user's own port, a server is started there first.

        The listing is also the probe: a refused connection means no server, without a round trip of its own.
        """
        def listing() -> list[_Listed]:
            client = Client(self.address, time.monotonic() + min(self.timeout, DEVICES_TIMEOUT))
            return _identify(client.list(extended=True))

        try:
            return listing()
        except AdbConnectionError as err:
            self._start(None if "refused" in str(err).lower() else _one_line(err))
        except (AdbError, EOFError, OSError, ValueError) as err:
            if not isinstance(err, AdbError) or "unknown data" in str(err).lower():
                self._start(_one_line(err))  # something answered, but not as an adb server: never started over it
            raise
        return listing()

    # --- `scanner devices` ----------------------------------------------------------------------

    def devices(self) -> list[Attached]:
        """Every phone adb sees, ready or not; for a ready one its model and Android version (one `getprop`).

        Raises ScannerError when the server cannot be used and Android was asked for; otherwise notifies and
        returns [].
        """
        try:
            listed = self._list()
        except (ServerUnavailable, *READ_ERRORS) as err:
            message = self._unreachable(
                str(err) if isinstance(err, ServerUnavailable) else _server_error(self.address, err), "listed")
            if self.required:
                raise ScannerError(message) from err
            return []
        self._answered(True)
        results: list[tuple[Attached, str | None] | None] = [None] * len(listed)

        def ask(i: int, seen: _Listed) -> None:
            results[i] = self._attached(seen)

        threads = [threading.Thread(target=ask, args=(i, seen), daemon=True) for i, seen in enumerate(listed)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(min(self.timeout, DEVICES_TIMEOUT) + GRACE)
        described = [r or (Attached(PLATFORM, seen.transport, "timeout", message="The phone did not answer in "
                                    "time: make sure it is unlocked, or replug it"), None)
                     for r, seen in zip(results, listed, strict=True)]
        if not self.serials:
            return [attached for attached, _ in described]
        wanted = set(self.serials)
        # A phone answers to its transport (or USB path), the transport serial adb lists, and its ro.serialno.
        names = [{a.serial, seen.info.serial, serialno} - {None}
                 for (a, serialno), seen in zip(described, listed, strict=True)]
        chosen = [a for (a, _), known in zip(described, names, strict=True) if known & wanted]
        seen = set().union(*(known for known in names if known & wanted))
        return chosen + [
            Attached(PLATFORM, serial, "not-found", message=f"No Android device with serial {serial} is attached "
                                                            f"to the adb server at {self.address}")
            for serial in self.serials if serial not in seen
        ]

    def _attached(self, seen: _Listed) -> tuple[Attached, str | None]:
        """The phone as `scanner devices` shows it, and its ro.serialno when it could be read."""
        info = seen.info
        model = info.tags.get("model")
        if info.state != "device":
            reason, message = explain_state(info.state)
            return Attached(PLATFORM, seen.transport, info.state if reason == "not-ready" else reason, model=model,
                            message=message), None
        limit = min(self.timeout, DEVICES_TIMEOUT)
        reader = DeviceReader(self.address, info.serial, info.transport_id, deadline=time.monotonic() + limit,
                              timeout=limit, source=self.name, label=seen.transport)
        try:
            props = reader.read_props()
        except READ_ERRORS as err:
            reason, message = explain_error(err, timeout=limit, server=str(self.address))
            return Attached(PLATFORM, seen.transport, reason, model=model, message=message), None
        serialno = props.get("ro.serialno", "").strip() or None
        return Attached(
            PLATFORM, seen.transport, "ready",
            model=props.get("ro.product.model") or model,
            name=props.get("persist.sys.device_name") or None,
            os_version=props.get("ro.build.version.release") or None,
            hardware_serial=serialno if serialno != seen.transport else None,  # the serial reports show
        ), serialno

    # --- `scanner watch` -------------------------------------------------------------------------

    def track(self, plugs: Plugs, stop: Stopping) -> None:
        """Follow the server's `host:track-devices` until `stop` (scanner.connectors.android.tracking).

        As watch begins, a server is started when none answers (as `scan` does, with may_start and never for
        --adb-server); one that answered and then went away is waited for, never replaced.
        """
        from scanner.connectors.android import tracking

        tracking.track(self.address, plugs, stop, notify=self.notify,
                       start=self.start_server if self.may_start and not self.address.explicit else None)

    def explain_state(self, state: str) -> tuple[str, str]:
        """(reason, what to do) for an adb state the tracker saw a phone in (Plugs.seen)."""
        return explain_state(state)

    def unread(self, serial: str, reason: str, message: str) -> Inventory:
        """The failed Inventory of a phone the tracker saw (by its transport serial) that was never read."""
        return Inventory(
            device=DeviceInfo(platform=PLATFORM, serial=serial, source=self.name, transport=serial),
            apps=(), coverage=(Scope("all users", read=False, reason=reason),), status="failed", reason=reason,
            message=message,
        )

    # --- `scanner remove` (Removing): only that command and watch --remove call it ---------------------

    def remove(self, serial: str, app_id: str, *, user: int | None = None, timeout: float | None = None) -> Removal:
        """`pm uninstall --user N <app_id>` on the phone adb lists as `serial` (scanner.connectors.android.remove)."""
        from scanner.connectors.android.remove import remove_app

        return remove_app(self.address, serial, app_id, user=user, timeout=timeout or self.timeout)

    # --- scanning -------------------------------------------------------------------------------

    def inventories(self) -> Iterator[Inventory]:
        try:
            listed = self._list()
        except ServerUnavailable as err:
            yield from self._unavailable(str(err))
            return
        except READ_ERRORS as err:
            yield from self._unavailable(_server_error(self.address, err))
            return
        self._answered(True)
        jobs, not_ready, missing = self._select(listed)
        for seen in not_ready:
            self._progress(seen.transport, "failed", None)
            yield self._not_ready(seen)
        skipped: list[_Skip] = []
        found: set[str] = set()
        for result in self._run(jobs):
            if isinstance(result, _Skip):
                skipped.append(result)
                if result.serialno:
                    found.add(result.serialno)
                continue
            if result.device.serial:
                found.add(result.device.serial)
            yield result
        unknown = [s for s in skipped if s.serialno is None]
        for serial in missing:
            if serial not in found:
                yield self._not_found(serial, unknown)

    def _select(self, listed: list[_Listed]) -> tuple[list[_Job], list[_Listed], list[str]]:
        """(phones to read, phones not ready that were asked for, serials not matched by a transport serial).

        A serial names every phone adb lists under it (two clones share one), or one by its USB path.
        """
        if not self.serials:
            ready = [_Job(seen.info, seen.transport) for seen in listed if seen.info.state == "device"]
            return ready, [seen for seen in listed if seen.info.state != "device"], []
        wanted = set(self.serials)
        chosen = [seen for seen in listed if seen.info.serial in wanted or seen.transport in wanted]
        named = {seen.info.serial for seen in chosen} | {seen.transport for seen in chosen}
        missing = [s for s in self.serials if s not in named]
        jobs = [_Job(seen.info, seen.transport) for seen in chosen if seen.info.state == "device"]
        if missing:
            # ro.serialno is only known by asking: the other ready phones are read far enough to tell.
            taken = {seen.transport for seen in chosen}
            jobs += [_Job(seen.info, seen.transport, identify=True) for seen in listed
                     if seen.info.state == "device" and seen.transport not in taken]
        return jobs, [seen for seen in chosen if seen.info.state != "device"], missing

    def _run(self, jobs: list[_Job]) -> Iterator[Inventory | _Skip]:
        """Read the jobs side by side; yield each result as it completes, a timeout at each deadline."""
        if not jobs:
            return
        for job in jobs:
            if not job.identify:
                self._progress(job.transport, "waiting", None)
        todo: queue.Queue[_Job] = queue.Queue()
        for job in jobs:
            todo.put(job)
        done: queue.Queue[tuple[_Job, Inventory | _Skip]] = queue.Queue()

        def worker() -> None:
            while True:
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    result = self._read(job)
                except Exception as err:
                    result = self._failed_inventory(job, None, "error", f"internal error while reading the phone: "
                                                                        f"{type(err).__name__}: {err}; please report this")
                done.put((job, result))

        for _ in range(min(MAX_THREADS, len(jobs))):
            threading.Thread(target=worker, name="scan-adb-device", daemon=True).start()
        pending = {id(job): job for job in jobs}
        while pending:
            now = time.monotonic()
            for job in list(pending.values()):
                if job.deadline is None:
                    continue
                if now >= job.deadline and not job.aborted:
                    with job.lock:
                        job.aborted = True
                        reader = job.reader
                    if reader is not None:
                        reader.abort()  # the worker's blocked read fails at once and reports the timeout
                if now >= job.deadline + GRACE:
                    del pending[id(job)]  # stuck outside any socket: give up on it
                    yield _Skip(job.transport, None, "timeout") if job.identify else self._timeout(job)
            wakeups = [j.deadline + (GRACE if j.aborted else 0) for j in pending.values() if j.deadline is not None]
            wait = max(0.0, min(wakeups) - time.monotonic()) if wakeups else 0.5
            try:
                job, result = done.get(timeout=min(max(wait, 0.01), 0.5))
            except queue.Empty:
                continue
            if pending.pop(id(job), None) is not None:
                yield result

    def _read(self, job: _Job) -> Inventory | _Skip:
        info = job.info
        deadline = time.monotonic() + self.timeout
        reader = DeviceReader(self.address, info.serial, info.transport_id, deadline=deadline, timeout=self.timeout,
                              source=self.name, label=job.transport)
        with job.lock:
            job.deadline = deadline
            job.reader = reader
        if not job.identify:
            self._progress(job.transport, "reading", None)
        try:
            identity = reader.read_identity()
        except READ_ERRORS as err:
            if job.identify:
                return _Skip(job.transport, None, _one_line(err))
            return self._error(job, reader, None, err)
        if job.identify:
            if identity.serialno(info.serial) not in self.serials:
                return _Skip(job.transport, identity.serialno(info.serial))
            job.identify = False  # one of those asked for: from here on it is a scan like any other
            self._progress(job.transport, "reading", None)
        self._name(job.transport, identity.props.get("ro.product.model") or info.tags.get("model"),
                   identity.serialno(info.serial))
        try:
            inventory = reader.read_inventory(identity)
        except READ_ERRORS as err:
            return self._error(job, reader, identity, err)
        self._progress(job.transport, "failed" if inventory.status == "failed" else "done", len(inventory.apps))
        return inventory

    # --- results that are not a reading ---------------------------------------------------------

    def _error(self, job: _Job, reader: DeviceReader, identity: Identity | None, err: BaseException) -> Inventory:
        reason, message = explain_error(err, timeout=self.timeout, server=str(self.address),
                                        timed_out=job.aborted or reader.client.aborted)
        return self._failed_inventory(job, reader, reason, message, detail=_one_line(err))

    def _failed_inventory(self, job: _Job, reader: DeviceReader | None, reason: str, message: str,
                          detail: str | None = None) -> Inventory:
        self._progress(job.transport, "failed", None)
        device = reader.device_info() if reader is not None else DeviceInfo(
            platform=PLATFORM, serial=job.info.serial, model=job.info.tags.get("model"), source=self.name,
            transport=job.transport)
        problems = (f"{job.transport}: {detail}",) if detail else ()
        return Inventory(
            device=device, apps=(), coverage=(Scope("all users", read=False, reason=reason),), status="failed",
            reason=reason, message=message, problems=problems, problem_count=len(problems),
        )

    def _timeout(self, job: _Job) -> Inventory:
        reason, message = explain_error(TimeoutError(), timeout=self.timeout, server=str(self.address), timed_out=True)
        return self._failed_inventory(job, job.reader, reason, message)

    def _not_ready(self, seen: _Listed) -> Inventory:
        info = seen.info
        reason, message = explain_state(info.state)
        return Inventory(
            device=DeviceInfo(platform=PLATFORM, serial=info.serial, model=info.tags.get("model"), source=self.name,
                              transport=seen.transport),
            apps=(),
            coverage=(Scope("all users", read=False, reason=reason),),
            status="failed",
            reason=reason,
            message=message,
        )

    def _not_found(self, serial: str, unknown: list[_Skip]) -> Inventory:
        message = (f"No Android device with serial {serial} is attached to the adb server at {self.address}: run "
                   f"scanner devices to see the attached ones and their serials")
        if unknown:
            message += (f" ({len(unknown)} attached device(s) could not be asked for their serial: "
                        f"{unknown[0].transport}: {unknown[0].error})")
        return Inventory(
            device=DeviceInfo(platform=PLATFORM, serial=serial, source=self.name),
            apps=(),
            coverage=(Scope("all users", read=False, reason="not-found"),),
            status="failed",
            reason="not-found",
            message=message,
        )

    def _progress(self, serial: str, state: str, apps: int | None) -> None:
        if self.progress is not None:
            self.progress(PLATFORM, serial, state, apps)

    def _name(self, transport: str, model: str | None, serialno: str) -> None:
        """Tell a display that can show it (ProgressDisplay.name) who the phone behind `transport` is: the
        model and the serial the report will show, so that the progress line and the report name one device."""
        name = getattr(self.progress, "name", None)
        if callable(name):
            name(PLATFORM, transport, " ".join(x for x in (model, serialno) if x))


def _one_line(err: BaseException) -> str:
    from scanner.connectors.outage import why

    return why(err)  # in the tool's words, never the library's ("EOFError: Expected 5 bytes, got 0")


def _server_error(address: ServerAddress, err: BaseException) -> str:
    return (f"The adb server at {address} could not list the devices ({_one_line(err)}); check that it runs "
            f"(adb -P {address.port} devices) and run again")
