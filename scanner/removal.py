"""`scanner remove` and `watch --remove`: from a scan's findings to a plan, its execution, a record and a rescan.

The only product module besides `pair` that changes a device, and only through a transport's
`remove` (connectors.interface.Removing). The scan path never imports it
(tests/test_remove_import_rules.py): `scan`, `devices` and `watch` without --remove stay read-only.

1. plan(): for each device, each finding at or above --fail-on, one Step per app and Android user. A
   step is "remove" only when its finding rests on the app's identifier and nothing else stands in
   the way; otherwise it is "skip" with why (matched by team id, by name or recovered: check by hand
   unless include_review; an app that came with the phone: only with system_apps, and then only for
   that user).
2. execute(): the devices side by side, each one's steps in order. Every attempt is appended to the
   record as it happens (Record: one JSON line each, flushed and fsynced, under one lock, so two
   devices never mix their lines). A device that went away (outcome "disconnected") gets no further
   attempt; a stop (Ctrl-C) ends each device before its next step. What was not attempted is an Action
   with outcome "not-attempted".
3. verify(): the rescan of the touched devices decides: an app the device said it removed but the
   rescan still lists is "still-installed", a failure.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import stat
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from scanner.connectors.interface import Removal
from scanner.model import SEVERITIES, App, DeviceInfo, DeviceResult, Finding, Report, severity_at_least

__all__ = ["Action", "Plan", "Record", "RecordError", "Step", "WatchRemover", "carry_out", "default_record_path",
           "execute", "merge_after", "plan", "touched", "verify"]

#: Outcomes of an Action beyond REMOVAL_OUTCOMES: not sent to the device (planned as a skip, or stopped
#: before it), or sent and answered "removed" while the rescan still lists it.
NOT_ATTEMPTED = "not-attempted"
SKIPPED = "skipped"
STILL_INSTALLED = "still-installed"


@dataclass(frozen=True)
class Step:
    """One app on one device (one Android user), and what the plan does with it."""

    device: DeviceInfo
    app: App
    finding: Finding  # the most severe finding it rests on
    remove: bool
    why: str  # for a person: what will be done, or why not ("check by hand: matched by its display name")
    user: int | None = None  # the Android user it is removed for; None on iOS (or every user)
    rules: tuple[str, ...] = ()  # every rule that named it


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]

    @property
    def removals(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.remove)

    @property
    def devices(self) -> list[DeviceInfo]:
        return list(dict.fromkeys(s.device for s in self.removals))


@dataclass(frozen=True)
class Action:
    """What became of one step: the device's answer (None when nothing was sent) and the outcome."""

    step: Step
    outcome: str  # a REMOVAL_OUTCOMES value, SKIPPED, NOT_ATTEMPTED or STILL_INSTALLED
    message: str
    answer: str = ""
    at: datetime | None = None
    # the rescan: "gone", "still-installed", "kept-in-system-image", "still-on-the-device", "unknown"
    after: str | None = None

    @property
    def failed(self) -> bool:
        """Something the plan meant to remove is (or may be) still there."""
        return self.step.remove and self.outcome not in ("removed", "not-installed")


def _evidence_problem(f: Finding) -> str | None:
    """Why a finding cannot be removed on its own evidence, or None."""
    if f.evidence != "identifier":
        return "check by hand: the source gives only a display name, no app id to remove"
    return {
        "team-id": f"check by hand: matched by its developer team ({f.identifier}), not by its id",
        "recovered": "check by hand: its id was recovered from a line that could not be read",
        "name": "check by hand: matched by its display name only",
    }.get(f.match)


def plan(report: Report, *, include_review: bool = False, system_apps: bool = False) -> Plan:
    """The steps for every finding of `report` at or above its --fail-on, one per app and Android user: an app
    several rules name rests on its most severe finding, the best-founded of those (an id before a team id)."""
    steps: list[Step] = []
    for result in report.results:
        named: dict[tuple[str, int | None], list[Finding]] = {}
        for f in result.findings:
            named.setdefault((f.app.id, f.app.user), []).append(f)
        for findings in named.values():
            best = min(findings, key=lambda f: (SEVERITIES.index(f.severity) if f.severity in SEVERITIES else 99,
                                                _evidence_problem(f) is not None))
            step = _step(result, best, report.fail_on, include_review, system_apps)
            steps.append(replace(step, rules=tuple(dict.fromkeys(f.rule for f in (best, *findings)))))
    return Plan(tuple(steps))


def _step(result: DeviceResult, f: Finding, fail_on: str, include_review: bool, system_apps: bool) -> Step:
    app, device = f.app, result.device
    user = app.user if app.platform == "android" else None

    def skip(why: str) -> Step:
        return Step(device, app, f, False, f"not removed: {why}", user, (f.rule,))

    if not severity_at_least(f.severity, fail_on):
        return skip(f"{f.severity} is below --fail-on {fail_on}")
    problem = _evidence_problem(f)
    if problem and (f.evidence != "identifier" or f.match == "name" or not include_review):
        return skip(problem + ("" if f.match == "name" or f.evidence != "identifier" else
                               " (--include-review removes it)"))
    if app.platform == "android":
        where = f"user {user}" if user is not None else "every user"
        if app.state == "uninstalled-data-kept":
            return skip(f"check by hand: it is uninstalled for {where} but still on the phone (its data, or the "
                        f"system image, keeps it)")
        if app.system is None and not system_apps:
            return skip("check by hand: the phone did not say whether it came with the phone (--system-apps "
                        f"removes it for {where} either way)")
        if app.system and not system_apps:
            return skip(f"it came with the phone and cannot be removed from the system image; --system-apps "
                        f"removes it for {where} (restorable: cmd package install-existing"
                        f"{f' --user {user}' if user is not None else ''} {app.id})")
        if app.system:
            return Step(device, app, f, True, f"remove for {where} (it stays in the system image: restorable)",
                        user, (f.rule,))
        return Step(device, app, f, True, f"remove for {where}", user, (f.rule,))
    return Step(device, app, f, True, "remove" + (" (offloaded: its data goes too)" if app.state == "offloaded"
                                                  else ""), None, (f.rule,))


# --- the record -------------------------------------------------------------------------------------------------


class RecordError(Exception):
    """The record file cannot be written: nothing may be removed."""


def default_record_path(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/scanner/removals.jsonl, else ~/.local/state/scanner/removals.jsonl."""
    env = os.environ if env is None else env
    state = env.get("XDG_STATE_HOME") or ""
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "scanner" / "removals.jsonl"


class Record:
    """The append-only JSON-lines file of every removal: readable by its owner only, every line synced.

    Opened before anything is removed, so a record that cannot be written stops the command first.
    """

    def __init__(self, path: str | os.PathLike, *, policies: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.policies = tuple(policies)
        self.operator = _operator()
        self.host = socket.gethostname()
        self._lock = threading.Lock()
        self.failures: list[str] = []  # writes that failed (execute() then stops before the next removal)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            self._fd = os.open(self.path, flags, 0o600)
        except OSError as err:
            raise RecordError(f"the removal record {self.path} cannot be written: {err.strerror or err}") from err
        if not stat.S_ISREG(os.fstat(self._fd).st_mode):
            os.close(self._fd)
            raise RecordError(f"the removal record {self.path} is not a regular file")
        try:
            os.fchmod(self._fd, 0o600)  # an older file someone made readable: only its owner again
        except OSError:
            pass

    def write(self, entry: dict) -> None:
        # ASCII: every value intact for json.loads, and no raw bidi or control character for whoever `cat`s it.
        line = memoryview((json.dumps(entry, ensure_ascii=True) + "\n").encode("ascii"))
        with self._lock:  # one line at a time, whichever device's thread writes it: lines never interleave
            while line:
                line = line[os.write(self._fd, line):]
            os.fsync(self._fd)

    def action(self, action: Action) -> None:
        self.write({"event": "removal", **action_to_dict(action), "operator": self.operator, "host": self.host,
                    "policies": list(self.policies)})

    def rescan(self, action: Action) -> None:
        self.write({"event": "rescan", "time": _time(datetime.now(UTC)), "device": _device(action.step.device),
                    "app": action.step.app.id, "user": action.step.user, "after": action.after,
                    "outcome": action.outcome, "operator": self.operator, "host": self.host})

    def close(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _device(d: DeviceInfo) -> dict:
    return {"platform": d.platform, "serial": d.serial, "transport": d.transport, "model": d.model,
            "os_version": d.os_version, "name": d.name, "source": d.source}


def action_to_dict(action: Action) -> dict:
    """One action as the record and the JSON report give it."""
    s, f = action.step, action.step.finding
    return {
        "time": _time(action.at) if action.at else None,
        "device": _device(s.device),
        "user": s.user,
        "app": s.app.id,
        "version": s.app.version,
        "build": s.app.build,
        "system": s.app.system,
        "state": s.app.state,
        "finding": {"rule": f.rule, "rules": list(s.rules), "policy": f.policy, "listed": f.listed,
                    "severity": f.severity, "matched_by": f.matched_by, "identifier": f.identifier},
        "planned": "remove" if s.remove else "skip",
        "plan": s.why,
        "answer": action.answer,
        "outcome": action.outcome,
        "message": action.message,
        "after": action.after,
    }


# --- execution --------------------------------------------------------------------------------------------------

#: Finds the transport that removes a device's apps: (platform) -> an object with Removing's `remove`, or None.
Remover = Callable[[str], object | None]


def execute(the_plan: Plan, remover: Remover, record: Record, *, timeout: float,
            stop: threading.Event | None = None, on_action: Callable[[Action], None] | None = None) -> list[Action]:
    """Carry out the plan: each device in a thread of its own, its steps one after another.

    Every action is recorded as it ends. An interrupt (KeyboardInterrupt, SystemExit) sets `stop`, waits for
    the removals under way to answer, records the rest as not attempted, and is raised again.
    """
    stop = stop or threading.Event()
    actions: list[Action] = [Action(s, SKIPPED, s.why, at=None) for s in the_plan.steps if not s.remove]
    lock = threading.Lock()
    by_device: dict[tuple, list[Step]] = {}
    for s in the_plan.removals:
        by_device.setdefault(s.device.key, []).append(s)

    def done(action: Action) -> None:
        try:
            record.action(action)
        except OSError as err:  # a full disk: no further removal goes unrecorded
            stop.set()
            record.failures.append(f"{record.path}: {err.strerror or err}")
        with lock:
            actions.append(action)
        if on_action is not None:
            on_action(action)

    def run(steps: list[Step]) -> None:
        gone: str | None = None
        for s in steps:
            if stop.is_set() or gone:
                why = gone or ("stopped before this removal (the record could not be written): not attempted"
                               if record.failures else "stopped (interrupted) before this removal: not attempted")
                done(Action(s, NOT_ATTEMPTED, why, at=datetime.now(UTC)))
                continue
            removal = _remove(remover, s, timeout)
            done(Action(s, removal.outcome, removal.message, removal.answer, at=datetime.now(UTC)))
            if removal.outcome == "disconnected":
                gone = "not attempted: the device went away during an earlier removal"

    # Each device's thread says it ended with an Event, not by being joined: in Python 3.11 a join that a
    # signal handler interrupts (Ctrl-C) marks a thread still running as stopped (bpo-45274), and the join
    # after it would then not wait for the removal under way.
    ended = [threading.Event() for _ in by_device]

    def device(steps: list[Step], end: threading.Event) -> None:
        try:
            run(steps)
        finally:
            end.set()

    for steps, end in zip(by_device.values(), ended, strict=True):
        threading.Thread(target=device, args=(steps, end), name="remove-device", daemon=True).start()
    try:
        for end in ended:
            while not end.wait(0.2):
                pass
    except BaseException:
        stop.set()
        for end in ended:
            end.wait(timeout + 5)
        raise
    return actions


def _remove(remover: Remover, s: Step, timeout: float) -> Removal:
    transport = remover(s.app.platform)
    remove = getattr(transport, "remove", None)
    if not callable(remove):
        return Removal(s.app.id, s.user, "failed", f"This version cannot remove {s.app.platform} apps: remove "
                                                   f"{s.app.id} on the device or from its MDM")
    target = s.device.transport or s.device.serial or ""
    try:
        return remove(target, s.app.id, user=s.user, timeout=timeout)
    except Exception as err:  # noqa: BLE001 - Removing never raises; one that does is reported, never hidden
        return Removal(s.app.id, s.user, "failed", f"internal error while removing {s.app.id}: "
                                                   f"{type(err).__name__}: {err}; please report this")


# --- after ----------------------------------------------------------------------------------------------------


def touched(actions: Iterable[Action]) -> list[DeviceInfo]:
    """The devices a removal was sent to (answered or not)."""
    return list(dict.fromkeys(a.step.device for a in actions if a.step.remove and a.outcome not in
                              (SKIPPED, NOT_ATTEMPTED)))


def verify(actions: list[Action], rescan: Report) -> list[Action]:
    """Each attempted removal checked against the rescan of its device."""
    results = {r.device.key: r for r in rescan.results}
    out = []
    for a in actions:
        if not a.step.remove or a.outcome in (SKIPPED, NOT_ATTEMPTED):
            out.append(a)
            continue
        result = results.get(a.step.device.key)
        after = _after(a.step, result)
        if a.outcome == "removed" and after == "still-installed":
            a = replace(a, outcome=STILL_INSTALLED, message=(
                f"The device said {a.step.app.id} was removed, but the rescan still lists it: it was not removed"))
        out.append(replace(a, after=after))
    return out


def _after(s: Step, result: DeviceResult | None) -> str:
    if result is None or result.apps is None or result.status == "failed":
        return "unknown"
    same = [a for a in result.apps if a.id == s.app.id and (s.user is None or a.user == s.user)]
    if not same:
        if result.status == "complete":
            return "gone"
        # A partial rescan: gone only when that user's apps were read whole (no part of them left unread).
        mine = [sc for sc in result.coverage if s.user is not None and _is_user(sc.name, s.user)]
        return "gone" if mine and all(sc.read for sc in mine) else "unknown"
    if all(a.state == "uninstalled-data-kept" for a in same):
        # Uninstalled for this user, but the package is still on the device (`pm list packages -u` lists it):
        # in the system image, or kept for another user. Still a finding in the after-state.
        return "kept-in-system-image" if s.app.system else "still-on-the-device"
    return "still-installed"


def _is_user(scope: str, user: int) -> bool:
    """Whether a coverage scope is Android user `user`'s ("user 10", "user 10 (Work profile)"), not user 100's."""
    return scope == f"user {user}" or scope.startswith(f"user {user} (")


def merge_after(before: Report, rescan: Report, devices: Sequence[DeviceInfo], *, inventory: bool = False) -> Report:
    """The after-state: the rescan's result for each touched device, the scan's for the others. A touched
    device the rescan did not find again (unplugged) is failed: what is left on it is unknown. `inventory`
    False drops the app lists the rescan kept for verify()."""
    keys = {d.key for d in devices}
    again = {r.device.key: r for r in rescan.results}
    results = []
    for r in before.results:
        if r.device.key not in keys:
            results.append(r)
        elif r.device.key in again:
            results.append(again[r.device.key] if inventory else replace(again[r.device.key], apps=None))
        else:
            results.append(replace(r, status="failed", reason="disconnected", coverage=(), apps=None, message=(
                "The device was not found again after the removals, so what is left on it is unknown: reconnect "
                "it and run scanner scan")))
    transports = {(t.platform, t.transport): t for t in before.transports}
    transports.update({(t.platform, t.transport): t for t in rescan.transports})
    return replace(before, results=tuple(results), finished=rescan.finished,
                   transports=tuple(transports[k] for k in sorted(transports)))


# --- carrying a plan out, for `remove` and `watch --remove` ---------------------------------------------------

#: Scans the given devices again, keeping their app lists (inventory=True): verify() needs them.
Rescan = Callable[[list[DeviceInfo]], Report]


def carry_out(the_plan: Plan, before: Report, remover: Remover, record: Record, rescan: Rescan, *, timeout: float,
              stop: threading.Event | None = None, on_action: Callable[[Action], None] | None = None,
              inventory: bool = False) -> tuple[Report, list[Action]]:
    """Execute the plan, rescan the devices it touched, check each removal against the rescan (recorded too),
    and return the after-state with the actions."""
    actions = execute(the_plan, remover, record, timeout=timeout, stop=stop, on_action=on_action)
    devices = touched(actions)
    if not devices:
        return before, actions
    again = rescan(devices)
    actions = verify(actions, again)
    for a in actions:
        if a.after is not None:
            try:
                record.rescan(a)
            except OSError as err:
                record.failures.append(f"{record.path}: {err.strerror or err}")
    return merge_after(before, again, devices, inventory=inventory), actions


class WatchRemover:
    """`watch --remove --yes`: each device's scan, as it is plugged in, is followed by its removals and a rescan,
    and the after-state is its verdict. Built before watching starts, so a record that cannot be written stops
    watch first; close() waits for removals under way to be answered and recorded."""

    def __init__(self, record_path: str | os.PathLike, *, timeout: float, notify: Callable[[str], None],
                 policies: Sequence[str] = ()) -> None:
        self.record = Record(record_path, policies=policies)
        self.timeout = timeout
        self.notify = notify
        self.stop = threading.Event()
        self._busy = 0
        self._idle = threading.Condition()

    def __call__(self, before: Report, transport: object, rescan: Rescan) -> Report:
        """The after-state of one scanned device (its scan's report when nothing was removed)."""
        the_plan = plan(before)
        for s in the_plan.steps:
            if not s.remove:
                self.notify(f"{s.device.label}: {s.app.id}: {s.why}")
        if not the_plan.removals or self.stop.is_set():
            return before
        with self._idle:
            self._busy += 1
        try:
            after, _ = carry_out(the_plan, before, lambda platform: transport, self.record, rescan,
                                 timeout=self.timeout, stop=self.stop, on_action=self._said)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()
        return after

    def _said(self, action: Action) -> None:
        s = action.step
        user = f" (user {s.user})" if s.user is not None else ""
        self.notify(f"{s.device.label}: {s.app.id}{user}: {action.outcome}: {action.message}")

    def close(self) -> None:
        """Stop before any further removal, wait (bounded) for those under way, and close the record."""
        self.stop.set()
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout=self.timeout + 5)
        self.record.close()
