"""What an adb device state or error means for the person scanning, as (reason code, what to do)."""

from __future__ import annotations

from adbutils.errors import AdbConnectionError, AdbError, AdbTimeout

__all__ = ["UNAUTHORIZED", "explain_error", "explain_state"]

UNAUTHORIZED = (
    "Unlock the phone and accept the USB debugging prompt (\"Allow USB debugging?\"), then run again; if no "
    "prompt appears, unplug and replug the cable"
)
OFFLINE = (
    "The phone is attached but adb cannot talk to it (offline): unplug and replug the cable, or turn USB "
    "debugging off and on, then run again"
)
NO_PERMISSIONS = (
    "This computer's user may not open the phone over USB (no permissions): add a udev rule for it "
    "(https://developer.android.com/studio/run/device) or join the plugdev group, replug it, and run again"
)
DISCONNECTED = "The phone was disconnected during the scan; reconnect it and run again"

_NOT_BOOTED = {"bootloader", "recovery", "sideload", "rescue", "fastbootd"}


def explain_state(state: str) -> tuple[str, str]:
    """(reason, message) for an adb state other than `device`.

    adbutils splits `adb devices` lines on whitespace, so the state
    `no permissions (missing udev rules? ...)` arrives as `no`.
    """
    if state in ("unauthorized", "authorizing"):
        return "unauthorized", UNAUTHORIZED
    if state in ("offline", "connecting", "detached"):
        return "offline", OFFLINE
    if state in ("no", "no permissions", "insufficient"):
        return "no-permissions", NO_PERMISSIONS
    if state in _NOT_BOOTED:
        return "not-ready", f"The phone is in {state} mode, not started into Android: restart it normally and run again"
    return "not-ready", f"adb reports the phone as {state!r}, not ready to be read: reconnect it and run again"


def explain_error(err: BaseException, *, timeout: float, server: str, timed_out: bool = False) -> tuple[str, str]:
    """(reason, message) for an error that stopped reading a phone that was ready when the scan began."""
    if timed_out or isinstance(err, AdbTimeout):
        return "timeout", (
            f"The phone did not finish answering within {timeout:g} s: make sure it is unlocked and not busy, "
            f"then run again (--timeout gives it longer)"
        )
    if isinstance(err, AdbConnectionError):
        return "adb-unavailable", (
            f"The adb server at {server} stopped answering during the scan: check that it still runs "
            f"(adb devices) and run again"
        )
    if type(err).__name__ == "BadAnswer":  # the shell ended before all its commands did (adb_script)
        return "error", (f"The phone's answer was cut short ({err}); nothing after that point was read: run again, "
                         f"and report this if it persists")
    if isinstance(err, (EOFError, OSError)):
        return "disconnected", DISCONNECTED
    text = str(err).strip()
    low = text.lower()
    if isinstance(err, AdbError):
        if "unauthorized" in low:
            return "unauthorized", UNAUTHORIZED
        if "permission" in low and "device" in low and "shell" not in low:
            return "no-permissions", NO_PERMISSIONS
        if "offline" in low or "not found" in low or "closed" in low or "no devices" in low:
            return "disconnected", DISCONNECTED
    first = text.splitlines()[0] if text else type(err).__name__
    return "error", f"adb reported an error while reading the phone ({first}); reconnect it and run again"
