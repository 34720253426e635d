"""`scanner simulate` as a separate process, and `scanner demo`.

simulate: started as its own process, scanned from another process (scanner,
the real adb client and pymobiledevice3), stopped with SIGINT or SIGTERM, and
nothing it started is left running. demo: the fleet, its table, its JSON and
its exit code, which must be the code a real scan of the same fleet gives.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from served import Served, alive, children, client_env, closed

from scanner.simulator.android import adb_binary
from scanner.simulator.profile import default_profile_path, load_profile

DEMO_FINDINGS = {
    "SIMGALAXYS23B": {"CamScanner", "SHAREit", "WPS Office"},
    "SIMPIXEL7A": set(),
    "00008110-00125C963A91801E": {"WeChat Pay", "QQ Wallet", "Tencent QQ", "Alipay", "CamScanner"},
    "00008030-001A35E11E05802E": set(),
}
DEMO_STATUS = {
    "SIMGALAXYS23B": ("partial", "user-refused"),
    "SIMPIXEL7A": ("complete", None),
    "00008110-00125C963A91801E": ("complete", None),
    "00008030-001A35E11E05802E": ("failed", "locked"),
}
IPHONE_D = "00008030-001A35E11E05802E"
DECOYS = ("com.nemo.vidmate", "com.UCMobile.intl", "com.tencent.soter.soterserver", "com.tencent.mttlite",
          "com.intsig.camscanner.lite.fake")


def scanner(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scanner", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def served(tmp_path):
    env = client_env(tmp_path)
    sims: list[Served] = []

    def start(*args: str) -> Served:
        sim = Served(list(args), env, tmp_path)
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()


def by_serial(report: dict) -> dict[str, dict]:
    return {r["device"]["serial"]: r for r in report["devices"]}


def check_demo_fleet(report: dict) -> None:
    results = by_serial(report)
    assert set(results) == set(DEMO_FINDINGS)
    for serial, names in DEMO_FINDINGS.items():
        r = results[serial]
        assert (r["status"], r.get("reason")) == DEMO_STATUS[serial], (serial, r["status"], r.get("reason"))
        assert {f["listed"] for f in r["findings"]} == names, serial
    text = json.dumps(report)
    for decoy in DECOYS:
        assert f'"id": "{decoy}"' not in text  # decoys are never findings


# -- simulate ------------------------------------------------------------------------------------


def test_simulate_serves_the_fleet_to_other_processes_and_sigint_stops_everything(served, tmp_path):
    sim = served()
    assert sim.head[-1] == "ready"
    assert set(sim.exports) == {"ANDROID_ADB_SERVER_PORT", "USBMUXD_SOCKET_ADDRESS"}
    adb_port = int(sim.exports["ANDROID_ADB_SERVER_PORT"])
    mux_host, _, mux_port = sim.exports["USBMUXD_SOCKET_ADDRESS"].rpartition(":")
    assert mux_host == "127.0.0.1"
    helpers = children(sim.proc.pid)
    assert helpers, "the adb server runs as a child of simulate"

    env = client_env(tmp_path, sim.exports)
    result = scanner("scan", "--format", "json", env=env, cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    check_demo_fleet(json.loads(result.stdout))

    # The real adb client and pymobiledevice3 see the same devices.
    adb = subprocess.run([adb_binary(), "-P", str(adb_port), "devices"], env=env, capture_output=True, text=True,
                         timeout=30)
    assert adb.returncode == 0 and adb.stdout.count("\tdevice") == 2, adb.stdout
    mux = subprocess.run([sys.executable, "-c",
                          "import asyncio\nfrom pymobiledevice3 import usbmux\n"
                          "print(' '.join(sorted(d.serial for d in asyncio.run(usbmux.list_devices()))))"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert mux.stdout.split() == sorted(s for s in DEMO_FINDINGS if s.startswith("0000")), mux.stderr

    assert sim.stop(signal.SIGINT) == 0
    assert "stopped" in sim.error_text()
    for pid in helpers:
        assert not alive(pid), f"simulate left process {pid} running"
    assert closed(adb_port) and closed(int(mux_port))


def test_simulate_sigterm_stops_everything(served, tmp_path):
    sim = served("--quiet")
    helpers = children(sim.proc.pid)
    ports = [int(sim.exports["ANDROID_ADB_SERVER_PORT"]), int(sim.exports["USBMUXD_SOCKET_ADDRESS"].rsplit(":")[1])]
    assert sim.stop(signal.SIGTERM) == 0
    assert not [pid for pid in helpers if alive(pid)]
    assert all(closed(port) for port in ports)
    assert sim.error_text() == ""  # --quiet: nothing


def test_simulate_commands_plug_and_unplug_devices(served, tmp_path):
    sim = served("--commands")
    env = client_env(tmp_path, sim.exports)

    def serials() -> set[str]:
        result = scanner("scan", "--format", "json", env=env, cwd=tmp_path)
        return set(by_serial(json.loads(result.stdout)))

    assert sim.command("detach SIMPIXEL7A") == ["ok detached SIMPIXEL7A"]
    assert sim.command("detach 00008030-001A35E11E05802E") == ["ok detached 00008030-001A35E11E05802E"]
    assert serials() == set(DEMO_FINDINGS) - {"SIMPIXEL7A", "00008030-001A35E11E05802E"}
    listing = sim.command("list")
    assert "ok android SIMPIXEL7A detached" in listing and "ok android SIMGALAXYS23B attached" in listing
    assert sim.command("attach SIMPIXEL7A") == ["ok attached SIMPIXEL7A"]
    assert sim.command("attach 00008030-001A35E11E05802E") == ["ok attached 00008030-001A35E11E05802E"]
    assert serials() == set(DEMO_FINDINGS)
    # Mistakes are answered, and the simulator keeps serving.
    assert sim.command("attach SIMPIXEL7A")[0].startswith("error: SIMPIXEL7A is already attached")
    assert sim.command("detach NOPE")[0].startswith("error: no device 'NOPE' in the profile")
    assert sim.command("explode \x1b[31m")[0].startswith("error: unknown command explode \\x1b[31m")
    assert sim.command(f"authorize {IPHONE_D}")[0] == f"error: {IPHONE_D} is not an attached Android device"
    assert sim.command("authorize SIMPIXEL7A") == ["ok authorized SIMPIXEL7A"]  # already allowed: nothing changes
    assert sim.command("stop") == ["ok stopping"]
    assert sim.proc.wait(30) == 0


def test_simulate_custom_profile_and_print_profile(tmp_path):
    env = client_env(tmp_path)
    printed = scanner("simulate", "--print-profile", env=env, cwd=tmp_path)
    assert printed.returncode == 0
    assert printed.stdout == default_profile_path().read_text(encoding="utf-8")
    profile = tmp_path / "one.toml"
    profile.write_text('schema = 1\n[[device]]\nplatform = "android"\nserial = "ONLYONE"\nmodel = "Pixel 8"\n'
                       '[[device.app]]\nid = "com.lenovo.anyshare.gps"\n')
    sim = Served(["--profile", str(profile)], env, tmp_path)
    try:
        # No iOS device, but an (empty) emulated usbmuxd all the same: a scan of the fleet asks only emulated
        # transports, never this machine's usbmuxd or adb port 5037; so it is complete under --platform all.
        assert list(sim.exports) == ["ANDROID_ADB_SERVER_PORT", "USBMUXD_SOCKET_ADDRESS"]
        result = scanner("scan", "--format", "json", env=client_env(tmp_path, sim.exports), cwd=tmp_path)
        assert result.returncode == 1, result.stderr  # findings, every device read
        report = json.loads(result.stdout)
        assert [(r["device"]["serial"], [f["listed"] for f in r["findings"]]) for r in report["devices"]] == [
            ("ONLYONE", ["SHAREit"])]
    finally:
        assert sim.stop() == 0


@pytest.mark.parametrize("args, message", [
    (["--profile", "missing.toml"], "cannot be read"),
    (["--profile", "bad.toml"], "device[1]"),
    (["--adb-port", "5037"], "belongs to a real adb server"),
])
def test_simulate_refuses_what_it_cannot_serve(tmp_path, args, message):
    (tmp_path / "bad.toml").write_text('schema = 1\n[[device]]\nplatform = "android"\nserial = "X"\ncolour = 1\n'
                                       '[[device]]\nplatform = "ios"\n')
    result = scanner("simulate", *args, env=client_env(tmp_path), cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""  # no export line, no ready: a script waiting for `ready` sees the end instead
    assert message in result.stderr


def test_simulate_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = scanner("simulate", "--usbmuxd-port", str(port), env=client_env(tmp_path), cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "could not be started" in result.stderr and result.stdout == ""


# -- demo ----------------------------------------------------------------------------------------


def test_demo_table_and_exit_code(tmp_path):
    env = client_env(tmp_path)
    result = scanner("demo", env=env, cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    out = result.stdout
    for text in ("SIMGALAXYS23B", "SIMPIXEL7A", "00008110-00125C963A91801E", "00008030-001A35E11E05802E",
                 "CamScanner", "SHAREit", "WPS Office", "WeChat Pay", "QQ Wallet", "Alipay", "Tencent QQ",
                 "unlock it, then run again", "User 10 (Work profile)", "offloaded",  # said once (issue 15)
                 "findings-incomplete (exit 5"):
        assert text in out, text
    for decoy in DECOYS:
        assert decoy not in out
    # stderr is a pipe here: the note, and no progress line.
    assert "no real device is read" in result.stderr
    assert "\x1b[" not in result.stderr and "waiting" not in result.stderr and "reading" not in result.stderr
    # The demo never touched the adb server port or usbmuxd of the environment.
    assert closed(int(env["ANDROID_ADB_SERVER_PORT"]))


def test_demo_json_outputs_and_quiet(tmp_path):
    env = client_env(tmp_path)
    result = scanner("demo", "--format", "json", "--quiet", "-o", f"csv={tmp_path / 'r.csv'}",
                     "-o", f"sarif={tmp_path / 'r.sarif'}", env=env, cwd=tmp_path)
    assert result.returncode == 5
    assert result.stderr == ""  # --quiet
    check_demo_fleet(json.loads(result.stdout))  # stdout is JSON and nothing else
    assert "com.intsig.camscanner" in (tmp_path / "r.csv").read_text()
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"


def test_demo_gives_what_a_real_scan_of_the_same_fleet_gives(served, tmp_path):
    demo = scanner("demo", "--format", "json", env=client_env(tmp_path), cwd=tmp_path)
    sim = served()
    scan = scanner("scan", "--format", "json", env=client_env(tmp_path, sim.exports), cwd=tmp_path)
    assert demo.returncode == scan.returncode == 5

    def essence(report: dict) -> list:
        # The finding ids too: an emulated phone is a network transport (127.0.0.1:PORT) on another port in
        # each run, and its ids must not change with its address.
        return [(r["device"]["serial"], r["status"], r.get("reason"), r["app_count"],
                 sorted(f["id"] for f in r["findings"])) for r in report["devices"]]

    assert essence(json.loads(demo.stdout)) == essence(json.loads(scan.stdout))


def test_demo_custom_profile_clean_fleet_exits_0(tmp_path):
    profile = tmp_path / "clean.toml"
    profile.write_text('schema = 1\n[[device]]\nplatform = "ios"\nserial = "00008101-000000000000001E"\n'
                       '[[device.app]]\nid = "com.apple.Pages"\n')
    result = scanner("demo", "--profile", str(profile), env=client_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "clean" in result.stdout


def test_demo_usage_errors(tmp_path):
    env = client_env(tmp_path)
    bad = scanner("demo", "--output", "xml=r.xml", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "expected FORMAT=PATH" in bad.stderr
    empty = tmp_path / "empty.toml"
    empty.write_text("schema = 1\n")
    none = scanner("demo", "--profile", str(empty), env=env, cwd=tmp_path)
    assert none.returncode == 2 and "no [[device]]" in none.stderr


# -- progress on a terminal, and not elsewhere ---------------------------------------------------


def run_with_terminal_stderr(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe); returns (code, stdout, terminal text)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "scanner", *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out = proc.stdout.read()
    code = proc.wait(120)
    reader.join(30)
    os.close(master)
    return code, out.decode(), b"".join(chunks).decode(errors="replace")


def test_progress_is_drawn_on_a_terminal_and_json_stays_clean(tmp_path):
    env = client_env(tmp_path, {"TERM": "xterm", "COLUMNS": "100", "LINES": "40"})
    code, out, terminal = run_with_terminal_stderr(["demo", "--format", "json"], env, tmp_path)
    assert code == 5
    check_demo_fleet(json.loads(out))
    for serial in ("00008110-00125C963A91801E", "00008030-001A35E11E05802E"):
        assert serial in terminal
    assert "waiting" in terminal and "done" in terminal and "failed" in terminal
    assert "\x1b[" in terminal  # redrawn in place
    assert terminal.rstrip().endswith("\x1b[J")  # and erased before the report


def test_progress_and_notes_silenced_by_quiet_even_on_a_terminal(tmp_path):
    env = client_env(tmp_path, {"TERM": "xterm"})
    code, out, terminal = run_with_terminal_stderr(["demo", "--format", "json", "--quiet"], env, tmp_path)
    assert code == 5
    check_demo_fleet(json.loads(out))
    assert terminal == ""


def test_scan_draws_no_progress_when_stderr_is_not_a_terminal(served, tmp_path):
    sim = served()
    env = client_env(tmp_path, {**sim.exports, "TERM": "xterm"})
    result = scanner("scan", "--format", "json", env=env, cwd=tmp_path)
    assert result.returncode == 5
    check_demo_fleet(json.loads(result.stdout))
    assert result.stderr == ""  # every device answered: no note, and no progress on a pipe
    code, out, terminal = run_with_terminal_stderr(["scan", "--format", "json"], env, tmp_path)
    assert code == 5 and "done" in terminal  # the same scan on a terminal does draw it
    check_demo_fleet(json.loads(out))


def test_profile_file_is_the_demo_fleet():
    devices = load_profile(default_profile_path()).devices
    assert {d.serial for d in devices} == set(DEMO_FINDINGS)


@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_demo_stopped_mid_scan_reports_nothing_and_stops_its_devices(tmp_path, signum, code, word):
    profile = tmp_path / "slow.toml"
    profile.write_text('schema = 1\n[[device]]\nplatform = "android"\nserial = "SLOWPHONE"\n'
                       '[device.faults]\ndelay = 60\n[[device.app]]\nid = "com.intsig.camscanner"\n')
    proc = subprocess.Popen([sys.executable, "-m", "scanner", "demo", "--profile", str(profile)],
                            env=client_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stderr.readline()  # the demo's note: the devices are up, the scan has begun
        assert "demo: scanning 1 emulated devices" in first
        helpers = children(proc.pid)
        assert helpers  # the private adb server
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == code, err
    assert f"scanner: {word}: nothing was reported" in err and "Traceback" not in err
    assert out == ""  # no report: a scan cut short is never a result
    assert not [pid for pid in helpers if alive(pid)]
