"""`scanner watch --remove --yes`: the intake station removes what it finds, rescans, and gives the after-state.

A real watch process, the bundled adb server, emulated phones plugged in while it runs.
"""

from __future__ import annotations

import json
import stat

from watching import android_only, fixture_watches  # noqa: F401 - the `watches` fixture

from scanner.simulator.fleet import Fleet
from scanner.simulator.profile import AppProfile, DeviceProfile

FRAMEWORK = AppProfile("android", system=True)


def test_watch_remove_cleans_each_phone_as_it_is_plugged_in(watches, tmp_path):
    record = tmp_path / "removals.jsonl"
    first = DeviceProfile("android", "WRMCHAT1", apps=(FRAMEWORK, AppProfile("com.tencent.mm")))
    with Fleet([first]) as fleet:
        w = watches(android_only(fleet), "--platform", "android", "--remove", "--yes", "--record", str(record))
        assert "CLEAN" in w.verdict("WRMCHAT1")  # the verdict is the after-state
        stubborn = DeviceProfile("android", "WRMADMN1", apps=(
            FRAMEWORK, AppProfile("com.zhiliaoapp.musically", pm_uninstall="device-admin")))
        fleet.android.attach(stubborn)
        assert "TikTok" in w.verdict("WRMADMN1")  # refused: still there, and said so
        w.note("device-admin")
        sent = [c for c in fleet.android.history("WRMCHAT1") if "pm uninstall" in c]
        code = w.stop()
    assert code == 1, w.notes
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    lines = [json.loads(x) for x in record.read_text().splitlines()]
    assert [(x["event"], x["app"], x["outcome"]) for x in lines] == [
        ("removal", "com.tencent.mm", "removed"), ("rescan", "com.tencent.mm", "removed"),
        ("removal", "com.zhiliaoapp.musically", "device-admin"),
        ("rescan", "com.zhiliaoapp.musically", "device-admin")]
    assert [x["after"] for x in lines if x["event"] == "rescan"] == ["gone", "still-installed"]
    assert len(sent) == 1 and sent[0].startswith("pm uninstall --user 0 com.tencent.mm ")


def test_watch_remove_needs_yes(watches, tmp_path):
    with Fleet([DeviceProfile("android", "WRMNOYES", apps=(FRAMEWORK,))]) as fleet:
        w = watches(android_only(fleet), "--platform", "android", "--remove")
        assert w.proc.wait(60) == 2
        w.note("give --yes too")
