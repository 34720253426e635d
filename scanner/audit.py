"""Read sources, match what they read, and build the Report.

Every failure becomes a device status, never "clean": a connector that breaks
in a way nobody foresaw still yields a failed result for its source, and the
other sources go on. How sources are read (one after the other for files,
side by side for live transports: scanner.live) and how the results are
ordered are the caller's choice; the rest is the same for every source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from scanner import __version__
from scanner.connectors.interface import Connector
from scanner.matcher import Matcher
from scanner.model import (
    DeviceInfo,
    DeviceResult,
    Inventory,
    Report,
    Scope,
    merge_results,
    one_finding_each,
)

__all__ = ["crashed", "guarded", "one_after_another", "run"]

#: How a run reads its sources into one stream of inventories.
Reading = Callable[[list[Connector]], Iterator[Inventory]]


def guarded(connector: Connector) -> Iterator[Inventory]:
    """The connector's inventories; a crash inside it becomes a failed result."""
    try:
        yield from connector.inventories()
    except Exception as err:  # noqa: BLE001 - the last line of defence, reported, never hidden
        yield crashed(getattr(connector, "name", type(connector).__name__), err)


def crashed(source: object, err: BaseException) -> Inventory:
    """The failed result of a source whose connector broke."""
    return Inventory(
        device=DeviceInfo(platform=None, serial=None, source=str(source)),
        apps=(),
        status="failed",
        reason="error",
        message=f"internal error while reading {source}: {type(err).__name__}: {err}; please report this",
    )


def one_after_another(connectors: list[Connector]) -> Iterator[Inventory]:
    """Files: each read whole, in the order given."""
    for connector in connectors:
        yield from guarded(connector)


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


def run(
    connectors: Iterable[Connector],
    matcher: Matcher,
    *,
    inventory: bool = False,
    fail_on: str = "prohibited",
    inputs: tuple[str, ...] = (),
    read: Reading = one_after_another,
    order: Callable[[DeviceResult], object] | None = None,
) -> Report:
    """Read every connector (with `read`), match, and build the report.

    The parts of one device (model.DeviceInfo.key) are merged into one result.
    Results come in the order their devices first appeared, or sorted by
    `order`. A connector that says in `asked` (a model.Transport) that its
    transport did not answer makes the report incomplete.
    """
    started = datetime.now(UTC)
    connectors = list(connectors)
    results: dict[tuple, DeviceResult] = {}
    for inv in read(connectors):
        result = _result(inv, matcher, inventory)
        key = inv.device.key
        results[key] = merge_results(results[key], result) if key in results else result
    ordered = sorted(results.values(), key=order) if order is not None else list(results.values())
    transports = tuple(sorted((t for c in connectors if (t := getattr(c, "asked", None)) is not None),
                              key=lambda t: (t.platform, t.transport)))
    return Report(
        tool="scanner",
        version=__version__,
        started=started,
        finished=datetime.now(UTC),
        policies=matcher.policy_refs(),
        signature_files=matcher.signatures.files,
        results=tuple(ordered),
        fail_on=fail_on,
        inventory_included=inventory,
        inputs=inputs,
        transports=transports,
    )

