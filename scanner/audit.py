"""Run connectors, match what they read, and build the Report.

Every failure becomes a device status, never "clean": a connector that breaks
in a way nobody foresaw still yields a failed result for its source, and the
other sources go on.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import replace
from datetime import datetime, timezone
from typing import Iterable, Iterator

from scanner import __version__
from scanner.connectors.interface import Connector
from scanner.matcher import Matcher
from scanner.model import SEVERITIES, DeviceInfo, DeviceResult, Finding, Inventory, PolicyRef, Report, RuleRef, Scope
from scanner.signatures import Signatures

_RANK = {"complete": 0, "partial": 1, "failed": 2}


def policy_refs(matcher: Matcher, signatures: Signatures) -> tuple[PolicyRef, ...]:
    return tuple(
        PolicyRef(
            id=p.id,
            title=p.title,
            status=p.status,
            status_note=p.status_note,
            signed=p.signed.isoformat(),
            source=p.source,
            sha256=p.sha256,
            entries=len(p.entries),
            rules=tuple(
                RuleRef(
                    id=f"{p.id}/{e.key}",
                    listed=e.listed,
                    relation=e.relation,
                    severity=e.severity,
                    catalog_name=signatures.apps[e.app].name,
                    note=e.note,
                )
                for e in p.entries
            ),
        )
        for p in matcher.policies
    )


def _inventories(connector: Connector) -> Iterator[Inventory]:
    """The connector's inventories; a crash inside it becomes a failed result."""
    try:
        yield from connector.inventories()
    except Exception as err:  # noqa: BLE001 - the last line of defence, reported, never hidden
        yield _failed(getattr(connector, "name", type(connector).__name__), err)


def _failed(source: object, err: BaseException) -> Inventory:
    return Inventory(
        device=DeviceInfo(platform=None, serial=None, source=str(source)),
        apps=(),
        status="failed",
        reason="error",
        message=f"internal error while reading {source}: {type(err).__name__}: {err}; please report this",
    )


_DONE = object()


def _side_by_side(connectors: Iterable[Connector]) -> Iterator[Inventory]:
    """Every connector in a thread of its own, inventories handed over as they come.

    Live transports wait on devices: the Android threads and the iOS event loop
    must run at the same time, or one slow phone would hold up every iPhone.
    """
    handoff: queue.Queue = queue.Queue()
    threads = []
    for connector in connectors:
        def pump(c: Connector = connector) -> None:
            try:
                for inv in _inventories(c):
                    handoff.put(inv)
            except BaseException as err:  # noqa: BLE001 - e.g. a CancelledError: the source still shows, failed
                handoff.put(_failed(getattr(c, "name", type(c).__name__), err))
            finally:
                handoff.put(_DONE)

        thread = threading.Thread(target=pump, name=f"scan-{getattr(connector, 'name', '?')}", daemon=True)
        thread.start()
        threads.append(thread)
    running = len(threads)
    while running:
        item = handoff.get()
        if item is _DONE:
            running -= 1
        else:
            yield item
    for thread in threads:
        thread.join()


def _result(inv: Inventory, matcher: Matcher, keep_apps: bool) -> DeviceResult:
    findings = matcher.match(inv.apps)
    status, reason, message, coverage = inv.status, inv.reason, inv.message, inv.coverage
    if inv.residue:
        # Text that could not be parsed is still searched for whole catalog ids (DESIGN.md, rule 5).
        parsed = {(a.platform, a.id.lower()) for a in inv.apps}
        # Both platforms' ids: the unreadable text may be another format's lines pasted in (an Android
        # listing under an ideviceinstaller header), and a prohibited id there is evidence all the same.
        recovered = matcher.recover(inv.residue, None, parsed)
        findings.extend(recovered)
        if recovered and status == "complete":  # a reader kept evidence but called itself complete: never clean
            status, reason = "partial", "bad-lines"
            message = "prohibited app ids were found in text that could not be read; export the list again"
            coverage = (*coverage, Scope("records", read=False, reason="text that could not be read"))
    return DeviceResult(
        device=inv.device,
        status=status,
        reason=reason,
        message=message,
        coverage=coverage,
        findings=one_finding_each(findings) if inv.residue or len(findings) > 1 else tuple(findings),
        app_count=len(inv.apps),
        problems=inv.problems,
        problem_count=inv.problem_count,
        apps=inv.apps if keep_apps else None,
    )


def _merge_scopes(a: tuple[Scope, ...], b: tuple[Scope, ...]) -> tuple[Scope, ...]:
    merged: dict[tuple, Scope] = {}
    for scope in a + b:
        key = (scope.name, scope.read, scope.reason)
        old = merged.get(key)
        if old is None:
            merged[key] = scope
        elif scope.apps is not None:
            merged[key] = replace(old, apps=(old.apps or 0) + scope.apps)
    return tuple(merged.values())


_MATCH_RANK = {"exact": 0, "extension": 0, "team-id": 0, "other-platform": 1, "recovered": 2}


def _rank(f: Finding) -> tuple[int, int]:
    """Most severe first, then the best-founded: a review lead never stands in for a prohibited finding."""
    return (SEVERITIES.index(f.severity) if f.severity in SEVERITIES else len(SEVERITIES), _MATCH_RANK.get(f.match, 0))


def one_finding_each(findings: tuple[Finding, ...] | list[Finding]) -> tuple[Finding, ...]:
    """One app found twice (a device listed twice in an export, a line repeated) is one finding; and one app
    id under one rule and user found in several ways (read whole in one part, recovered from a damaged line
    of another; an app whose platform was edited) is one finding too: the most severe, then the best-founded."""
    best: dict[tuple, Finding] = {}
    for f in findings:
        key = (f.rule, f.app.id.lower(), f.app.user)
        old = best.get(key)
        if old is None or _rank(f) < _rank(old):
            best[key] = f
    # A recovered id knows no user: it is the same app as one found whole, at least as severe, under any user.
    whole: dict[tuple, tuple[int, int]] = {}
    for f in best.values():
        if f.match != "recovered":
            k = (f.rule, f.app.id.lower())
            whole[k] = min(whole.get(k, (99, 99)), _rank(f))
    kept = {id(f) for f in best.values()
            if f.match != "recovered" or whole.get((f.rule, f.app.id.lower()), (99, 99))[0] > _rank(f)[0]}
    return tuple(f for f in dict.fromkeys(findings) if id(f) in kept)


def merge(a: DeviceResult, b: DeviceResult) -> DeviceResult:
    """Two parts of one device's result (an export that lists a device twice)."""
    worse = b if _RANK[b.status] > _RANK[a.status] else a
    # Failed only when no part could be read; one part read and one not is partial.
    status = "failed" if a.status == b.status == "failed" else ("complete" if worse.status == "complete" else "partial")
    return replace(
        a,
        status=status,
        reason=worse.reason if worse.status != "complete" else a.reason,
        message=worse.message if worse.status != "complete" else a.message,
        coverage=_merge_scopes(a.coverage, b.coverage),
        # Live devices never merge across transports: two clones with one ro.serialno stay two devices.
        findings=one_finding_each(a.findings + b.findings),
        app_count=a.app_count + b.app_count,
        problems=(a.problems + b.problems)[:20],
        problem_count=a.problem_count + b.problem_count,
        apps=(a.apps + b.apps) if a.apps is not None and b.apps is not None else a.apps,
    )


def run(
    connectors: Iterable[Connector],
    signatures: Signatures,
    matcher: Matcher,
    *,
    inventory: bool = False,
    fail_on: str = "prohibited",
    inputs: tuple[str, ...] = (),
    live: bool = False,
) -> Report:
    """Read every connector, match, and build the report.

    `live`: the connectors are device transports; they run side by side, and
    the results are sorted by platform, serial and transport, since devices
    finish in no particular order. Each live connector then says in `asked`
    (a model.Transport) whether its transport answered: one that did not
    makes the report incomplete. Files are read one after the other, in the
    order given.
    """
    started = datetime.now(timezone.utc)
    connectors = list(connectors)
    results: dict[tuple, DeviceResult] = {}
    stream = _side_by_side(connectors) if live else (i for c in connectors for i in _inventories(c))
    for inv in stream:
        result = _result(inv, matcher, inventory)
        key = inv.device.key
        results[key] = merge(results[key], result) if key in results else result
    ordered = list(results.values())
    if live:
        ordered.sort(key=lambda r: (r.device.platform or "", r.device.serial or "", r.device.transport or "",
                                    r.device.source))
    transports = tuple(sorted((t for c in connectors if (t := getattr(c, "asked", None)) is not None),
                              key=lambda t: (t.platform, t.transport)))
    return Report(
        tool="scanner",
        version=__version__,
        started=started,
        finished=datetime.now(timezone.utc),
        policies=policy_refs(matcher, signatures),
        signature_files=signatures.files,
        results=tuple(ordered),
        fail_on=fail_on,
        inventory_included=inventory,
        inputs=inputs,
        transports=transports,
    )
