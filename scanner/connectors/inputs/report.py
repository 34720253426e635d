"""A scanner JSON report saved with --inventory: each device as it was when
scanned, never more complete than the report can show it was.
"""

from __future__ import annotations

from typing import Any, Iterator

from scanner.connectors.inputs.common import (
    KNOWN_PLATFORMS, KNOWN_STATES, BadRecord, clean_id, decodable, failure, label_of, snippet,
)
from scanner.connectors.inputs.json_values import (
    Repeats, check_text, int_of, json_text, json_type, keys_text, no_repeats, text_of, text_or_none,
)
from scanner.connectors.inputs.source import MAX_PROBLEMS, Problems
from scanner.model import APP_STATES, App, DeviceInfo, Inventory, Scope

__all__ = ["read_report"]


def read_report(name: str, doc: dict[str, Any]) -> Iterator[Inventory]:
    label = label_of(name)
    version = doc.get("schema_version")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        yield failure(name, "unsupported-schema", (
            f"{label} is a scanner report with schema_version {snippet(str(version))}; this scanner reads 1.x "
            f"reports: scan the devices again with this version, or use the version that wrote it"
        ))
        return
    if doc.get("inventory_included") is not True:
        yield failure(name, "no-inventory", (
            f"{label} is a scanner report saved without its app list, so it cannot be matched again; rerun the "
            f"scan with --inventory (e.g. scanner scan ... --inventory --output json=FILE) and use that file"
        ))
        return
    devices = doc.get("devices")
    if not isinstance(devices, list) or not devices:
        what = "no devices" if isinstance(devices, list) else f"'devices' as {json_type(devices)}, not a list"
        yield failure(name, "empty" if isinstance(devices, list) else "unknown-format", (
            f"{label} is a scanner report with {what}; nothing to match: save the scan again with --inventory"
        ))
        return
    for number, entry in enumerate(devices, 1):
        yield _report_device(name, number, entry)


def _report_device(name: str, number: int, entry: Any) -> Inventory:
    """One device of a saved report, as it was when scanned: a partial or
    failed device stays so, and records that cannot be read make it partial."""
    where = f"{label_of(name)} device #{number}"
    if not isinstance(entry, dict):
        return failure(name, "bad-records", f"{where} is {json_type(entry)}, not an object; save the scan again")
    problems = Problems()
    if isinstance(entry, Repeats):
        problems.add(f"device #{number}: {keys_text(entry.repeated)} given more than once")
    info = entry.get("device")
    if not isinstance(info, dict):
        problems.add(f"device #{number}: 'device' is {json_type(info)}, not an object")
        info = {}
    elif isinstance(info, Repeats):
        problems.add(f"device #{number}: device {keys_text(info.repeated)} given more than once")
    platform = info.get("platform")
    if platform is not None and not (isinstance(platform, str) and platform in KNOWN_PLATFORMS):
        problems.add(f"device #{number}: platform {snippet(str(platform))} is not android or ios")
        platform = None
    fields = {}
    for key in ("serial", "model", "os_version", "name"):
        try:
            fields[key] = text_of(info, key)
        except BadRecord as err:
            problems.add(f"device #{number}: {err}")
            fields[key] = None
    # Say where the device was first read too ("saved.json: phone.txt"), so
    # that two serial-less devices of one report stay apart.
    try:
        origin = text_of(info, "source")
    except BadRecord:
        origin = None
    device = DeviceInfo(platform=platform, source=f"{name}: {origin}" if origin else name, **fields)

    apps: list[App] = []
    inventory = entry.get("inventory")
    if not isinstance(inventory, list):
        problems.add(f"device #{number}: 'inventory' is {json_type(inventory)}, not a list of apps")
        inventory = []
    for i, item in enumerate(inventory, 1):
        try:
            apps.append(_report_app(item, platform))
        except BadRecord as err:
            problems.add(f"device #{number} app #{i}: {err}")
    app_count = entry.get("app_count")
    if type(app_count) is int and app_count > len(inventory):
        missing = app_count - len(inventory)
        problems.add(f"device #{number}: app_count is {app_count} but the inventory lists {len(inventory)}", missing)

    saved = Problems()
    saved_problems = entry.get("problems")
    for text in saved_problems if isinstance(saved_problems, list) else ():
        saved.add(text if isinstance(text, str) and decodable(text) else ascii(text))
    saved_count = entry.get("problem_count")
    saved.count = max(saved_count if type(saved_count) is int else 0, len(saved.kept))
    coverage = []
    scopes = entry.get("coverage")
    for scope in scopes if isinstance(scopes, list) else ():
        try:
            coverage.append(_report_scope(scope))
        except BadRecord as err:
            problems.add(f"device #{number} coverage: {err}")

    status = saved_status = entry.get("status")
    reason, message = text_or_none(entry.get("reason")), text_or_none(entry.get("message"))
    if status not in ("complete", "partial", "failed"):
        problems.add(f"device #{number}: status {snippet(str(status))} is not complete, partial or failed")
        status = "partial"
    unread = problems.count
    if unread:
        coverage.append(Scope("records", read=False, reason=f"{unread} saved records could not be read"))
        if status == "complete":
            status, reason = ("partial" if apps else "failed"), "bad-records"
            message = (
                f"{where}: {unread} saved records could not be read ({problems.kept[0]}); the apps in them "
                f"were not checked: save the scan again with --inventory"
            )
    elif status == "complete":
        # Only ever downgraded: a device saved as complete must say so in every field that the
        # scanner writes, or the report was edited or damaged and its app list cannot be trusted.
        odd = _inconsistent(entry, len(inventory), coverage)
        if odd:
            for why in odd:
                problems.add(f"device #{number}: saved as complete but {why}")
            coverage.append(Scope("records", read=False, reason="the saved report is inconsistent"))
            status, reason = "partial", "bad-records"
            message = (
                f"{where} was saved as complete, but the saved report is inconsistent ({odd[0]}): it was edited "
                f"or damaged, so its app list cannot be trusted to be whole; scan the device again"
            )
    if status != "complete" and not (reason and message):  # a report that was edited by hand
        reason = reason or ("bad-records" if problems.count else "unknown")
        message = message or (
            (f"{where} was {status} when scanned" if status == saved_status
             else f"{where} has the unknown status {snippet(str(saved_status))}")
            + (f" and {problems.count} saved records could not be read ({problems.kept[0]})" if problems.count else "")
            + "; scan the device again"
        )
    return Inventory(
        device=device, apps=tuple(apps), coverage=tuple(coverage), status=status, reason=reason, message=message,
        problems=tuple((problems.kept + saved.kept)[:MAX_PROBLEMS]), problem_count=problems.count + saved.count,
    )


def _inconsistent(entry: dict[str, Any], apps: int, coverage: list[Scope]) -> list[str]:
    """What contradicts the "complete" status of a saved device (`apps`
    records in its inventory): one phrase each."""
    odd: list[str] = []
    odd += [f"its coverage says {snippet(s.name)} was not read" for s in coverage if not s.read]
    odd += [f"its coverage counts {s.apps} apps in {snippet(s.name)} but the inventory lists {apps}"
            for s in coverage if s.read and s.apps is not None and s.apps > apps]
    scopes = entry.get("coverage", [])
    if not isinstance(scopes, list):
        odd.append(f"its coverage is {json_type(scopes)}, not a list")
    count = entry.get("problem_count", 0)
    if not (type(count) is int and count == 0):
        odd.append(f"its problem_count is {json_text(count)}")
    saved = entry.get("problems", [])
    if saved != []:
        odd.append(f"it lists problems ({json_text(saved)})")
    if "app_count" not in entry:
        odd.append("its app_count is missing")
    else:
        app_count = entry["app_count"]
        if not (type(app_count) is int and app_count >= 0):
            odd.append(f"its app_count is {json_text(app_count)}, not a whole number")
        elif app_count < apps:  # more than the inventory is counted as apps not in it
            odd.append(f"its app_count is {app_count} but the inventory lists {apps}")
    return odd


def _report_app(item: Any, platform: str | None) -> App:
    if not isinstance(item, dict):
        raise BadRecord(f"{json_type(item)}, not an app object")
    no_repeats(item)
    app_id = item.get("id")
    if not isinstance(app_id, str) or not app_id:
        raise BadRecord(f"id is {json_type(app_id)}, expected an app id")
    check_text("id", app_id)
    app_id, why = clean_id(app_id, "id")
    if why:
        raise BadRecord(why)
    app_platform = item.get("platform") or platform
    if not (isinstance(app_platform, str) and app_platform in KNOWN_PLATFORMS):
        raise BadRecord(f"{snippet(app_id)}: platform {snippet(str(app_platform))} is not android or ios")
    state = item.get("state")
    if state is None:
        state = "installed"
    elif not (isinstance(state, str) and state in KNOWN_STATES):
        raise BadRecord(f"{snippet(app_id)}: state {snippet(str(state))} is not one of {', '.join(APP_STATES)}")
    system = item.get("system")
    if system is not None and not isinstance(system, bool):
        raise BadRecord(f"{snippet(app_id)}: system is {json_type(system)}, expected true, false or null")
    return App(
        app_platform, app_id, text_of(item, "name"), text_of(item, "version"), text_of(item, "build"),
        text_of(item, "installer"), int_of(item, "user"), state, system, text_of(item, "path"),
        text_of(item, "team_id"), text_of(item, "signer"), int_of(item, "uid"),
    )


def _report_scope(item: Any) -> Scope:
    if not isinstance(item, dict):
        raise BadRecord(f"{json_type(item)}, not a scope object")
    no_repeats(item)
    scope, read = item.get("scope"), item.get("read")
    if not isinstance(scope, str) or not isinstance(read, bool):
        raise BadRecord("a scope needs a 'scope' name and 'read' true or false")
    return Scope(check_text("scope", scope), read, text_of(item, "reason"), int_of(item, "apps"))
