"""The emulated Android fleet, driven by the real adb server, the real adb CLI and real adbutils.

Nothing here is mocked: each device is a fake adbd on 127.0.0.1 behind a private
adb server (the binary in the adbutils wheel). Expected `pm` output is built in
this file from the profile, independently of the simulator's own formatter.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import adbutils
import pytest
from adbutils import AdbClient, AdbError, AdbTimeout

from scanner.simulator.adbd import FORBIDDEN_PORTS, FakeAdbd
from scanner.simulator.android import (
    AndroidSimulator,
    EmulatedAndroid,
    SimulatorError,
    host_request,
)
from scanner.simulator.profile import (
    AppProfile,
    DeviceProfile,
    Faults,
    UserProfile,
    filler_apps,
)

#: Every process any simulator in this module started; checked at module end.
STARTED_PIDS: list[int] = []

SECURITY = "java.lang.SecurityException: Shell does not have permission to access user"

MAIN = DeviceProfile(
    platform="android",
    serial="SIMA0001",
    model="SM-G991B",
    manufacturer="samsung",
    os_version="14",
    sdk=34,
    product="o1sxeea",
    props=(("persist.sys.locale", "de-DE"),),
    users=(UserProfile(0), UserProfile(10, "Work profile"), UserProfile(150, "Secure Folder", refused=True)),
    apps=(
        AppProfile("com.intsig.camscanner", version="6.42.0", build="6420", users=(0, 10),
                   installer="com.android.vending", uid=10201,
                   path="/data/app/~~Ab12Cd34Ef56Gh78Ij90Kl==/com.intsig.camscanner-Zz9Yy8Xx7Ww6Vv5Uu4Tt3==/base.apk"),
        AppProfile("com.tencent.mm", version="8.0.30", build="2280", installer="com.android.vending", uid=10202,
                   state="uninstalled-data-kept",
                   path="/data/app/~~wPsmersxdVPHCSsZyCiQxQ==/com.tencent.mm-UrZAfkGI7uXTMX9NiVFxUQ==/base.apk"),
        AppProfile("com.zhiliaoapp.musically", build="330104", users=(10,), installer="com.android.vending",
                   uid=10203, path="/data/app/~~q1==/com.zhiliaoapp.musically-w2==/base.apk"),
        AppProfile("com.android.chrome", build="609911033", system=True, uid=10110,
                   path="/product/app/Chrome/Chrome.apk"),
        AppProfile("android", build="34", system=True, uid=1000, path="/system/framework/framework-res.apk"),
        AppProfile("com.samsung.android.bixby.agent", build="351", system=True, state="disabled", uid=10111,
                   path="/system/priv-app/BixbyAgent/BixbyAgent.apk"),
        AppProfile("org.example.sideload", build="1", uid=10204,
                   path="/data/app/~~x==/org.example.sideload-y==/base.apk"),
        AppProfile("com.whatsapp", build="231", users=(0, 150), installer="com.android.vending", uid=10205,
                   path="/data/app/~~a==/com.whatsapp-b==/base.apk"),
    ),
)
UNAUTHORIZED = DeviceProfile("android", "SIMA0002", model="Pixel 6", faults=Faults(unauthorized=True))
OFFLINE = DeviceProfile("android", "SIMA0003", model="Pixel 5", faults=Faults(offline=True))
OLD = DeviceProfile(
    "android", "SIMA0004", model="GT-I9505", os_version="6.0",
    users=(UserProfile(0), UserProfile(10, "Work profile", refused=True)),
    apps=(AppProfile("com.intsig.camscanner", build="5000", installer="com.android.vending"),
          AppProfile("android", build="23", system=True)),
    faults=Faults(crlf=True, reject_flags=("-U", "--show-versioncode")),
)
DROPPY = DeviceProfile("android", "SIMA0005", apps=filler_apps("android", 60, "drop"),
                       faults=Faults(drop_after_bytes=1000))
SLOW = DeviceProfile("android", "SIMA0006", apps=(AppProfile("com.example.slow"),), faults=Faults(delay=2.0))
NO_INSTALLER = DeviceProfile("android", "SIMA0007", os_version="10", apps=(AppProfile("com.example.ten"),),
                             users=(UserProfile(0), UserProfile(11, "Work", refused=True)),
                             faults=Faults(reject_flags=("-i",)))


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def nothing_left_running():
    """Module end: no process any simulator here started is still alive."""
    yield
    left = [pid for pid in STARTED_PIDS if alive(pid)]
    assert not left, f"processes left running: {left}"


@pytest.fixture(scope="module")
def sim():
    s = AndroidSimulator([MAIN, UNAUTHORIZED, OFFLINE, OLD, DROPPY, SLOW, NO_INSTALLER])
    s.start()
    STARTED_PIDS.extend(s.pids)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(sim) -> AdbClient:
    return AdbClient(port=sim.adb_port)


def dev(sim, client, profile: DeviceProfile) -> adbutils.AdbDevice:
    return client.device(sim.transport_serial(profile.serial))


def wait_state(client: AdbClient, serial: str, state: str | None, timeout: float = 30.0) -> None:
    """Poll the real server until `serial` is listed in `state` (None: not listed)."""
    deadline = time.monotonic() + timeout
    while True:
        states = {i.serial: i.state for i in client.list()}
        if states.get(serial) == state:
            return
        assert time.monotonic() < deadline, f"{serial} is {states.get(serial)}, not {state}"
        time.sleep(0.05)


def adb_cli(sim, *args: str) -> subprocess.CompletedProcess:
    """The real adb CLI against the private server (never the default port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADB_", "ANDROID_"))}
    env["HOME"] = sim.workdir
    return subprocess.run([adbutils.adb_path(), "-P", str(sim.adb_port), *args],
                          check=False, capture_output=True, env=env, timeout=60)


# -- the expected output, built independently from the profile ----------------------------------


def jhash(name: str) -> int:
    """Java String.hashCode, signed (package names are ASCII)."""
    h = 0
    for ch in name:
        h = (h * 31 + ord(ch)) % 2**32
    return h - 2**32 if h >= 2**31 else h


def expected_pm(profile: DeviceProfile, args: list[str]) -> list[str]:
    """The lines real pm prints for `pm list packages ARGS` on a device holding `profile`."""
    flags, user, filt, uid_filter = set(), 0, None, None
    it = iter(args)
    for a in it:
        if a == "--user":
            value = next(it)
            user = 0 if value in ("all", "current") else int(value)
        elif a == "--uid":
            uid_filter = int(next(it))
            flags.add("-U")
        elif a.startswith("-"):
            flags.add(a)
        else:
            filt = a
    rows = []
    for app in profile.apps:
        disabled = app.state == "disabled"
        if user not in app.users:
            continue
        if app.state == "uninstalled-data-kept" and "-u" not in flags:
            continue
        if ("-d" in flags and not disabled) or ("-e" in flags and disabled):
            continue
        if ("-s" in flags and not app.system) or ("-3" in flags and app.system):
            continue
        if filt is not None and filt not in app.id:
            continue
        uid = user * 100000 + app.uid
        if uid_filter is not None and uid != uid_filter:
            continue
        line = "package:" + (f"{app.path}=" if "-f" in flags else "") + app.id
        if "--show-versioncode" in flags:
            line += f" versionCode:{app.build}"
        if "-i" in flags:
            line += f"  installer={app.installer or 'null'}"
        if "-U" in flags:
            line += f" uid:{uid}"
        rows.append((jhash(app.id), line))
    return [line for _, line in sorted(rows, key=lambda r: r[0])]


# -- handshake, banner, props --------------------------------------------------------------------


def test_handshake_banner_and_states(sim, client):
    listed = {i.serial: i for i in client.list(extended=True)}
    main = listed[sim.transport_serial("SIMA0001")]
    assert main.state == "device"
    # The real server sanitises banner values for `devices -l`.
    assert main.tags["model"] == "SM_G991B"
    assert main.tags["product"] == "o1sxeea" and main.tags["device"] == "o1sxeea"
    assert listed[sim.transport_serial("SIMA0002")].state == "unauthorized"
    assert listed[sim.transport_serial("SIMA0003")].state == "offline"
    online = {d.serial for d in client.device_list()}
    assert sim.transport_serial("SIMA0001") in online
    assert sim.transport_serial("SIMA0002") not in online and sim.transport_serial("SIMA0003") not in online
    d = dev(sim, client, MAIN)
    assert d.get_state() == "device"
    assert d.prop.model == "SM-G991B"
    assert {"shell_v2", "cmd"} <= set(d.get_features().split(","))
    assert sim.env == {"ANDROID_ADB_SERVER_PORT": str(sim.adb_port)}
    assert sim.adb_port not in FORBIDDEN_PORTS
    assert all(int(sim.transport_serial(p.serial).rsplit(":", 1)[1]) not in FORBIDDEN_PORTS for p in sim.profiles)


def test_getprop_all_and_one(sim, client):
    d = dev(sim, client, MAIN)
    out = d.shell2("getprop", v2=True)
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    props = dict(re.fullmatch(r"\[(.*?)\]: \[(.*)\]", line).groups() for line in lines)
    assert [line.split("]")[0] for line in lines] == sorted(line.split("]")[0] for line in lines)
    assert props["ro.product.model"] == "SM-G991B"
    assert props["ro.product.manufacturer"] == "samsung"
    assert props["ro.product.name"] == props["ro.product.device"] == "o1sxeea"
    assert props["ro.build.version.release"] == "14" and props["ro.build.version.sdk"] == "34"
    assert props["ro.serialno"] == "SIMA0001"
    assert props["persist.sys.locale"] == "de-DE"
    assert ":14/" in props["ro.build.fingerprint"]  # made up, with the release in its usual place
    assert d.getprop("ro.serialno") == "SIMA0001"
    assert d.shell2("getprop no.such.prop", v2=True).stdout == "\n"  # an empty line, rc 0
    assert d.shell("getprop no.such.prop fallback") == "fallback"
    # get_serialno is the transport serial with the real server; the hardware one is a prop.
    assert d.get_serialno() == sim.transport_serial("SIMA0001")


# -- pm list packages ------------------------------------------------------------------------------

PM_CASES = [
    [], ["-f"], ["-i"], ["-U"], ["--show-versioncode"], ["-u"], ["-s"], ["-3"], ["-d"], ["-e"],
    ["-l"], ["-f", "-i", "-U", "--show-versioncode"], ["-f", "-i", "-U", "--show-versioncode", "-u"],
    ["-3", "-U", "--user", "10"], ["--user", "10", "-f", "-i"], ["-u", "-d"], ["-s", "-d"], ["-s", "-3"],
    ["-d", "-e"], ["-u", "cent"], ["cent"], ["com."], ["-U", "--user", "all"], ["--user", "current"],
    ["-U", "--user", "7"], ["--uid", "10201"], ["--user", "10", "--uid", "1010201"], ["-e", "-3", "-i", "com"],
]


@pytest.mark.parametrize("args", PM_CASES, ids=lambda a: " ".join(a) or "plain")
def test_pm_list_packages_flags(sim, client, args):
    out = dev(sim, client, MAIN).shell2(["pm", "list", "packages", *args], v2=True)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout.splitlines() == expected_pm(MAIN, args)


def test_pm_list_packages_semantics(sim, client):
    """Spot checks that do not depend on expected_pm being right."""
    d = dev(sim, client, MAIN)

    line_re = re.compile(r"^package:(?:(\S+)=)?([^=\s]+)(?: versionCode:(\d+))?(?:\s+installer=(\S+))?(?: uid:(\d+))?$")

    def names(cmd: str) -> set[str]:
        return {line_re.match(line).group(2) for line in d.shell(cmd).splitlines()}

    assert "com.tencent.mm" not in names("pm list packages")
    assert "com.tencent.mm" in names("pm list packages -u")
    assert names("pm list packages -d") == {"com.samsung.android.bixby.agent"}
    assert "com.samsung.android.bixby.agent" not in names("pm list packages -e")
    assert names("pm list packages -s") == {"com.android.chrome", "android", "com.samsung.android.bixby.agent"}
    assert names("pm list packages --user 10") == {"com.intsig.camscanner", "com.zhiliaoapp.musically"}
    assert names("pm list packages cent") == set()  # com.tencent.mm is uninstalled: -u needed
    assert names("pm list packages -f -u cent") == {"com.tencent.mm"}
    line = d.shell("pm list packages -f -i -U --show-versioncode -u com.tencent.mm")
    assert line == ("package:/data/app/~~wPsmersxdVPHCSsZyCiQxQ==/com.tencent.mm-UrZAfkGI7uXTMX9NiVFxUQ==/base.apk"
                    "=com.tencent.mm versionCode:2280  installer=com.android.vending uid:10202")
    assert "package:android  installer=null" in d.shell("pm list packages -i android").splitlines()
    # adbutils' own list_packages works on the plain format
    assert "com.intsig.camscanner" in d.list_packages()


def test_pm_order_is_java_hash_order(sim, client):
    out = dev(sim, client, MAIN).shell("pm list packages -u").splitlines()
    got = [line[len("package:"):] for line in out]
    assert got == sorted(got, key=jhash)
    assert got != sorted(got)  # not alphabetical: the ArrayMap order real pm prints


def test_refused_user_security_exception(sim, client):
    d = dev(sim, client, MAIN)
    out = d.shell2("pm list packages --user 150", v2=True)
    assert out.returncode == 255
    assert out.stdout == ""
    assert out.stderr.startswith("\nException occurred while executing 'list':\n" + SECURITY + " 150\n")
    assert "\tat com.android.server.am.UserController.handleIncomingUser" in out.stderr
    # shell v1 merges it into the output; the sentinel still carries the exit status
    v1 = d.shell2("pm list packages --user 150")
    assert v1.returncode == 255 and SECURITY + " 150" in v1.output
    # pm list users still lists the refused user
    users = d.shell2("pm list users", v2=True)
    assert users.stdout == ("Users:\n\tUserInfo{0:Owner:c13} running\n\tUserInfo{10:Work profile:1030} running\n"
                            "\tUserInfo{150:Secure Folder:1030} running\n")
    # Android 7-10 wording
    old = dev(sim, client, NO_INSTALLER).shell2("pm list packages --user 11", v2=True)
    assert old.returncode == 255
    assert old.stderr.startswith("Security exception: Shell does not have permission to access user 11\n")
    assert SECURITY + " 11" in old.stderr


def test_unknown_option_and_bad_arguments(sim, client):
    d = dev(sim, client, MAIN)
    out = d.shell2("pm list packages -x", v2=True)
    assert (out.returncode, out.stdout, out.stderr) == (255, "Error: Unknown option: -x\n", "")
    # real pm does not combine short options: -fU is -f with a stray argument
    combined = d.shell2("pm list packages -fU", v2=True)
    assert combined.returncode == 255 and combined.stdout == ""
    assert 'java.lang.IllegalArgumentException: No argument expected after "-fU"' in combined.stderr
    missing = d.shell2("pm list packages --user", v2=True)
    assert missing.returncode == 255 and 'Argument expected after "--user"' in missing.stderr
    bad = d.shell2("pm list packages --user abc", v2=True)
    assert bad.returncode == 255 and "Bad user number: abc" in bad.stderr
    # a device that rejects -i (old ROM)
    ten = dev(sim, client, NO_INSTALLER).shell2("pm list packages -i", v2=True)
    assert (ten.returncode, ten.stdout) == (255, "Error: Unknown option: -i\n")
    assert dev(sim, client, NO_INSTALLER).shell2("pm list packages -U", v2=True).returncode == 0


def test_unknown_command(sim, client):
    d = dev(sim, client, MAIN)
    out = d.shell2("foo --bar", v2=True)
    assert (out.returncode, out.stdout, out.stderr) == (127, "", "/system/bin/sh: foo: inaccessible or not found\n")
    assert d.shell2("foo").returncode == 127  # v1 with adbutils' `; echo X4EXIT:$?`
    pm = d.shell2("pm frobnicate", v2=True)
    assert pm.returncode == 255 and pm.stderr == "Unknown command: frobnicate\n"
    cmd = d.shell2("cmd nosuchservice", v2=True)
    assert cmd.returncode == 20 and "Can't find service: nosuchservice" in cmd.stderr


def test_shell_exit_codes_and_sentinels(sim, client):
    d = dev(sim, client, MAIN)
    assert d.shell2("exit 3", v2=True).returncode == 3
    assert d.shell2("pm list packages -x").returncode == 255  # v1: adbutils' sentinel carries it
    with pytest.raises(AdbError, match="shell output invalid"):
        d.shell2("exit 3")  # as on a real phone, sh exits before adbutils' `; echo X4EXIT:$?`
    assert d.shell2("false", v2=True).returncode == 1
    script = ('pm list packages --user 150; echo "<<S:$?>>"; pm list packages -U --user 10; echo "<<S:$?>>";'
              " getprop ro.serialno; echo '<<$?>>'")
    out = d.shell2(script, v2=True)
    assert out.returncode == 0
    assert out.stdout.splitlines() == [
        "<<S:255>>", *expected_pm(MAIN, ["-U", "--user", "10"]), "<<S:0>>", "SIMA0001", "<<$?>>",
    ]
    assert d.shell2("true && echo yes || echo no", v2=True).stdout == "yes\n"
    assert d.shell2("false && echo yes || echo no", v2=True).stdout == "no\n"
    assert d.shell2("false; echo $?; true; echo $?", v2=True).stdout == "1\n0\n"
    merged = d.shell2("foo 2>&1", v2=True)
    assert (merged.stdout, merged.stderr) == ("/system/bin/sh: foo: inaccessible or not found\n", "")
    assert d.shell2("pm list packages >/dev/null; echo done", v2=True).stdout == "done\n"
    assert d.shell2("echo 'unterminated", v2=True).returncode != 0
    # the CLI: shell v2, so the exit status and stderr come through
    cli = adb_cli(sim, "-s", sim.transport_serial("SIMA0001"), "shell", "foo")
    assert cli.returncode == 127 and cli.stderr == b"/system/bin/sh: foo: inaccessible or not found\n"
    assert adb_cli(sim, "-s", sim.transport_serial("SIMA0001"), "shell", "exit 42").returncode == 42


def test_pm_path_and_dumpsys(sim, client):
    d = dev(sim, client, MAIN)
    path = d.shell2("pm path com.intsig.camscanner", v2=True)
    assert (path.returncode, path.stdout) == (0, f"package:{MAIN.apps[0].path}\n")
    missing = d.shell2("pm path com.nope", v2=True)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert d.shell2("pm path com.tencent.mm", v2=True).returncode == 1  # uninstalled for user 0
    assert d.shell2("pm path --user 150 com.whatsapp", v2=True).returncode == 255
    info = d.app_info("com.intsig.camscanner")
    assert info is not None
    assert (info.version_name, info.version_code, info.path) == ("6.42.0", 6420, MAIN.apps[0].path)
    assert info.first_install_time is not None and info.last_update_time >= info.first_install_time
    dump = d.shell("dumpsys package com.intsig.camscanner")
    assert "  Package [com.intsig.camscanner] (" in dump
    assert "    userId=10201" in dump and "installerPackageName=com.android.vending" in dump
    assert re.search(r"User 0: .*installed=true", dump) and re.search(r"User 150: .*installed=false", dump)
    system = d.shell("dumpsys package com.android.chrome")
    assert "installerPackageName" not in system and "pkgFlags=[ SYSTEM" in system
    assert d.app_info("com.nope") is None


# -- the fidelity cross-check: the real adb CLI ------------------------------------------------------


def test_adb_cli_prints_exactly_the_profile(sim):
    serial = sim.transport_serial("SIMA0001")
    devices = adb_cli(sim, "devices", "-l")
    assert re.search(rf"^{re.escape(serial)}\s+device product:o1sxeea model:SM_G991B device:o1sxeea",
                     devices.stdout.decode(), re.MULTILINE)
    out = adb_cli(sim, "-s", serial, "shell", "pm", "list", "packages", "-f", "-U")
    assert out.returncode == 0 and out.stderr == b""
    assert out.stdout.decode().splitlines() == expected_pm(MAIN, ["-f", "-U"])
    assert out.stdout.decode().splitlines() == [
        # hand-written, so that expected_pm is checked too
        f"package:{a.path}={a.id} uid:{a.uid}" for a in sorted(
            (a for a in MAIN.apps if 0 in a.users and a.state != "uninstalled-data-kept"), key=lambda a: jhash(a.id))
    ]
    work = adb_cli(sim, "-s", serial, "shell", "pm list packages -i --user 10")
    assert work.stdout.decode().splitlines() == expected_pm(MAIN, ["-i", "--user", "10"])
    refused = adb_cli(sim, "-s", serial, "shell", "pm list packages --user 150")
    assert refused.returncode == 255 and SECURITY.encode() in refused.stderr and refused.stdout == b""


# -- faults -------------------------------------------------------------------------------------------


def test_old_android_crlf_and_rejected_flags(sim, client):
    d = dev(sim, client, OLD)
    assert "shell_v2" not in d.get_features().split(",")
    raw = d.shell("pm list packages", encoding=None)
    assert sorted(raw.split(b"\r\n")) == [b"", b"package:android", b"package:com.intsig.camscanner"]
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert d.getprop("ro.build.version.release") == "6.0"  # adbutils strips the \r
    # shell2(v2=True) falls back to v1 (with a warning) and still gets the status from its sentinel
    rejected = d.shell2("pm list packages -U", v2=True)
    assert rejected.returncode == 255 and rejected.output == "Error: Unknown option: -U\r\n"
    assert d.shell2("pm list packages --show-versioncode", v2=True).returncode == 255
    ok = d.shell2("pm list packages -i -f", v2=True)
    assert ok.returncode == 0 and "  installer=com.android.vending\r\n" in ok.output
    refused = d.shell2("pm list packages --user 10", v2=True)
    assert refused.returncode == 255 and "Security exception: Shell does not have permission" in refused.output
    # the real CLI against a device without shell_v2: v1, stderr merged, exit status lost
    cli = adb_cli(sim, "-s", sim.transport_serial("SIMA0004"), "shell", "pm list packages -U")
    assert (cli.returncode, cli.stdout, cli.stderr) == (0, b"Error: Unknown option: -U\r\n", b"")
    # a shell,v2 request reaches a device that does not know it: refused
    conn = d.open_transport()
    try:
        conn.send_command("shell,v2:echo hi")
        with pytest.raises(AdbError):
            conn.check_okay()
    finally:
        conn.close()


def test_unauthorized(sim, client):
    d = dev(sim, client, UNAUTHORIZED)
    for call in (d.get_state, lambda: d.shell("echo hi"), lambda: d.shell2("echo", v2=True)):
        with pytest.raises(AdbError, match="device unauthorized"):
            call()
    assert sim.history("SIMA0002") == []  # nothing ever reached the device's shell


def test_unauthorized_connect_message(sim, client):
    """`adb connect` to an AUTH device says "failed to authenticate", then lists it unauthorized."""
    phone = EmulatedAndroid(DeviceProfile("android", "SIMA0099", faults=Faults(unauthorized=True)))
    adbd = FakeAdbd(phone)
    target = f"127.0.0.1:{adbd.port}"
    try:
        out = adb_cli(sim, "connect", target)
        assert out.stdout.decode().strip() == f"failed to authenticate to {target}"
        wait_state(client, target, "unauthorized")
    finally:
        adb_cli(sim, "disconnect", target)
        adbd.close()
    wait_state(client, target, None)


def test_offline(sim, client):
    d = dev(sim, client, OFFLINE)
    with pytest.raises(AdbError, match="device offline"):
        d.shell("echo hi")
    with pytest.raises(AdbError, match="device offline"):
        d.shell2("echo hi", v2=True)
    info = {i.serial: i for i in client.list(extended=True)}[sim.transport_serial("SIMA0003")]
    assert info.state == "offline" and "model" not in info.tags


def test_drop_after_bytes(sim, client):
    serial = sim.transport_serial("SIMA0005")
    d = client.device(serial)
    full = len(expected_pm(DROPPY, ["-f", "-U"]))
    with pytest.raises(EOFError, match=r"Expected \d+ bytes, got 1000"):
        d.shell2("pm list packages -f -U", v2=True)
    wait_state(client, serial, "device")  # the real server reconnects on its own
    # shell v1 truncates silently: that is why the connector must use v2
    out = d.shell("pm list packages -f -U", encoding=None)
    assert len(out) == 1000 and out.count(b"\n") < full
    wait_state(client, serial, "device")
    # adbutils' v1 shell2 misses its sentinel: AdbError("shell output invalid")
    with pytest.raises(AdbError, match="shell output invalid"):
        d.shell2("pm list packages -f -U")
    wait_state(client, serial, "device")
    # other commands and short answers are not cut
    assert d.shell2("getprop ro.serialno", v2=True).stdout == "SIMA0005\n"
    short = d.shell2("pm list packages filler.notes0", v2=True)
    assert short.returncode == 0 and short.stdout == "package:org.example.filler.notes0\n"


def test_slow_device(sim, client):
    d = dev(sim, client, SLOW)
    with pytest.raises(AdbTimeout):
        d.shell("echo hi", timeout=0.3)
    out = d.shell2("pm list packages", v2=True)
    assert (out.returncode, out.stdout) == (0, "package:com.example.slow\n")


def test_history_records_what_the_device_was_asked(sim, client):
    d = dev(sim, client, NO_INSTALLER)
    before = len(sim.history("SIMA0007"))
    d.shell2("pm list packages -U --user 0", v2=True)
    assert sim.history(sim.transport_serial("SIMA0007"))[before:] == ["pm list packages -U --user 0"]


def test_shell_count_is_one_per_shell_round_trip_the_phone_serves(sim, client):
    """What the connector tests count a reader's round trips with: shells the phone served, v1 or v2, one
    script each however many commands it holds; the server's own answers (features, state) never reach it."""
    d = dev(sim, client, NO_INSTALLER)
    before = sim.shell_count("SIMA0007")
    d.get_features()
    d.get_state()
    assert sim.shell_count("SIMA0007") == before
    d.shell2("getprop; pm list users; pm list packages --user 0", v2=True)
    d.shell("echo hi")
    assert sim.shell_count(sim.transport_serial("SIMA0007")) == before + 2
    assert sim.shell_count("SIMA0002") == 0  # unauthorized: nothing ever reached its shell


# -- attach / detach, many devices, stop ------------------------------------------------------------


def test_attach_and_detach(sim, client):
    late = DeviceProfile("android", "SIMA0100", model="Pixel 8", apps=(AppProfile("com.example.late"),))
    serial = sim.attach(late)
    assert serial == sim.transport_serial("SIMA0100")
    assert serial in {d.serial for d in client.device_list()}
    d = client.device(serial)
    assert d.getprop("ro.serialno") == "SIMA0100"
    assert d.shell("pm list packages") == "package:com.example.late"
    with pytest.raises(ValueError):
        sim.attach(late)  # already attached
    port = int(serial.rsplit(":", 1)[1])
    sim.detach("SIMA0100")
    assert serial not in {i.serial for i in client.list()}
    assert not port_open(port)
    with pytest.raises(KeyError):
        sim.transport_serial("SIMA0100")
    # an unauthorized phone plugged in later, detached by its transport serial
    bad = sim.attach(DeviceProfile("android", "SIMA0101", faults=Faults(unauthorized=True)))
    assert {i.serial: i.state for i in client.list()}[bad] == "unauthorized"
    sim.detach(bad)
    assert bad not in {i.serial for i in client.list()}


def test_forbidden_ports_are_refused():
    with pytest.raises(ValueError):
        AndroidSimulator([MAIN], adb_port=5037)
    with pytest.raises(ValueError):
        AndroidSimulator([MAIN], adb_port=5555)


def test_twenty_devices_and_stop_leaves_nothing():
    fleet = [
        DeviceProfile("android", f"FLEET{i:02d}", model=f"Phone {i}", apps=filler_apps("android", 30, f"f{i}"))
        for i in range(20)
    ]
    s = AndroidSimulator(fleet)
    s.start()
    STARTED_PIDS.extend(s.pids)
    workdir = s.workdir
    ports = [int(s.transport_serial(p.serial).rsplit(":", 1)[1]) for p in fleet]
    try:
        c = AdbClient(port=s.adb_port)
        assert {d.serial for d in c.device_list()} == {s.transport_serial(p.serial) for p in fleet}

        def scan(profile: DeviceProfile) -> tuple[str, list[str]]:
            d = c.device(s.transport_serial(profile.serial))
            return d.getprop("ro.serialno"), d.shell2("pm list packages -f -U", v2=True).stdout.splitlines()

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(scan, fleet))
        for profile, (serial, lines) in zip(fleet, results):
            assert serial == profile.serial
            assert lines == expected_pm(profile, ["-f", "-U"])
        assert port_open(s.adb_port) and all(port_open(p) for p in ports)
    finally:
        s.stop()
    assert s.pids and not [pid for pid in s.pids if alive(pid)]
    assert not port_open(s.adb_port)
    assert not [p for p in ports if port_open(p)]
    assert workdir and not Path(workdir).exists()
    s.stop()  # idempotent


def test_start_failure_cleans_up(tmp_path):
    """A port already taken: the server cannot start; start() raises and leaves nothing behind."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    stop = threading.Event()

    def refuse() -> None:  # answer every connection by closing it: not an adb server
        taken.settimeout(0.2)
        while not stop.is_set():
            try:
                taken.accept()[0].close()
            except OSError:
                pass

    t = threading.Thread(target=refuse, daemon=True)
    t.start()
    s = AndroidSimulator([MAIN], adb_port=port)
    try:
        with pytest.raises(SimulatorError):
            s.start()
        STARTED_PIDS.extend(s.pids)
        assert s.pids and not [pid for pid in s.pids if alive(pid)]
        assert s.workdir is None
    finally:
        stop.set()
        t.join()
        taken.close()


def test_host_request_reports_failures(sim):
    with pytest.raises(SimulatorError, match="not found"):
        host_request(sim.adb_port, "host-serial:no-such-serial:get-state")
