"""Nothing of ours keeps running: no adb server is left behind by `scanner simulate`, `watch` or `scan`.

Issue 10: a killed simulator takes its adb server with it, and `simulate`
never says ready for a dead one; watch never starts a server where a
simulator's died; the hint for stopping a server the scanner started works
with no adb on PATH; a fleet of one platform still serves both transports, so
a scan of it never touches the real ones. Real parts throughout: the bundled
adb server, emulated phones.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from served import Served, alive, children, client_env, closed, free_port
from watching import android_only, fixture_watches, wait_for  # noqa: F401 - the `watches` fixture

from scanner.simulator.fleet import Fleet
from scanner.simulator.profile import AppProfile, DeviceProfile


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

    import scanner.cli.simulate as cli_sim
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
