"""Removing one app from one Android user: `pm uninstall --user N <package>` and what its answer means.

Only `scanner remove` and `watch --remove` reach this module (AndroidConnector.remove imports it when
called); a scan never does (tests/test_remove_import_rules.py).

Never `-k`: keeping the data would leave the app listed as `uninstalled-data-kept`, still a finding.
What pm prints (AOSP PackageManagerShellCommand.runUninstall; see the comment in
scanner/simulator/android.py for the sources): `Success`; `Failure [not installed for N]`;
`Failure [DELETE_FAILED_DEVICE_POLICY_MANAGER]` for an active device administrator;
`Failure [DELETE_FAILED_INTERNAL_ERROR]` for a preinstalled app asked without --user, or any internal
error; `Failure [<status>]` for other refusals. The command runs in one shell round trip with a
sentinel carrying its exit status (scanner.connectors.android.script), so an answer cut by a dropped
connection is told from a complete one: whether the app went is then unknown, and the rescan decides.
"""

from __future__ import annotations

import re
import time

from adbutils import AdbDevice
from adbutils.errors import AdbConnectionError, AdbError, AdbTimeout

from scanner.connectors.android.errors import explain_error
from scanner.connectors.android.script import BadAnswer, Script, Section
from scanner.connectors.android.server import Client, ServerAddress
from scanner.connectors.interface import Removal

__all__ = ["PACKAGE_NAME", "interpret", "remove_app", "uninstall_command"]

#: A Java package name as Android accepts it: what may be handed to the phone's shell, and nothing else.
PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+")
MAX_USER = 1 << 20

_FAILURE = re.compile(r"Failure \[(.*)\]\s*\Z", re.DOTALL)


def uninstall_command(app_id: str, user: int | None) -> str:
    """The shell command for one removal; ValueError for a package name or user pm would not take."""
    if not PACKAGE_NAME.fullmatch(app_id) or len(app_id) > 255:
        raise ValueError(f"{app_id!r} is not an Android package name")
    if user is None:
        return f"pm uninstall {app_id}"
    if isinstance(user, bool) or not isinstance(user, int) or not 0 <= user < MAX_USER:
        raise ValueError(f"{user!r} is not an Android user id")
    return f"pm uninstall --user {user} {app_id}"


def interpret(app_id: str, user: int | None, section: Section) -> Removal:
    """The Removal a complete answer of `pm uninstall` means."""
    answer = section.text()
    first = answer.splitlines()[0] if answer else ""
    who = f"user {user}" if user is not None else "every user"

    def result(outcome: str, message: str) -> Removal:
        return Removal(app_id, user, outcome, message, answer)

    said = [line.strip() for line in section.lines if line.strip()]
    if section.rc == 0 and said == [b"Success"]:  # nothing else: a "Success" among other text is not one
        return result("removed", f"{app_id} was uninstalled for {who}")
    failure = _FAILURE.match(first)
    status = failure.group(1) if failure else None
    if status is not None and status.startswith("not installed for"):
        return result("not-installed", f"{app_id} is not installed for {who}: nothing to remove")
    if status == "DELETE_FAILED_DEVICE_POLICY_MANAGER":
        return result("device-admin", (
            f"{app_id} is an active device administrator and the phone refuses to uninstall it: deactivate it "
            f"(Settings > Security > Device admin apps, or from the MDM that set it), then run again"))
    if status == "DELETE_FAILED_INTERNAL_ERROR" and user is None:
        return result("system-app", (
            f"The phone refused to uninstall {app_id} for every user (DELETE_FAILED_INTERNAL_ERROR), its answer "
            f"for an app that came with the phone: that one can only be removed for one user (--system-apps)"))
    if "SecurityException" in answer:
        return result("refused", (
            f"The phone refuses adb access to {who} ({_snippet(answer)}): remove {app_id} there from the MDM or "
            f"on the phone"))
    if status is not None:
        return result("refused", f"The phone refused to uninstall {app_id} for {who} ({_snippet(first)})")
    return result("failed", (
        f"pm uninstall {app_id} for {who} failed (exit status {section.rc}: {_snippet(answer) or 'no answer'}); "
        f"check the phone, then run again"))


def remove_app(address: ServerAddress, serial: str, app_id: str, *, user: int | None, timeout: float) -> Removal:
    """Uninstall `app_id` for `user` on the phone adb knows as `serial` (transport serial, `usb:` path or
    `transport_id:N`); every answer, and every way of not getting one, is a Removal."""
    try:
        command = uninstall_command(app_id, user)
    except ValueError as err:
        return Removal(app_id, user, "failed", f"Not sent to the phone: {err}")
    client = Client(address, time.monotonic() + timeout)
    script = Script([("uninstall", command)])
    try:
        device = _device(client, serial)
        v2 = "shell_v2" in device.get_features().split(",")
        result = device.shell2(script.command_line(), timeout=timeout, encoding=None, v2=v2)
        section = script.split(result.stdout if v2 else result.output)["uninstall"]
    except (AdbError, EOFError, OSError, BadAnswer) as err:
        return _unanswered(app_id, user, err, timeout, str(address), client.aborted)
    finally:
        client.abort()
    return interpret(app_id, user, section)


def _device(client: Client, serial: str) -> AdbDevice:
    """The phone a scan named: its transport serial, `transport_id:N`, or the `usb:` path of a clone (two
    phones listed under one serial), found again by that path in the server's list."""
    if serial.startswith("transport_id:") and serial[13:].isdigit():
        return AdbDevice(client, transport_id=int(serial[13:]))
    if serial.startswith("usb:"):
        for info in client.list(extended=True):
            if info.tags.get("usb") == serial[4:] and info.transport_id:
                return AdbDevice(client, transport_id=info.transport_id)
        raise AdbError(f"device '{serial}' not found")
    return AdbDevice(client, serial=serial)


def _unanswered(app_id: str, user: int | None, err: BaseException, timeout: float, server: str,
                aborted: bool) -> Removal:
    reason, message = explain_error(err, timeout=timeout, server=server, timed_out=aborted)
    detail = _snippet(f"{type(err).__name__}: {err}")
    if not isinstance(err, AdbConnectionError) and (
            reason in ("disconnected", "timeout", "error") or isinstance(err, (AdbTimeout, BadAnswer, EOFError))):
        why = f"it did not answer within {timeout:g} s" if reason == "timeout" else "it went away"
        return Removal(app_id, user, "disconnected", (
            f"The phone was asked to remove {app_id}, but {why} before it said whether it did: reconnect it and "
            f"run again (the rescan shows what is left)"), detail)
    return Removal(app_id, user, "failed", f"{app_id} was not removed: {message}", detail)


def _snippet(text: str, width: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
