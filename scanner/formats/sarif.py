"""SARIF 2.1.0, for security dashboards that already ingest code-scanning results.

A finding is not about source code, so results carry logical locations
(device / user / app id) rather than files. A device that could not be fully
read is a tool execution notification and makes the invocation unsuccessful:
a dashboard must not show an unread device as clean. A device an input lists
that scanner does not check (a computer in an MDM export) is a notification
too, at level "note": listed, and not part of the verdict. A result says what
it rests on (properties.evidence: identifier, name, count).
"""

from __future__ import annotations

import json
import re
from typing import Any, TextIO

from scanner.formats.interface import Format, FormatOptions
from scanner.formats.json_report import clone_serials, finding_id, timestamp
from scanner.model import SEVERITIES, DeviceResult, Finding, NotChecked, PolicyRef, Report, RuleRef

__all__ = ["FORMAT", "INFORMATION_URI", "SARIF_SCHEMA", "report_to_sarif", "write_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/scanner-project/scanner"
FINGERPRINT = "scannerFinding/v1"

_LEVEL = {"prohibited": "error", "review": "warning"}


def _rule_name(listed: str, rule: str) -> str:
    """A SARIF rule name is an identifier-like word: "WeChat Pay" -> "WeChatPay"."""
    words = re.findall(r"[A-Za-z0-9]+", listed)
    return "".join(w[0].upper() + w[1:] for w in words) or rule


def _rule(findings: list[Finding]) -> dict[str, Any]:
    """One rule per policy entry (`<policy>/<entry key>`).

    An entry's findings can differ: a team-id lead under a prohibited entry is
    a `related` `review` finding. The rule shows the entry's own relation (from
    a non-team-id finding when there is one) and its most severe level; every
    result carries its own level and relation.
    """
    first = findings[0]
    named = next((f for f in findings if f.match != "team-id"), first)
    severity = min((f.severity for f in findings), key=SEVERITIES.index)
    return {
        "id": first.rule,
        "name": _rule_name(first.listed, first.rule),
        "shortDescription": {"text": f"{first.listed} ({first.policy})"},
        "defaultConfiguration": {"level": _LEVEL[severity]},
        "properties": {
            "policy": first.policy,
            "policy_status": first.policy_status,
            "listed": first.listed,
            "relation": named.relation,
            "severity": severity,
        },
    }


def _entry_rule(ref: PolicyRef, rule: RuleRef) -> dict[str, Any]:
    """A rule for a policy entry, whether or not anything matched it."""
    described = {
        "app": rule.listed,
        "feature-of": f"{rule.listed}, a feature of {rule.catalog_name}",
        "related": f"{rule.catalog_name}, related to {rule.listed}",
        "maker": f"{rule.listed}: the apps of {rule.catalog_name} and the companies it owns"
                 + (" or is tied to" if rule.affiliates else ""),
    }[rule.relation]
    out: dict[str, Any] = {
        "id": rule.id,
        "name": _rule_name(rule.listed, rule.id),
        "shortDescription": {"text": f"{described} ({ref.id}, {ref.status})"},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {
            "policy": ref.id,
            "policy_status": ref.status,
            "listed": rule.listed,
            "relation": rule.relation,
            "severity": rule.severity,
        },
    }
    if rule.note:
        out["fullDescription"] = {"text": rule.note}
    return out


def _qualified_name(result: DeviceResult, finding: Finding) -> str:
    user = finding.app.user
    middle = f"/user {user}" if user is not None else ""
    return f"{result.device.label}{middle}/{finding.app.id}"


def _result(result: DeviceResult, finding: Finding, rule_index: int, clones: frozenset) -> dict[str, Any]:
    device, app = result.device, finding.app
    where = (f"on {app.devices} device{'' if app.devices == 1 else 's'} of {device.label} (an aggregate: no device "
             f"list)" if finding.evidence == "count" else f"on {device.label}")
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {
            "text": f"{app.id} {where}: {finding.explanation} ({finding.policy}, {finding.policy_status})"
        },
        "locations": [
            {
                "logicalLocations": [
                    {
                        "name": app.id,
                        "fullyQualifiedName": _qualified_name(result, finding),
                        "kind": "module",
                    }
                ]
            }
        ],
        "partialFingerprints": {FINGERPRINT: finding_id(result, finding, clones)},
        "properties": {
            "policy": finding.policy,
            "policy_status": finding.policy_status,
            "severity": finding.severity,
            "relation": finding.relation,
            "match": finding.match,
            "identifier": finding.identifier,
            "confidence": finding.confidence,
            "platform": app.platform,
            "user": app.user,
            "state": app.state,
            "device_serial": device.serial,
            "device_transport": device.transport,
            "device_source": device.source,
            "device_status": result.status,
            "evidence": finding.evidence,
            "devices": app.devices,
            "device_inventoried": None if device.inventoried is None else timestamp(device.inventoried),
        },
    }


def _notification(result: DeviceResult) -> dict[str, Any]:
    device = result.device
    text = f"{device.label}: {result.status}"
    if result.reason:
        text += f" ({result.reason})"
    if result.message:
        text += f": {result.message}"
    unread = [s for s in result.coverage if not s.read]
    if unread:
        text += "; not read: " + ", ".join(
            s.name + (f" ({s.reason})" if s.reason else "") for s in unread
        )
    return {
        "level": "error" if result.status == "failed" else "warning",
        "message": {"text": text},
        "properties": {
            "device_source": device.source,
            "device_serial": device.serial,
            "status": result.status,
            "reason": result.reason,
        },
    }


def _not_checked(entry: NotChecked) -> dict[str, Any]:
    """A device an input lists that scanner does not check: a note, which does not fail the run."""
    device = entry.device
    return {
        "level": "note",
        "message": {"text": f"{device.label}: not checked: {entry.why}"},
        "properties": {
            "device_source": device.source,
            "device_serial": device.serial,
            "device_platform": device.platform,
            "device_name": device.name,
            "rows": entry.rows,
            "status": "not-checked",
        },
    }


def report_to_sarif(report: Report) -> dict[str, Any]:
    # One rule per entry of every policy used; then, for a report built
    # without its entries, one per rule that has findings.
    rules = [_entry_rule(ref, rule) for ref in report.policies for rule in ref.rules]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    by_rule: dict[str, list[Finding]] = {}
    for device_result in report.results:
        for finding in device_result.findings:
            if finding.rule not in index:
                by_rule.setdefault(finding.rule, []).append(finding)
    for rule_id, findings in by_rule.items():
        index[rule_id] = len(rules)
        rules.append(_rule(findings))
    clones = clone_serials(report)
    results = [
        _result(device_result, finding, index[finding.rule], clones)
        for device_result in report.results
        for finding in device_result.findings
    ]

    notifications = [_notification(r) for r in report.results if r.status != "complete"]
    if not report.results:
        notifications.append(
            {"level": "error", "message": {"text": "no device or input was scanned"}}
        )
    for t in report.transports:
        if not t.answered:  # devices attached there were not seen: the run did not succeed
            notifications.append({
                "level": "error",
                "message": {"text": f"{t.platform} devices were not scanned: {t.transport} at {t.address} did not "
                                    f"answer: {t.message}"},
                "properties": {"platform": t.platform, "transport": t.transport, "address": t.address},
            })
    notifications += [_not_checked(n) for n in report.not_checked]
    invocation: dict[str, Any] = {
        "executionSuccessful": report.complete,
        "exitCode": report.exit_code,
        "startTimeUtc": timestamp(report.started),
        "endTimeUtc": timestamp(report.finished),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications

    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": report.tool,
                        "version": report.version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "invocations": [invocation],
                "results": results,
                "properties": {
                    "verdict": report.verdict,
                    "fail_on": report.fail_on,
                    "accepted_scopes": list(report.accepted_scopes),
                    "max_age": report.max_age,
                    "policies": [
                        {"id": p.id, "status": p.status, "sha256": p.sha256} for p in report.policies
                    ],
                },
            }
        ],
    }


def write_sarif(report: Report, out: TextIO) -> None:
    """Write one SARIF 2.1.0 log with one run."""
    json.dump(report_to_sarif(report), out, ensure_ascii=True, indent=2)
    out.write("\n")


def _write(report: Report, out: TextIO, options: FormatOptions) -> None:
    write_sarif(report, out)


FORMAT = Format("sarif", "SARIF 2.1.0, for security dashboards", _write)
