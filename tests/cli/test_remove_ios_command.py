"""`scanner remove` end to end on an iPhone: the real CLI in a subprocess, the real pymobiledevice3, the
emulated iPhone's installation_proxy Uninstall. The Android side is in test_remove_command.py.

Each test plugs in an iPhone of its own (a UDID of its own) and picks it with --udid: what one test removes
never changes another's phone. HOME is a temporary folder, so no real pair record is read or written.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from scanner.simulator.ios import IOSSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, Faults, filler_apps

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "report-schema.json").read_text(encoding="utf-8"))
WECHAT = AppProfile(id="com.tencent.xin", name="WeChat", version="8.0.50")
TIKTOK = AppProfile(id="com.zhiliaoapp.musically", name="TikTok", version="33.1.0")
_udids = itertools.count(1)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    home = tmp_path_factory.mktemp("remove-ios-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_DATA_HOME", str(home / "xdg"))
        mp.delenv("USBMUXD_SOCKET_ADDRESS", raising=False)
        with IOSSimulator([]) as simulator:
            simulator.home = home
            yield simulator


def iphone(sim, *apps: AppProfile, **faults) -> DeviceProfile:
    profile = DeviceProfile(platform="ios", serial=f"00008120-0E2E{next(_udids):012X}",
                            apps=(*apps, *filler_apps("ios", 5, seed="rm-cli")), faults=Faults(**faults))
    sim.attach(profile)
    return profile


def run(sim, tmp_path: Path, udid: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(sim.env, HOME=str(sim.home), XDG_DATA_HOME=str(sim.home / "xdg"),
               XDG_STATE_HOME=str(tmp_path / "state"))
    proc = subprocess.run([sys.executable, "-m", "scanner", "remove", "--platform", "ios", "--udid", udid,
                           "--format", "json", *args], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=180, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def removals(proc: subprocess.CompletedProcess) -> set[tuple]:
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    return {(r["app"], r["outcome"], r.get("after")) for r in doc["removals"]}


def test_an_iphone_is_cleaned_rescanned_and_recorded(sim, tmp_path):
    phone = iphone(sim, WECHAT, TIKTOK)
    proc = run(sim, tmp_path, phone.serial, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert removals(proc) == {("com.tencent.xin", "removed", "gone"), ("com.zhiliaoapp.musically", "removed", "gone")}
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "clean" and doc["devices"][0]["status"] == "complete"
    record = [json.loads(line) for line in (tmp_path / "state" / "scanner" / "removals.jsonl").read_text().splitlines()]
    assert {(x["app"], x["outcome"]) for x in record if x["event"] == "removal"} == {
        ("com.tencent.xin", "removed"), ("com.zhiliaoapp.musically", "removed")}
    again = run(sim, tmp_path, phone.serial, "--dry-run")  # the app is gone from later listings
    assert again.returncode == 0 and json.loads(again.stdout)["removals"] == []


def test_an_app_the_mdm_forbids_removing_stays_and_the_exit_code_says_so(sim, tmp_path):
    phone = iphone(sim, WECHAT, uninstall_prohibited=True)
    proc = run(sim, tmp_path, phone.serial, "--yes")
    assert proc.returncode == 1, proc.stderr  # still installed after the run
    ((app, outcome, after),) = removals(proc)
    assert (app, outcome) == ("com.tencent.xin", "managed") and after != "gone"


def test_a_locked_iphone_is_never_reported_clean(sim, tmp_path):
    phone = iphone(sim, WECHAT, locked=True)
    proc = run(sim, tmp_path, phone.serial, "--yes")
    assert proc.returncode not in (0, 1), proc.stderr  # unreadable: incomplete, never a pass
    assert json.loads(proc.stdout)["devices"][0]["status"] != "complete"


def test_a_drop_in_the_middle_of_the_removal_is_told_by_the_rescan(sim, tmp_path):
    phone = iphone(sim, WECHAT, uninstall_drop=True)
    proc = run(sim, tmp_path, phone.serial, "--yes")
    ((app, outcome, after),) = removals(proc)
    assert app == "com.tencent.xin" and outcome == "disconnected"
    assert (after, proc.returncode) in {("gone", 0), ("still-installed", 1), ("unknown", 5)}
