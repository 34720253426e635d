"""scanner.removal: the plan's evidence rules, the record, and the faults of an execution.

The plan is built from real matcher findings of inventories written here; the faults run against
emulated phones through the real adb server (AndroidConnector.remove, never a mock of adbutils).
"""

from __future__ import annotations

import _thread
import json
import os
import signal
import stat
import threading
from dataclasses import dataclass
from dataclasses import replace as with_findings

import pytest

from scanner import live
from scanner.audit import run
from scanner.connectors.android.connector import AndroidConnector
from scanner.matcher import Matcher
from scanner.model import App, DeviceInfo, DeviceResult, Inventory, Scope
from scanner.removal import (
    NOT_ATTEMPTED,
    Action,
    Record,
    default_record_path,
    execute,
    merge_after,
    plan,
    touched,
    verify,
)
from scanner.signatures import load_signatures
from scanner.simulator.android import AndroidSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile


@dataclass
class Listed:
    """A connector of inventories given here."""

    invs: list[Inventory]
    name: str = "listed"

    def inventories(self):
        yield from self.invs


@pytest.fixture(scope="module")
def sigs():
    return load_signatures()


def report(sigs, *invs: Inventory, policies=None, fail_on="prohibited"):
    return run([Listed(list(invs))], Matcher(sigs, policies), fail_on=fail_on)


def android(serial: str, *apps: App, residue=()) -> Inventory:
    return Inventory(DeviceInfo("android", serial, source="adb", transport=serial), apps,
                     coverage=(Scope("user 0", read=True),), residue=residue)


def steps(p):
    return {(s.app.id, s.user): (s.remove, s.why) for s in p.steps}


def test_an_identifier_found_for_two_users_is_two_removals(sigs):
    inv = android("A1", App("android", "com.tencent.mm", user=0, system=False),
                  App("android", "com.tencent.mm", user=10, system=False))
    got = steps(plan(report(sigs, inv)))
    assert got == {("com.tencent.mm", 0): (True, "remove for user 0"),
                   ("com.tencent.mm", 10): (True, "remove for user 10")}


def test_a_team_id_finding_is_checked_by_hand_unless_include_review(sigs):
    inv = Inventory(DeviceInfo("ios", "UDID1", source="usbmux"),
                    (App("ios", "com.example.unknown", team_id="88L2Q4487U"),))
    r = report(sigs, inv, policies=["us-wi-eo-184"])
    assert r.results[0].findings[0].match == "team-id"
    (s,) = plan(r).steps
    assert not s.remove and "check by hand" in s.why and "developer team" in s.why
    (s,) = plan(r, include_review=True).steps
    assert s.remove and s.user is None


def test_a_name_is_never_removed(sigs):
    inv = Inventory(DeviceInfo("ios", "UDID2", source="intune.csv"), (App("ios", "WeChat", evidence="name"),))
    r = report(sigs, inv)
    assert r.results[0].findings, "the name should match"
    for include in (False, True):
        (s,) = plan(r, include_review=include).steps
        assert not s.remove and "check by hand" in s.why


def test_a_recovered_id_is_checked_by_hand(sigs):
    inv = android("A2", App("android", "org.example.notes", user=0, system=False), residue=("com.zhiliaoapp.musically",))
    r = report(sigs, inv)
    (s,) = [s for s in plan(r).steps if s.app.id == "com.zhiliaoapp.musically"]
    assert not s.remove and "recovered" in s.why


def test_below_fail_on_and_system_and_kept_apps_are_not_removed(sigs):
    inv = android("A3",
                  App("android", "com.tencent.tim", user=0, system=False),  # review under EO 13971
                  App("android", "com.zhiliaoapp.musically", user=0, system=True),
                  App("android", "com.tencent.mm", user=0, system=None),
                  App("android", "com.intsig.camscanner", user=0, system=False, state="uninstalled-data-kept"))
    r = report(sigs, inv)
    got = steps(plan(r))
    assert not got[("com.tencent.tim", 0)][0] and "below --fail-on" in got[("com.tencent.tim", 0)][1]
    assert not got[("com.zhiliaoapp.musically", 0)][0]
    assert "install-existing --user 0 com.zhiliaoapp.musically" in got[("com.zhiliaoapp.musically", 0)][1]
    assert not got[("com.tencent.mm", 0)][0] and "did not say" in got[("com.tencent.mm", 0)][1]
    assert not got[("com.intsig.camscanner", 0)][0]
    forced = steps(plan(r, system_apps=True))
    assert forced[("com.zhiliaoapp.musically", 0)][0] and forced[("com.tencent.mm", 0)][0]
    assert not forced[("com.intsig.camscanner", 0)][0]


def test_one_app_named_by_two_rules_is_one_step(sigs):
    inv = android("A4", App("android", "com.tencent.mm", user=0, system=False))
    r = report(sigs, inv, policies=["us-eo-13971", "us-wi-eo-184"])
    assert len(r.results[0].findings) >= 2
    (s,) = plan(r).steps
    assert len(s.rules) == len(r.results[0].findings)


# --- the record -------------------------------------------------------------------------------------------------


def test_the_default_record_follows_xdg(tmp_path):
    assert default_record_path({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "scanner" / "removals.jsonl"
    relative = default_record_path({"XDG_STATE_HOME": "not/absolute"})  # the spec: ignore a relative one
    assert str(relative).endswith(".local/state/scanner/removals.jsonl")


def test_an_old_record_readable_by_others_is_made_private_and_appended(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"event": "old"}\n')
    os.chmod(path, 0o644)
    rec = Record(path)
    rec.write({"event": "new"})
    rec.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [json.loads(x)["event"] for x in path.read_text().splitlines()] == ["old", "new"]


def test_a_record_that_is_a_symlink_is_refused(tmp_path):
    (tmp_path / "elsewhere").write_text("")
    (tmp_path / "r.jsonl").symlink_to(tmp_path / "elsewhere")
    from scanner.removal import RecordError

    with pytest.raises(RecordError):
        Record(tmp_path / "r.jsonl")


# --- faults, against emulated phones ---------------------------------------------------------------------------

APPS = (AppProfile("android", system=True), AppProfile("com.tencent.mm"), AppProfile("com.zhiliaoapp.musically"),
        AppProfile("com.intsig.camscanner"))


def live_plan(sim, sigs, serial):
    adb = AndroidConnector(f"127.0.0.1:{sim.adb_port}", serials=[serial], timeout=20)
    before = live.scan([adb], Matcher(sigs), fail_on="review")
    p = plan(before, include_review=True)
    assert len(p.removals) == 3, p
    return adb, before, p


def test_a_phone_unplugged_mid_plan(sigs, tmp_path):
    with AndroidSimulator([DeviceProfile("android", "RMUNPLG1", apps=APPS)]) as sim:
        adb, before, p = live_plan(sim, sigs, "RMUNPLG1")
        record = Record(tmp_path / "r.jsonl")
        unplugged = []

        def on_action(action):
            if not unplugged:
                unplugged.append(action)
                sim.detach("RMUNPLG1")

        actions = execute(p, {"android": adb}.get, record, timeout=10, on_action=on_action)
        outcomes = [a.outcome for a in actions]
        assert outcomes[0] == "removed"
        assert outcomes[1] == "disconnected"  # asked, no answer: unknown
        assert outcomes[2] == NOT_ATTEMPTED  # never sent once the phone was gone
        lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
        assert [x["outcome"] for x in lines] == outcomes
        again = AndroidConnector(f"127.0.0.1:{sim.adb_port}", serials=[p.removals[0].device.transport], timeout=10)
        rescan = live.scan([again], Matcher(sigs), inventory=True, fail_on="review")
        actions = verify(actions, rescan)
        assert {a.after for a in actions if a.outcome != NOT_ATTEMPTED} == {"unknown"}
        after = merge_after(before, rescan, touched(actions))
        assert after.results[0].status == "failed" and after.exit_code == 5  # findings kept, incomplete


def test_ctrl_c_between_two_removals_stops_before_the_next_and_keeps_the_record(sigs, tmp_path):
    # Python's own Ctrl-C handler, whatever an earlier test's `main` left installed (the CLI's raises SystemExit)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _ctrl_c_between_two_removals(sigs, tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_between_two_removals(sigs, tmp_path):
    with AndroidSimulator([DeviceProfile("android", "RMCTRLC1", apps=APPS)]) as sim:
        adb, _, p = live_plan(sim, sigs, "RMCTRLC1")
        record = Record(tmp_path / "r.jsonl")
        stop = threading.Event()

        def on_action(action):
            if not stop.is_set():
                stop.set()  # what Ctrl-C does (execute sets it when the interrupt reaches it) ...
                _thread.interrupt_main()  # ... and the interrupt itself, in the thread that waits

        with pytest.raises(KeyboardInterrupt):
            execute(p, {"android": adb}.get, record, timeout=10, stop=stop, on_action=on_action)
        lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
        assert [x["outcome"] for x in lines] == ["removed", NOT_ATTEMPTED, NOT_ATTEMPTED]
        assert len([c for c in sim.history("RMCTRLC1") if "pm uninstall" in c]) == 1


def test_an_app_rests_on_its_most_severe_finding_whatever_the_order(sigs):
    inv = Inventory(DeviceInfo("ios", "UDID3", source="usbmux"),
                    (App("ios", "com.tencent.xin", team_id="88L2Q4487U"),))
    r = report(sigs, inv, policies=["us-eo-13971", "us-wi-eo-184"], fail_on="prohibited")
    findings = r.results[0].findings
    assert len(findings) >= 2 and "prohibited" in {f.severity for f in findings}
    for order in (findings, findings[::-1]):
        flipped = with_findings(r, results=(with_findings(r.results[0], findings=tuple(order)),))
        (s,) = plan(flipped).steps
        assert s.remove and s.finding.severity == "prohibited" and s.finding.match == "exact"
        assert set(s.rules) == {f.rule for f in findings}


def test_a_partial_rescan_proves_gone_only_for_a_user_read_whole(sigs):
    before = report(sigs, android("A5", App("android", "com.tencent.mm", user=1, system=False)))
    (s,) = plan(before).steps

    def rescan(*coverage):
        result = DeviceResult(before.results[0].device, "partial", "user-refused", "...", coverage, (), 3,
                              apps=(App("android", "org.example.notes", user=0),))
        return with_findings(before, results=(result,))

    done = [Action(s, "removed", "ok", "Success")]
    assert verify(done, rescan(Scope("user 0", True), Scope("user 10 (Work)", True)))[0].after == "unknown"
    assert verify(done, rescan(Scope("user 1", True), Scope("user 1", False, "2 lines not understood")))[0].after \
        == "unknown"
    assert verify(done, rescan(Scope("user 1 (Clone)", True), Scope("user 10", False)))[0].after == "gone"


def test_a_transport_that_cannot_remove_fails_the_step_and_says_so(sigs, tmp_path):
    inv = Inventory(DeviceInfo("ios", "UDID4", source="usbmux"), (App("ios", "com.tencent.xin"),))
    p = plan(report(sigs, inv))
    actions = execute(p, lambda platform: object(), Record(tmp_path / "r.jsonl"), timeout=5)
    assert [(a.outcome, a.failed) for a in actions] == [("failed", True)]
    assert "cannot remove ios apps" in actions[0].message


def test_a_transport_that_raises_is_a_failed_step_not_a_crash(sigs, tmp_path):
    class Broken:
        def remove(self, serial, app_id, *, user=None, timeout=None):
            raise RuntimeError("boom")

    inv = android("A6", App("android", "com.tencent.mm", user=0, system=False),
                  App("android", "com.zhiliaoapp.musically", user=0, system=False))
    actions = execute(plan(report(sigs, inv)), lambda platform: Broken(), Record(tmp_path / "r.jsonl"), timeout=5)
    assert [a.outcome for a in actions] == ["failed", "failed"]  # the next step is still tried
    assert all("internal error" in a.message for a in actions)


def test_an_app_left_only_as_uninstalled_is_on_the_device_not_installed(sigs):
    before = report(sigs, android("A7", App("android", "com.tencent.mm", user=0, system=False)))
    (s,) = plan(before).steps
    kept = DeviceResult(before.results[0].device, "complete", None, None, (Scope("user 0", True),), (), 1,
                        apps=(App("android", "com.tencent.mm", user=0, state="uninstalled-data-kept"),))
    (a,) = verify([Action(s, "removed", "ok", "Success")], with_findings(before, results=(kept,)))
    assert (a.outcome, a.after) == ("removed", "still-on-the-device")


def test_a_record_that_is_not_a_file_is_refused(tmp_path):
    from scanner.removal import RecordError

    with pytest.raises(RecordError, match="not a regular file"):
        Record("/dev/null")


def test_a_record_that_fills_up_stops_the_next_removal(sigs, tmp_path, monkeypatch):
    import errno

    from scanner.connectors.interface import Removal

    class Removes:
        def remove(self, serial, app_id, *, user=None, timeout=None):
            return Removal(app_id, user, "removed", "gone", "Success")

    inv = android("A8", App("android", "com.tencent.mm", user=0, system=False),
                  App("android", "com.zhiliaoapp.musically", user=0, system=False))
    record = Record(tmp_path / "r.jsonl")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("scanner.removal.os.write", full)
    actions = execute(plan(report(sigs, inv)), lambda platform: Removes(), record, timeout=5)
    assert [a.outcome for a in actions] == ["removed", NOT_ATTEMPTED]
    assert "could not be written" in actions[1].message and record.failures
