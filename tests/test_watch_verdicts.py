"""`scanner watch` and `scanner simulate` never pass a device they did not read, and leave nothing running.

Issue 10: a device seen but never read (stopped mid-read, offline throughout)
is incomplete in watch's exit code; two phones sharing ro.serialno are two
devices; a rescan asked for while a scan is finishing is queued, not dropped;
a killed simulator takes its adb server with it; watch never starts a server
where a simulator's died; the hint for stopping a started server works with no
adb on PATH. Real parts throughout: the bundled adb server, emulated phones.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from test_intake import Watch, free_port, watches  # noqa: F401 - `watches` is a fixture
from test_simulate import Served, alive, children, client_env, closed

from scanner.simulator.fleet import Fleet
from scanner.simulator.profile import AppProfile, DeviceProfile, Faults

CLONE_SERIAL = "0123456789ABCDEF"  # what cheap clones ship as ro.serialno


def android_only(fleet: Fleet) -> dict[str, str]:
    return {**fleet.env, "USBMUXD_SOCKET_ADDRESS": f"127.0.0.1:{free_port()}"}


def wait_for(condition, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def summary_notes(w: Watch) -> str:
    return "\n".join(n for n in w.notes if "watch stopped" in n or "never read" in n)


# -- item 6: a device seen but never read is never a pass ------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_watch_stopped_while_a_phone_is_read_counts_it_as_not_read(watches, signum):
    slow = DeviceProfile("android", "SLOWCHAT", model="Pixel 6", faults=Faults(delay=30),
                         apps=(AppProfile("com.tencent.mm"),))
    quick = DeviceProfile("android", "QUICKCAM", model="Pixel 8", apps=(AppProfile("com.intsig.camscanner"),))
    with Fleet([slow, quick]) as fleet:
        transport = fleet.android.transport_serial("SLOWCHAT")
        w = watches(android_only(fleet), "--platform", "android")
        # Both scans began together; the slow phone's first answer is 30 s away when the quick one is done.
        assert "CamScanner" in w.verdict("QUICKCAM")
        code = w.stop(signum)
    assert code == 5, w.notes  # findings elsewhere, and a phone with WeChat that was never read
    notes = summary_notes(w)
    assert "1 failed" in notes and "exit 5" in notes, notes
    assert f"android {transport} (stopped while it was being read)" in notes, notes
    assert w.out.get(timeout=10) is None  # no verdict line for the phone cut short


def test_a_phone_offline_for_the_whole_run_is_never_a_pass(watches):
    devices = [DeviceProfile("android", "DEADCABLE", faults=Faults(offline=True)),
               DeviceProfile("android", "FINEPHONE", apps=(AppProfile("com.whatsapp"),))]
    with Fleet(devices) as fleet:
        transport = fleet.android.transport_serial("DEADCABLE")
        w = watches(android_only(fleet), "--platform", "android")
        assert "CLEAN" in w.verdict("FINEPHONE")
        w.note(f"android {transport}: offline; it is scanned once it is ready")
        code = w.stop()
    assert code == 4, w.notes
    notes = summary_notes(w)
    assert "1 scan(s) of 2 device(s): 1 clean, 1 failed; exit 4" in notes, notes
    assert f"android {transport} (seen offline, never read)" in notes, notes


# -- item 7: two phones with one ro.serialno are two devices ----------------------------------------


def clone(serial: str, apps: tuple[AppProfile, ...], delay: float = 0.0) -> DeviceProfile:
    props = (("ro.serialno", CLONE_SERIAL), ("ro.boot.serialno", CLONE_SERIAL))
    return DeviceProfile("android", serial, model="Clone X1", props=props, apps=apps, faults=Faults(delay=delay))


def test_a_transport_down_when_watch_stops_makes_it_incomplete(watches):
    # Item 10 for watch: usbmuxd down under the default --platform all means iPhones may be unseen.
    with Fleet([DeviceProfile("android", "CLEANONE", apps=(AppProfile("com.whatsapp"),))]) as fleet:
        w = watches(android_only(fleet))
        assert "CLEAN" in w.verdict("CLEANONE")
        w.note("usbmuxd is not reachable")
        code = w.stop()
    assert code == 4, w.notes
    assert any("not answering when watch stopped" in n and "--platform android" in n for n in w.notes), w.notes
    with Fleet([DeviceProfile("android", "CLEANTWO", apps=(AppProfile("com.whatsapp"),))]) as fleet:
        w = watches(android_only(fleet), "--platform", "android")  # one platform on purpose: usbmuxd not asked
        assert "CLEAN" in w.verdict("CLEANTWO")
        code = w.stop()
    assert code == 0, w.notes


def test_two_phones_with_one_serialno_keep_their_own_verdicts(watches):
    # The clean clone answers slowly, so its verdict comes last: the one that used to replace the other's.
    devices = [clone("CLONEWECHAT", (AppProfile("com.tencent.mm"),)),
               clone("CLONECLEAN", (AppProfile("com.whatsapp"),), delay=1.0)]
    with Fleet(devices) as fleet:
        transports = {fleet.android.transport_serial(s) for s in ("CLONEWECHAT", "CLONECLEAN")}
        w = watches(android_only(fleet), "--platform", "android")
        lines = [w.out.get(timeout=60) for _ in range(2)]
        code = w.stop()
    assert all(line and line.split()[2] == CLONE_SERIAL for line in lines), lines
    assert "FINDINGS" in lines[0] and "WeChat" in lines[0] and "CLEAN" in lines[1], lines
    assert code == 1, w.notes  # the clean clone never hides the other's WeChat
    assert "2 scan(s) of 2 device(s): 1 clean, 1 findings; exit 1" in summary_notes(w)
    # Each line says which phone it is about: the transport beside the shared hardware serial.
    assert {found[1] for line in lines if (found := re.search(r"\(via ([^)]+)\)", line))} == transports


def test_clones_plugged_in_one_after_the_other_never_wipe_a_finding(watches):
    # The review's false clean: one clone at a time on the hub, so adb names each by the shared serial (or each
    # by its own port, here), and the clean second clone's verdict used to replace the first one's WeChat.
    devices = [clone("CLONEFIRST", (AppProfile("com.tencent.mm"),)), clone("CLONESECOND", (AppProfile("com.whatsapp"),))]
    with Fleet(devices) as fleet:
        fleet.detach("CLONESECOND")
        w = watches(android_only(fleet), "--platform", "android")
        assert "WeChat" in w.verdict(CLONE_SERIAL)
        fleet.detach("CLONEFIRST")
        w.note("unplugged")
        fleet.attach("CLONESECOND")
        assert "CLEAN" in w.verdict(CLONE_SERIAL)
        code = w.stop()
    assert code == 1, w.notes  # the WeChat seen during the session stays in its exit code


def test_track_devices_l_names_clones_by_usb_path():
    from scanner.intake import parse_tracked

    block = ("0123456789ABCDEF       device usb:1-1.2 product:x1 model:Clone_X1 device:x1 transport_id:3\n"
             "0123456789ABCDEF       device usb:1-1.3 product:x1 model:Clone_X1 device:x1 transport_id:4\n"
             "R5CT123                no permissions (missing udev rules? user is in the plugdev group); see "
             "[http://developer.android.com/tools/device.html] usb:2-1 transport_id:5\n"
             "127.0.0.1:40001        unauthorized transport_id:6\n")
    assert parse_tracked(block, listing_long=True) == {
        "usb:1-1.2": "device", "usb:1-1.3": "device", "R5CT123": "no permissions", "127.0.0.1:40001": "unauthorized"}
    assert parse_tracked("A1\tdevice\nB2\tno permissions (udev); see [x]\n", listing_long=False) == {
        "A1": "device", "B2": "no permissions"}


# -- a rescan asked for while a scan runs is queued ----------------------------------------------------


def test_a_rescan_asked_for_during_a_scan_is_queued_not_dropped():
    from scanner.intake import Intake
    from scanner.matcher import Matcher
    from scanner.signatures import load_signatures

    signatures = load_signatures()
    reports: list[tuple[str, str]] = []
    done = threading.Event()

    def on_report(report, why, key) -> None:
        reports.append((why, report.results[0].status))
        if len(reports) == 2:
            done.set()

    phone = DeviceProfile("android", "BUSYPHONE", faults=Faults(delay=0.5), apps=(AppProfile("com.intsig.camscanner"),))
    with Fleet([phone]) as fleet:
        transport = fleet.android.transport_serial("BUSYPHONE")
        intake = Intake(platforms={"android": True}, adb_server=fleet.adb_server, usbmuxd=None, timeout=30,
                        signatures=signatures, matcher=Matcher(signatures), fail_on="prohibited",
                        on_report=on_report, notify=lambda message: None)
        try:
            intake.scan("android", transport, "attached")
            wait_for(lambda: fleet.android.history("BUSYPHONE"), what="the scan to begin")
            intake.scan("android", transport, "authorized")  # e.g. the prompt accepted while the scan finishes
            assert done.wait(60), f"the second scan never came: {reports}"
            summary = intake.report()
        finally:
            intake.close()
    assert reports == [("attached", "complete"), ("authorized", "complete")]
    assert intake.never_read() == [] and summary.exit_code == 1


# -- no adb server left behind ---------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_simulate_killed_with_sigkill_takes_its_adb_server_with_it(tmp_path):
    sim = Served(["--quiet"], client_env(tmp_path), tmp_path)
    helpers = children(sim.proc.pid)
    port = int(sim.exports["ANDROID_ADB_SERVER_PORT"])
    try:
        assert helpers and not closed(port)
        sim.proc.kill()
        sim.proc.wait(10)
        deadline = time.monotonic() + 10
        while ([pid for pid in helpers if alive(pid)] or not closed(port)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in helpers if alive(pid)], "the adb server outlived its simulator"
        assert closed(port)
    finally:
        for pid in helpers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_simulate_never_says_ready_for_a_dead_adb_server(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import scanner.cli_sim as cli_sim
    from scanner.cli import main

    def start_dead_fleet(devices, adb_port=None, usbmuxd_port=None):
        fleet = Fleet(devices).start()
        pid = fleet.pids[0]
        os.kill(pid, signal.SIGKILL)  # dies between its start and `ready`
        wait_for(lambda: fleet.exited(), what="the adb server to be gone")
        return fleet

    profile = tmp_path / "one.toml"
    profile.write_text('schema = 1\n[[device]]\nplatform = "android"\nserial = "LONEPHONE"\n')
    monkeypatch.setattr(cli_sim, "start_fleet", start_dead_fleet)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = CliRunner().invoke(main, ["simulate", "--profile", str(profile)])
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    assert result.exit_code == 2, result.output
    assert "ready" not in result.stdout and "export" not in result.stdout
    assert "adb server" in result.output and "exited" in result.output


def test_simulate_whose_adb_server_dies_says_so_and_stops(tmp_path):
    sim = Served(["--quiet"], client_env(tmp_path), tmp_path)
    (server,) = children(sim.proc.pid)
    os.kill(server, signal.SIGKILL)
    try:
        code = sim.proc.wait(30)
    except subprocess.TimeoutExpired:
        sim.stop()
        pytest.fail("simulate kept serving without its adb server")
    assert code == 2
    assert "adb server" in sim.error_text() and "stopping" in sim.error_text()


def test_watch_never_starts_a_server_where_a_simulators_died(watches):
    with Fleet([DeviceProfile("android", "FOLLOWED1", apps=(AppProfile("com.whatsapp"),))]) as fleet:
        port = fleet.android.adb_port
        w = watches(android_only(fleet), "--platform", "android")
        assert "CLEAN" in w.verdict("FOLLOWED1")
        os.kill(fleet.pids[0], signal.SIGKILL)  # the simulator's server dies while watch follows it
        w.note("lost the adb server")
        deadline = time.monotonic() + 8  # watch retries every 2 s: four chances to start one
        try:
            while time.monotonic() < deadline:
                assert closed(port), f"something listens on the simulator's port {port} again"
                time.sleep(0.2)
            assert not children(w.proc.pid)
        finally:
            code = w.stop()
            for note in w.notes:  # a server started by mistake is stopped here, by the pid watch gave
                if (found := re.search(r"so one was started on \S+ \(pid (\d+)", note)) and alive(int(found[1])):
                    os.kill(int(found[1]), signal.SIGKILL)
    assert not any("so one was started" in n for n in w.notes), w.notes
    # Its one device was read in full before the server went, but phones attached since could not be seen.
    assert code == 4, w.notes


def path_without_adb() -> str:
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not shutil.which("adb", path=d))


@pytest.mark.parametrize("command", [["watch", "--platform", "android"], ["scan", "--platform", "android"]])
def test_the_hint_to_stop_a_started_server_works_without_adb_on_path(tmp_path, command):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADB_", "ANDROID_", "USBMUXD_"))}
    env.update(HOME=str(tmp_path), PATH=path_without_adb(), ANDROID_ADB_SERVER_PORT=str(port),
               USBMUXD_SOCKET_ADDRESS=f"127.0.0.1:{free_port()}")
    assert shutil.which("adb", path=env["PATH"]) is None
    proc = subprocess.Popen([sys.executable, "-m", "scanner", *command], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid = None
    try:
        line = ""
        while "so one was started" not in line:
            line = proc.stderr.readline()
            assert line, "no note about a started adb server"
        pid = int(re.search(r"\(pid (\d+)", line)[1])
        hint = line.rstrip("\n").rpartition("stop it with ")[2]
        assert "kill-server" in hint and str(port) in hint, line
        if command[0] == "watch":
            proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 4  # no device attached: nothing read
        stopped = subprocess.run(hint, shell=True, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert stopped.returncode == 0, f"{hint!r}: {stopped.stderr}"
        wait_for(lambda: not alive(pid) and closed(port), what="the started server to stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_fleet_check_fails_once_its_server_is_gone():
    from scanner.simulator.android import SimulatorError

    with Fleet([DeviceProfile("android", "CHECKED1")]) as fleet:
        fleet.check()
        assert fleet.exited() is None
        os.kill(fleet.pids[0], signal.SIGKILL)
        wait_for(lambda: fleet.exited(), what="the server to be seen gone")
        with pytest.raises(SimulatorError, match="exited"):
            fleet.check()



def test_simulate_of_one_platform_serves_both_transports_so_a_scan_never_touches_the_real_ones(tmp_path):
    # The review: an iOS-only profile exported no adb port, so a scan of the fleet started adb on 5037.
    profile = tmp_path / "ios.toml"
    profile.write_text('schema = 1\n[[device]]\nplatform = "ios"\nserial = "00008101-000000000000002E"\n'
                       'model = "iPhone 12"\n[[device.app]]\nid = "com.tencent.xin"\n')
    env = client_env(tmp_path)
    sim = Served(["--profile", str(profile)], env, tmp_path)
    try:
        assert list(sim.exports) == ["ANDROID_ADB_SERVER_PORT", "USBMUXD_SOCKET_ADDRESS"]
        result = subprocess.run([sys.executable, "-m", "scanner", "scan", "--format", "json"], capture_output=True,
                                text=True, env=client_env(tmp_path, sim.exports), cwd=tmp_path, timeout=120)
        assert result.returncode == 1, result.stderr
        assert "was started" not in result.stderr  # no adb server of its own, anywhere
    finally:
        assert sim.stop() == 0
