"""One device of a saved report (report_device): who it is, the apps,
coverage and problems that can be read, and the status it keeps, never
more complete than the report can show it was."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from scanner.connectors.files.common import KNOWN_PLATFORMS, failed_inventory, label_of
from scanner.connectors.files.readers.report.checks import inconsistent, saved_findings
from scanner.connectors.files.readers.report.records import (
    keep_evidence,
    report_app,
    report_identity,
    report_scope,
    report_when,
)
from scanner.connectors.grammars.json_values import Repeats, json_type, keys_text, text_of, text_or_none
from scanner.connectors.records import MAX_PROBLEMS, BadRecord, Problems, decodable, residue_of, snippet
from scanner.model import ACCEPTED_MDM_SCOPE, MDM_SCOPE, STATUSES, App, DeviceInfo, Inventory, Scope

_RUN_AGAIN = re.compile(r"\brun (?:it )?again\b", re.IGNORECASE)  # a live scan's words (issue 15)

# The source of a phone read live through adb: the one read that can be complete and still keep notes.
LIVE_ADB = "adb"
# How the audit marks a scope the admin accepted (audit.accepted, --accept-scope mdm).
ACCEPTED = ACCEPTED_MDM_SCOPE
# The platform of a device not checked: a word such as windows, macos, linux, chromeos.
_OTHER_PLATFORM = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def report_device(name: str, number: int, entry: Any, fail_on: Any, distrust: list[str],
                  finished: datetime | None = None) -> Inventory:
    """One device of a saved report, as it was when scanned: a partial or
    failed device stays so, and records that cannot be read, or fields that
    disagree with its "complete", make it partial."""
    where = f"{label_of(name)} device #{number}"
    if not isinstance(entry, dict):
        evidence = Problems()
        keep_evidence(evidence, entry)
        return failed_inventory(name, "bad-records",
                                f"{where} is {json_type(entry)}, not an object; save the scan again", evidence=evidence)
    problems = Problems()
    if isinstance(entry, Repeats):
        problems.add(f"device #{number}: {keys_text(entry.repeated)} given more than once")
        keep_evidence(problems, [v for k, v in entry.pairs if k in entry.repeated])
    device, origin = device_info(name, number, entry, problems, finished)
    apps, records = _inventory(number, entry, device.platform, problems)
    app_count = entry.get("app_count")
    if type(app_count) is int and app_count > records:
        missing = app_count - records
        problems.add(f"device #{number}: app_count is {app_count} but the inventory lists {records}", missing)

    saved = _saved_problems(entry)
    coverage = _coverage(number, entry, problems)
    # --accept-scope mdm is an option of a run, not a fact of the device: what the saved scan accepted is
    # unread again, for this run's --accept-scope to accept or not (audit.accepted).
    unaccepted = [_unaccepted(s) for s in coverage]
    reaccept = unaccepted != coverage
    findings = saved_findings(entry, device.platform, problems)
    listed = {(a.platform, a.id, a.user) for a in apps}
    unlisted = [(i, app) for i, app in findings.named if (app.platform, app.id, app.user) not in listed]
    for _, app_id in findings.recovered:
        problems.search(app_id)  # found again, as recovered, by the matcher

    status = saved_status = entry.get("status")
    reason, message = text_or_none(entry.get("reason")), text_or_none(entry.get("message"))
    if message:  # what the saved scan told its user; matching the report again cannot "run again": scan it
        message = _RUN_AGAIN.sub("scan it again", message)
    if not (isinstance(status, str) and status in STATUSES):
        problems.add(f"device #{number}: status {snippet(str(status))} is not complete, partial or failed")
        status = "partial"
    unread = problems.count
    odd: list[str] = []
    if status == "complete" and not unread:
        odd = inconsistent(entry, records, coverage, findings, unlisted, fail_on, _live(origin)) + distrust
    # Evidence is never dropped: an app a finding names is checked as the finding gives it.
    apps += dict.fromkeys(app for _, app in unlisted)
    if unread:
        coverage.append(Scope("records", read=False, reason=f"{unread} saved records could not be read"))
        if status == "complete":
            status, reason = ("partial" if apps else "failed"), "bad-records"
            message = (
                f"{where}: {unread} saved records could not be read or trusted ({problems.kept[0]}), so the "
                f"report was edited or damaged and the apps in them may not have been checked: save the scan "
                f"again with --inventory"
            )
    elif odd:
        # Only ever downgraded: a device saved as complete must say so in every field that the scanner
        # writes, or the report was edited or damaged and its app list cannot be trusted to be whole.
        for why in odd:
            problems.add(f"device #{number}: saved as complete but {why}")
        coverage.append(Scope("records", read=False, reason="the saved report is inconsistent"))
        status, reason = ("partial" if apps else "failed"), "bad-records"
        message = (
            f"{where} was saved as complete, but the saved report is inconsistent ({odd[0]}): it was edited or "
            f"damaged, so its app list cannot be trusted to be whole; save the scan again with --inventory "
            f"after you scan the device again"
        )
    elif status == "complete" and not apps:
        # A phone always has apps: the same refusal as an empty live listing or an empty export.
        coverage.append(Scope("records", read=False, reason="no apps listed"))
        status, reason = "failed", "empty"
        message = (f"{where} was saved as complete but lists no apps at all, and a phone always has some: the "
                   f"report was edited or damaged, or the scan read nothing; scan the device again")
    if reaccept:
        coverage = unaccepted + coverage[len(unaccepted):]
        if status == "complete":
            blind = next(s.reason for s in coverage if s.name == MDM_SCOPE and not s.read)
            status, reason = "partial", "mdm-scope"
            message = (f"{where} was complete only because the saved scan accepted the MDM's view (--accept-scope "
                       f"mdm: {blind}); give --accept-scope mdm to accept it again, or scan the device itself")
    if status == "partial" and reason != "mdm-scope" and any(s.name == MDM_SCOPE and not s.read for s in coverage) \
            and all(s.read for s in coverage if s.name != MDM_SCOPE):
        # Saved as not complete for a reason of its own: accepting the MDM's view must not make it complete.
        coverage.append(Scope("records", read=False, reason=f"saved as {status} ({reason or 'no reason given'})"))
    if status != "complete":
        for i, app in unlisted if not odd else ():
            problems.add(f"device #{number}: finding #{i} names {snippet(app.id)}, which is not in its inventory; "
                         f"it is checked as the finding gives it")
    if status == "partial" and not apps:
        status = "failed"  # nothing of it can be matched: an export with no app read is failed too
    if status != "complete" and not (reason and message):  # a report that was edited by hand
        reason = reason or ("bad-records" if problems.count else "unknown")
        message = message or (
            (f"{where} was {saved_status} when scanned" if saved_status in STATUSES
             else f"{where} has the unknown status {snippet(str(saved_status))}")
            + (f" and {problems.count} saved records could not be read ({problems.kept[0]})" if problems.count else "")
            + "; scan the device again"
        )
    residue = residue_of(problems)
    return Inventory(
        device=device, apps=tuple(apps), coverage=tuple(coverage), status=status, reason=reason, message=message,
        problems=tuple((problems.kept + saved.kept)[:MAX_PROBLEMS]), problem_count=problems.count + saved.count,
        residue=residue,
    )


def _unaccepted(scope: Scope) -> Scope:
    if scope.name == MDM_SCOPE and scope.read and (scope.reason or "").startswith(ACCEPTED):
        return Scope(MDM_SCOPE, read=False, reason=scope.reason[len(ACCEPTED):] or None, apps=scope.apps)
    return scope


def device_info(name: str, number: int, entry: dict[str, Any], problems: Problems,
                finished: datetime | None = None, *, what: str = "device", known: bool = True) -> tuple[DeviceInfo, str]:
    """Who the device is, and where it was first read ("adb", "phone.txt"). `known`: its platform must be
    android or ios (a device not checked gives any other)."""
    info = entry.get("device")
    if not isinstance(info, dict):
        problems.add(f"{what} #{number}: 'device' is {json_type(info)}, not an object")
        info = {}
    elif isinstance(info, Repeats):
        problems.add(f"{what} #{number}: device {keys_text(info.repeated)} given more than once")
    platform = info.get("platform")
    if known and platform is not None and not (isinstance(platform, str) and platform in KNOWN_PLATFORMS):
        problems.add(f"{what} #{number}: platform {snippet(str(platform))} is not android or ios")
        platform = None
    elif not known and not (isinstance(platform, str) and _OTHER_PLATFORM.fullmatch(platform)
                            and platform not in KNOWN_PLATFORMS):
        problems.add(f"{what} #{number}: platform {snippet(str(platform))} is not a computer's (windows, macos, ...)")
        platform = None
    fields = {}
    for key in ("serial", "model", "os_version", "name"):
        try:
            fields[key] = text_of(info, key)
        except BadRecord as err:
            problems.add(f"{what} #{number}: {err}")
            fields[key] = None
    transport = info.get("transport")  # written by newer 1.x scanners: what tells two clones apart
    if transport is not None and not (isinstance(transport, str) and decodable(transport)):
        problems.add(f"{what} #{number}: transport is {json_type(transport)}, expected text")
        transport = None
    identity: tuple[tuple[str, str], ...] = ()
    inventoried = None
    try:  # 1.2: what else names the device, and when its source inventoried it
        identity = report_identity(info.get("identity"))
    except BadRecord as err:
        problems.add(f"{what} #{number}: {err}")
        keep_evidence(problems, info.get("identity"))
    try:
        inventoried = report_when(info.get("inventoried"), finished)
    except BadRecord as err:
        problems.add(f"{what} #{number}: {err}")
    # Say where the device was first read too ("saved.json: phone.txt"), so
    # that two serial-less devices of one report stay apart.
    try:
        origin = text_of(info, "source") or ""
    except BadRecord:
        origin = ""
    device = DeviceInfo(platform=platform, source=f"{name}: {origin}" if origin else name,
                        transport=transport or None, identity=identity, inventoried=inventoried, **fields)
    return device, origin


def _inventory(number: int, entry: dict[str, Any], platform: str | None, problems: Problems) -> tuple[list[App], int]:
    """The apps that can be read, and how many records the inventory holds."""
    apps: list[App] = []
    inventory = entry.get("inventory")
    if not isinstance(inventory, list):
        problems.add(f"device #{number}: 'inventory' is {json_type(inventory)}, not a list of apps")
        keep_evidence(problems, inventory)
        inventory = []
    for i, item in enumerate(inventory, 1):
        try:
            app = report_app(item, platform)
        except BadRecord as err:
            problems.add(f"device #{number} app #{i}: {err}")
            keep_evidence(problems, item)
            continue
        if platform is not None and app.platform != platform:
            # Matched as the wrong platform's app, a prohibited one is missed; which of the two was edited
            # cannot be told, so the app is matched as written and its id searched as the device's too.
            problems.add(f"device #{number} app #{i}: {snippet(app.id)} is an {app.platform} app on an {platform} "
                         f"device", evidence=app.id)
        apps.append(app)
    return apps, len(inventory)


def _saved_problems(entry: dict[str, Any]) -> Problems:
    """The problems the device was saved with, kept with the ones found now."""
    saved = Problems()
    kept = entry.get("problems")
    for text in kept if isinstance(kept, list) else ():
        saved.add(text if isinstance(text, str) and decodable(text) else ascii(text))
    count = entry.get("problem_count")
    saved.count = max(count if type(count) is int else 0, len(saved.kept))
    return saved


def _coverage(number: int, entry: dict[str, Any], problems: Problems) -> list[Scope]:
    coverage = []
    scopes = entry.get("coverage")
    for scope in scopes if isinstance(scopes, list) else ():
        try:
            coverage.append(report_scope(scope))
        except BadRecord as err:
            problems.add(f"device #{number} coverage: {err}")
    return coverage


def _live(origin: str) -> bool:
    """Read live through adb, possibly re-read from saved reports since ("saved.json: adb")."""
    return origin == LIVE_ADB or origin.endswith(f": {LIVE_ADB}")
