"""Read sources, match what they read, and build the Report.

Every failure becomes a device status, never "clean": a connector that breaks
in a way nobody foresaw still yields a failed result for its source, and the
other sources go on. How sources are read (one after the other for files,
side by side for live transports: scanner.live) and how the results are
ordered are the caller's choice; the rest is the same for every source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from scanner import __version__
from scanner.connectors.interface import Connector
from scanner.matcher import Matcher
from scanner.model import (
    ACCEPTED_MDM_SCOPE,
    MDM_SCOPE,
    NOT_CHECKED,
    DeviceInfo,
    DeviceResult,
    Inventory,
    NotChecked,
    Report,
    Scope,
    merge_results,
    one_finding_each,
)

__all__ = ["ACCEPTABLE_SCOPES", "accepted", "aged", "crashed", "guarded", "one_after_another", "ran_by", "run"]

#: The blind spots `--accept-scope` can accept: "mdm", what an MDM's inventory does not see.
ACCEPTABLE_SCOPES = ("mdm",)

#: How a run reads its sources into one stream of inventories.
Reading = Callable[[list[Connector]], Iterator[Inventory]]


def ran_by() -> tuple[str | None, str | None]:
    """(host name, user name) of who runs this scan, for the report's header; None for what cannot be told."""
    import getpass
    import socket

    try:
        user: str | None = getpass.getuser()
    except (OSError, KeyError, ImportError):  # no USER/LOGNAME and no passwd entry for this uid (a container)
        user = None
    return socket.gethostname() or None, user or None


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
        app_count=len(inv.apps) if inv.app_count is None else inv.app_count,
        problems=inv.problems,
        problem_count=inv.problem_count,
        apps=inv.apps if keep_apps else None,
    )


def aged(inv: Inventory, max_age: int | None, now: datetime) -> Inventory:
    """`--max-age DAYS`: an inventory its source took more than DAYS ago is partial (the device may have changed
    since), and so is an MDM inventory that gives no date (its age cannot be checked)."""
    if max_age is None or inv.status == "failed":
        return inv
    when = inv.device.inventoried
    if when is None:
        if not any(s.name == MDM_SCOPE for s in inv.coverage):
            return inv  # a listing taken from the device itself, or a file that was never an MDM's
        scope = Scope("apps", read=False, reason=f"the export gives no inventory date, so it cannot be shown to be "
                                                 f"at most {max_age} days old (--max-age)")
        why = "gives no date for its inventory, so its age cannot be checked against --max-age"
        reason = "age-unknown"
    else:
        age = now - when
        if age <= timedelta(days=max_age):
            return inv
        days = age.days
        scope = Scope("apps", read=False, reason=f"inventory {days} days old (taken {when.date().isoformat()}), "
                                                 f"older than --max-age {max_age}")
        why = (f"was inventoried {days} days ago ({when.date().isoformat()}), more than --max-age {max_age}: apps "
               f"installed since then are not in it")
        reason = "stale"
    message = inv.message
    # The age is the news when nothing else was wrong but what the MDM cannot see (whatever the reader's code for it).
    only_mdm = inv.status == "complete" or all(s.read or s.name == MDM_SCOPE for s in inv.coverage)
    if only_mdm:
        message = (f"{inv.device.source or 'the input'}, device {inv.device.label} {why}; have the device check in "
                   f"with its MDM (or sync it), export again and rescan")
    return replace(inv, status="partial" if inv.apps else "failed", coverage=(*inv.coverage, scope),
                   reason=reason if only_mdm else inv.reason,
                   message=message)


def accepted(inv: Inventory, scopes: tuple[str, ...]) -> Inventory:
    """`--accept-scope mdm`: the admin accepts an MDM's view of a device (what it does not see is not
    counted against it). The scope stays in the coverage, read and marked as accepted; a device with nothing
    else unread is complete."""
    if "mdm" not in scopes or not any(s.name == MDM_SCOPE and not s.read for s in inv.coverage):
        return inv
    coverage = tuple(replace(s, read=True, reason=f"{ACCEPTED_MDM_SCOPE}{s.reason}")
                     if s.name == MDM_SCOPE and not s.read else s for s in inv.coverage)
    if inv.status == "failed" or not all(s.read for s in coverage):
        return replace(inv, coverage=coverage)
    return replace(inv, coverage=coverage, status="complete", reason=None, message=None)


def run(
    connectors: Iterable[Connector],
    matcher: Matcher,
    *,
    inventory: bool = False,
    fail_on: str = "prohibited",
    inputs: tuple[str, ...] = (),
    read: Reading = one_after_another,
    order: Callable[[DeviceResult], object] | None = None,
    accept_scopes: tuple[str, ...] = (),
    max_age: int | None = None,
    now: datetime | None = None,
    spooled: bool = False,
) -> Report:
    """Read every connector (with `read`), match, and build the report.

    The parts of one device (model.DeviceInfo.key) are merged into one result.
    Results come in the order their devices first appeared, or sorted by
    `order`. A connector that says in `asked` (a model.Transport) that its
    transport did not answer makes the report incomplete. A device an input
    lists that scanner does not check (reason model.NOT_CHECKED: a desktop
    computer in an MDM export) is listed in the report's `not_checked`.
    `accept_scopes` and `max_age` are --accept-scope and --max-age (see
    `accepted` and `aged`); `now` is the time ages are measured from.

    `spooled` (without `order`): each device's result is written out as it
    is finished (formats.json_report.DeviceSpool) instead of kept, and the
    report is a SpooledReport, which only the JSON format writes: memory
    stays flat however many devices the inputs hold.
    """
    started = datetime.now(UTC)
    now = now or started
    connectors = list(connectors)
    results: dict[tuple, DeviceResult] = {}
    skipped: dict[tuple, NotChecked] = {}
    spool = None
    if spooled and order is None:
        from scanner.formats.json_report import DeviceSpool

        spool = DeviceSpool(fail_on, inventory)
    for inv in read(connectors):
        if inv.reason == NOT_CHECKED:
            key = inv.device.key
            rows = sum(s.apps or 0 for s in inv.coverage)
            old = skipped.get(key)
            skipped[key] = (NotChecked(inv.device, rows, inv.message or "not a phone or tablet") if old is None
                            else replace(old, rows=old.rows + rows))
            continue
        inv = accepted(aged(inv, max_age, now), accept_scopes)
        result = _result(inv, matcher, inventory)
        if spool is not None:
            spool.add(result)  # merges a device seen again, as below
            continue
        key = inv.device.key
        results[key] = merge_results(results[key], result) if key in results else result
    ordered = sorted(results.values(), key=order) if order is not None else list(results.values())
    transports = tuple(sorted((t for c in connectors if (t := getattr(c, "asked", None)) is not None),
                              key=lambda t: (t.platform, t.transport)))
    host, user = ran_by()
    if spool is not None:
        from scanner.formats.json_report import SpooledReport

        counts = spool.finish()
        return SpooledReport(
            tool="scanner", version=__version__, started=started, finished=datetime.now(UTC),
            policies=matcher.policy_refs(), signature_files=matcher.signatures.files, results=(), fail_on=fail_on,
            inventory_included=inventory, inputs=inputs, transports=transports,
            not_checked=tuple(skipped.values()), accepted_scopes=tuple(accept_scopes), max_age=max_age,
            spool=spool, counts=counts, host=host, user=user,
        )
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
        not_checked=tuple(skipped.values()),
        accepted_scopes=tuple(accept_scopes),
        max_age=max_age,
        host=host,
        user=user,
    )

