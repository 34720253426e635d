"""What went wrong with an iPhone: a reason code and one line that tells a person what to do.

One table for the scan, `scanner devices` and `scanner pair`, so the three never
word the same problem differently. pymobiledevice3's own messages say what
happened ("Device is not paired"); these say what to do about it. The only
difference between contexts is the command to run again: a scan says "run
again", pairing says "run `scanner pair --udid U` again".
"""

from __future__ import annotations

import asyncio
import plistlib
import ssl
from dataclasses import dataclass
from pathlib import Path
from xml.parsers.expat import ExpatError

from pymobiledevice3.exceptions import (
    BadDevError,
    ConnectionFailedError,
    ConnectionFailedToUsbmuxdError,
    ConnectionTerminatedError,
    DeviceNotFoundError,
    FatalPairingError,
    IncorrectModeError,
    InvalidHostIDError,
    InvalidServiceError,
    LockdownError,
    MCProtectedError,
    MuxException,
    NoDeviceConnectedError,
    NotPairedError,
    PairingDialogResponsePendingError,
    PairingError,
    PasscodeRequiredError,
    PasswordRequiredError,
    ProtocolError,
    StartServiceError,
    UserDeniedPairingError,
)

__all__ = [
    "DamagedPairRecord", "Explanation", "LookupRefused", "NotTrusted", "damaged_pair_record", "explain_error",
    "not_found", "usbmuxd_garbled", "usbmuxd_unavailable",
]

INSTALL_USBMUXD = "Install and start usbmuxd (Linux: apt install usbmuxd), or set USBMUXD_SOCKET_ADDRESS"


@dataclass(frozen=True)
class Explanation:
    """Why an iPhone could not be read: `reason` for scripts, `message` for a person."""

    reason: str
    message: str
    #: usbmuxd is there (it accepted the connection) but cannot be used: iPhones may well be
    #: attached, so even a scan that did not ask for iOS must not pass over it with a note.
    reached: bool = False


class NotTrusted(Exception):
    """The iPhone has no trust for this computer, found without asking it to pair.

    `reason` is "not-paired" (no pair record anywhere) or "pair-record-invalid"
    (a record exists, and the iPhone rejects it: pymobiledevice3 swallows the
    InvalidHostID and reports only paired=False, so the connector tells the two apart).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DamagedPairRecord(Exception):
    """A pair-record file pymobiledevice3 reads before it talks to the iPhone cannot be read.

    pymobiledevice3 fails on it with whatever plistlib or a dict lookup raised,
    and `scanner pair` reads it first too: without this the person is told to
    pair, pairing fails the same way, and nothing says which file to remove.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


class LookupRefused(Exception):
    """installation_proxy answered the Lookup with an `Error` instead of apps."""

    def __init__(self, error: str, description: str | None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


def usbmuxd_unavailable(where: str, err: BaseException | None = None) -> Explanation:
    """usbmuxd cannot be reached at all (not running, no permission, bad address)."""
    if isinstance(err, PermissionError):
        return Explanation("usbmuxd-unavailable", f"usbmuxd at {where} refused this user (permission denied): run as a "
                                                  f"user allowed to use usbmuxd, or set USBMUXD_SOCKET_ADDRESS")
    if isinstance(err, ValueError):
        return Explanation("usbmuxd-unavailable", f"{err}: set USBMUXD_SOCKET_ADDRESS to HOST:PORT or a socket path")
    if isinstance(err, (TimeoutError, asyncio.TimeoutError)):
        return Explanation("usbmuxd-unavailable", f"usbmuxd at {where} accepted the connection but did not answer: "
                                                  f"restart usbmuxd, or set USBMUXD_SOCKET_ADDRESS to the right one",
                           reached=True)
    if isinstance(err, MuxException) and not isinstance(err, ConnectionFailedToUsbmuxdError):
        return Explanation("usbmuxd-unavailable", f"usbmuxd at {where} answered in a way the scanner does not "
                                                  f"understand ({_first_line(err)}): restart usbmuxd, or set "
                                                  f"USBMUXD_SOCKET_ADDRESS to the right one", reached=True)
    return Explanation("usbmuxd-unavailable", f"usbmuxd is not running at {where}: {INSTALL_USBMUXD}")


def usbmuxd_garbled(where: str, err: BaseException) -> Explanation:
    """usbmuxd answered, with something pymobiledevice3 could not read (not a plist, a device entry
    without its properties, a UDID that is not text): it is there, so this is never only a note."""
    return Explanation("usbmuxd-unavailable", f"usbmuxd at {where} answered in a way the scanner does not understand "
                                              f"({type(err).__name__}: {_first_line(err)}): restart usbmuxd, or set "
                                              f"USBMUXD_SOCKET_ADDRESS to the right one", reached=True)


_RECORD_KEYS = ("HostID", "HostCertificate", "HostPrivateKey")


def damaged_pair_record(folder: Path, udid: str) -> Path | None:
    """`<folder>/<udid>.plist` (pymobiledevice3's own record, the one `scanner pair` writes) when it
    exists and is not a usable pair record.

    Only called after connecting failed, so a healthy setup never pays for it.
    A record the iPhone rejects is well-formed and not "damaged" here: that is
    `pair-record-invalid` from the device, found by the trust check.
    """
    if not udid or any(c in udid for c in "/\\\0") or udid in (".", ".."):
        return None
    path = folder / f"{udid}.plist"
    try:
        data = path.read_bytes()
    except PermissionError:  # left behind by another user (sudo): pymobiledevice3 fails on it too
        return path
    except OSError:  # absent: pymobiledevice3 looks no further
        return None
    try:
        record = plistlib.loads(data)
    except (ValueError, ExpatError):
        return path
    if not isinstance(record, dict) or not all(isinstance(record.get(k), (str, bytes)) for k in _RECORD_KEYS):
        return path
    return None


def not_found(udid: str) -> Explanation:
    return Explanation("not-found", f"No iPhone with UDID {udid} is attached: plug it in, unlock it, and check "
                                    f"`scanner devices --platform ios`")


def _again(udid: str, pairing: bool) -> str:
    return f"run `scanner pair --udid {udid}` again" if pairing else "run again"


def explain_error(err: BaseException, udid: str, *, stage: str, timeout: float, pairing: bool = False,
                  where: str = "usbmuxd") -> Explanation:
    """The Explanation for an exception raised while talking to one iPhone.

    `stage` is what was going on ("connecting", "reading the app list",
    "waiting for Trust"), `pairing` whether this was `scanner pair`. The order
    of the checks matters: pymobiledevice3's classes subclass each other
    (PasswordRequiredError is a PairingError, ConnectionFailedToUsbmuxdError a
    ConnectionFailedError, InvalidServiceError a LockdownError).
    """
    again = _again(udid, pairing)
    pair_cmd = f"`scanner pair --udid {udid}`"
    if isinstance(err, DamagedPairRecord):
        return Explanation("pair-record-invalid", f"The pair record {err.path} cannot be read (damaged, or another "
                                                  f"user's): delete that file, then run {pair_cmd}")
    if isinstance(err, NotTrusted):
        if err.reason == "pair-record-invalid":
            return Explanation("pair-record-invalid", f"The pair record is out of date (the iPhone no longer accepts "
                                                      f"it): run {pair_cmd}")
        return Explanation("not-paired", f"This computer is not paired with the iPhone: run {pair_cmd} first, then tap "
                                         f"Trust on the iPhone")
    if isinstance(err, (TimeoutError, asyncio.TimeoutError)):
        if stage == "waiting for Trust":
            return Explanation("trust-pending", f"Nobody tapped Trust on the iPhone within {timeout:g} s: run "
                                                f"{pair_cmd} again, then tap Trust and enter the passcode")
        return Explanation("timeout", f"The iPhone did not answer within {timeout:g} s while {stage}: unlock it, check "
                                      f"the cable, and {again} (or raise --timeout)")
    if isinstance(err, ConnectionFailedToUsbmuxdError):
        return Explanation("usbmuxd-unavailable", f"usbmuxd at {where} stopped answering while {stage}: "
                                                  f"{INSTALL_USBMUXD}, then {again}")
    if isinstance(err, (PasswordRequiredError, PasscodeRequiredError)):
        if pairing:
            return Explanation("locked", f"The iPhone is locked: unlock it, then {again}")
        return Explanation("locked", "The iPhone is locked: unlock it, then run again")
    if isinstance(err, PairingDialogResponsePendingError):
        if pairing:
            return Explanation("trust-pending", f"Nobody tapped Trust on the iPhone within {timeout:g} s: run "
                                                f"{pair_cmd} again, then tap Trust and enter the passcode")
        return Explanation("trust-pending", "Tap Trust on the iPhone, then run again")
    if isinstance(err, UserDeniedPairingError):
        return Explanation("trust-denied", f"Trust was refused on the iPhone: run {pair_cmd} and tap Trust")
    if isinstance(err, MCProtectedError):
        return Explanation("trust-denied", "A configuration profile (MDM) on the iPhone forbids pairing with this "
                                           "computer: pair it from a computer the MDM allows, or ask its administrator")
    if isinstance(err, (InvalidHostIDError, FatalPairingError)):
        return Explanation("pair-record-invalid", f"The pair record is out of date (the iPhone no longer accepts it): "
                                                  f"run {pair_cmd}")
    if isinstance(err, NotPairedError):
        return Explanation("not-paired", f"This computer is not paired with the iPhone: run {pair_cmd} first, then tap "
                                         f"Trust on the iPhone")
    if isinstance(err, PairingError):
        return Explanation("error", f"Pairing with the iPhone failed ({err}): unplug it, plug it back in, unlock it, "
                                    f"and run {pair_cmd}")
    if isinstance(err, (NoDeviceConnectedError, DeviceNotFoundError, BadDevError)):
        return Explanation("disconnected", f"The iPhone was unplugged while {stage}: plug it back in, unlock it, and "
                                           f"{again}")
    if isinstance(err, ConnectionFailedError):
        return Explanation("error", f"usbmuxd could not reach the iPhone's lockdownd while {stage} (connection "
                                    f"refused): unplug it, plug it back in, unlock it, and {again}")
    if isinstance(err, (ConnectionTerminatedError, MuxException, asyncio.IncompleteReadError, ConnectionError,
                        ssl.SSLError, EOFError)):
        return Explanation("disconnected", f"The connection to the iPhone dropped while {stage}: check the cable, keep "
                                           f"the iPhone unlocked, and {again}")
    if isinstance(err, IncorrectModeError):
        return Explanation("error", "The iPhone is not in normal mode (recovery, DFU or restore): restart it normally, "
                                    f"then {again}")
    if isinstance(err, (InvalidServiceError, StartServiceError)):
        return Explanation("error", f"The iPhone refused to start its app list service ({_detail(err)}): restart the "
                                    f"iPhone, then {again}")
    if isinstance(err, LookupRefused):
        return Explanation("error", f"The iPhone refused to list its apps ({_one_line(str(err))}): unlock it, restart "
                                    f"it if this repeats, and {again}")
    if isinstance(err, LockdownError):
        return Explanation("error", f"lockdownd on the iPhone refused a request while {stage} ({_detail(err)}): "
                                    f"unplug it, plug it back in, and {again}")
    if isinstance(err, (ProtocolError, ExpatError)):
        return Explanation("error", f"The iPhone sent a reply the scanner cannot read while {stage} "
                                    f"({_first_line(err)}); {again}, and report this if it repeats")
    if isinstance(err, OSError):
        return Explanation("disconnected", f"The connection to the iPhone failed while {stage} "
                                           f"({err.strerror or type(err).__name__}): check the cable, and {again}")
    return Explanation("error", f"Unexpected error while {stage}: {type(err).__name__}: {_first_line(err)}; {again}, "
                                f"and please report this")


def _detail(err: BaseException) -> str:
    code = getattr(err, "error", None)
    return _one_line(str(code)) if code else _first_line(err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return _one_line(text[0]) if text else type(err).__name__


def _one_line(text: str, limit: int = 200) -> str:
    """Device-supplied text made fit for a one-line message: runs of whitespace (line breaks too)
    become one space, any other control or format character (ESC, bidi overrides) a visible
    escape, and the whole is cut short."""
    flat = " ".join(text.split())[:limit]
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
                   for ch in flat)
