"""`scanner remove` end to end: the real CLI in a subprocess, the real adb server, emulated phones.

Each test plugs in a phone of its own (a serial of its own) into one shared simulator and picks it with
--serial, so what one test removes never changes another's phone.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from scanner.simulator.android import AndroidSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, Faults, UserProfile

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "report-schema.json").read_text(encoding="utf-8"))
FRAMEWORK = AppProfile("android", system=True, users=(0, 10), uid=1000)
NOTES = AppProfile("org.example.notes", build="3", users=(0, 10))
WECHAT = AppProfile("com.tencent.mm", build="2280", version="8.0.30", users=(0, 10))
TIKTOK = AppProfile("com.zhiliaoapp.musically", build="330104")


def phone(serial: str, *apps: AppProfile) -> DeviceProfile:
    return DeviceProfile("android", serial, model="Pixel 8",
                         users=(UserProfile(0), UserProfile(10, "Work profile")), apps=(FRAMEWORK, NOTES, *apps))


@pytest.fixture(scope="module")
def sim():
    with AndroidSimulator([]) as s:
        yield s


def run(sim, tmp_path: Path, *args: str, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("ANDROID_", "ADB"))}
    env.update(sim.env)
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    proc = subprocess.run([sys.executable, "-m", "scanner", "remove", "--platform", "android", *args],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180, stdin=stdin)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def uninstalls(sim, serial: str) -> list[str]:
    return [c for c in sim.history(serial) if "pm uninstall" in c]


def record_lines(tmp_path: Path) -> list[dict]:
    path = tmp_path / "state" / "scanner" / "removals.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_not_a_terminal_without_yes_removes_nothing(sim, tmp_path):
    sim.attach(phone("RMNOTTY1", WECHAT))
    proc = run(sim, tmp_path, "--serial", "RMNOTTY1")
    assert proc.returncode == 1  # the scan's: findings, every target read
    assert "stdin is not a terminal, so nothing was removed" in proc.stderr
    assert uninstalls(sim, "RMNOTTY1") == []
    assert not (tmp_path / "state").exists()  # nothing done, nothing recorded


def test_dry_run_prints_the_plan_and_exits_with_the_scans_code(sim, tmp_path):
    sim.attach(phone("RMDRY001", WECHAT))
    proc = run(sim, tmp_path, "--serial", "RMDRY001", "--dry-run", "--yes", "--format", "json")
    assert proc.returncode == 1
    assert "remove  com.tencent.mm (user 0)" in proc.stderr and "(user 10)" in proc.stderr
    assert uninstalls(sim, "RMDRY001") == []
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert {(r["app"], r["user"], r["outcome"]) for r in doc["removals"]} == {
        ("com.tencent.mm", 0, "planned"), ("com.tencent.mm", 10, "planned")}


def test_yes_removes_from_every_user_rescans_and_records(sim, tmp_path):
    sim.attach(phone("RMYES001", WECHAT, TIKTOK))
    proc = run(sim, tmp_path, "--serial", "RMYES001", "--yes", "--format", "json", "-o", f"json={tmp_path}/r.json")
    assert proc.returncode == 0, proc.stderr
    sent = sorted(re.match(r"pm uninstall --user (\d+) ([\w.]+) 2>&1; echo ::scanner:", c).groups()
                  for c in uninstalls(sim, "RMYES001"))
    assert sent == [("0", "com.tencent.mm"), ("0", "com.zhiliaoapp.musically"), ("10", "com.tencent.mm")]
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["verdict"] == "clean" and doc["exit_code"] == 0
    assert {(r["app"], r["user"], r["outcome"], r["after"]) for r in doc["removals"]} == {
        ("com.tencent.mm", 0, "removed", "gone"), ("com.tencent.mm", 10, "removed", "gone"),
        ("com.zhiliaoapp.musically", 0, "removed", "gone")}
    assert json.loads((tmp_path / "r.json").read_text())["removals"] == doc["removals"]
    path = tmp_path / "state" / "scanner" / "removals.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = record_lines(tmp_path)
    removals = [x for x in lines if x["event"] == "removal"]
    assert len(removals) == 3 and len([x for x in lines if x["event"] == "rescan"]) == 3
    first = removals[0]
    assert first["device"]["serial"] == "RMYES001" and first["answer"] == "Success"
    assert first["operator"] and first["host"] and first["time"].endswith("Z")
    assert first["finding"]["policy"] and first["finding"]["matched_by"] == "identifier"
    assert {x["build"] for x in removals if x["app"] == "com.tencent.mm"} == {"2280"} and "version" in first
    # the rescan agrees: a scan now finds nothing
    again = run(sim, tmp_path, "--serial", "RMYES001", "--dry-run")
    assert again.returncode == 0 and "the scan found nothing to remove" in again.stderr


def test_the_record_goes_where_asked_and_appends(sim, tmp_path):
    sim.attach(phone("RMREC001", TIKTOK))
    target = tmp_path / "audit" / "removed.jsonl"
    proc = run(sim, tmp_path, "--serial", "RMREC001", "--yes", "--record", str(target))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [json.loads(x)["event"] for x in target.read_text().splitlines()] == ["removal", "rescan"]


def test_a_record_that_cannot_be_written_stops_before_any_removal(sim, tmp_path):
    sim.attach(phone("RMREC002", TIKTOK))
    (tmp_path / "a-file").write_text("not a folder")
    proc = run(sim, tmp_path, "--serial", "RMREC002", "--yes", "--record", str(tmp_path / "a-file" / "r.jsonl"))
    assert proc.returncode == 2 and "nothing was removed" in proc.stderr
    assert uninstalls(sim, "RMREC002") == []


@pytest.mark.parametrize(("answer", "removed"), [("y\n", True), ("n\n", False)])
def test_on_a_terminal_it_asks_once(sim, tmp_path, answer, removed):
    serial = f"RMTTY00{int(removed)}"
    sim.attach(phone(serial, WECHAT))
    master, slave = pty.openpty()
    os.write(master, answer.encode())
    try:
        proc = run(sim, tmp_path, "--serial", serial, stdin=slave)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.stderr.count("Remove 2 app(s) from 1 device(s)?") == 1
    assert len(uninstalls(sim, serial)) == (2 if removed else 0)
    assert proc.returncode == (0 if removed else 1)


def test_a_system_app_only_with_system_apps_and_only_per_user(sim, tmp_path):
    preinstalled = AppProfile("com.tencent.mm", build="1", system=True, users=(0, 10))
    sim.attach(phone("RMSYS001", preinstalled))
    proc = run(sim, tmp_path, "--serial", "RMSYS001", "--yes")
    assert proc.returncode == 1
    assert "came with the phone and cannot be removed from the system image" in proc.stderr
    assert uninstalls(sim, "RMSYS001") == []
    proc = run(sim, tmp_path, "--serial", "RMSYS001", "--yes", "--system-apps", "--format", "json")
    assert all("--user" in c for c in uninstalls(sim, "RMSYS001")) and len(uninstalls(sim, "RMSYS001")) == 2
    doc = json.loads(proc.stdout)
    assert {(r["user"], r["outcome"], r["after"]) for r in doc["removals"]} == {
        (0, "removed", "kept-in-system-image"), (10, "removed", "kept-in-system-image")}
    # still in the system image (pm list packages -u lists it): still a finding, so never a clean exit
    assert proc.returncode == 1 and doc["verdict"] == "findings"


def test_a_device_admin_refuses_and_says_what_to_do(sim, tmp_path):
    sim.attach(phone("RMADM001", AppProfile("com.zhiliaoapp.musically", pm_uninstall="device-admin")))
    proc = run(sim, tmp_path, "--serial", "RMADM001", "--yes", "--format", "json")
    assert proc.returncode == 1
    (action,) = json.loads(proc.stdout)["removals"]
    assert action["outcome"] == "device-admin" and action["after"] == "still-installed"
    assert "DELETE_FAILED_DEVICE_POLICY_MANAGER" in action["answer"] and "deactivate" in action["message"]


def test_success_that_the_rescan_contradicts_is_a_failure(sim, tmp_path):
    sim.attach(phone("RMLIE001", AppProfile("com.zhiliaoapp.musically", pm_uninstall="stays")))
    proc = run(sim, tmp_path, "--serial", "RMLIE001", "--yes", "--format", "json")
    assert proc.returncode == 1
    (action,) = json.loads(proc.stdout)["removals"]
    assert (action["answer"], action["outcome"], action["after"]) == ("Success", "still-installed", "still-installed")
    assert [x["outcome"] for x in record_lines(tmp_path) if x["event"] == "rescan"] == ["still-installed"]


def test_a_dropped_connection_is_unknown_until_the_rescan(sim, tmp_path):
    sim.attach(phone("RMDROP01", AppProfile("com.zhiliaoapp.musically", pm_uninstall="drop")))
    proc = run(sim, tmp_path, "--serial", "RMDROP01", "--yes", "--format", "json")
    (action,) = json.loads(proc.stdout)["removals"]
    assert action["outcome"] == "disconnected"
    # The adb server reconnects on its own (about 0.5 s): a rescan after that sees it gone and the after-state
    # is clean; one before that cannot read the phone, and unknown is never clean (findings, incomplete).
    assert (action["after"], proc.returncode) in {("gone", 0), ("unknown", 5)}
    assert [x["outcome"] for x in record_lines(tmp_path) if x["event"] == "removal"] == ["disconnected"]


def test_two_devices_side_by_side_keep_their_lines_whole(sim, tmp_path):
    many = tuple(AppProfile(p, users=(0, 10)) for p in ("com.tencent.mm", "com.zhiliaoapp.musically",
                                                         "com.intsig.camscanner", "com.ss.android.ugc.trill"))
    sim.attach(phone("RMPAR001", *many))
    sim.attach(phone("RMPAR002", *many))
    proc = run(sim, tmp_path, "--serial", "RMPAR001", "--serial", "RMPAR002", "--yes", "--fail-on", "review",
               "--include-review")
    lines = record_lines(tmp_path)  # every line parses: none was written into another
    removals = [x for x in lines if x["event"] == "removal"]
    per = {s: [x for x in removals if x["device"]["serial"] == s] for s in ("RMPAR001", "RMPAR002")}
    assert len(per["RMPAR001"]) == len(per["RMPAR002"]) >= 6
    assert all(x["outcome"] == "removed" for x in removals)
    assert proc.returncode == 0, proc.stderr


def test_ctrl_c_during_a_plan_stops_before_the_next_removal_and_keeps_the_record(sim, tmp_path):
    slow = DeviceProfile("android", "RMSIGINT", users=(UserProfile(0),), faults=Faults(delay=1.5), apps=(
        AppProfile("android", system=True), AppProfile("com.tencent.mm"), AppProfile("com.zhiliaoapp.musically"),
        AppProfile("com.intsig.camscanner")))
    sim.attach(slow)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("ANDROID_", "ADB"))}
    env.update(sim.env, XDG_STATE_HOME=str(tmp_path / "state"))
    proc = subprocess.Popen([sys.executable, "-m", "scanner", "remove", "--platform", "android", "--serial",
                             "RMSIGINT", "--yes", "--fail-on", "review", "--include-review"], env=env, cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:  # the first answer: the next removal is under way (or about to be)
        seen.append(line)
        if ": removed [Success]" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(60) == 130, "".join(seen) + rest
    assert "Traceback" not in rest
    outcomes = [x["outcome"] for x in record_lines(tmp_path)]
    assert len(outcomes) == 3 and outcomes[0] == "removed" and outcomes[-1] == "not-attempted", (outcomes, rest)
    attempted = [o for o in outcomes if o != "not-attempted"]
    assert len(uninstalls(sim, "RMSIGINT")) == len(attempted)  # nothing sent after the stop


def test_quiet_with_yes_prints_no_plan_but_still_says_what_matters(sim, tmp_path):
    sim.attach(phone("RMQUIET1", TIKTOK))
    proc = run(sim, tmp_path, "--serial", "RMQUIET1", "--yes", "--quiet")
    assert proc.returncode == 0 and proc.stderr == ""
    assert len(uninstalls(sim, "RMQUIET1")) == 1
    sim.attach(phone("RMQUIET2", TIKTOK))
    proc = run(sim, tmp_path, "--serial", "RMQUIET2", "--quiet")  # not a terminal, no --yes: said even so
    assert proc.returncode == 1 and "nothing was removed" in proc.stderr and "plan:" not in proc.stderr


def test_what_a_device_says_reaches_the_terminal_escaped(capsys):
    from scanner.cli.remove import action_line, show_plan
    from scanner.model import App, DeviceInfo, Finding
    from scanner.removal import Action, Plan, Step

    device = DeviceInfo("ios", "UDID\x1b[2J", model="iPhone\u202e", name="Ana\x07")
    app = App("ios", "com.evil\x1b]0;owned\x07")
    finding = Finding(app, "p", "in-force", "p/x", "X\x1b[31m", "app", "x", "X", "exact", app.id, "confirmed",
                      "prohibited")
    step = Step(device, app, finding, True, "remove", None, ("p/x",))
    line = action_line(Action(step, "refused", "no\x1b[0m", "Failure [\x1b[5m\r\n]"))
    show_plan(Plan((step,)))
    shown = line + capsys.readouterr().err
    assert not any(c in shown for c in "\x1b\x07\r\u202e"), shown
    assert "\\x1b" in shown
