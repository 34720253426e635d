"""The HTML report: one self-contained page a person reads, prints or attaches to a ticket.

One file, nothing fetched: the style is inline, the charts are inline SVG, no
script, font or image. A Content-Security-Policy meta forbids every fetch
(`default-src 'none'`) and allows the one <style> by its hash, so even a
browser that met markup this module failed to escape would load nothing and
run nothing. It prints on A4 and Letter alike (@page margins in mm, no fixed
page width, table headers repeated, cards kept whole where they fit).

Everything that came from a device, a file or a signature file is untrusted.
It reaches the page only through `_t()`: characters a reader cannot see or that
reorder text (controls, bidi overrides, zero-width characters, lone
surrogates) become the same visible escapes as in the table (`\\x1b`,
`\\u202e`), then `html.escape(quote=True)`; nothing untrusted ever becomes an
element, an attribute name, an id, a class or a URL. Classes and ids are this
module's own words and counters. The page is ASCII: every other character is
a numeric character reference, so it reads right whatever encoding it is
written in or opened with.

The header says who ran the scan, where and when, with which tool and
signature data (the data's hash is `signature_digest`), and under which
policies; then a summary to read in ten seconds (devices by verdict, findings
by app and by policy); then a card per device; then what was not checked.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
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
    signature_digest,
)
from scanner.terminal.text import safe

__all__ = ["CSP", "FORMAT", "STYLE", "shown", "signature_digest", "write_html"]

STYLE = """
:root{--fg:#1a1a1a;--muted:#5f6368;--line:#d0d4d9;--bg:#fff;--soft:#f4f6f8;
--red:#b3261e;--amber:#9a6700;--green:#1e7d32;--grey:#6b7280;--blue:#1f5fa8}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--fg)}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
margin:0 auto;padding:16px 20px 40px;max-width:1180px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:16px;margin:0}
h4{font-size:13px;margin:12px 0 4px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
p{margin:4px 0}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"Liberation Mono",monospace;font-size:12px}
.hash{font-size:11px;color:var(--muted);overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}
th,td{text-align:left;vertical-align:top;padding:3px 8px 3px 0;border-bottom:1px solid var(--line)}
th{font-size:12px;color:var(--muted);font-weight:600}
td,dd,p,li{overflow-wrap:anywhere;word-break:break-word}
td.n,th.n{text-align:right;white-space:nowrap}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}
dl.meta dt{color:var(--muted)}
dl.meta dd{margin:0}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;color:#fff;
white-space:nowrap;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.big{font-size:16px;padding:3px 12px}
.v-clean,.s-complete{background:var(--green)}
.v-findings,.v-findings-incomplete,.v-failed,.sev-prohibited,.s-failed{background:var(--red)}
.v-review,.v-incomplete,.sev-review,.s-partial{background:var(--amber)}
.v-unknown,.p-other{background:var(--grey)}
.p-in-force{background:var(--red)}
.p-revoked,.p-superseded,.p-expired{background:var(--grey)}
.p-proposed,.p-internal{background:var(--blue)}
.verdict-line{font-size:15px;margin:8px 0}
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:10px 24px}
.panel{border:1px solid var(--line);border-radius:6px;padding:8px 12px;break-inside:avoid}
.panel h3{font-size:14px;margin-bottom:6px}
.figures{display:flex;flex-wrap:wrap;gap:6px 22px;margin:6px 0}
.figure b{display:block;font-size:20px}
.figure span{color:var(--muted);font-size:12px}
.chart{table-layout:fixed}
.chart td,.chart th{border:0;padding:1px 6px 1px 0;overflow-wrap:break-word;word-break:normal}
.chart .c-name{width:42%}
.chart .c-bar{width:30%}
.chart .c-n{width:14%}
.chart .badge{white-space:normal}
svg.bar{display:block;width:100%;height:12px}
svg.bar rect.track{fill:var(--soft)}
svg.bar rect.v-clean,svg.bar rect.s-complete{fill:var(--green)}
svg.bar rect.v-findings,svg.bar rect.v-findings-incomplete,svg.bar rect.v-failed,
svg.bar rect.sev-prohibited{fill:var(--red)}
svg.bar rect.v-review,svg.bar rect.v-incomplete,svg.bar rect.sev-review{fill:var(--amber)}
svg.bar rect.v-unknown{fill:var(--grey)}
svg.stack{display:block;width:100%;height:18px;margin:4px 0 6px}
.legend{display:flex;flex-wrap:wrap;gap:2px 14px;font-size:12px;margin:0;padding:0;list-style:none}
.device{border:1px solid var(--line);border-left:6px solid var(--grey);border-radius:6px;padding:10px 14px;
margin:12px 0}
.device.v-clean{border-left-color:var(--green)}
.device.v-findings,.device.v-findings-incomplete,.device.v-failed{border-left-color:var(--red)}
.device.v-review,.device.v-incomplete{border-left-color:var(--amber)}
.device.v-clean,.device.v-findings,.device.v-findings-incomplete,.device.v-failed,.device.v-review,
.device.v-incomplete{background:none}
.device header{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:baseline}
.todo{background:#fff8e1;border:1px solid #f0d58a;border-radius:4px;padding:6px 10px;margin:8px 0;
-webkit-print-color-adjust:exact;print-color-adjust:exact}
.todo b{display:block}
.muted{color:var(--muted)}
.note{font-size:12px;color:var(--muted)}
ul.plain{margin:4px 0;padding-left:18px}
ul.entries{padding-left:14px}
a{color:var(--blue)}
footer{margin-top:28px;font-size:12px;color:var(--muted);border-top:1px solid var(--line);padding-top:6px}
@page{margin:12mm 11mm 14mm}
@media print{
body{font-size:9.5pt;max-width:none;padding:0}
h2{font-size:13pt;break-after:avoid;margin-top:14pt}
h3{font-size:11pt}
.device,.panel,tr,dl.meta{break-inside:avoid}
.device{margin:8pt 0}
thead{display:table-header-group}
a{color:inherit;text-decoration:none}
.summary{grid-template-columns:1fr}
.noprint{display:none}
}
"""

_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("ascii")).digest()).decode("ascii")
# Nothing may be fetched, framed, submitted or run; the one inline <style> is allowed by its hash.
CSP = (f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'none'; font-src 'none'; "
       "script-src 'none'; connect-src 'none'; object-src 'none'; frame-src 'none'; base-uri 'none'; "
       "form-action 'none'")

_PLATFORM = {"android": "Android", "ios": "iOS"}
_VERDICT_WORDS = {
    "clean": "clean",
    "findings": "findings",
    "findings-incomplete": "findings, not fully read",
    "review": "review",
    "incomplete": "not fully read",
    "failed": "failed",
}
_VERDICT_ORDER = ("findings", "findings-incomplete", "failed", "incomplete", "review", "clean")
_VERDICT_MEANING = {
    "clean": "every listed app checked: nothing at or above --fail-on",
    "findings": "prohibited apps found (at or above --fail-on)",
    "findings-incomplete": "prohibited apps found, and not everything could be read",
    "review": "findings below --fail-on: for a person to review",
    "incomplete": "nothing found in what was read, but not everything could be read: not clean",
    "failed": "nothing could be read: not clean",
}
_REPORT_VERDICT = {
    "clean": ("clean", "every target fully read, nothing at or above --fail-on"),
    "findings": ("findings", "findings at or above --fail-on, every target fully read"),
    "incomplete": ("not fully read", "some target could not be fully read: no findings at or above --fail-on, "
                                     "but not clean"),
    "findings-incomplete": ("findings, not fully read", "findings at or above --fail-on, and some target could "
                                                        "not be fully read"),
}
_POLICY_CLASS = {s: f"p-{s}" for s in ("in-force", "revoked", "superseded", "proposed", "expired", "internal")}
_EVIDENCE_WORDS = {
    "identifier": "identifier",
    "name": "display name only",
    "count": "aggregate count",
}


# Noncharacters: a parser may drop them (html.unescape does), so they are shown as escapes too.
_NONCHARACTER = re.compile("[\ufdd0-\ufdef" + "".join(f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0, 0x110000, 0x10000))
                           + "]")


def _visible(ch: re.Match[str]) -> str:
    code = ord(ch.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def shown(value: object) -> str:
    """The text a reader sees for an untrusted value: safe()'s visible escapes, and noncharacters escaped."""
    if value is None:
        return ""
    text = safe(value, limit=None)
    return text if text.isascii() else _NONCHARACTER.sub(_visible, text)


def _t(value: object) -> str:
    """Untrusted text as inert HTML text (see the module's doc); None is ""."""
    if value is None:
        return ""
    return html.escape(shown(value), quote=True)


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _badge(word: str, css: str, big: bool = False) -> str:
    return f'<span class="badge {css}{" big" if big else ""}">{html.escape(word)}</span>'


def _verdict_badge(verdict: str, big: bool = False) -> str:
    css = f"v-{verdict}" if verdict in _VERDICT_WORDS else "v-unknown"
    return _badge(_VERDICT_WORDS.get(verdict, safe(verdict)).upper(), css, big)


def _severity_badge(severity: str) -> str:
    css = f"sev-{severity}" if severity in SEVERITIES else "v-unknown"
    return _badge(safe(severity), css)


def _policy_badge(status: str) -> str:
    return _badge(safe(status), _POLICY_CLASS.get(status, "p-other"))


def _bar(value: int, most: int, css: str) -> str:
    """A bar `value / most` of the cell's width, inline SVG (no style attribute: the CSP allows none)."""
    width = 0.0 if most <= 0 else max(1.5, 100.0 * value / most) if value else 0.0
    return (f'<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">'
            f'<rect class="track" width="100" height="10"/>'
            f'<rect class="{css}" width="{width:.2f}" height="10"/></svg>')


def _stack(parts: list[tuple[int, str]]) -> str:
    """One bar split into parts (count, css class), inline SVG."""
    total = sum(n for n, _ in parts)
    rects, x = [], 0.0
    for n, css in parts:
        if not n or not total:
            continue
        w = 100.0 * n / total
        rects.append(f'<rect class="{css}" x="{x:.3f}" width="{w:.3f}" height="10"/>')
        x += w
    return (f'<svg class="bar stack" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">'
            f'<rect class="track" width="100" height="10"/>{"".join(rects)}</svg>')


def _apps_to_remove(findings: Iterable[Finding]) -> int:
    """Installed apps a finding names: one app meeting several entries (QQ Wallet's host and Tencent QQ) is one."""
    return len({(f.app.platform, f.app.id, f.app.user) for f in findings})


# --- the header -------------------------------------------------------------------------------------------


def _header(report: Report) -> list[str]:
    word, meaning = _REPORT_VERDICT.get(report.verdict, (report.verdict, ""))
    css = f"v-{report.verdict}" if report.verdict in _VERDICT_WORDS else "v-unknown"
    out = ['<header id="top">',
           f"<h1>{_t(report.tool)} report</h1>",
           f'<p class="verdict-line">{_badge(word.upper(), css, big=True)} '
           f"exit code {report.exit_code}: {html.escape(meaning)} (--fail-on {_t(report.fail_on)})</p>",
           '<dl class="meta">']

    def row(term: str, value: str) -> None:
        out.append(f"<dt>{term}</dt><dd>{value}</dd>")

    who = _t(report.user) if report.user else '<span class="muted">unknown user</span>'
    where = _t(report.host) if report.host else '<span class="muted">unknown host</span>'
    row("Run by", f"{who} on {where}")
    seconds = max(0.0, (report.finished - report.started).total_seconds())
    row("When", f"{_when(report.started)} to {_when(report.finished)} ({seconds:.1f} s)")
    row("Tool", f"{_t(report.tool)} {_t(report.version)}")
    files = report.signature_files
    kinds = Counter(f.kind for f in files)
    own = [f for f in files if not f.path.startswith("signatures/")]
    described = ", ".join(_plural(kinds[k], w) for k, w in (("app", "catalog file"), ("maker", "maker file"),
                                                               ("policy", "policy file")) if kinds[k])
    data = (f"{_plural(len(files), 'file')} ({described}); bundled with {_t(report.tool)} {_t(report.version)}"
            if files else "none")
    if own:
        data += f", {len(own)} of them your own"
    row("Signature data", f'{data}<br><span class="hash">sha256 {signature_digest(files)}</span>')
    if own:
        row("Your signature files", "<br>".join(
            f'{_t(f.path)} ({_t(f.kind)}) <span class="hash">sha256 {_t(f.sha256)}</span>' for f in own))
    if report.inputs:
        row("Inputs", "<br>".join(f"<code>{_t(i)}</code>" for i in report.inputs))
    if report.transports:
        asked = []
        for tr in report.transports:
            where_t = f" at {_t(tr.address)}" if tr.address else ""
            state = "answered" if tr.answered else "<b>did not answer</b>"
            asked.append(f"{_PLATFORM.get(tr.platform, _t(tr.platform))}: {_t(tr.transport)}{where_t}, {state}")
        row("Transports", "<br>".join(asked))
    if report.accepted_scopes:
        row("Accepted scopes", ", ".join(f"<code>--accept-scope {_t(s)}</code>" for s in report.accepted_scopes)
            + (": apps an MDM cannot see were not counted against its devices" if "mdm" in report.accepted_scopes
               else ""))
    if report.max_age is not None:
        row("Max age", f"<code>--max-age {report.max_age}</code>: inventories older than "
                       f"{_plural(report.max_age, 'day')}, or with no date, were counted as not fully read")
    if report.inventory_included:
        row("Inventory", "every app read is listed under its device (--inventory)")
    out.append("</dl>")
    out += _policies(report)
    out.append("</header>")
    return out


def _policies(report: Report) -> list[str]:
    if not report.policies:
        return ['<p class="muted">No policy was checked.</p>']
    out = ["<h2>Policies checked</h2>", "<table><thead><tr><th>policy</th><th>status</th><th>citation</th>"
           "<th class=\"n\">entries</th></tr></thead><tbody>"]
    for p in report.policies:
        cite = [_t(p.citation) if p.citation else ""]
        if p.signed:
            cite.append(f"signed {_t(p.signed)}")
        cell = "; ".join(c for c in cite if c)
        note = f'<div class="note">{_t(p.status_note)}</div>' if p.status_note else ""
        out.append(
            f"<tr><td><b>{_t(p.id)}</b><div>{_t(p.title)}</div>"
            f'<div class="hash">{_t(p.source)} sha256 {_t(p.sha256)}</div></td>'
            f"<td>{_policy_badge(p.status)}{note}</td><td>{cell}</td><td class=\"n\">{p.entries}</td></tr>")
    out.append("</tbody></table>")
    out.append('<p class="note">A finding under a policy that is not in force is still reported, with the '
               "policy's status: whether it still matters is your call.</p>")
    return out


# --- the summary ------------------------------------------------------------------------------------------


def _summary(report: Report) -> list[str]:
    s = report.summary
    verdicts = Counter(device_verdict(r, report.fail_on) for r in report.results)
    findings = [f for r in report.results for f in r.findings]
    to_remove = sum(_apps_to_remove(r.findings) for r in report.results)
    out = ['<section id="summary"><h2>Summary</h2>', '<div class="figures">']
    for value, what in ((s.devices, "devices scanned"), (s.apps_read, "apps read"),
                        (to_remove, "installed apps found"), (s.findings, "findings"),
                        (s.prohibited, "prohibited"), (s.review, "for review"),
                        (s.devices_with_findings, "devices with findings"),
                        (s.partial + s.failed, "devices not fully read"), (s.not_checked, "not checked")):
        out.append(f'<div class="figure"><b>{value}</b><span>{what}</span></div>')
    out.append("</div>")
    if not report.results:
        out.append("<p><b>Nothing was scanned</b>: no device or input produced a result, so nothing is clean.</p>")
    unanswered = [t for t in report.transports if not t.answered]
    for t in unanswered:
        out.append(f'<div class="todo"><b>{_PLATFORM.get(t.platform, _t(t.platform))} devices were not scanned: '
                   f"{_t(t.transport)} did not answer</b>{_t(t.message)}</div>")
    out.append('<div class="summary">')
    # Devices by verdict: one stacked bar and a table.
    order = [v for v in _VERDICT_ORDER if verdicts[v]] + sorted(v for v in verdicts if v not in _VERDICT_ORDER)
    out.append('<div class="panel" id="by-verdict"><h3>Devices by verdict</h3>')
    out.append(_stack([(verdicts[v], f"v-{v}" if v in _VERDICT_WORDS else "v-unknown") for v in order]))
    out.append(f'<table class="chart">{_COLS3}<tbody>')
    most = max(verdicts.values(), default=0)
    for v in order:
        css = f"v-{v}" if v in _VERDICT_WORDS else "v-unknown"
        out.append(f'<tr data-verdict="{html.escape(v)}"><td>{_verdict_badge(v)}</td>'
                   f'<td>{_bar(verdicts[v], most, css)}</td><td class="n">{verdicts[v]}</td></tr>')
    if not order:
        out.append('<tr><td class="muted">no device</td></tr>')
    out.append("</tbody></table>")
    out.append('<ul class="plain note">' + "".join(
        f"<li>{html.escape(_VERDICT_WORDS.get(v, v))}: {html.escape(_VERDICT_MEANING.get(v, ''))}</li>"
        for v in order) + "</ul></div>")
    out += _by_app(report, findings)
    out += _by_policy(report, findings)
    out.append("</div></section>")
    return out


_COLS3 = '<colgroup><col class="c-name"><col class="c-bar"><col class="c-n"></colgroup>'
_COLS4 = '<colgroup><col class="c-name"><col class="c-bar"><col class="c-n"><col class="c-n"></colgroup>'
_COLS5 = ('<colgroup><col class="c-name"><col class="c-bar"><col class="c-n"><col class="c-n"><col class="c-n">'
          '</colgroup>')


def _by_app(report: Report, findings: list[Finding]) -> list[str]:
    """Findings by the app found (the catalog's name): devices holding it, its findings, its worst severity."""
    devices: dict[str, set[int]] = defaultdict(set)
    count: Counter[str] = Counter()
    worst: dict[str, str] = {}
    for index, r in enumerate(report.results):
        for f in r.findings:
            devices[f.catalog_name].add(index)
            count[f.catalog_name] += 1
            if f.catalog_name not in worst or _sev_rank(f.severity) < _sev_rank(worst[f.catalog_name]):
                worst[f.catalog_name] = f.severity
    out = ['<div class="panel" id="by-app"><h3>Findings by app</h3>']
    if not findings:
        out.append('<p class="muted">No finding.</p></div>')
        return out
    names = sorted(count, key=lambda n: (_sev_rank(worst[n]), -len(devices[n]), -count[n], n))
    most = max(len(v) for v in devices.values())
    out.append(f'<table class="chart">{_COLS4}<thead><tr><th>app</th><th>devices</th><th class="n">devices</th>'
               '<th class="n">findings</th></tr></thead><tbody>')
    for name in names:
        css = f"sev-{worst[name]}" if worst[name] in SEVERITIES else "v-unknown"
        out.append(f"<tr><td>{_t(name)} {_severity_badge(worst[name])}</td>"
                   f'<td>{_bar(len(devices[name]), most, css)}</td>'
                   f'<td class="n">{len(devices[name])}</td><td class="n">{count[name]}</td></tr>')
    out.append("</tbody></table></div>")
    return out


def _by_policy(report: Report, findings: list[Finding]) -> list[str]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    devices: dict[str, set[int]] = defaultdict(set)
    for index, r in enumerate(report.results):
        for f in r.findings:
            counts[f.policy][f.severity] += 1
            devices[f.policy].add(index)
    status = {p.id: p.status for p in report.policies}
    out = ['<div class="panel" id="by-policy"><h3>Findings by policy</h3>']
    if not findings:
        out.append('<p class="muted">No finding.</p></div>')
        return out
    ids = [p.id for p in report.policies if p.id in counts] + sorted(set(counts) - set(status))
    most = max(sum(c.values()) for c in counts.values())
    out.append(f'<table class="chart">{_COLS5}<thead><tr><th>policy</th><th>findings</th>'
               '<th class="n">prohibited</th><th class="n">review</th><th class="n">devices</th></tr></thead><tbody>')
    for pid in ids:
        c = counts[pid]
        total = sum(c.values())
        css = "sev-prohibited" if c["prohibited"] else "sev-review"
        badge = _policy_badge(status[pid]) if pid in status else ""
        out.append(f"<tr><td>{_t(pid)} {badge}</td><td>{_bar(total, most, css)}</td>"
                   f'<td class="n">{c["prohibited"]}</td><td class="n">{c["review"]}</td>'
                   f'<td class="n">{len(devices[pid])}</td></tr>')
    out.append("</tbody></table></div>")
    return out


def _sev_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


# --- the devices ------------------------------------------------------------------------------------------


def _label(d: DeviceInfo) -> str:
    return _t(d.label) if d.label else "unknown device"


def _device_index(report: Report) -> list[str]:
    out = ['<section id="devices"><h2>Devices</h2>',
           '<table class="index"><thead><tr><th class="n">#</th><th>device</th><th>verdict</th>'
           '<th class="n">apps read</th><th class="n">findings</th></tr></thead><tbody>']
    for index, r in enumerate(report.results, 1):
        d = r.device
        what = " &middot; ".join(x for x in (_PLATFORM.get(d.platform or "", _t(d.platform)), _t(d.model)) if x)
        out.append(f'<tr><td class="n">{index}</td><td><a href="#device-{index}">{_label(d)}</a> '
                   f'<span class="muted">{what}</span></td>'
                   f"<td>{_verdict_badge(device_verdict(r, report.fail_on))}</td>"
                   f'<td class="n">{r.app_count}</td><td class="n">{len(r.findings)}</td></tr>')
    if not report.results:
        out.append('<tr><td></td><td class="muted">no device</td></tr>')
    out.append("</tbody></table>")
    return out


def _identity(d: DeviceInfo, shared: frozenset) -> list[str]:
    rows = [("platform", _PLATFORM.get(d.platform or "", _t(d.platform) or "unknown"))]
    # The source's own serial (an MDM's) is one of the identity pairs: the device's key is then its "device id".
    serial = ("device id" if any(kind == "serial" for kind, _ in d.identity)
              else "UDID" if d.platform == "ios" and d.source == "usbmux" else "serial")
    for term, value in (("model", d.model), ("OS", d.os_version), ("name", d.name), (serial, d.serial)):
        if value:
            rows.append((term, _t(value)))
    if d.transport and (d.transport != d.serial or (d.platform, d.serial) in shared):
        rows.append(("transport", f"<code>{_t(d.transport)}</code>"))
    rows += [(_t(kind), _t(value)) for kind, value in d.identity if value != d.serial]
    if d.source:
        rows.append(("source", f"<code>{_t(d.source)}</code>"))
    if d.inventoried is not None:
        rows.append(("inventoried", _when(d.inventoried)))
    out = ['<dl class="meta">']
    out += [f"<dt>{term}</dt><dd>{value}</dd>" for term, value in rows]
    out.append("</dl>")
    return out


def _verdict_sentence(r: DeviceResult, verdict: str, fail_on: str) -> str:
    apps = _plural(r.app_count, "app")
    found = _plural(len(r.findings), "finding")
    severities = ", ".join(f"{sum(f.severity == s for f in r.findings)} {s}" for s in SEVERITIES)
    return {
        "failed": "nothing could be read; this device is not clean",
        "findings": f"{found} ({severities}) in {apps} read",
        "findings-incomplete": f"{found} ({severities}) in {apps} read, and not everything could be read",
        "incomplete": f"nothing listed in the {apps} read, but not everything could be read: not clean",
        "review": f"{found} ({severities}) in {apps} read, none at or above --fail-on {fail_on}",
        "clean": f"nothing listed in the {apps} read",
    }.get(verdict, "")


def _device(index: int, r: DeviceResult, report: Report, shared: frozenset) -> list[str]:
    verdict = device_verdict(r, report.fail_on)
    css = f"v-{verdict}" if verdict in _VERDICT_WORDS else "v-unknown"
    d = r.device
    out = [f'<article class="device {css}" id="device-{index}" data-verdict="{html.escape(verdict)}">',
           f"<header><h3>{index}. {_label(d)}</h3>{_verdict_badge(verdict)}"
           f'{_badge(safe(r.status), "s-" + r.status if r.status in ("complete", "partial", "failed") else "v-unknown")}'
           f'<span class="muted">{html.escape(_verdict_sentence(r, verdict, safe(report.fail_on)))}</span></header>']
    out += _identity(d, shared)
    if r.status != "complete":
        reason = f" <code>{_t(r.reason)}</code>" if r.reason else ""
        message = _t(r.message) if r.message else "not everything could be read; this device is not clean"
        out.append(f'<div class="todo"><b>Not fully read{reason}: what to do</b>{message}</div>')
    details = _details(r)
    out += _coverage(r, details)
    out += _problems(r, details)
    out += _findings(r)
    if report.inventory_included:
        out += _inventory(r)
    out.append("</article>")
    return out


def _details(r: DeviceResult) -> dict[int, int]:
    """The problem that only details an unread part ("user 10 (Work profile): refused: 'Shell does not have
    permission...'"), by the index of that part: said once, beside the part, not again among the problems."""
    found: dict[int, int] = {}
    used: set[int] = set()
    for index, scope in enumerate(r.coverage):
        if scope.read or not scope.reason:
            continue
        prefix = f"{scope.name}: {scope.reason}: "
        for n, problem in enumerate(r.problems):
            if n not in used and problem.startswith(prefix):
                found[index] = n
                used.add(n)
                break
    return found


def _coverage(r: DeviceResult, details: dict[int, int]) -> list[str]:
    if not r.coverage:
        return []
    out = ["<h4>What was read</h4>", "<table class=\"coverage\"><thead><tr><th>part</th><th>read</th>"
           '<th class="n">apps</th><th>note</th></tr></thead><tbody>']
    for index, scope in enumerate(r.coverage):
        accepted = scope.read and scope.name == MDM_SCOPE and (scope.reason or "").startswith(ACCEPTED_MDM_SCOPE)
        if accepted:
            read = _badge("accepted", "v-review")
        else:
            read = _badge("read", "s-complete") if scope.read else _badge("NOT READ", "s-failed")
        apps = "" if scope.apps is None else str(scope.apps)
        note = _t(scope.reason)
        if index in details:
            prefix = len(f"{scope.name}: {scope.reason}: ")
            note += f'<div class="note">{_t(r.problems[details[index]][prefix:])}</div>'
        out.append(f"<tr><td>{_t(scope.name)}</td><td>{read}</td><td class=\"n\">{apps}</td><td>{note}</td></tr>")
    out.append("</tbody></table>")
    return out


def _problems(r: DeviceResult, details: dict[int, int]) -> list[str]:
    said = set(details.values())
    rest = [p for n, p in enumerate(r.problems) if n not in said]
    count = max(r.problem_count, len(r.problems)) - (len(r.problems) - len(rest))
    if count <= 0:
        return []
    shown = f" ({len(rest)} shown)" if count > len(rest) else ""
    out = [f"<h4>Problems: {count}{shown}</h4>", '<ul class="plain problems">']
    out += [f"<li><code>{_t(p)}</code></li>" for p in rest]
    out.append("</ul>")
    return out


def _evidence(f: Finding) -> str:
    word = _EVIDENCE_WORDS.get(f.evidence, safe(f.evidence))
    if f.evidence == "count":
        word += f": on {_plural(f.app.devices or 0, 'device')}, none named"
    if f.confidence != "confirmed":
        word += f"; identifier {safe(f.confidence)}, not confirmed"
    return html.escape(word)


def _findings(r: DeviceResult) -> list[str]:
    """One row per installed app, listing every policy entry it meets: an app to remove is one row."""
    if not r.findings:
        return []
    groups: dict[tuple, list[Finding]] = {}
    for f in sorted(r.findings, key=lambda f: (_sev_rank(f.severity), f.app.id, f.app.user or 0)):
        groups.setdefault((f.app.platform, f.app.id, f.app.user), []).append(f)
    out = [f"<h4>Findings: {_plural(len(groups), 'installed app')}, {_plural(len(r.findings), 'finding')}</h4>",
           '<table class="findings"><thead><tr><th>severity</th><th>app found</th><th>user</th><th>meets</th>'
           "<th>evidence</th></tr></thead><tbody>"]
    for found in groups.values():
        app, worst = found[0].app, found[0].severity
        shown_app = f"<code>{_t(app.id)}</code>"
        details = [x for x in (_t(app.name) if app.name and app.name != app.id else "",
                               f"version {_t(app.version)}" if app.version else "",
                               _t(app.state) if app.state != "installed" else "") if x]
        if details:
            shown_app += f'<div class="note">{" &middot; ".join(details)}</div>'
        user = "" if app.user is None else str(app.user)
        entries = "".join(
            f"<li>{_severity_badge(f.severity) + ' ' if f.severity != worst else ''}<b>{_t(f.listed)}</b>"
            f"{'' if f.explanation == f.listed else ': ' + _t(f.explanation)} <span class=\"note\">({_t(f.policy)}, {_t(f.policy_status)}; {_t(f.relation)}, "
            f"match {_t(f.match)} on <code>{_t(f.identifier)}</code>)</span></li>" for f in found)
        evidence = "; ".join(dict.fromkeys(_evidence(f) for f in found))
        out.append(f"<tr><td>{_severity_badge(worst)}</td><td>{shown_app}</td><td>{user}</td>"
                   f'<td><ul class="plain entries">{entries}</ul></td><td>{evidence}</td></tr>')
    out.append("</tbody></table>")
    return out


def _inventory(r: DeviceResult) -> list[str]:
    apps = r.apps or ()
    if not apps:
        return ["<h4>Apps read: none</h4>"]
    out = [f"<h4>Apps read: {len(apps)}</h4>",
           '<table class="inventory"><thead><tr><th>app id</th><th>name</th><th>version</th><th>user</th>'
           "<th>state</th><th>system</th></tr></thead><tbody>"]
    for a in apps:
        system = "" if a.system is None else ("yes" if a.system else "no")
        user = "" if a.user is None else str(a.user)
        version = _t(a.version)
        if a.build and a.build != a.version:
            version += f' <span class="note">({_t(a.build)})</span>'
        out.append(f"<tr><td><code>{_t(a.id)}</code></td><td>{_t(a.name)}</td><td>{version}</td><td>{user}</td>"
                   f"<td>{_t(a.state)}</td><td>{system}</td></tr>")
    out.append("</tbody></table>")
    return out


def _not_checked(entries: tuple[NotChecked, ...]) -> list[str]:
    if not entries:
        return []
    out = ['<section id="not-checked"><h2>Not checked</h2>',
           f"<p>{_plural(len(entries), 'device')} the inputs list {'is' if len(entries) == 1 else 'are'} not "
           "a phone or tablet: scanner does not check them, and they are not part of the verdict. WPS Office, "
           "WeChat and QQ have desktop editions: check these computers with a tool made for them.</p>",
           '<table><thead><tr><th>device</th><th>platform</th><th class="n">app rows</th><th>why</th></tr></thead>'
           "<tbody>"]
    for n in entries:
        d = n.device
        names = [x for x in (d.name, d.serial) if x]
        who = "<br>".join(_t(x) for x in names) or "unknown"
        extra = "".join(f'<div class="note">{_t(k)} {_t(v)}</div>' for k, v in d.identity)
        out.append(f"<tr><td>{who}{extra}</td><td>{_t(d.platform)}</td><td class=\"n\">{n.rows}</td>"
                   f"<td>{_t(n.why)}</td></tr>")
    out.append("</tbody></table></section>")
    return out


# --- the page ---------------------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    return text.encode("ascii", "xmlcharrefreplace").decode("ascii")


def write_html(report: Report, out: TextIO) -> None:
    """Write the report as one self-contained HTML page."""
    started = _when(report.started)
    title = f"{_t(report.tool)} report: {html.escape(_REPORT_VERDICT.get(report.verdict, (report.verdict,))[0])}"
    head = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP, quote=True)}">',
            '<meta name="referrer" content="no-referrer">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="color-scheme" content="light">',
            f"<title>{title}, {started}</title>", f"<style>{STYLE}</style>", "</head>", "<body>"]
    head += _header(report)
    head += ["<main>"]
    head += _summary(report)
    head += _device_index(report)
    out.write(_ascii("\n".join(head)) + "\n")
    serials = Counter((r.device.platform, r.device.serial) for r in report.results if r.device.serial)
    shared = frozenset(s for s, n in serials.items() if n > 1)
    for index, result in enumerate(report.results, 1):
        out.write(_ascii("\n".join(_device(index, result, report, shared))) + "\n")
    tail = ["</section>"]
    tail += _not_checked(report.not_checked)
    tail += ["</main>", "<footer>",
             f"<p>Written by {_t(report.tool)} {_t(report.version)} on {started}. Exit codes: 0 clean, 1 findings, "
             "4 not every target fully read, 5 findings and not every target fully read. A device that was not "
             "fully read is never clean: what was not read was not checked. The JSON report "
             "(--format json) is the complete record; every value here is shown as read, with invisible and "
             "control characters written as visible escapes.</p>",
             '<p class="noprint"><a href="#top">Back to the top</a></p>',
             "</footer>", "</body>", "</html>"]
    out.write(_ascii("\n".join(tail)) + "\n")


def _write(report: Report, out: TextIO, options: FormatOptions) -> None:
    write_html(report, out)


FORMAT = Format("html", "one self-contained page to read, print or attach: summary, devices, findings", _write)
