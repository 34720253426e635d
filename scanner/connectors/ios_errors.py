"""What went wrong with an iPhone: a reason code and one line that tells a person what to do.

One table for the scan, `scanner devices` and `scanner pair`, so the three never
word the same problem differently. pymobiledevice3's own messages say what
happened ("Device is not paired"); these say what to do about it. The only
difference between contexts is the command to run again: a scan says "run
again", pairing says "run `scanner pair --udid U` again".
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

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
    "Failure", "LookupRefused", "NotTrusted", "describe", "not_found", "usbmuxd_unavailable",
]

INSTALL_USBMUXD = "Install and start usbmuxd (Linux: apt install usbmuxd), or set USBMUXD_SOCKET_ADDRESS"


@dataclass(frozen=True)
class Failure:
    """Why an iPhone could not be read: `reason` for scripts, `message` for a person."""

    reason: str
    message: str


class NotTrusted(Exception):
    """The iPhone has no trust for this computer, found without asking it to pair.

    `reason` is "not-paired" (no pair record anywhere) or "pair-record-invalid"
    (a record exists, and the iPhone rejects it: pymobiledevice3 swallows the
    InvalidHostID and reports only paired=False, so the connector tells the two apart).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LookupRefused(Exception):
    """installation_proxy answered the Lookup with an `Error` instead of apps."""

    def __init__(self, error: str, description: str | None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


def usbmuxd_unavailable(where: str, err: BaseException | None = None) -> Failure:
    """usbmuxd cannot be reached at all (not running, no permission, bad address)."""
    if isinstance(err, PermissionError):
        return Failure("usbmuxd-unavailable", f"usbmuxd at {where} refused this user (permission denied): run as a "
                                              f"user allowed to use usbmuxd, or set USBMUXD_SOCKET_ADDRESS")
    if isinstance(err, ValueError):
        return Failure("usbmuxd-unavailable", f"{err}: set USBMUXD_SOCKET_ADDRESS to HOST:PORT or a socket path")
    if isinstance(err, (TimeoutError, asyncio.TimeoutError)):
        return Failure("usbmuxd-unavailable", f"usbmuxd at {where} accepted the connection but did not answer: "
                                              f"restart usbmuxd, or set USBMUXD_SOCKET_ADDRESS to the right one")
    if isinstance(err, MuxException) and not isinstance(err, ConnectionFailedToUsbmuxdError):
        return Failure("usbmuxd-unavailable", f"usbmuxd at {where} answered in a way the scanner does not understand "
                                              f"({_first_line(err)}): restart usbmuxd, or set USBMUXD_SOCKET_ADDRESS "
                                              f"to the right one")
    return Failure("usbmuxd-unavailable", f"usbmuxd is not running at {where}: {INSTALL_USBMUXD}")


def not_found(udid: str) -> Failure:
    return Failure("not-found", f"No iPhone with UDID {udid} is attached: plug it in, unlock it, and check "
                                f"`scanner devices --platform ios`")


def _again(udid: str, pairing: bool) -> str:
    return f"run `scanner pair --udid {udid}` again" if pairing else "run again"


def describe(err: BaseException, udid: str, *, stage: str, timeout: float, pairing: bool = False,
             where: str = "usbmuxd") -> Failure:
    """The Failure for an exception raised while talking to one iPhone.

    `stage` is what was going on ("connecting", "reading the app list",
    "waiting for Trust"), `pairing` whether this was `scanner pair`. The order
    of the checks matters: pymobiledevice3's classes subclass each other
    (PasswordRequiredError is a PairingError, ConnectionFailedToUsbmuxdError a
    ConnectionFailedError, InvalidServiceError a LockdownError).
    """
    again = _again(udid, pairing)
    pair_cmd = f"`scanner pair --udid {udid}`"
    if isinstance(err, NotTrusted):
        if err.reason == "pair-record-invalid":
            return Failure("pair-record-invalid", f"The pair record is out of date (the iPhone no longer accepts it): "
                                                  f"run {pair_cmd}")
        return Failure("not-paired", f"This computer is not paired with the iPhone: run {pair_cmd} first, then tap "
                                     f"Trust on the iPhone")
    if isinstance(err, (TimeoutError, asyncio.TimeoutError)):
        if stage == "waiting for Trust":
            return Failure("trust-pending", f"Nobody tapped Trust on the iPhone within {timeout:g} s: run {pair_cmd} "
                                            f"again, then tap Trust and enter the passcode")
        return Failure("timeout", f"The iPhone did not answer within {timeout:g} s while {stage}: unlock it, check "
                                  f"the cable, and {again} (or raise --timeout)")
    if isinstance(err, ConnectionFailedToUsbmuxdError):
        return Failure("usbmuxd-unavailable", f"usbmuxd at {where} stopped answering while {stage}: "
                                              f"{INSTALL_USBMUXD}, then {again}")
    if isinstance(err, (PasswordRequiredError, PasscodeRequiredError)):
        if pairing:
            return Failure("locked", f"The iPhone is locked: unlock it, then {again}")
        return Failure("locked", "The iPhone is locked: unlock it, then run again")
    if isinstance(err, PairingDialogResponsePendingError):
        if pairing:
            return Failure("trust-pending", f"Nobody tapped Trust on the iPhone within {timeout:g} s: run {pair_cmd} "
                                            f"again, then tap Trust and enter the passcode")
        return Failure("trust-pending", "Tap Trust on the iPhone, then run again")
    if isinstance(err, UserDeniedPairingError):
        return Failure("trust-denied", f"Trust was refused on the iPhone: run {pair_cmd} and tap Trust")
    if isinstance(err, MCProtectedError):
        return Failure("trust-denied", "A configuration profile (MDM) on the iPhone forbids pairing with this "
                                       "computer: pair it from a computer the MDM allows, or ask its administrator")
    if isinstance(err, (InvalidHostIDError, FatalPairingError)):
        return Failure("pair-record-invalid", f"The pair record is out of date (the iPhone no longer accepts it): "
                                              f"run {pair_cmd}")
    if isinstance(err, NotPairedError):
        return Failure("not-paired", f"This computer is not paired with the iPhone: run {pair_cmd} first, then tap "
                                     f"Trust on the iPhone")
    if isinstance(err, PairingError):
        return Failure("error", f"Pairing with the iPhone failed ({err}): unplug it, plug it back in, unlock it, "
                                f"and run {pair_cmd}")
    if isinstance(err, (NoDeviceConnectedError, DeviceNotFoundError, BadDevError)):
        return Failure("disconnected", f"The iPhone was unplugged while {stage}: plug it back in, unlock it, and "
                                       f"{again}")
    if isinstance(err, ConnectionFailedError):
        return Failure("error", f"usbmuxd could not reach the iPhone's lockdownd while {stage} (connection "
                                f"refused): unplug it, plug it back in, unlock it, and {again}")
    if isinstance(err, (ConnectionTerminatedError, MuxException, asyncio.IncompleteReadError, ConnectionError,
                        ssl.SSLError, EOFError)):
        return Failure("disconnected", f"The connection to the iPhone dropped while {stage}: check the cable, keep "
                                       f"the iPhone unlocked, and {again}")
    if isinstance(err, IncorrectModeError):
        return Failure("error", "The iPhone is not in normal mode (recovery, DFU or restore): restart it normally, "
                                f"then {again}")
    if isinstance(err, (InvalidServiceError, StartServiceError)):
        return Failure("error", f"The iPhone refused to start its app list service ({_detail(err)}): restart the "
                                f"iPhone, then {again}")
    if isinstance(err, LookupRefused):
        return Failure("error", f"The iPhone refused to list its apps ({err}): unlock it, restart it if this "
                                f"repeats, and {again}")
    if isinstance(err, LockdownError):
        return Failure("error", f"lockdownd on the iPhone refused a request while {stage} ({_detail(err)}): "
                                f"unplug it, plug it back in, and {again}")
    if isinstance(err, ProtocolError):
        return Failure("error", f"The iPhone sent a reply the scanner cannot read while {stage} ({_first_line(err)});"
                                f" {again}, and report this if it repeats")
    if isinstance(err, OSError):
        return Failure("disconnected", f"The connection to the iPhone failed while {stage} "
                                       f"({err.strerror or type(err).__name__}): check the cable, and {again}")
    return Failure("error", f"Unexpected error while {stage}: {type(err).__name__}: {_first_line(err)}; {again}, "
                            f"and please report this")


def _detail(err: BaseException) -> str:
    code = getattr(err, "error", None)
    return str(code) if code else _first_line(err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
