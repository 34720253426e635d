"""`scanner watch`, the intake station, as a separate process against emulated devices plugged in and out.

The devices run in this process (a Fleet: a private real adb server, an
emulated usbmuxd); `scanner watch` runs as its own process with their
addresses, and sees them through adb `track-devices` and usbmuxd `Listen`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from served import free_port
from watching import fixture_watches  # noqa: F401 - the `watches` fixture

from scanner.simulator.fleet import Fleet
from scanner.simulator.profile import AppProfile, DeviceProfile, Faults, default_profile_path, load_profile

PIXEL, GALAXY = "SIMPIXEL7A", "SIMGALAXYS23B"
IPHONE_C, IPHONE_D = "00008110-00125C963A91801E", "00008030-001A35E11E05802E"


def test_attach_detach_and_reattach_are_each_seen(watches, tmp_path):
    jsonl = tmp_path / "intake.jsonl"
    with Fleet(load_profile(default_profile_path()).devices) as fleet:
        w = watches(fleet.env, "-o", f"jsonl={jsonl}")
        first = w.verdicts_for({PIXEL, GALAXY, IPHONE_C, IPHONE_D})  # attached before watch started
        assert "CLEAN" in first[PIXEL] and "4 apps read, nothing listed" in first[PIXEL]
        assert "FINDINGS-INCOMPLETE" in first[GALAXY]
        for name in ("CamScanner", "SHAREit", "WPS Office"):
            assert name in first[GALAXY]
        assert "User 10 (Work profile) could not be read" in first[GALAXY]
        assert "FINDINGS" in first[IPHONE_C] and "WeChat Pay" in first[IPHONE_C] and "Alipay" in first[IPHONE_C]
        # Issue 15: watch rescans by itself, so its FAILED line never says "run again".
        assert "FAILED" in first[IPHONE_D] and "unlock it — watch reads it again" in first[IPHONE_D]
        assert "run again" not in first[IPHONE_D]

        # Issue 15: a note names the device by what was last known of it (model, serial, the transport beside).
        pixel = fleet.android.transport_serial(PIXEL)
        fleet.detach(PIXEL)
        w.note(f"android Pixel 7 {PIXEL} (via {pixel}): unplugged")
        fleet.detach(IPHONE_C)
        w.note(f"ios iPhone15,2 {IPHONE_C}: unplugged")
        assert w.out.empty()  # unplugging is a note, never a verdict

        fleet.attach(PIXEL)  # plugged in again: scanned again
        assert "CLEAN" in w.verdict(PIXEL)
        fleet.attach(IPHONE_C)
        assert "WeChat Pay" in w.verdict(IPHONE_C)

        code = w.stop(signal.SIGINT)
    assert code == 5  # the last verdict of each device: findings, and devices not fully read
    summary = next(n for n in w.notes if "watch stopped" in n)
    assert "6 scans of 4 devices" in summary and "exit 5" in summary
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [r["device"]["serial"] for r in records] == [v.split()[2] for v in w.verdicts]
    by = {r["device"]["serial"]: r for r in records}
    assert by[GALAXY]["exit_code"] == 5 and by[GALAXY]["status"] == "partial" and by[GALAXY]["reason"] == "user-refused"
    assert by[PIXEL]["exit_code"] == 0 and by[PIXEL]["findings"] == []
    assert by[IPHONE_D]["exit_code"] == 4 and by[IPHONE_D]["reason"] == "locked"
    assert {f["listed"] for f in by[IPHONE_C]["findings"]} == {"WeChat Pay", "QQ Wallet", "Tencent QQ", "Alipay",
                                                               "CamScanner"}
    assert all(r["policies"] == ["us-eo-13971", "us-no-tiktok-gov-devices"] and r["scanned_at"].endswith("Z")
               for r in records)  # the federal default set
    assert [r["trigger"] for r in records] == ["attached"] * 6
    assert (jsonl.stat().st_mode & 0o077) == 0  # evidence about people's phones: owner only


def test_unauthorized_phone_and_sigterm(watches, tmp_path):
    devices = [
        DeviceProfile("android", "LOCKEDOUT1", model="Pixel 6", faults=Faults(unauthorized=True)),
        DeviceProfile("android", "CLEANPHONE", model="Pixel 8", apps=(AppProfile("com.whatsapp"),)),
    ]
    with Fleet(devices) as fleet:
        w = watches({**fleet.env, "USBMUXD_SOCKET_ADDRESS": f"127.0.0.1:{free_port()}"}, "--platform", "android")
        found = w.verdicts_for({fleet.android.transport_serial("LOCKEDOUT1"), "CLEANPHONE"})
        locked = found[fleet.android.transport_serial("LOCKEDOUT1")]
        assert "FAILED" in locked and "Allow USB debugging" in locked
        assert "CLEAN" in found["CLEANPHONE"]
        code = w.stop(signal.SIGTERM)
    assert code == 4  # a device not fully read is never a pass
    assert any("1 clean, 1 failed" in n for n in w.notes), w.notes


def test_an_unauthorized_phone_is_scanned_again_once_its_prompt_is_accepted(watches, tmp_path):
    jsonl = tmp_path / "intake.jsonl"
    phone = DeviceProfile("android", "PROMPTED1", model="Pixel 6", faults=Faults(unauthorized=True),
                          apps=(AppProfile("com.intsig.camscanner"),))
    with Fleet([phone]) as fleet:
        transport = fleet.android.transport_serial("PROMPTED1")
        w = watches({**fleet.env, "USBMUXD_SOCKET_ADDRESS": f"127.0.0.1:{free_port()}"}, "--platform", "android",
                    "-o", f"jsonl={jsonl}")
        assert "FAILED" in w.verdict(transport)  # before: what to do
        fleet.authorize("PROMPTED1")  # the person taps "Allow"
        after = w.verdict("PROMPTED1")  # read now, under its hardware serial
        assert "FINDINGS" in after and "CamScanner" in after
        code = w.stop()
    assert code == 1  # the last verdict counts: the phone was read in full after all
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [(r["trigger"], r["status"], r["reason"]) for r in records] == [
        ("attached", "failed", "unauthorized"), ("authorized", "complete", None)]


def test_nothing_attached_is_exit_4_and_one_transport_missing_does_not_stop_the_other(watches, tmp_path):
    devices = [DeviceProfile("ios", "00008101-000000000000002E", model="iPhone 12",
                             apps=(AppProfile("com.lenovo.anyshare"),))]
    with Fleet(devices) as fleet:
        w = watches({**fleet.env, "ANDROID_ADB_SERVER_PORT": str(free_port())}, "--adb-server",
                    f"127.0.0.1:{free_port()}")
        line = w.verdict("00008101-000000000000002E")
        assert "FINDINGS" in line and "SHAREit" in line
        w.note("no adb server answers on 127.0.0.1:")  # noted once, retried; iOS goes on
        code = w.stop()
    # Findings, and Android devices may have gone unseen while no adb server answered: not fully read.
    assert code == 5
    assert any("not answering when watch stopped" in n and "--platform ios" in n for n in w.notes)
    with Fleet([DeviceProfile("android", "LONELY1")]) as fleet:
        fleet.detach("LONELY1")
        w = watches({**fleet.env, "USBMUXD_SOCKET_ADDRESS": f"127.0.0.1:{free_port()}"})
        w.note("usbmuxd is not reachable")
        code = w.stop()
    assert code == 4
    assert any("no device was scanned" in n for n in w.notes)


def test_hostile_device_text_is_escaped_in_verdict_lines(watches, tmp_path):
    evil = DeviceProfile("android", "EVIL0001", model="Pixel\x1b[2J\x1b[31m\rOK CLEAN",
                         apps=(AppProfile("com.intsig.camscanner"),))
    with Fleet([evil]) as fleet:
        w = watches({**fleet.env, "USBMUXD_SOCKET_ADDRESS": f"127.0.0.1:{free_port()}"}, "--quiet")
        line = w.verdict("EVIL0001")
        w.stop()
    assert "\x1b" not in line and "\r" not in line
    assert "\\x1b[2J" in line and "FINDINGS" in line and "CamScanner" in line
    assert w.notes == []  # --quiet: verdicts only; and stderr is a pipe: no progress lines


@pytest.mark.parametrize("args, message", [
    (["--output", "json=r.json"], "watch writes jsonl=PATH"),
    (["--output", "jsonl=-"], "stdout gets the verdict lines"),
    (["--output", "jsonl=missing/dir/r.jsonl"], "cannot write"),
    (["--adb-server", "nope"], "expected HOST:PORT"),
])
def test_usage_errors_exit_2_before_watching(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "scanner", "watch", *args], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "ANDROID_ADB_SERVER_PORT": str(free_port()),
                                 "USBMUXD_SOCKET_ADDRESS": f"127.0.0.1:{free_port()}"})
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stdout == ""
