"""The table an IT admin reads: per device what was read, what was found, and a verdict.

Every string that came from a device, a file or a signature file goes through
`safe()`: an app id is attacker-controlled text and must not be able to move
the cursor, recolour the screen or reorder what the admin reads. Colour, when
asked for, is applied only to words this module writes itself.

At a terminal (a width given) every line fits it: headings and notes are
wrapped at words, table cells too, and the policy column gives way first
when the device's findings are all under one policy (said above the table
then); a pipe or a file gets one line per row, for grep. Findings are shown
one row per installed app, with every entry it meets: one app to remove is
one row, however many entries name it. The JSON and CSV keep one record per
finding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
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
from scanner.terminal.colour import Painter
from scanner.terminal.layout import Column, table, wrap
from scanner.terminal.text import safe

__all__ = ["FORMAT", "write_table"]

_PLATFORM = {"android": "Android", "ios": "iOS"}
_COMPUTER = {"windows": "a Windows computer", "macos": "a Mac", "linux": "a Linux computer",
             "chromeos": "a Chromebook"}

_EXIT_MEANING = {
    0: "every target fully read, nothing at or above --fail-on",
    1: "findings at or above --fail-on, every target fully read",
    4: "some target could not be fully read, no findings at or above --fail-on",
    5: "findings at or above --fail-on, and some target could not be fully read",
}


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _header(index: int, total: int, result: DeviceResult, paint: Painter, width: int | None,
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
    lines = wrap(line, "", "      ", width)
    message = result.message if result.status != "complete" else None
    if message:
        # The message says what to do: its own line, and room to say it; wrapped, never cut.
        lines += wrap(safe(message, limit=400), "  ", "  ", width)
    said = (message or "").casefold()
    for scope in result.coverage:
        # Said once: a scope the message already names, or whose reason is the device's (in the heading).
        if not scope.read and scope.name.casefold() not in said and not (
                scope.reason and scope.reason == result.reason):
            text = f"not read: {safe(scope.name)}"
            if scope.reason:
                text += f": {safe(scope.reason)}"
            lines += wrap(text, "  ", "    ", width)
    problems = [p for p in result.problems if not _said(p, said)]
    count = max(result.problem_count, len(result.problems)) - (len(result.problems) - len(problems))
    if count:
        shown = problems[:5]
        more = f", {len(shown)} shown" if count > len(shown) else ""
        lines.append(f"  problems: {count}{more}")
        for p in shown:
            lines += wrap(safe(p), "    ", "      ", width)
    return lines


def _said(problem: str, message: str) -> bool:
    """Whether the message already says what `problem` says: the problem itself, or its detail (what follows
    its last ": ", quotes aside: "user 10 (Work profile): refused: 'Shell does not have permission ...'")."""
    if not message:
        return False
    detail = problem.rpartition(": ")[2].strip().strip("'\"").casefold()
    return problem.casefold() in message or (len(detail) >= 12 and detail in message)


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


def _by_app(findings: Sequence[Finding]) -> list[list[Finding]]:
    """The findings of one device, one group per installed app (its id and user), most severe first: an app
    that two entries name (QQ Wallet's host and Tencent QQ) is one app to remove."""
    groups: dict[tuple, list[Finding]] = {}
    for f in sorted(findings, key=lambda f: _rank(f.severity)):
        groups.setdefault((f.app.id, f.app.user), []).append(f)
    return list(groups.values())


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _apps_found(groups: Sequence[Sequence[Finding]]) -> str:
    """ "2 apps to remove, 1 to review (4 findings: 3 prohibited, 1 review)", of the apps' findings (_by_app)."""
    findings = [f for g in groups for f in g]
    remove = sum(g[0].severity == "prohibited" for g in groups)
    review = len(groups) - remove
    parts = [f"{_plural(remove, 'app')} to remove"] if remove else []
    parts += [f"{_plural(review, 'app') if not remove else review} to review"] if review else []
    counts = ", ".join(f"{n} {s}" for s in SEVERITIES if (n := sum(f.severity == s for f in findings)))
    return f"{', '.join(parts)} ({_plural(len(findings), 'finding')}: {counts})"


def _findings_table(findings: list[Finding], paint: Painter, width: int | None) -> list[str]:
    groups = _by_app(findings)
    rows = [(i == 0, f) for group in groups for i, f in enumerate(group)]
    starts, at = [], 0
    for group in groups:
        starts.append(at)
        at += len(group)
    policies = {(f.policy, f.policy_status) for f in findings}
    columns = [Column("app id", [safe(f.app.id) if first else "" for first, f in rows], shrink=3, floor=16)]
    if any(f.app.user is not None for f in findings):
        columns.append(Column("user", ["" if not first or f.app.user is None else str(f.app.user)
                                       for first, f in rows], shrink=None))
    if any(f.app.state != "installed" for f in findings):
        columns.append(Column("state", ["" if not first or f.app.state == "installed" else safe(f.app.state)
                                        for first, f in rows], shrink=2, floor=9))
    columns += [
        Column("listed", [safe(f.listed) for _, f in rows], shrink=1, floor=10),
        Column("relation", [_relation(f) for _, f in rows], shrink=0, floor=16),
        Column("severity", [paint.word(f.severity) for _, f in rows], shrink=None),
    ]
    policy = Column("policy", [f"{safe(f.policy)} ({safe(f.policy_status)})" for _, f in rows], shrink=1,
                    floor=11, drop=0 if len(policies) == 1 else None)
    columns.append(policy)
    lines = table(columns, width, indent="  ", groups=starts)
    if not policy.shown:  # one policy for all of them: said once, above the table
        lines[0:0] = wrap(f"policy of every row: {policy.cells[0]}", "  ", "    ", width)
    return lines


def _inventory_table(result: DeviceResult, width: int | None) -> list[str]:
    apps = result.apps or ()
    columns = [
        Column("app id", [safe(a.id) for a in apps], shrink=3, floor=16),
        Column("name", [safe(a.name) for a in apps], shrink=0, floor=10),
        Column("version", [safe(a.version) for a in apps], shrink=1, floor=8, drop=1),
        Column("user", ["" if a.user is None else str(a.user) for a in apps], shrink=None),
        Column("state", [safe(a.state) for a in apps], shrink=2, floor=9),
        Column("system", ["" if a.system is None else ("yes" if a.system else "no") for a in apps], shrink=None,
               drop=0),
    ]
    return table(columns, width, indent="    ")


def _verdict(result: DeviceResult, fail_on: str, paint: Painter, width: int | None) -> list[str]:
    verdict = device_verdict(result, fail_on)
    apps = _plural(result.app_count, "app")
    found = _apps_found(_by_app(result.findings)) if result.findings else ""
    detail = {
        "failed": "nothing could be read; this device is not clean",
        "findings": f"{found} in {apps} read",
        "findings-incomplete": f"{found} in {apps} read, and not everything could be read",
        "incomplete": f"nothing listed in the {apps} read, but not everything could be read",
        "review": f"{found} in {apps} read, none at or above --fail-on {fail_on}",
        "clean": f"nothing listed in {apps} read",
    }.get(verdict, "")
    return wrap(f"verdict: {paint.word(verdict)} — {detail}", "  ", "    ", width)


def _summary(report: Report, paint: Painter, width: int | None) -> list[str]:
    s = report.summary
    lines = [paint.bold("Summary")]

    def count(n: int, word: str) -> str:
        return paint.word(f"{n} {word}", word) if n else f"0 {word}"

    def add(label: str, text: str) -> None:
        lines.extend(wrap(text, f"  {label + ':':<10}", " " * 12, width))

    add("devices", f"{s.devices} ({count(s.complete, 'complete')}, {count(s.partial, 'partial')}, "
                   f"{count(s.failed, 'failed')}); {_plural(s.apps_read, 'app')} read")
    found = [g for r in report.results for g in _by_app(r.findings)]  # an app per device: one to remove on each
    add("findings", f"{_apps_found(found)} on {_plural(s.devices_with_findings, 'device')}" if found
        else "none")
    for p in report.policies:
        # Its status and what it means, in brief: the full note is in `scanner signatures show ID`.
        text = f"{safe(p.id)} ({safe(p.status)}): {safe(p.title, limit=240)}"
        if p.status_note:
            text += f" — {safe(_first_sentence(p.status_note), limit=240)}"
        add("policy", text)
    if report.policies:
        add("details", "scanner signatures show POLICY")
    code = report.exit_code
    add("verdict", f"{paint.bold(paint.word(report.verdict))} (exit {code}, --fail-on {safe(report.fail_on)}): "
                   f"{_EXIT_MEANING.get(code, '')}")
    if not report.results:
        lines += wrap("nothing was scanned: no device or input produced a result", "  ", "    ", width)
    if report.not_checked:
        lines += wrap(_not_checked(report.not_checked), "  ", "    ", width)
    if "mdm" in report.accepted_scopes:
        accepted = sum(any(s.name == MDM_SCOPE and s.read and (s.reason or "").startswith(_ACCEPTED)
                           for s in r.coverage) for r in report.results)
        add("accepted", f"the MDM's view of {_plural(accepted, 'device')} (--accept-scope mdm): apps the MDM "
                        f"cannot see were not counted against them")
    if report.max_age is not None:
        add("max age", f"inventories older than {_plural(report.max_age, 'day')}, or with no date, were "
                       f"made partial (--max-age {report.max_age})")
    for t in report.transports:
        if not t.answered:
            where = f" at {safe(t.address)}" if t.address else ""
            lines += wrap(f"{paint.word('not scanned', 'failed')}: {_PLATFORM.get(t.platform, safe(t.platform))} "
                          f"devices ({safe(t.transport)}{where} did not answer): {safe(t.message or '', limit=400)}",
                          "  ", "    ", width)
    return lines


def _first_sentence(text: str) -> str:
    """ "Revoked by EO 14034 (86 FR 31423, 2021-06-09)." of a note that goes on: the rest is in `signatures show`."""
    end = next((i + 1 for i in range(len(text) - 2) if text[i] == "." and text[i + 1] == " " and text[i + 2].isupper()),
               None)
    return text[:end] + " …" if end else text


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


def write_table(report: Report, out: TextIO, *, color: bool = False, width: int | None = None) -> None:
    """Write the human-readable report: a block per device, then the summary; `width`: the terminal's columns
    (every line fits them), None for a pipe or a file (a row per line)."""
    paint = Painter(color)
    total = len(report.results)
    serials = Counter((r.device.platform, r.device.serial) for r in report.results if r.device.serial)
    shared = frozenset(s for s, n in serials.items() if n > 1)
    for index, result in enumerate(report.results, 1):
        lines = _header(index, total, result, paint, width, shared)
        if result.findings:
            lines.append("")
            lines += _findings_table(list(result.findings), paint, width)
            lines.append("")
        lines += _verdict(result, report.fail_on, paint, width)
        if report.inventory_included:
            apps = result.apps or ()
            if apps:
                lines.append(f"  apps read ({len(apps)}):")
                lines += _inventory_table(result, width)
            else:
                lines.append("  apps read: none")
        out.write("\n".join(lines) + "\n\n")
    out.write("\n".join(_summary(report, paint, width)) + "\n")


def _write(report: Report, out: TextIO, options: FormatOptions) -> None:
    write_table(report, out, color=options.color, width=getattr(options, "width", None))


FORMAT = Format("table", "a block per device, then the summary: for people at a terminal", _write)
