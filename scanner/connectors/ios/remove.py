"""Removing one app from an iPhone: installation_proxy's Uninstall, for `scanner remove` only.

Loaded by IOSConnector.remove() when it is first called, never by a scan. The
connection is the scan's own (scanner.connectors.ios.usbmux: lockdown with
autopair off, the trust check, installation_proxy), and what goes wrong on the
way is explained by the scan's words (scanner.connectors.ios.errors), so a
locked or untrusted iPhone reads the same in `remove` as in `scan`.

On the one installation_proxy connection:

1. a Lookup (the scan's own, scanner.connectors.ios.apps.read_lookup, offloaded
   apps included): installd answers an Uninstall of an id nothing is installed
   under like a removal ("not found in user apps, ignoring", ideviceinstaller
   issue #21), so only the app list tells "not installed" from "removed";
2. `{"Command": "Uninstall", "ApplicationIdentifier": id, "ClientOptions": {}}`,
   as pymobiledevice3's InstallationProxyService.uninstall and libimobiledevice's
   instproxy_uninstall send it (ClientOptions empty: the device answers
   APIInternalError to any key but WaitForStorageDeletion);
3. its answers read until one decides: `{"Status": "Complete"}` (removed),
   `{"Error": NAME, "ErrorDescription"?: ...}` (refused), progress statuses
   (`{"Status": "RemovingApplication", "PercentComplete": 50}`) in between.
   An offloaded app (a placeholder) is removed the same way.

Which Error means what (names from libimobiledevice's instproxy_strtoerr; the
checks' order from a decompiled mobile_installation_proxy):
`UninstallProhibited` is the managed-configuration setting that forbids
removing apps (a configuration profile or the MDM) -> "managed";
`APIInternalError` is every failure of the removal itself (an app that came
with iOS, an app an MDM installed as non-removable) -> "refused"; any other
name -> "refused" with the device's words. The device's answer is kept as it
came in Removal.answer; every message is one line of inert text (scanner.terminal.text).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from pymobiledevice3.exceptions import DeviceNotFoundError

from scanner.connectors.interface import Removal
from scanner.connectors.ios.apps import SERVICE, read_lookup
from scanner.connectors.ios.errors import Explanation, explain_error, not_found, usbmuxd_unavailable
from scanner.connectors.ios.usbmux import Usbmux, Visit, close_quietly
from scanner.terminal.text import safe

__all__ = ["ANSWER_LIMIT", "remove_app", "uninstall_command", "verdict"]

#: Characters of the device's own answer kept in Removal.answer (it is untrusted, and goes into a record).
ANSWER_LIMIT = 500
_SHOWN = 80  # characters of an app id or a device string shown inside a message
_APPLE = ("System", "Hidden")  # ApplicationType of the apps that came with iOS
_DELETE_ON_PHONE = "delete it on the iPhone (touch and hold its icon, then Remove App)"


def uninstall_command(app_id: str) -> dict[str, Any]:
    """The Uninstall request, as pymobiledevice3 and libimobiledevice send it."""
    return {"Command": "Uninstall", "ApplicationIdentifier": app_id, "ClientOptions": {}}


@dataclass
class _Progress:
    """How far one removal got: whether the Uninstall went out, and the last status the device sent."""

    app_id: str
    kind: str | None = None  # the app's ApplicationType, from the Lookup
    offloaded: bool = False
    sent: bool = False
    last: str = ""


async def remove_app(mux: Usbmux, udid: str, app_id: str, timeout: float) -> Removal:
    """Remove `app_id` from the iPhone `udid`, all of it within `timeout` seconds; never raises for
    anything the device or usbmuxd does (every outcome is a Removal)."""
    progress = _Progress(app_id)
    if mux.address_error is not None:
        return _not_removed(progress, usbmuxd_unavailable(mux.where, mux.address_error))
    visit = Visit(udid)
    try:
        async with asyncio.timeout(timeout):
            client = await mux.lockdown(visit)
            try:
                await mux.check_trust(client, visit)
                visit.stage = "starting installation_proxy"
                service = await client.start_lockdown_service(SERVICE)
                try:
                    return await _uninstall(service, visit, progress)
                finally:
                    await close_quietly(service)
            finally:
                await close_quietly(client)
    except DeviceNotFoundError:  # usbmuxd does not list it: never attached, or unplugged before we came
        return _not_removed(progress, not_found(udid))
    except Exception as err:  # noqa: BLE001 - every failure is this removal's outcome, never a crash
        why = explain_error(err, udid, stage=visit.stage, timeout=timeout, where=mux.where)
        return _not_removed(progress, why)


async def _uninstall(service: Any, visit: Visit, progress: _Progress) -> Removal:
    visit.stage = "looking the app up"
    entries: dict[str, Any] = {}
    await read_lookup(service, entries)
    if progress.app_id not in entries:
        return _removal(progress, "not-installed", f"{_app(progress)} is not installed on this iPhone: nothing to "
                                                   f"remove")
    entry = entries[progress.app_id]
    if isinstance(entry, dict):
        kind = entry.get("ApplicationType")
        progress.kind = kind if isinstance(kind, str) else None
        progress.offloaded = entry.get("IsPlaceholder") is True or entry.get("IsDemotedApp") is True
    visit.stage = "removing the app"
    progress.sent = True
    await service.send_plist(uninstall_command(progress.app_id))
    while True:
        reply = await service.recv_plist()
        decided = verdict(progress.app_id, reply, kind=progress.kind, offloaded=progress.offloaded)
        if decided is not None:
            return decided
        progress.last = _status_text(reply)


def verdict(app_id: str, reply: object, *, kind: str | None = None, offloaded: bool = False) -> Removal | None:
    """The Removal one answer to an Uninstall decides, or None for a progress status (read on).

    `kind` is the app's ApplicationType from the Lookup, `offloaded` whether it was a placeholder: they only
    shape the message. Anything that is neither a status nor an error is unreadable, never a removal.
    """
    progress = _Progress(app_id, kind=kind, offloaded=offloaded, sent=True)
    if not isinstance(reply, dict):
        return _removal(progress, "failed", f"The iPhone answered the removal of {_app(progress)} with something the "
                                            f"scanner cannot read (a {type(reply).__name__}, not a status): whether it "
                                            f"was removed is unknown; run again, and report this if it repeats",
                        _answer(reply))
    error = reply.get("Error")
    if error is not None:
        return _refusal(progress, error, reply.get("ErrorDescription"))
    status = reply.get("Status")
    if status == "Complete":
        what = (f"Removed {_app(progress)} (it was offloaded: the data it had kept on the iPhone are gone too)"
                if offloaded else f"Removed {_app(progress)} from the iPhone")
        return _removal(progress, "removed", what, "Complete")
    if isinstance(status, str) and status:
        return None
    return _removal(progress, "failed", f"The iPhone answered the removal of {_app(progress)} with a status the "
                                        f"scanner cannot read: whether it was removed is unknown; run again, and "
                                        f"report this if it repeats", _answer(reply))


def _refusal(progress: _Progress, error: object, description: object) -> Removal:
    name = (error or "an empty Error") if isinstance(error, str) else repr(error)
    answer = _answer(f"{name}: {description}" if description not in (None, "") else name)
    said = safe(answer, _SHOWN)
    app = _app(progress)
    if name == "UninstallProhibited":
        return _removal(progress, "managed", f"The iPhone does not allow removing apps ({said}: a configuration "
                                             f"profile or the MDM forbids it): remove {app} from the MDM, or lift its "
                                             f"restriction on removing apps, then run again", answer)
    if name == "APIInternalError" and progress.kind in _APPLE:
        return _removal(progress, "refused", f"{app} came with iOS and this iPhone cannot remove it (it answered "
                                             f"{said}): restrict it with the MDM instead", answer)
    if name == "APIInternalError":
        return _removal(progress, "refused", f"The iPhone refused to remove {app} ({said}): if an MDM installed it, "
                                             f"remove it from the MDM; otherwise {_DELETE_ON_PHONE}", answer)
    return _removal(progress, "refused", f"The iPhone refused to remove {app} ({said}): {_DELETE_ON_PHONE}, and "
                                         f"report this if it repeats", answer)


def _not_removed(progress: _Progress, why: Explanation) -> Removal:
    """A removal cut short by an error on the way: before the Uninstall went out nothing was removed; after
    it, the device may have removed the app or not, and only the rescan tells."""
    app = _app(progress)
    if not progress.sent:
        outcome = "locked" if why.reason == "locked" else "failed"
        return _removal(progress, outcome, f"{app} was not removed: {why.message}", progress.last)
    last = f" (its last answer: {safe(progress.last, _SHOWN)})" if progress.last else ""
    outcome = "disconnected" if why.reason in ("disconnected", "usbmuxd-unavailable") else "failed"
    return _removal(progress, outcome, f"Whether {app} was removed is unknown{last}: {why.message}; the rescan "
                                       f"shows whether it is still there", progress.last)


def _removal(progress: _Progress, outcome: str, message: str, answer: str = "") -> Removal:
    return Removal(app_id=progress.app_id, user=None, outcome=outcome, message=safe(message, None),
                   answer=answer[:ANSWER_LIMIT])


def _app(progress: _Progress) -> str:
    return safe(progress.app_id, _SHOWN) or "(an empty bundle id)"


def _status_text(reply: dict[str, Any]) -> str:
    percent = reply.get("PercentComplete")
    shown = f" ({percent}%)" if isinstance(percent, (int, float)) and not isinstance(percent, bool) else ""
    return _answer(f"{reply.get('Status')}{shown}")


def _answer(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:ANSWER_LIMIT]
