"""Pair records and pairing: where the records are, and `scanner pair`, the one code path that may pair.

Pair records are where pymobiledevice3 keeps them: usbmuxd (ReadPairRecord /
SavePairRecord; the system usbmuxd stores them in /var/lib/lockdown), then
/var/lib/lockdown/<UDID>.plist, then pymobiledevice3's own folder
(~/.pymobiledevice3 if it exists, else $XDG_DATA_HOME/pymobiledevice3, by
default ~/.local/share/pymobiledevice3). The folder is worked out on every
call, not at import, so a changed HOME applies. A pair record holds this
computer's private key for the device: `scanner pair` keeps the folder 0700
and the record 0600. Scans of emulated devices (`scanner demo`) use a private
temporary folder instead (private_pair_records()), never the user's.

Pairing cannot pass the usbmuxd address the way a scan does: pymobiledevice3's
PlistUsbmuxLockdownClient.save_pair_record() opens its usbmuxd connection
without an address, so it reads only the env var. pair() therefore sets
$USBMUXD_SOCKET_ADDRESS to the resolved address for the duration of the call
and restores it after; the scan never touches the environment (the Android
connector runs beside it in another thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pymobiledevice3.exceptions import FatalPairingError
from pymobiledevice3.osu.os_utils import get_os_utils
from pymobiledevice3.safe_paths import device_file_path

from scanner.connectors.interface import Attached, Notify, ScannerError
from scanner.connectors.ios.errors import Explanation, explain_error, not_found
from scanner.connectors.ios.usbmux import ENV_ADDRESS, PLATFORM, Usbmux, Visit, close_quietly, same_udid

__all__ = ["pair", "pair_record_folder", "private_pair_records"]

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
    mux = Usbmux(address, timeout, pair_record_folder)
    folder = pair_record_folder()
    with _address_in_env(mux.address), _owner_only(folder):
        result = asyncio.run(_pair(mux, udid, notify))
    _narrow_record(folder, result.serial)
    return result


async def _pair(mux: Usbmux, udid: str | None, notify: Notify | None) -> Attached:
    found = await mux.discover()
    if isinstance(found, Explanation):
        raise ScannerError(found.message)
    if udid is not None:
        device = next((d for d in found if same_udid(d.serial, udid)), None)
        if device is None:
            return Attached(PLATFORM, udid, "not-found", message=not_found(udid).message)
    elif not found:
        raise ScannerError("No iPhone found: plug it in with a cable, unlock it, and run `scanner pair` again")
    elif len(found) > 1:
        listed = ", ".join(d.serial for d in found)
        raise ScannerError(f"{len(found)} iPhones are attached ({listed}): choose one with `scanner pair --udid UDID`")
    else:
        device = found[0]
    visit = Visit(device.serial)
    deadline = asyncio.get_running_loop().time() + mux.timeout
    try:
        async with asyncio.timeout_at(deadline):
            message = await _pair_one(mux, visit, deadline, notify)
            visit.stage = "starting installation_proxy"
            await mux.probe(visit, device)
    except Exception as err:  # noqa: BLE001 - reported as the device's state
        why = explain_error(err, visit.udid, stage=visit.stage, timeout=mux.timeout, pairing=True, where=mux.where)
        return visit.attached(why.reason, why.message)
    return visit.attached("ready", message)


async def _pair_one(mux: Usbmux, visit: Visit, deadline: float, notify: Notify | None) -> str:
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
        await close_quietly(client)
