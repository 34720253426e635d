"""A scanner JSON report saved with --inventory: each device as it was when
scanned, never more complete than the report can show it was.

A saved report is not signed: whoever can write the file can change it, and
an edit that keeps every field in agreement with every other cannot be told
from the original (keep the sha256 of a report that is evidence). What this
reader does is refuse every edit that leaves a trace, in the direction that
matters: a result is only ever made less complete than it was saved, never
more, and evidence still in the file is never dropped.

- A device saved `partial` or `failed` stays so; one with no app left is
  `failed` (nothing of it can be matched), as an empty export is.
- A device saved `complete` stays complete only when every field that says
  something about completeness agrees, as the writer (formats/json_report.py)
  makes them: `reason` and `message` null; `verdict` `clean` without
  findings, else `findings` or `review` as its findings' severities and the
  report's `fail_on` say; every `coverage` scope read, each read scope
  counting its apps, the counts adding up to the inventory; `app_count`
  equal to the number of inventory records; no `problems` and a
  `problem_count` of 0 (a phone read live through adb may keep notes on a
  complete read, e.g. an old pm without -U: then the count must agree with
  the list); every finding readable, its app (platform, id, user) in the
  inventory, and none `recovered` from an unreadable line (`match` or
  `matched_by`). Otherwise the device is `partial` (`failed` with no app),
  reason `bad-records`, and the message says the report was edited or
  damaged. An app whose platform is not its device's makes the device
  partial on any status; it is matched as written and its id searched as the
  device's platform's too, since which of the two was edited is unknown.
- A device saved complete with no apps at all is `failed`, reason `empty`,
  as an empty live listing is: a phone always has apps.
- The top level must agree with the devices: the `summary` counts, `fail_on`,
  and what `exit_code` and `verdict` say about findings. Which device was
  edited cannot then be told, so every device saved as complete is partial.
  A top level that says the scan was not fully read while every device says
  complete, a `transports` entry that did not answer (or cannot be read),
  or a summary counting more devices than are listed, mean targets the file
  does not hold: a failed result is added for them, so re-reading a report
  is never cleaner than the scan it saved.
- Evidence is kept: an app named by a saved finding but missing from the
  inventory is read from the finding; the ids of `recovered` findings and
  the strings of records that cannot be read are searched again for whole
  catalog ids (Inventory.residue), and what is found is reported, recovered.

A key the writer always writes but that is missing reads as its empty value
(null, [] or 0), except `status` and `app_count`: only fields that are there
can disagree. The optional keys of newer 1.x writers (`transports`, a
device's `device.transport`, a finding's `matched_by`) are read when present
and never required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from scanner.connectors.files.common import KNOWN_PLATFORMS, KNOWN_STATES, failed_inventory, label_of
from scanner.connectors.grammars.json_values import (
    Repeats, check_text, int_of, json_text, json_type, keys_text, no_repeats, strings_in, text_of, text_or_none,
)
from scanner.connectors.interface import FileReader
from scanner.connectors.records import MAX_PROBLEMS, BadRecord, Problems, clean_id, decodable, residue_of, snippet
from scanner.model import (
    APP_STATES, FAIL_ON, SEVERITIES, STATUSES, App, DeviceInfo, Inventory, Scope, severity_at_least,
)

__all__ = ["READER", "is_report", "read_report"]


def is_report(doc: object) -> bool:
    """A scanner report names its schema or its devices."""
    return isinstance(doc, dict) and ("schema_version" in doc or "devices" in doc)


def _read(name: str, doc: dict[str, Any]) -> Iterator[Inventory]:
    if isinstance(doc, Repeats):  # "devices" twice hides a whole list of devices
        yield failed_inventory(name, "bad-json", (
            f"{label_of(name)} is a scanner report that gives {keys_text(doc.repeated)} more than once, so part of "
            f"it would be silently ignored: it was edited or damaged; save the scan again"
        ))
        return
    yield from read_report(name, doc)


READER = FileReader(
    name="report",
    description="a scanner JSON report saved with --inventory",
    help="a scanner JSON report written with --inventory",
    document=is_report,
    shape="a scanner report",
    read=_read,
)

# The source of a phone read live through adb: the one read that can be complete and still keep notes.
LIVE_ADB = "adb"

# What the top level's exit_code and verdict say: (not every target fully read, findings at or above fail_on).
_EXIT_MEANS = {0: (False, False), 1: (False, True), 4: (True, False), 5: (True, True)}
_VERDICT_MEANS = {"clean": (False, False), "findings": (False, True), "incomplete": (True, False),
                  "findings-incomplete": (True, True)}
_SUMMARY_WORDS = {
    "devices": "devices", "complete": "complete devices", "partial": "partial devices", "failed": "failed devices",
    "findings": "findings", "prohibited": "prohibited findings", "review": "review findings",
    "devices_with_findings": "devices with findings", "apps_read": "apps read",
}
# The reason a transport that did not answer gives, as the live connectors give it.
_UNASKED = {"android": "adb-unavailable", "ios": "usbmuxd-unavailable"}


def read_report(name: str, doc: dict[str, Any]) -> Iterator[Inventory]:
    label = label_of(name)
    version = doc.get("schema_version")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        yield failed_inventory(name, "unsupported-schema", (
            f"{label} is a scanner report with schema_version {snippet(str(version))}; this scanner reads 1.x "
            f"reports: scan the devices again with this version, or use the version that wrote it"
        ))
        return
    if doc.get("inventory_included") is not True:
        yield failed_inventory(name, "no-inventory", (
            f"{label} is a scanner report saved without its app list, so it cannot be matched again; rerun the "
            f"scan with --inventory (e.g. scanner scan ... --inventory --output json=FILE) and use that file"
        ))
        return
    devices = doc.get("devices")
    if not isinstance(devices, list) or not devices:
        what = "no devices" if isinstance(devices, list) else f"'devices' as {json_type(devices)}, not a list"
        yield failed_inventory(name, "empty" if isinstance(devices, list) else "unknown-format", (
            f"{label} is a scanner report with {what}; nothing to match: save the scan again with --inventory"
        ))
        return
    top = _TopLevel.of(doc, devices)
    complete = True
    for number, entry in enumerate(devices, 1):
        inv = _report_device(name, number, entry, doc.get("fail_on"), top.distrust)
        complete = complete and inv.status == "complete"
        yield inv
    yield from _unseen(name, doc, devices, top, complete)


# --- the top level -------------------------------------------------------------------------------


@dataclass
class _TopLevel:
    """What the report's top level says against its devices."""

    distrust: list[str] = field(default_factory=list)  # makes every device saved as complete partial
    missing: list[str] = field(default_factory=list)  # devices counted but not listed
    unfinished: list[str] = field(default_factory=list)  # "not fully read" while every device says complete

    @classmethod
    def of(cls, doc: dict[str, Any], devices: list[Any]) -> _TopLevel:
        top = cls()
        entries = [e if isinstance(e, dict) else {} for e in devices]
        found = [_list(e.get("findings")) for e in entries]
        severities = [f.get("severity") if isinstance(f, dict) else None for fs in found for f in fs]
        counts = {
            "devices": len(devices),
            **{s: sum(e.get("status") == s for e in entries) for s in STATUSES},
            "findings": len(severities),
            **{s: severities.count(s) for s in SEVERITIES},
            "devices_with_findings": sum(bool(fs) for fs in found),
            "apps_read": sum(e.get("app_count", 0) for e in entries if type(e.get("app_count", 0)) is int),
        }
        if "summary" in doc:
            top._summary(doc["summary"], counts)
        fail_on = doc.get("fail_on")
        known = isinstance(fail_on, str) and fail_on in FAIL_ON
        if "fail_on" in doc and not known:
            top.distrust.append(f"the report's fail_on is {json_text(fail_on)}, not one of {', '.join(FAIL_ON)}")
        failing = any(s in SEVERITIES and severity_at_least(s, fail_on) for s in severities) if known else None
        for key, means in (("exit_code", _EXIT_MEANS), ("verdict", _VERDICT_MEANS)):
            if key in doc:
                top._outcome(key, doc[key], means, counts["complete"] == len(devices), failing)
        return top

    def _summary(self, summary: Any, counts: dict[str, int]) -> None:
        if not isinstance(summary, dict) or isinstance(summary, Repeats):
            what = f"gives {keys_text(summary.repeated)} more than once" if isinstance(summary, Repeats) else (
                f"is {json_type(summary)}, not an object")
            self.distrust.append(f"the report's summary {what}")
            return
        for key, counted in counts.items():
            saved = summary.get(key, counted)
            if not (type(saved) is int and saved == counted):
                self.distrust.append(f"the report's summary counts {json_text(saved)} {_SUMMARY_WORDS[key]} "
                                     f"where its devices say {counted}")
        listed = summary.get("devices")
        if type(listed) is int and listed > counts["devices"]:
            self.missing.append(f"its summary counts {listed} devices but it lists {counts['devices']}")

    def _outcome(self, key: str, value: Any, means: dict[Any, tuple[bool, bool]], all_complete: bool,
                 failing: bool | None) -> None:
        meaning = means.get(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
        if meaning is None:
            self.distrust.append(f"the report's {key} is {json_text(value)}, not one of "
                                 f"{', '.join(json_text(v) for v in means)}")
            return
        unfinished, says_failing = meaning
        if unfinished and all_complete:
            self.unfinished.append(f"its {key} is {json_text(value)} (not every target fully read) although "
                                   f"every device in it says complete")
        if failing is not None and says_failing != failing:
            self.distrust.append(f"the report's {key} is {json_text(value)} while its devices list "
                                 f"{'no' if says_failing else 'a'} finding at or above its fail_on")


def _unseen(name: str, doc: dict[str, Any], devices: list[Any], top: _TopLevel,
            complete: bool) -> Iterator[Inventory]:
    """Failed results for targets of the saved scan that the file does not
    hold: a transport that did not answer, devices taken out of it. A top
    level that only says "not fully read" needs one only while every device
    it lists still reads complete (`complete`)."""
    label = label_of(name)
    asked = list(_unanswered(name, doc, devices))
    yield from asked
    why = top.missing + (top.unfinished if complete and not asked else [])
    if why:
        yield failed_inventory(name, "report-incomplete", (
            f"{label}: {why[0]}: the scan it saved did not read every target (a device transport that did not "
            f"answer, a device taken out of the report), or the report was edited or damaged; what it does not "
            f"list was not checked: scan again and save the scan again with --inventory"
        ), problems=tuple(why))


def _unanswered(name: str, doc: dict[str, Any], devices: list[Any]) -> Iterator[Inventory]:
    """A failed result per saved transport that did not answer (devices
    attached through it were never seen), unless the report already holds a
    failed result for it; or that cannot be read (it may not have)."""
    if "transports" not in doc:
        return
    saved = doc["transports"]
    label = label_of(name)
    for item in saved if isinstance(saved, list) else [saved]:
        if isinstance(item, dict) and not isinstance(item, Repeats) and item.get("answered") is True:
            continue
        if not (isinstance(item, dict) and not isinstance(item, Repeats) and item.get("answered") is False):
            yield failed_inventory(name, "bad-records", (
                f"{label}: its list of transports cannot be read ({json_text(item)}), so it cannot show that "
                f"every transport it asked for devices answered: it was edited or damaged; scan again and save "
                f"the scan again with --inventory"))
            continue
        kind, platform = text_or_none(item.get("transport")), item.get("platform")
        platform = platform if isinstance(platform, str) and platform in KNOWN_PLATFORMS else None
        if kind and _failed_there(devices, kind):
            continue
        address, said = text_or_none(item.get("address")), text_or_none(item.get("message"))
        what = (kind or "a device transport") + (f" at {address}" if address else "")
        reason = _UNASKED.get(platform or "", "transport-unavailable")
        message = (f"{label}: when this scan was saved, {what} did not answer" + (f" ({said})" if said else "")
                   + ", so the devices attached through it were never seen and are not in this report; "
                     "scan them again")
        yield Inventory(
            device=DeviceInfo(platform=platform, serial=None, source=f"{name}: {kind}" if kind else name),
            apps=(), coverage=(Scope("devices", read=False, reason=f"{what} did not answer"),), status="failed",
            reason=reason, message=message,
        )


def _failed_there(devices: list[Any], kind: str) -> bool:
    """A failed, serial-less result from transport `kind` (how a connector reports its server down)."""
    for entry in devices:
        info = entry.get("device") if isinstance(entry, dict) else None
        if isinstance(info, dict) and info.get("source") == kind and info.get("serial") is None \
                and entry.get("status") == "failed":
            return True
    return False


# --- one device ----------------------------------------------------------------------------------


def _report_device(name: str, number: int, entry: Any, fail_on: Any, distrust: list[str]) -> Inventory:
    """One device of a saved report, as it was when scanned: a partial or
    failed device stays so, and records that cannot be read, or fields that
    disagree with its "complete", make it partial."""
    where = f"{label_of(name)} device #{number}"
    if not isinstance(entry, dict):
        evidence = Problems()
        _keep_evidence(evidence, entry)
        return failed_inventory(name, "bad-records",
                                f"{where} is {json_type(entry)}, not an object; save the scan again", evidence=evidence)
    problems = Problems()
    if isinstance(entry, Repeats):
        problems.add(f"device #{number}: {keys_text(entry.repeated)} given more than once")
        _keep_evidence(problems, [v for k, v in entry.pairs if k in entry.repeated])
    device, origin = _device_info(name, number, entry, problems)
    apps, records = _inventory(number, entry, device.platform, problems)
    app_count = entry.get("app_count")
    if type(app_count) is int and app_count > records:
        missing = app_count - records
        problems.add(f"device #{number}: app_count is {app_count} but the inventory lists {records}", missing)

    saved = _saved_problems(entry)
    coverage = _coverage(number, entry, problems)
    findings = _saved_findings(entry, device.platform, problems)
    listed = {(a.platform, a.id, a.user) for a in apps}
    unlisted = [(i, app) for i, app in findings.named if (app.platform, app.id, app.user) not in listed]
    for _, app_id in findings.recovered:
        problems.search(app_id)  # found again, as recovered, by the matcher

    status = saved_status = entry.get("status")
    reason, message = text_or_none(entry.get("reason")), text_or_none(entry.get("message"))
    if not (isinstance(status, str) and status in STATUSES):
        problems.add(f"device #{number}: status {snippet(str(status))} is not complete, partial or failed")
        status = "partial"
    unread = problems.count
    odd: list[str] = []
    if status == "complete" and not unread:
        odd = _inconsistent(entry, records, coverage, findings, unlisted, fail_on, _live(origin)) + distrust
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


def _device_info(name: str, number: int, entry: dict[str, Any], problems: Problems) -> tuple[DeviceInfo, str]:
    """Who the device is, and where it was first read ("adb", "phone.txt")."""
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
    transport = info.get("transport")  # written by newer 1.x scanners: what tells two clones apart
    if transport is not None and not (isinstance(transport, str) and decodable(transport)):
        problems.add(f"device #{number}: transport is {json_type(transport)}, expected text")
        transport = None
    # Say where the device was first read too ("saved.json: phone.txt"), so
    # that two serial-less devices of one report stay apart.
    try:
        origin = text_of(info, "source") or ""
    except BadRecord:
        origin = ""
    device = DeviceInfo(platform=platform, source=f"{name}: {origin}" if origin else name,
                        transport=transport or None, **fields)
    return device, origin


def _inventory(number: int, entry: dict[str, Any], platform: str | None, problems: Problems) -> tuple[list[App], int]:
    """The apps that can be read, and how many records the inventory holds."""
    apps: list[App] = []
    inventory = entry.get("inventory")
    if not isinstance(inventory, list):
        problems.add(f"device #{number}: 'inventory' is {json_type(inventory)}, not a list of apps")
        _keep_evidence(problems, inventory)
        inventory = []
    for i, item in enumerate(inventory, 1):
        try:
            app = _report_app(item, platform)
        except BadRecord as err:
            problems.add(f"device #{number} app #{i}: {err}")
            _keep_evidence(problems, item)
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
            coverage.append(_report_scope(scope))
        except BadRecord as err:
            problems.add(f"device #{number} coverage: {err}")
    return coverage


def _live(origin: str) -> bool:
    """Read live through adb, possibly re-read from saved reports since ("saved.json: adb")."""
    return origin == LIVE_ADB or origin.endswith(f": {LIVE_ADB}")


def _keep_evidence(problems: Problems, value: Any) -> None:
    """The id-like words of a record that cannot be trusted, for the matcher to search."""
    for text in strings_in(value):
        problems.search(text)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --- what a device saved as complete must agree with ---------------------------------------------


@dataclass
class _Findings:
    """The findings saved with a device, as far as they say which app they are about."""

    named: list[tuple[int, App]] = field(default_factory=list)  # (finding number, its app)
    recovered: list[tuple[int, str]] = field(default_factory=list)  # (finding number, app id)
    severities: list[str] = field(default_factory=list)
    odd: list[str] = field(default_factory=list)  # findings that cannot be read


def _saved_findings(entry: dict[str, Any], platform: str | None, problems: Problems) -> _Findings:
    found = _Findings()
    items = entry.get("findings", [])
    if not isinstance(items, list):
        found.odd.append(f"its findings are {json_type(items)}, not a list")
        _keep_evidence(problems, items)
        return found
    for i, item in enumerate(items, 1):
        try:
            _saved_finding(found, i, item, platform)
        except BadRecord as err:
            found.odd.append(f"its finding #{i} cannot be read ({err})")
            _keep_evidence(problems, item)
    return found


def _saved_finding(found: _Findings, number: int, item: Any, platform: str | None) -> None:
    if not isinstance(item, dict):
        raise BadRecord(f"{json_type(item)}, not an object")
    no_repeats(item)
    severity = item.get("severity")
    if not (isinstance(severity, str) and severity in SEVERITIES):
        raise BadRecord(f"severity {json_text(severity)} is not one of {', '.join(SEVERITIES)}")
    found.severities.append(severity)
    app = _report_app(item.get("app"), platform)
    if item.get("match") == "recovered" or item.get("matched_by") == "recovered":
        found.recovered.append((number, app.id))
    else:
        found.named.append((number, app))


def _inconsistent(entry: dict[str, Any], records: int, coverage: list[Scope], findings: _Findings,
                  unlisted: list[tuple[int, App]], fail_on: Any, live: bool) -> list[str]:
    """What contradicts the "complete" status of a saved device (`records`
    records in its inventory): one phrase each."""
    odd: list[str] = []
    odd += [f"its coverage says {snippet(s.name)} was not read" for s in coverage if not s.read]
    odd += [f"its coverage counts {s.apps} apps in {snippet(s.name)} but the inventory lists {records}"
            for s in coverage if s.read and s.apps is not None and s.apps > records]
    scopes = entry.get("coverage", [])
    if not isinstance(scopes, list):
        odd.append(f"its coverage is {json_type(scopes)}, not a list")
    odd += _problems_odd(entry, live)
    if "app_count" not in entry:
        odd.append("its app_count is missing")
    else:
        app_count = entry["app_count"]
        if not (type(app_count) is int and app_count >= 0):
            odd.append(f"its app_count is {json_text(app_count)}, not a whole number")
        elif app_count < records:  # more than the inventory is counted as apps not in it
            odd.append(f"its app_count is {app_count} but the inventory lists {records}")
    odd += [f"its {key} is {json_text(entry[key])}" for key in ("reason", "message") if entry.get(key) is not None]
    if "verdict" in entry:
        verdicts = _complete_verdicts(findings.severities, fail_on)
        if not (isinstance(entry["verdict"], str) and entry["verdict"] in verdicts):
            odd.append(f"its verdict is {json_text(entry['verdict'])}, not {' or '.join(verdicts)}")
    if isinstance(scopes, list):
        odd += _coverage_counts(coverage, records)
    odd += findings.odd
    odd += [f"its finding #{i} names {snippet(app.id)}{'' if app.user is None else f' of user {app.user}'}, "
            f"which is not in its inventory" for i, app in unlisted]
    odd += [f"its finding #{i} ({snippet(app_id)}) was recovered from text that could not be read"
            for i, app_id in findings.recovered]
    return odd


def _problems_odd(entry: dict[str, Any], live: bool) -> list[str]:
    """A complete read has no problems, except the notes a live adb read may
    keep (an old pm without -U); then the count agrees with the list."""
    count, saved = entry.get("problem_count", 0), entry.get("problems", [])
    if live and type(count) is int and isinstance(saved, list) and all(isinstance(t, str) for t in saved):
        if count < len(saved):
            return [f"it lists problems ({json_text(saved)})"]
        if count > len(saved) and len(saved) < MAX_PROBLEMS:  # fewer kept than counted only past the cap
            return [f"its problem_count is {count}"]
        return []
    odd = []
    if not (type(count) is int and count == 0):
        odd.append(f"its problem_count is {json_text(count)}")
    if saved != []:
        odd.append(f"it lists problems ({json_text(saved)})")
    return odd


def _coverage_counts(coverage: list[Scope], records: int) -> list[str]:
    """Every part of a complete device read, each counting its apps, the counts adding up to the inventory."""
    read = [s for s in coverage if s.read]
    if not read:
        return ["its coverage names no part of the device as read"]
    uncounted = [f"its coverage does not count the apps read in {snippet(s.name)}" for s in read if s.apps is None]
    # Every user a phone lists has its system apps, and an iPhone's list is never empty: scanner never saves a
    # part read with no app in it as read (an empty listing is not read).
    if records:  # (a device with no app at all is refused as empty, with its own reason)
        uncounted += [f"its coverage says {snippet(s.name)} was read with no app in it" for s in read if s.apps == 0]
    if uncounted or any(s.apps is not None and s.apps > records for s in read):
        return uncounted  # a single scope counting too many is said above
    total = sum(s.apps or 0 for s in read)
    return [] if total == records else [f"its coverage counts {total} apps in all but the inventory lists {records}"]


def _complete_verdicts(severities: list[str], fail_on: Any) -> tuple[str, ...]:
    """The verdicts a complete device with these findings can have (model.device_verdict)."""
    if not severities:
        return ("clean",)
    if not (isinstance(fail_on, str) and fail_on in FAIL_ON):
        return ("findings", "review")  # said at the top level
    return ("findings",) if any(severity_at_least(s, fail_on) for s in severities) else ("review",)


# --- records -------------------------------------------------------------------------------------


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
