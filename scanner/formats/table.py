"""The table an IT admin reads: per device what was read, what was found, and a verdict.

Every string that came from a device, a file or a signature file goes through
`safe()`: an app id is attacker-controlled text and must not be able to move
the cursor, recolour the screen or reorder what the admin reads. Colour, when
asked for, is applied only to words this module writes itself.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC
from typing import TextIO

from scanner.formats.interface import Format, FormatOptions
from scanner.model import (
    ACCEPTED_MDM_SCOPE,
    MDM_SCOPE,
    SEVERITIES,
    DeviceInfo,
    DeviceResult,
    Finding,
    NotChecked,
    Report,
    device_verdict,
)
from scanner.terminal.text import safe

__all__ = ["FORMAT", "write_table"]

_PLATFORM = {"android": "Android", "ios": "iOS"}
_COMPUTER = {"windows": "a Windows computer", "macos": "a Mac", "linux": "a Linux computer",
             "chromeos": "a Chromebook"}

_RED, _YELLOW, _GREEN, _BOLD, _RESET = "\x1b[31m", "\x1b[33m", "\x1b[32m", "\x1b[1m", "\x1b[0m"
_COLOUR = {
    "prohibited": _RED,
    "failed": _RED,
    "findings": _RED,
    "findings-incomplete": _RED,
    "review": _YELLOW,
    "partial": _YELLOW,
    "incomplete": _YELLOW,
    "complete": _GREEN,
    "clean": _GREEN,
}

_EXIT_MEANING = {
    0: "every target fully read, nothing at or above --fail-on",
    1: "findings at or above --fail-on, every target fully read",
    4: "some target could not be fully read, no findings at or above --fail-on",
    5: "findings at or above --fail-on, and some target could not be fully read",
}


class _Painter:
    """Colours our own words (never untrusted text) when colour is on."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def word(self, word: str, key: str | None = None) -> str:
        code = _COLOUR.get(key or word)
        return f"{code}{word}{_RESET}" if self.color and code else word

    def bold(self, text: str) -> str:
        return f"{_BOLD}{text}{_RESET}" if self.color else text


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _by_severity(findings: tuple[Finding, ...] | list[Finding]) -> str:
    return ", ".join(f"{sum(f.severity == s for f in findings)} {s}" for s in SEVERITIES)


def _header(index: int, total: int, result: DeviceResult, paint: _Painter,
            shared: frozenset = frozenset()) -> list[str]:
    d = result.device
    parts = [_PLATFORM.get(d.platform or "", safe(d.platform) or "unknown platform")]
    if d.transport and (d.transport != d.serial or (d.platform, d.serial) in shared):
        parts.append(f"via {safe(d.transport)}")  # what tells it from a clone with the same serial
    if d.model:
        parts.append(safe(d.model))
    if d.os_version:
        os_version = safe(d.os_version)
        prefix = _PLATFORM.get(d.platform or "")
        parts.append(os_version if not prefix or os_version.lower().startswith(prefix.lower()) else f"{prefix} {os_version}")
    if d.name and d.name != d.label:
        parts.append(f"“{safe(d.name)}”")
    if d.source and d.source != d.label:
        parts.append(f"from {safe(d.source)}")
    parts += _identity(d)
    status = paint.word(result.status)
    line = f"[{index}/{total}] {paint.bold(safe(d.label) or 'unknown')}  {' · '.join(parts)}  — {status}"
    if result.status != "complete" and result.reason:
        line += f" ({safe(result.reason)})"
    lines = [line]
    if result.status != "complete" and result.message:
        # The message says what to do: its own line, and room to say it.
        lines.append(f"  {safe(result.message, limit=400)}")
    for scope in result.coverage:
        if not scope.read:
            text = f"  not read: {safe(scope.name)}"
            if scope.reason:
                text += f": {safe(scope.reason)}"
            lines.append(text)
    count = max(result.problem_count, len(result.problems))
    if count:
        shown = result.problems[:5]
        more = f", {len(shown)} shown" if count > len(shown) else ""
        lines.append(f"  problems: {count}{more}")
        lines.extend(f"    {safe(p)}" for p in shown)
    return lines


def _identity(d: DeviceInfo) -> list[str]:
    """What else names the device in its source, and when the source inventoried it."""
    parts = [f"{safe(kind)} {safe(value)}" for kind, value in d.identity if value != d.label]
    if d.inventoried is not None:
        parts.append(f"inventoried {d.inventoried.astimezone(UTC).date().isoformat()}")
    return parts


def _evidence(f: Finding) -> str:
    """What a finding rests on when it is less than an app id: a display name, or an aggregate count."""
    if f.evidence == "count":
        return f"on {_plural(f.app.devices or 0, 'device')} (aggregate: no device list)"
    if f.evidence == "name":
        return "by display name only"
    return ""


def _relation(f: Finding) -> str:
    if f.relation == "app" and f.match == "exact":
        text = "app: the listed app"
    elif f.relation == "app" and f.match == "name":
        text = "app: the listed app, by display name only: the source gives no app id"
    elif f.relation == "app" and f.match == "recovered":
        text = f"app: the listed app, recovered: {safe(f.identifier)} is in text that could not be read as a list"
    else:
        text = f"{f.relation}: {safe(f.explanation)}"
    if f.confidence != "confirmed":
        text += f" [identifier {safe(f.confidence)}, not confirmed]"
    evidence = _evidence(f)
    if evidence and not (f.evidence == "name" and "display name" in text):
        text += f" [{evidence}]"
    return text


def _findings_table(findings: list[Finding], paint: _Painter, tabulate) -> str:
    show_user = any(f.app.user is not None for f in findings)
    show_state = any(f.app.state != "installed" for f in findings)
    headers = ["listed", "app id"]
    headers += ["user"] if show_user else []
    headers += ["state"] if show_state else []
    headers += ["relation", "severity", "policy"]
    rows = []
    for f in findings:
        row = [safe(f.listed), safe(f.app.id)]
        if show_user:
            row.append("" if f.app.user is None else str(f.app.user))
        if show_state:
            row.append("" if f.app.state == "installed" else safe(f.app.state))
        row += [_relation(f), paint.word(f.severity), f"{safe(f.policy)} ({safe(f.policy_status)})"]
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def _inventory_table(result: DeviceResult, tabulate) -> str:
    apps = result.apps or ()
    rows = [
        [
            safe(a.id),
            safe(a.name),
            safe(a.version),
            "" if a.user is None else str(a.user),
            safe(a.state),
            "" if a.system is None else ("yes" if a.system else "no"),
        ]
        for a in apps
    ]
    return tabulate(rows, headers=["app id", "name", "version", "user", "state", "system"],
                    tablefmt="simple", disable_numparse=True)


def _verdict(result: DeviceResult, fail_on: str, paint: _Painter) -> str:
    verdict = device_verdict(result, fail_on)
    apps = _plural(result.app_count, "app")
    found = f"{_plural(len(result.findings), 'finding')} ({_by_severity(result.findings)})"
    detail = {
        "failed": "nothing could be read; this device is not clean",
        "findings": f"{found} in {apps} read",
        "findings-incomplete": f"{found} in {apps} read, and not everything could be read",
        "incomplete": f"nothing listed in the {apps} read, but not everything could be read",
        "review": f"{found} in {apps} read, none at or above --fail-on {fail_on}",
        "clean": f"nothing listed in {apps} read",
    }.get(verdict, "")
    return f"  verdict: {paint.word(verdict)} — {detail}"


def _indent(block: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in block.splitlines())


def _summary(report: Report, paint: _Painter) -> list[str]:
    s = report.summary
    lines = [paint.bold("Summary")]
    def count(n: int, word: str) -> str:
        return paint.word(f"{n} {word}", word) if n else f"0 {word}"

    lines.append(
        f"  devices:  {s.devices} ({count(s.complete, 'complete')}, {count(s.partial, 'partial')}, "
        f"{count(s.failed, 'failed')}); {_plural(s.apps_read, 'app')} read"
    )
    lines.append(
        f"  findings: {s.findings} ({count(s.prohibited, 'prohibited')}, {count(s.review, 'review')}) "
        f"on {_plural(s.devices_with_findings, 'device')}"
    )
    for p in report.policies:
        text = f"  policy:   {safe(p.id)} ({safe(p.status)}): {safe(p.title, limit=240)}"
        if p.status_note:
            text += f" — {safe(p.status_note, limit=240)}"
        lines.append(text)
    code = report.exit_code
    lines.append(
        f"  verdict:  {paint.bold(paint.word(report.verdict))} (exit {code}, --fail-on {safe(report.fail_on)}): "
        f"{_EXIT_MEANING.get(code, '')}"
    )
    if not report.results:
        lines.append("  nothing was scanned: no device or input produced a result")
    if report.not_checked:
        lines.append(f"  {_not_checked(report.not_checked)}")
    if "mdm" in report.accepted_scopes:
        accepted = sum(any(s.name == MDM_SCOPE and s.read and (s.reason or "").startswith(_ACCEPTED)
                           for s in r.coverage) for r in report.results)
        lines.append(f"  accepted: the MDM's view of {_plural(accepted, 'device')} (--accept-scope mdm): apps the MDM "
                     f"cannot see were not counted against them")
    if report.max_age is not None:
        lines.append(f"  max age:  inventories older than {_plural(report.max_age, 'day')}, or with no date, were "
                     f"made partial (--max-age {report.max_age})")
    for t in report.transports:
        if not t.answered:
            where = f" at {safe(t.address)}" if t.address else ""
            lines.append(f"  {paint.word('not scanned', 'failed')}: {_PLATFORM.get(t.platform, safe(t.platform))} "
                         f"devices ({safe(t.transport)}{where} did not answer): {safe(t.message or '', limit=400)}")
    return lines


_ACCEPTED = ACCEPTED_MDM_SCOPE
_SHOWN_NOT_CHECKED = 5


def _not_checked(entries: tuple[NotChecked, ...]) -> str:
    """"2 devices not checked: a Windows computer LT-0042 (812 app rows), ...", capped."""
    def one(n: NotChecked) -> str:
        d = n.device
        what = _COMPUTER.get(d.platform or "", f"a {safe(d.platform) or 'device'} device")
        name = d.name or d.serial or d.source or "unknown"
        return f"{what} {safe(name)} ({_plural(n.rows, 'app row')})"
    shown = [one(n) for n in entries[:_SHOWN_NOT_CHECKED]]
    more = len(entries) - len(shown)
    text = ", ".join(shown) + (f", and {more} more" if more else "")
    return (f"{_plural(len(entries), 'device')} not checked: {text}; scanner checks phones and tablets, so check "
            f"these computers with a tool made for them")


def write_table(report: Report, out: TextIO, *, color: bool = False) -> None:
    """Write the human-readable report: a block per device, then the summary."""
    from tabulate import tabulate

    paint = _Painter(color)
    total = len(report.results)
    serials = Counter((r.device.platform, r.device.serial) for r in report.results if r.device.serial)
    shared = frozenset(s for s, n in serials.items() if n > 1)
    for index, result in enumerate(report.results, 1):
        lines = _header(index, total, result, paint, shared)
        findings = sorted(result.findings, key=lambda f: SEVERITIES.index(f.severity))
        if findings:
            lines.append("")
            lines.append(_indent(_findings_table(findings, paint, tabulate)))
            lines.append("")
        lines.append(_verdict(result, report.fail_on, paint))
        if report.inventory_included:
            apps = result.apps or ()
            if apps:
                lines.append(f"  apps read ({len(apps)}):")
                lines.append(_indent(_inventory_table(result, tabulate), "    "))
            else:
                lines.append("  apps read: none")
        out.write("\n".join(lines) + "\n\n")
    out.write("\n".join(_summary(report, paint)) + "\n")


def _write(report: Report, out: TextIO, options: FormatOptions) -> None:
    write_table(report, out, color=options.color)


FORMAT = Format("table", "a block per device, then the summary: for people at a terminal", _write)
