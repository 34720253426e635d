"""What a device saved as complete must agree with (inconsistent): its
coverage, app_count, problems, reason, message and verdict, and its
findings (saved_findings), each naming an app of its inventory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.connectors.files.readers.report.records import keep_evidence, report_app
from scanner.connectors.grammars.json_values import json_text, json_type, no_repeats
from scanner.connectors.records import MAX_PROBLEMS, BadRecord, Problems, snippet
from scanner.model import FAIL_ON, MDM_SCOPE, SEVERITIES, App, Scope, severity_at_least


@dataclass
class _Findings:
    """The findings saved with a device, as far as they say which app they are about."""

    named: list[tuple[int, App]] = field(default_factory=list)  # (finding number, its app)
    recovered: list[tuple[int, str]] = field(default_factory=list)  # (finding number, app id)
    severities: list[str] = field(default_factory=list)
    odd: list[str] = field(default_factory=list)  # findings that cannot be read


def saved_findings(entry: dict[str, Any], platform: str | None, problems: Problems) -> _Findings:
    found = _Findings()
    items = entry.get("findings", [])
    if not isinstance(items, list):
        found.odd.append(f"its findings are {json_type(items)}, not a list")
        keep_evidence(problems, items)
        return found
    for i, item in enumerate(items, 1):
        try:
            _saved_finding(found, i, item, platform)
        except BadRecord as err:
            found.odd.append(f"its finding #{i} cannot be read ({err})")
            keep_evidence(problems, item)
    return found


def _saved_finding(found: _Findings, number: int, item: Any, platform: str | None) -> None:
    if not isinstance(item, dict):
        raise BadRecord(f"{json_type(item)}, not an object")
    no_repeats(item)
    severity = item.get("severity")
    if not (isinstance(severity, str) and severity in SEVERITIES):
        raise BadRecord(f"severity {json_text(severity)} is not one of {', '.join(SEVERITIES)}")
    found.severities.append(severity)
    app = report_app(item.get("app"), platform)
    match = item.get("match")
    if match == "name" and app.evidence != "name":
        raise BadRecord(f"a name match of {snippet(app.id)}, whose evidence is {app.evidence}, not a display name")
    if "evidence" in item:  # 1.2: what the finding rests on, which its app says too
        evidence = "count" if app.devices is not None else "name" if match == "name" else "identifier"
        if item["evidence"] != evidence:
            raise BadRecord(f"evidence {json_text(item['evidence'])} contradicts its app and match ({evidence})")
    if match == "recovered" or item.get("matched_by") == "recovered":
        found.recovered.append((number, app.id))
    else:
        found.named.append((number, app))


def inconsistent(entry: dict[str, Any], records: int, coverage: list[Scope], findings: _Findings,
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
    # What an MDM cannot see is a statement about the source, not a part read with apps in it.
    read = [s for s in coverage if s.read and s.name != MDM_SCOPE]
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
