"""One installation_proxy Lookup, and the Inventory built from what it returned.

Why a Lookup of our own rather than pymobiledevice3's `get_apps()`: get_apps
sends no ReturnAttributes, so the device serialises every Info.plist key of
every app (4-40 times the bytes, 2-4 times the time), and `lookup()` drops the
reply's `Status`, so a list cut short would look like a whole one. Here the
reply is read until `Status: Complete`; anything less is never `complete`.

The App of each entry is built by the installation_proxy record grammar the
`pymobiledevice3 apps list` reader uses too (scanner.connectors.grammars.installation_proxy):
that JSON is this same Lookup result, so a live scan and a saved export are read
by one piece of code.
"""

from __future__ import annotations

from typing import Any

from scanner.connectors.grammars.installation_proxy import parse_app
from scanner.connectors.grammars.json_values import strings_in
from scanner.connectors.ios.errors import Explanation, LookupRefused
from scanner.connectors.records import BadRecord, Problems, residue_of, snippet
from scanner.model import App, DeviceInfo, Inventory, Scope

__all__ = ["LOOKUP_ATTRIBUTES", "LOOKUP_OPTIONS", "SERVICE", "build_inventory", "read_lookup"]

SERVICE = "com.apple.mobile.installation_proxy"

#: Only what App holds, and what tells an offloaded app from an installed one:
#: the team id comes from Entitlements (com.apple.developer.team-identifier,
#: else the application-identifier prefix); IsPlaceholder / IsDemotedApp mark
#: an offloaded app (its data kept, one tap to reinstall) shown by ShowPlaceholders.
LOOKUP_ATTRIBUTES = (
    "CFBundleIdentifier",
    "CFBundleDisplayName",
    "CFBundleName",
    "CFBundleShortVersionString",
    "CFBundleVersion",
    "ApplicationType",
    "SignerIdentity",
    "Entitlements",
    "IsPlaceholder",
    "IsDemotedApp",
)

#: "Any" covers User, System and Hidden apps; ShowPlaceholders adds offloaded ones,
#: which an audit must see: the app comes back with one tap.
LOOKUP_OPTIONS: dict[str, Any] = {
    "ApplicationType": "Any",
    "ShowPlaceholders": True,
    "ReturnAttributes": list(LOOKUP_ATTRIBUTES),
}

SCOPE = "apps"


async def read_lookup(service: Any, entries: dict[str, Any]) -> None:
    """Send one Lookup on `service` (a pymobiledevice3 ServiceConnection) and
    collect its LookupResult into `entries` until `Status: Complete`.

    Fills `entries` as replies arrive, so that the caller keeps what was read
    if the connection then drops. Returns only on `Status: Complete`; a drop
    raises ConnectionTerminatedError, and a device that stops answering is
    ended by the caller's deadline.
    """
    await service.send_plist({"Command": "Lookup", "ClientOptions": LOOKUP_OPTIONS})
    while True:
        reply = await service.recv_plist()
        if not isinstance(reply, dict):
            raise LookupRefused("not a dictionary", f"the reply was {type(reply).__name__}")
        # Any Error at all, even an empty one beside `Status: Complete`, means the list cannot be trusted whole.
        if reply.get("Error") is not None:
            error, description = reply["Error"], reply.get("ErrorDescription")
            raise LookupRefused(str(error) or "an empty Error", str(description) if description else None)
        result = reply.get("LookupResult")
        if isinstance(result, dict):
            entries.update(result)
        elif result is not None:  # apps sent in a shape we cannot read are apps not checked
            raise LookupRefused("LookupResult is not a dictionary", f"it was {type(result).__name__}")
        if reply.get("Status") == "Complete":
            return


def parse_entries(entries: dict[str, Any]) -> tuple[list[App], Problems]:
    """Apps of a LookupResult; an entry that cannot be an App is a problem, never skipped silently."""
    apps: list[App] = []
    problems = Problems()
    for key, value in entries.items():
        try:
            if not isinstance(key, str):
                raise BadRecord(f"the bundle id is {type(key).__name__}, not text")
            if not isinstance(value, dict):
                raise BadRecord(f"expected a dictionary of app attributes, got {type(value).__name__}")
            apps.append(parse_app(key, value))
        except BadRecord as err:
            # Not trusted as an app, but its ids are still searched (the key, CFBundleIdentifier, ...).
            problems.add(f"app {snippet(str(key))}: {err}", evidence=" ".join(strings_in([key, value])))
    return apps, problems


def build_inventory(device: DeviceInfo, entries: dict[str, Any], failure: Explanation | None) -> Inventory:
    """The Inventory of one iPhone: complete only for a whole Lookup whose every entry was read.

    `failure` is why the Lookup did not end with `Status: Complete` (or never
    started). Apps read before it are kept, so their findings are reported,
    and the device is `partial`; with none it is `failed`. A whole Lookup with
    no apps at all is `failed` too: an iPhone always has system apps, so an
    empty list is a broken answer, never a clean device (the rule the file
    inputs follow for an empty export).
    """
    apps, problems = parse_entries(entries)
    coverage = [Scope(SCOPE, read=True, apps=len(apps))] if apps else []
    reason = message = None
    if failure is not None:
        coverage.append(Scope(SCOPE, read=False, reason=failure.reason))
        reason, message = failure.reason, failure.message
    elif problems.count:
        coverage.append(Scope(SCOPE, read=False, reason=f"{problems.count} apps could not be read"))
        reason = "bad-records"
        message = (f"The iPhone listed {problems.count} app(s) the scanner cannot read ({problems.kept[0]}); "
                   f"they were not checked: run again, and report this if it repeats")
    elif not apps:
        coverage.append(Scope(SCOPE, read=False, reason="no apps listed"))
        reason = "empty"
        message = ("The iPhone listed no apps at all, and an iPhone always has some: unlock it, run again, and "
                   "restart it if this repeats")
    status = "complete" if reason is None else ("partial" if apps else "failed")
    return Inventory(
        device=device, apps=tuple(apps), coverage=tuple(coverage), status=status, reason=reason, message=message,
        problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems),
    )
