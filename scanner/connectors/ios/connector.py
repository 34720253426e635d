"""iPhones and iPads through usbmuxd: pymobiledevice3 -> usbmuxd -> lockdownd -> installation_proxy.

A scan is read-only and never waits on a person: lockdown is opened with
autopair off, so an untrusted device is reported `not-paired` instead of
popping up the Trust dialog, and every device is bounded by `timeout` as a
whole. `pair()` is the one code path that may pair, and only when the user
runs `scanner pair`.

usbmuxd address: the `address` argument, else $USBMUXD_SOCKET_ADDRESS, else
the OS default (/var/run/usbmuxd). "HOST:PORT" is TCP, anything else a unix
socket path; libusbmuxd's "UNIX:/path" spelling is accepted too. The scan
passes the address explicitly to every pymobiledevice3 call it makes (all of
them honour it). Pairing cannot: pymobiledevice3's
PlistUsbmuxLockdownClient.save_pair_record() opens its usbmuxd connection
without an address, so it reads only the env var. pair() therefore sets
$USBMUXD_SOCKET_ADDRESS to the resolved address for the duration of the call
and restores it after; the scan never touches the environment (the Android
connector runs beside it in another thread).

Pair records are where pymobiledevice3 keeps them: usbmuxd (ReadPairRecord /
SavePairRecord; the system usbmuxd stores them in /var/lib/lockdown), then
/var/lib/lockdown/<UDID>.plist, then pymobiledevice3's own folder
(~/.pymobiledevice3 if it exists, else $XDG_DATA_HOME/pymobiledevice3, by
default ~/.local/share/pymobiledevice3). The folder is worked out on every
call, not at import, so a changed HOME applies. A pair record holds this
computer's private key for the device: `scanner pair` keeps the folder 0700
and the record 0600. Scans of emulated devices (`scanner demo`) use a private
temporary folder instead (private_pair_records()), never the user's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scanner.connectors.ios import lazy as ios_lazy  # noqa: F401 - before pymobiledevice3, which then imports less

# isort: split

from pymobiledevice3 import usbmux
from pymobiledevice3.exceptions import FatalPairingError, MuxException, PyMobileDevice3Exception
from pymobiledevice3.lockdown import UsbmuxLockdownClient, create_using_usbmux
from pymobiledevice3.osu.os_utils import get_os_utils
from pymobiledevice3.pair_records import get_preferred_pair_record
from pymobiledevice3.safe_paths import device_file_path

from scanner.connectors.interface import Attached, Notify, Progress, ScannerError
from scanner.connectors.ios.apps import SCOPE, SERVICE, build_inventory, read_lookup
from scanner.connectors.ios.errors import (
    DamagedPairRecord,
    Failure,
    NotTrusted,
    damaged_pair_record,
    describe,
    not_found,
    usbmuxd_garbled,
    usbmuxd_unavailable,
)
from scanner.model import DeviceInfo, Inventory, Scope, Transport

__all__ = ["ENV_ADDRESS", "IOSConnector", "pair", "pair_record_folder", "private_pair_records", "resolve_address"]

ENV_ADDRESS = "USBMUXD_SOCKET_ADDRESS"
PLATFORM = "ios"
SOURCE = "usbmux"
LABEL = "scanner"  # the Label lockdownd sees in every request


def resolve_address(address: str | None) -> str | None:
    """The usbmuxd address to pass to pymobiledevice3, or None for the OS default.

    Raises ValueError for a value pymobiledevice3 would misread (it splits on
    ":" and takes the rest as a port, so an IPv6 literal or "host:" breaks it).
    """
    value = address or os.environ.get(ENV_ADDRESS) or None
    if value is None:
        return None
    if value[:5].upper() == "UNIX:":
        value = value[5:]
    if ":" in value:
        host, _, port = value.rpartition(":")
        if not host or ":" in host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"the usbmuxd address {value!r} is neither HOST:PORT nor a socket path")
    return value


_PRIVATE_FOLDER: list[Path] = []  # set by private_pair_records(): scans of emulated devices only


def pair_record_folder() -> Path:
    """pymobiledevice3's own pair-record folder, worked out now (its module caches it at import)."""
    if _PRIVATE_FOLDER:
        return _PRIVATE_FOLDER[-1]
    return get_os_utils().get_home_folder_path()


@contextlib.contextmanager
def private_pair_records() -> Iterator[Path]:
    """pair_record_folder() is a new, empty temporary folder for the duration.

    For scans of emulated iPhones (`scanner demo`): pymobiledevice3 creates
    the folder it is given and looks for records in it, and neither may
    happen in the user's real one. Process-wide: not for use beside a scan of
    real devices.
    """
    with tempfile.TemporaryDirectory(prefix="scanner-pair-records-") as folder:
        _PRIVATE_FOLDER.append(Path(folder))
        try:
            yield Path(folder)
        finally:
            _PRIVATE_FOLDER.pop()


def _where(address: str | None) -> str:
    if address is not None:
        return address
    default = get_os_utils().usbmux_address[0]
    return default if isinstance(default, str) else f"{default[0]}:{default[1]}"


def _same_udid(a: str, b: str) -> bool:
    return a.replace("-", "").lower() == b.replace("-", "").lower()


async def _close(thing: Any) -> None:
    """Close a lockdown client or service connection; a close that fails must not hide why we closed it."""
    with contextlib.suppress(Exception):
        await thing.close()


@dataclass
class _Visit:
    """What is known about one device while it is being read: for the messages and the result."""

    udid: str
    stage: str = "connecting"
    values: dict[str, Any] = field(default_factory=dict)

    def _value(self, key: str) -> str | None:
        value = self.values.get(key)
        return str(value) if value is not None else None

    def device(self) -> DeviceInfo:
        return DeviceInfo(platform=PLATFORM, serial=self.udid, model=self._value("ProductType"),
                          os_version=self._value("ProductVersion"), name=self._value("DeviceName"), source=SOURCE)

    def attached(self, state: str, message: str | None) -> Attached:
        return Attached(platform=PLATFORM, serial=self.udid, state=state, model=self._value("ProductType"),
                        name=self._value("DeviceName"), os_version=self._value("ProductVersion"), message=message)


class _Usbmux:
    """The pymobiledevice3 calls both the connector and pair() make, on one usbmuxd address."""

    def __init__(self, address: str | None, timeout: float) -> None:
        self.address_error: ValueError | None = None
        try:
            self.address = resolve_address(address)
        except ValueError as err:
            self.address, self.address_error = None, err
        self.where = (address or os.environ.get(ENV_ADDRESS)) if self.address_error else _where(self.address)
        self.timeout = timeout

    async def discover(self) -> list[usbmux.MuxDevice] | Failure:
        """The attached devices, one per UDID (USB preferred over Wi-Fi), or why usbmuxd cannot be asked."""
        if self.address_error is not None:
            return usbmuxd_unavailable(self.where, self.address_error)
        try:
            async with asyncio.timeout(self.timeout):
                found = await usbmux.list_devices(usbmux_address=self.address)
        except (MuxException, OSError, TimeoutError) as err:
            return usbmuxd_unavailable(self.where, err)
        except Exception as err:  # noqa: BLE001 - an answer pymobiledevice3 could not parse (KeyError, plistlib...)
            return usbmuxd_garbled(self.where, err)
        if bad := next((d for d in found if not isinstance(d.serial, str) or not d.serial), None):
            return usbmuxd_garbled(self.where, ValueError(f"a device listed with the UDID {bad.serial!r}"))
        unique: dict[str, usbmux.MuxDevice] = {}
        for device in found:
            key = device.serial.replace("-", "").lower()
            if key not in unique or (device.is_usb and not unique[key].is_usb):
                unique[key] = device
        return list(unique.values())

    async def lockdown(self, visit: _Visit) -> UsbmuxLockdownClient:
        """lockdownd of one device, with a session if this computer is trusted; never pairs."""
        visit.stage = "connecting"
        try:
            client = await create_using_usbmux(
                serial=visit.udid, label=LABEL, autopair=False, usbmux_address=self.address,
                pairing_records_cache_folder=pair_record_folder(),
            )
        except (PyMobileDevice3Exception, TimeoutError):
            raise
        except Exception:  # pymobiledevice3 reads our pair record first and fails on a damaged one
            damaged = damaged_pair_record(pair_record_folder(), visit.udid)
            if damaged is None:
                raise
            raise DamagedPairRecord(damaged) from None
        visit.values = dict(client.all_values or {})
        return client

    async def check_trust(self, client: UsbmuxLockdownClient, visit: _Visit) -> None:
        """Raise NotTrusted unless the session started, telling "no record" from "record rejected".

        pymobiledevice3 swallows the device's InvalidHostID (and a TLS refusal)
        inside validate_pairing and only leaves paired=False; a record that is
        still held somewhere is one the device no longer accepts.
        """
        if client.paired:
            return
        visit.stage = "looking for a pair record"
        record = client.pair_record or await get_preferred_pair_record(
            visit.udid, pair_record_folder(), usbmux_address=self.address)
        raise NotTrusted("pair-record-invalid" if record else "not-paired")

    async def probe(self, visit: _Visit) -> None:
        """Everything a scan needs short of the Lookup: trust, and installation_proxy starting (not locked)."""
        client = await self.lockdown(visit)
        try:
            await self.check_trust(client, visit)
            visit.stage = "starting installation_proxy"
            await _close(await client.start_lockdown_service(SERVICE))
        finally:
            await _close(client)


class IOSConnector:
    """The apps of every attached iPhone/iPad, one Lookup each, all devices at once on one event loop."""

    name = SOURCE

    def __init__(self, address: str | None = None, *, udids: Sequence[str] = (), timeout: float = 60.0,
                 notify: Notify | None = None, progress: Progress | None = None, required: bool = False) -> None:
        self.udids = tuple(dict.fromkeys(udids))
        self.timeout = timeout
        self.required = required or bool(self.udids)
        self._notify = notify
        self._progress = progress
        self._mux = _Usbmux(address, timeout)
        #: usbmuxd as this connector asked it for its devices, and whether it answered (None until asked):
        #: one that did not may hide attached iPhones, so the report is then never complete.
        self.asked: Transport | None = None

    # -- public --------------------------------------------------------------------------------

    def devices(self) -> list[Attached]:
        """Every attached device (or each selected UDID) and whether it is ready to scan.

        usbmuxd unreachable: ScannerError with what to do when this platform was
        asked for (`required`) or usbmuxd is there but broken (`Failure.reached`),
        otherwise a note through `notify` and no devices.
        """
        return asyncio.run(self._devices())

    def inventories(self) -> Iterator[Inventory]:
        """One Inventory per device, yielded as each finishes.

        One event loop in the calling thread, driven between yields (asyncio.Runner:
        asyncio.run's set-up and clean-up, but resumable), with a task per device.
        Closing the generator early cancels the devices still being read and
        closes their connections.
        """
        handoff: asyncio.Queue[Inventory | None] = asyncio.Queue()
        with asyncio.Runner() as runner:
            producer = runner.get_loop().create_task(self._produce(handoff.put_nowait))
            while (item := runner.run(handoff.get())) is not None:
                yield item
            runner.run(_finish(producer))  # a bug in the producer is raised here, not lost

    # -- scan ----------------------------------------------------------------------------------

    async def _produce(self, emit: Callable[[Inventory | None], None]) -> None:
        try:
            found = await self._discover()
            if isinstance(found, Failure):
                if self.required or found.reached:
                    emit(_failed(DeviceInfo(platform=PLATFORM, serial=None, source=SOURCE), found))
                return
            targets, missing = self._select(found)
            for udid in missing:
                self._report(udid, "failed", None)
                emit(_failed(_Visit(udid).device(), not_found(udid)))
            for device in targets:
                self._report(device.serial, "waiting", None)
            tasks = [asyncio.create_task(self._scan(device.serial)) for device in targets]
            for next_done in asyncio.as_completed(tasks):
                emit(await next_done)
        finally:
            emit(None)

    async def _scan(self, udid: str) -> Inventory:
        visit = _Visit(udid)
        entries: dict[str, Any] = {}
        failure: Failure | None = None
        try:
            async with asyncio.timeout(self.timeout):
                client = await self._mux.lockdown(visit)
                try:
                    await self._mux.check_trust(client, visit)
                    self._report(udid, "reading", None)
                    visit.stage = "starting installation_proxy"
                    service = await client.start_lockdown_service(SERVICE)
                    try:
                        visit.stage = "reading the app list"
                        await read_lookup(service, entries)
                    finally:
                        await _close(service)
                finally:
                    await _close(client)
        except Exception as err:  # noqa: BLE001 - every failure becomes this device's status, never "clean"
            failure = describe(err, udid, stage=visit.stage, timeout=self.timeout, where=self._mux.where)
        inventory = build_inventory(visit.device(), entries, failure)
        self._report(udid, "done" if inventory.status == "complete" else "failed", len(inventory.apps))
        return inventory

    # -- devices -------------------------------------------------------------------------------

    async def _devices(self) -> list[Attached]:
        found = await self._discover()
        if isinstance(found, Failure):
            if self.required or found.reached:
                raise ScannerError(found.message)
            return []
        targets, missing = self._select(found)
        ready = await asyncio.gather(*(self._check(device.serial) for device in targets))
        return [*ready, *(Attached(PLATFORM, udid, "not-found", message=not_found(udid).message) for udid in missing)]

    async def _check(self, udid: str) -> Attached:
        visit = _Visit(udid)
        try:
            async with asyncio.timeout(self.timeout):
                await self._mux.probe(visit)
        except Exception as err:  # noqa: BLE001 - reported as the device's state
            failure = describe(err, udid, stage=visit.stage, timeout=self.timeout, where=self._mux.where)
            return visit.attached(failure.reason, failure.message)
        return visit.attached("ready", None)

    # -- helpers -------------------------------------------------------------------------------

    async def _discover(self) -> list[usbmux.MuxDevice] | Failure:
        """The attached devices, recorded in `asked`; usbmuxd not there and iOS not asked for by name: a note
        that says how to leave iOS out on purpose, since attached iPhones may be missing."""
        found = await self._mux.discover()
        if not isinstance(found, Failure):
            self.asked = Transport(PLATFORM, SOURCE, self._mux.where, True)
            return found
        if not (self.required or found.reached):
            found = replace(found, message=f"{found.message}; iPhones and iPads attached here may be missing from "
                                           f"this report (to scan only Android devices, on purpose, use "
                                           f"--platform android)")
            self._note(found.message)
        self.asked = Transport(PLATFORM, SOURCE, self._mux.where, False, found.message)
        return found

    def _select(self, found: list[usbmux.MuxDevice]) -> tuple[list[usbmux.MuxDevice], list[str]]:
        """(devices to read, selected UDIDs not attached); every device when none was selected."""
        if not self.udids:
            return found, []
        targets, missing = [], []
        for udid in self.udids:
            device = next((d for d in found if _same_udid(d.serial, udid)), None)
            if device is None:
                missing.append(udid)
            elif device not in targets:
                targets.append(device)
        return targets, missing

    def _report(self, udid: str, state: str, apps: int | None) -> None:
        if self._progress is not None:
            self._progress(PLATFORM, udid, state, apps)

    def _note(self, message: str) -> None:
        if self._notify is not None:
            self._notify(message)


def _failed(device: DeviceInfo, failure: Failure) -> Inventory:
    return Inventory(device=device, apps=(), coverage=(Scope(SCOPE, read=False, reason=failure.reason),),
                     status="failed", reason=failure.reason, message=failure.message)


async def _finish(task: asyncio.Task) -> None:
    await task


# -- pairing -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _address_in_env(address: str | None) -> Iterator[None]:
    """$USBMUXD_SOCKET_ADDRESS = `address` while pairing (pymobiledevice3 saves the record with only
    the env var to go by); restored afterwards. Not for concurrent use: only `scanner pair` pairs."""
    if address is None:
        yield
        return
    old = os.environ.get(ENV_ADDRESS)
    os.environ[ENV_ADDRESS] = address
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV_ADDRESS, None)
        else:
            os.environ[ENV_ADDRESS] = old


@contextlib.contextmanager
def _owner_only(folder: Path) -> Iterator[None]:
    """Pair records readable by their owner only, while pairing: a record holds a host private key.

    pymobiledevice3 writes the record with write_bytes() (mode 0666 less the
    umask: 0644 by default) into a folder made with mkdir() (0755). The folder
    is made, or narrowed, to 0700 first, and the umask is 077 until the record
    is written, so it is never readable by anyone else, not even for a moment.
    Process-wide, like _address_in_env: only `scanner pair` pairs.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # not ours to change (another user's home under sudo): the umask still holds
        folder.chmod(0o700)
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _narrow_record(folder: Path, udid: str) -> None:
    """A record written before (by an older scanner or pymobiledevice3, 0644) is narrowed to 0600 too:
    write_bytes() over an existing file keeps that file's mode."""
    with contextlib.suppress(OSError, ValueError):  # no record (not paired), or a UDID no file can be named after
        device_file_path(folder, udid, ".plist").chmod(0o600)


def pair(address: str | None, udid: str | None, *, timeout: float = 60.0, notify: Notify | None = None) -> Attached:
    """Pair this computer with one iPhone: the only code in the scanner that may.

    Tells the person (through `notify`) to tap Trust, and waits at most
    `timeout` seconds for it. Returns the device as `scanner devices` would
    show it afterwards: "ready" when paired and readable, or why not
    ("trust-pending", "trust-denied", "locked", ...) with what to do. An
    already-paired device is left alone and says so. pymobiledevice3 saves the
    new record in its folder (pair_record_folder(): 0700, the record 0600)
    and hands it to usbmuxd (SavePairRecord), where the next scan, in any
    process, finds it.

    Raises ScannerError when there is nothing to pair: usbmuxd unreachable, no
    device attached, or several attached and no `udid` to choose one.
    """
    mux = _Usbmux(address, timeout)
    folder = pair_record_folder()
    with _address_in_env(mux.address), _owner_only(folder):
        result = asyncio.run(_pair(mux, udid, notify))
    _narrow_record(folder, result.serial)
    return result


async def _pair(mux: _Usbmux, udid: str | None, notify: Notify | None) -> Attached:
    found = await mux.discover()
    if isinstance(found, Failure):
        raise ScannerError(found.message)
    if udid is not None:
        device = next((d for d in found if _same_udid(d.serial, udid)), None)
        if device is None:
            return Attached(PLATFORM, udid, "not-found", message=not_found(udid).message)
    elif not found:
        raise ScannerError("No iPhone found: plug it in with a cable, unlock it, and run `scanner pair` again")
    elif len(found) > 1:
        listed = ", ".join(d.serial for d in found)
        raise ScannerError(f"{len(found)} iPhones are attached ({listed}): choose one with `scanner pair --udid UDID`")
    else:
        device = found[0]
    visit = _Visit(device.serial)
    deadline = asyncio.get_running_loop().time() + mux.timeout
    try:
        async with asyncio.timeout_at(deadline):
            message = await _pair_one(mux, visit, deadline, notify)
            visit.stage = "starting installation_proxy"
            await mux.probe(visit)
    except Exception as err:  # noqa: BLE001 - reported as the device's state
        failure = describe(err, visit.udid, stage=visit.stage, timeout=mux.timeout, pairing=True, where=mux.where)
        return visit.attached(failure.reason, failure.message)
    return visit.attached("ready", message)


async def _pair_one(mux: _Usbmux, visit: _Visit, deadline: float, notify: Notify | None) -> str:
    """Pair unless already paired; the returned line says which, and where the record went."""
    client = await mux.lockdown(visit)
    try:
        if client.paired:
            return "Already paired: the iPhone trusts this computer, nothing was changed"
        who = visit.values.get("DeviceName") or "the iPhone"
        if notify is not None:
            wait = max(0.0, deadline - asyncio.get_running_loop().time())
            notify(f"Tap Trust on {who} ({visit.udid}) and enter its passcode; waiting up to {wait:.0f} s")
        visit.stage = "waiting for Trust"
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        await client.pair(timeout=remaining)
        visit.stage = "starting a session with the new pair record"
        if not await client.validate_pairing():
            raise FatalPairingError()
        return f"Paired: the record is saved to usbmuxd and {pair_record_folder()}"
    finally:
        await _close(client)
