"""The Android connector against emulated phones behind a real adb server, through real adbutils.

One simulator holds the fleet most tests read (module scope: it starts once);
a second one holds twenty clean phones. Nothing here mocks adbutils or adb:
faults (refused profiles, old pm flags, cut connections, slow phones,
unauthorized ones) come from the emulated devices, and what the connector
makes of them is checked as a report reader would see it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import adbutils
import pytest

from scanner.connectors.android.device import DeviceReader
from scanner.connectors.android.errors import explain_state
from scanner.connectors.android.script import BadAnswer, Script
from scanner.connectors.android.server import parse_server
from scanner.connectors.android.connector import AndroidConnector
from scanner.connectors.interface import ScannerError
from scanner.matcher import Matcher
from scanner.model import Inventory
from scanner.signatures import load_signatures
from scanner.simulator.android import AndroidSimulator
from scanner.simulator.profile import (
    AppProfile,
    DeviceProfile,
    Faults,
    UserProfile,
    filler_apps,
)

FRAMEWORK = AppProfile("android", system=True, users=(0,), uid=1000)


OWNER_ONLY = (UserProfile(0),)
NO_FAULTS = Faults()


def phone(serial: str, *apps: AppProfile, users=OWNER_ONLY, faults=NO_FAULTS, fillers: int = 12,
          **kw) -> DeviceProfile:
    system = AppProfile("android", system=True, users=tuple(u.id for u in users), uid=1000)
    return DeviceProfile("android", serial, users=users, apps=(system, *filler_apps("android", fillers, serial), *apps),
                         faults=faults, **kw)


WORK = (UserProfile(0), UserProfile(10, "Work profile"))
FLEET = [
    phone("CLEAN0001", model="Pixel 7"),
    phone("OWNER0001", AppProfile("com.intsig.camscanner", build="6420", installer="com.android.vending")),
    phone("WORK00001", AppProfile("com.lenovo.anyshare.gps", users=(10,)), users=WORK, model="SM-G991B"),
    phone("KEPT00001", AppProfile("cn.wps.moffice_eng", state="uninstalled-data-kept")),
    phone("DISABLED1", AppProfile("com.intsig.camscanner", state="disabled")),
    phone("REFUSED01", users=(UserProfile(0), UserProfile(10, "Work profile", refused=True))),
    phone("REFUSED02", AppProfile("com.intsig.camscanner"), users=(UserProfile(0), UserProfile(150, "Secure Folder", refused=True))),
    phone("OLDPHONE1", AppProfile("com.intsig.camscanner", build="77"), os_version="6.0",
          faults=Faults(reject_flags=("-U", "-i", "--show-versioncode"), crlf=True)),
    phone("OLDUID001", faults=Faults(reject_flags=("-U",))),
    phone("CRLF00001", AppProfile("cn.wps.moffice_eng", users=(0,)), faults=Faults(crlf=True)),
    phone("GARBAGE01", AppProfile("org.example.ok\nthis is not a pm line", path="/data/app/ok/base.apk"),
          AppProfile("com.intsig.camscanner")),
    phone("HOSTILE01", props=(("ro.product.model", "Evil\x1b[2JPhone\r"), ("ro.serialno", "EVIL\x1b[31mSERIAL"))),
    phone("DROPPED01", faults=Faults(drop_after_bytes=600), fillers=60),
    phone("UNAUTH001", faults=Faults(unauthorized=True)),
    phone("OFFLINE01", faults=Faults(offline=True)),
]
STARTED_PIDS: list[int] = []  # adb servers started by tests other than the shared fleet's
FLEET_PIDS: list[int] = []


@pytest.fixture(scope="module")
def sigs():
    return load_signatures()


@pytest.fixture(scope="module")
def matcher(sigs):
    return Matcher(sigs)  # the default policy


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with AndroidSimulator(FLEET) as sim:
        FLEET_PIDS.extend(sim.pids)
        yield sim
    for pid in sim.pids:
        assert not _alive(pid), f"the simulator's adb server (pid {pid}) is still running"


@contextlib.contextmanager
def round_trips(sim: AndroidSimulator, serials: list[str]):
    """The shell round trips each phone served while the block ran, by transport serial, as the phones
    themselves saw them (sim.shell_count); a phone that served none is left out."""
    before = {serial: sim.shell_count(serial) for serial in serials}
    trips: dict[str, int] = {}
    yield trips
    for serial in serials:
        if served := sim.shell_count(serial) - before[serial]:
            trips[sim.transport_serial(serial)] = served


@pytest.fixture(scope="module")
def scanned(fleet) -> dict[str, Inventory]:
    """One whole scan of the fleet, by hardware serial; the round trips it took, by transport serial."""
    with round_trips(fleet, [p.serial for p in FLEET]) as trips:
        inventories = list(AndroidConnector(f"127.0.0.1:{fleet.adb_port}", timeout=20).inventories())
    by_serial = {inv.device.serial: inv for inv in inventories}
    assert len(by_serial) == len(inventories) == len(FLEET)
    by_serial["_trips"] = trips  # type: ignore[assignment]
    return by_serial


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listeners(port: int) -> list[int]:
    """Pids of processes listening on TCP `port` (from /proc), so that a check names who listens: other test
    runs on the same machine may bind a freed port at any time, and only an adb of ours would be a failure."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
            if any(os.readlink(f"/proc/{entry}/fd/{fd}") in {f"socket:[{i}]" for i in inodes} for fd in fds):
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def _adb_listening(port: int) -> list[int]:
    """Pids of adb processes listening on `port`."""
    found = []
    for pid in _listeners(port):
        try:
            if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "adb":
                found.append(pid)
        except OSError:
            continue
    return found


def _findings(matcher: Matcher, inv: Inventory) -> list[tuple[str, int | None, str]]:
    return sorted((f.app.id, f.app.user, f.app.state) for f in matcher.match(inv.apps))


# --- what a complete read looks like ---------------------------------------------------------------


def test_clean_phone_is_complete_with_no_findings(scanned, matcher):
    inv = scanned["CLEAN0001"]
    assert inv.status == "complete" and inv.reason is None and inv.message is None
    assert inv.device.platform == "android" and inv.device.model == "Pixel 7" and inv.device.source == "adb"
    assert [(s.name, s.read, s.apps) for s in inv.coverage] == [("user 0 (Owner)", True, 13)]
    assert len(inv.apps) == 13 and _findings(matcher, inv) == []
    framework = next(a for a in inv.apps if a.id == "android")
    assert framework.system is True and framework.uid == 1000 and framework.path == "/system/framework/framework-res.apk"
    filler = next(a for a in inv.apps if a.id.startswith("org.example.filler."))
    assert filler.system is False and filler.installer == "com.android.vending" and filler.build and filler.uid
    assert inv.problems == ()


def test_prohibited_app_of_the_owner(scanned, matcher):
    inv = scanned["OWNER0001"]
    assert inv.status == "complete"
    assert _findings(matcher, inv) == [("com.intsig.camscanner", 0, "installed")]
    app = next(a for a in inv.apps if a.id == "com.intsig.camscanner")
    assert (app.build, app.installer, app.user, app.system) == ("6420", "com.android.vending", 0, False)
    assert app.path and app.path.endswith("/base.apk") and "=" in app.path  # the ~~...== directory kept whole


def test_prohibited_app_in_a_work_profile(scanned, matcher):
    inv = scanned["WORK00001"]
    assert inv.status == "complete" and inv.device.model == "SM-G991B"
    assert [(s.name, s.read) for s in inv.coverage] == [("user 0 (Owner)", True), ("user 10 (Work profile)", True)]
    assert _findings(matcher, inv) == [("com.lenovo.anyshare.gps", 10, "installed")]
    app = next(a for a in inv.apps if a.id == "com.lenovo.anyshare.gps")
    assert app.uid is not None and app.uid // 100000 == 10


def test_uninstalled_with_data_kept_is_still_a_finding(scanned, matcher):
    inv = scanned["KEPT00001"]
    assert inv.status == "complete"
    assert _findings(matcher, inv) == [("cn.wps.moffice_eng", 0, "uninstalled-data-kept")]
    assert sum(a.state == "uninstalled-data-kept" for a in inv.apps) == 1


def test_disabled_app(scanned, matcher):
    inv = scanned["DISABLED1"]
    assert inv.status == "complete"
    assert _findings(matcher, inv) == [("com.intsig.camscanner", 0, "disabled")]
    assert {a.state for a in inv.apps if a.id != "com.intsig.camscanner"} == {"installed"}


def test_hardware_serial_comes_from_ro_serialno(fleet, scanned):
    inv = scanned["OWNER0001"]
    assert inv.device.serial == "OWNER0001" != fleet.transport_serial("OWNER0001")
    assert inv.device.os_version == "14"


# --- what is not read is never reported clean ------------------------------------------------------


def test_refused_work_profile_makes_the_phone_partial(scanned):
    inv = scanned["REFUSED01"]
    assert inv.status == "partial" and inv.reason == "user-refused"
    assert [(s.name, s.read, s.reason) for s in inv.coverage] == [
        ("user 0 (Owner)", True, None), ("user 10 (Work profile)", False, "refused")]
    assert inv.message.startswith("User 10 (Work profile) could not be read: Shell does not have permission to access user 10")
    assert "the work profile's apps are not in this report" in inv.message
    assert "\n" not in inv.message
    assert all(a.user == 0 for a in inv.apps) and inv.apps


def test_refused_secure_folder_with_a_finding_elsewhere(scanned, matcher):
    inv = scanned["REFUSED02"]
    assert inv.status == "partial" and inv.reason == "user-refused"
    assert "Secure Folder" in inv.message and "user 150" in inv.message
    assert _findings(matcher, inv) == [("com.intsig.camscanner", 0, "installed")]


def test_unauthorized_phone_fails_with_what_to_do(fleet, scanned):
    inv = scanned[fleet.transport_serial("UNAUTH001")]  # its ro.serialno cannot be read
    assert inv.status == "failed" and inv.reason == "unauthorized" and inv.apps == ()
    assert "accept the USB debugging prompt" in inv.message
    assert [(s.read, s.reason) for s in inv.coverage] == [(False, "unauthorized")]


def test_offline_phone_fails_with_what_to_do(fleet, scanned):
    inv = scanned[fleet.transport_serial("OFFLINE01")]
    assert (inv.status, inv.reason, inv.apps) == ("failed", "offline", ())
    assert "replug the cable" in inv.message


def test_states_adb_reports_are_explained():
    # `no permissions (missing udev rules? ...)` reaches adbutils' list() as the word "no": USB only, so
    # not emulated; the mapping is checked here directly.
    assert explain_state("no")[0] == "no-permissions" and "udev" in explain_state("no")[1]
    assert explain_state("authorizing")[0] == "unauthorized"
    assert explain_state("recovery") == (
        "not-ready", "The phone is in recovery mode, not started into Android: restart it normally and run again")
    assert explain_state("weird")[0] == "not-ready" and "'weird'" in explain_state("weird")[1]


def test_connection_dropped_in_a_listing_is_never_complete(scanned):
    inv = scanned["DROPPED01"]
    assert inv.status == "failed" and inv.reason == "disconnected" and inv.apps == (), (inv, scanned["_trips"])
    assert inv.message == "The phone was disconnected during the scan; reconnect it and run again"
    assert inv.device.serial == "DROPPED01"  # the first round trip (props) got through
    # What the library said (EOFError: Expected 5 bytes, got 0), in the tool's words (issue 15).
    assert any("the connection closed before the answer was complete" in p for p in inv.problems), inv.problems
    assert not any("EOFError" in p or "Expected" in p for p in inv.problems)


def test_garbage_lines_are_problems_and_make_the_phone_partial(scanned, matcher):
    inv = scanned["GARBAGE01"]
    assert inv.status == "partial" and inv.reason == "bad-lines"
    assert any("'this is not a pm line'" in p for p in inv.problems)
    assert "were not understood" in inv.message
    assert _findings(matcher, inv) == [("com.intsig.camscanner", 0, "installed")]  # the rest was still read
    assert any(not s.read and "not understood" in (s.reason or "") for s in inv.coverage)


# --- old and odd Androids ----------------------------------------------------------------------------


def test_old_android_rejecting_every_optional_flag(scanned, matcher):
    inv = scanned["OLDPHONE1"]
    assert inv.status == "complete", inv.message  # missing optional fields never make a phone partial
    assert _findings(matcher, inv) == [("com.intsig.camscanner", 0, "installed")]
    app = next(a for a in inv.apps if a.id == "com.intsig.camscanner")
    assert (app.installer, app.uid, app.build) == (None, None, None) and app.path
    notes = " | ".join(inv.problems)
    for what, flag in (("installer", "-i"), ("uid", "-U"), ("versionCode", "--show-versioncode")):
        assert f"{what} not available: this Android's pm does not take {flag}" in notes
    assert inv.device.os_version == "6.0"


def test_old_android_rejecting_only_the_uid_flag(scanned):
    inv = scanned["OLDUID001"]
    assert inv.status == "complete"
    assert all(a.uid is None for a in inv.apps) and all(a.build for a in inv.apps)
    assert any(a.installer == "com.android.vending" for a in inv.apps)
    assert [p.split(":")[0] for p in inv.problems] == ["uid not available"]


def test_crlf_output_of_a_pre_android_7_phone(scanned, matcher):
    inv = scanned["CRLF00001"]
    assert inv.status == "complete" and inv.problems == ()
    assert not any("\r" in (a.id + (a.path or "") + (a.installer or "")) for a in inv.apps)
    assert _findings(matcher, inv) == [("cn.wps.moffice_eng", 0, "installed")]
    assert inv.device.serial == "CRLF00001" and inv.device.model == "Pixel 7"


def test_hostile_props_reach_the_report_intact_and_the_table_escapes_them(scanned, sigs, matcher):
    from scanner.live import scan as scan_live
    from scanner.formats.table import write_table

    inv = scanned["EVIL\x1b[31mSERIAL"]
    assert inv.device.model == "Evil\x1b[2JPhone\r" and inv.status == "complete"

    class One:
        name = "adb"

        def inventories(self):
            yield inv

    import io

    out = io.StringIO()
    write_table(scan_live([One()], matcher), out)
    text = out.getvalue()
    assert "\x1b" not in text and "\r" not in text
    assert "EVIL\\x1b[31mSERIAL" in text and "Evil\\x1b[2JPhone\\r" in text


def test_every_phone_is_read_in_at_most_three_round_trips(fleet, scanned):
    trips = scanned["_trips"]
    ready = [p.serial for p in FLEET if not (p.faults.unauthorized or p.faults.offline)]
    for serial in ready:
        assert 1 <= trips[fleet.transport_serial(serial)] <= 3, serial
    assert trips[fleet.transport_serial("CLEAN0001")] == 2  # props+users+probes, then all listings
    assert fleet.transport_serial("UNAUTH001") not in trips and fleet.transport_serial("OFFLINE01") not in trips


def test_listing_that_rejects_a_flag_the_probe_accepted_is_read_again_without_it(fleet):
    """The third round trip: a pm that took -U alone in the probe but not in the real listing."""
    transport = fleet.transport_serial("OLDUID001")
    reader = DeviceReader(parse_server(f"127.0.0.1:{fleet.adb_port}"), transport, None, deadline=None, timeout=20,
                          source="adb")
    with round_trips(fleet, ["OLDUID001"]) as trips:
        identity = reader.read_identity()
        assert identity.flags == ["-i", "--show-versioncode"]
        identity.flags.append("-U")  # as if the probe had been accepted
        inv = reader.read_inventory(identity)
    assert trips[transport] == 3
    assert inv.status == "complete" and len(inv.apps) == 13
    assert all(a.uid is None and a.installer is None and a.build is None for a in inv.apps)  # no optional flag
    assert "pm list packages -f -u --user 0" in fleet.history("OLDUID001")[-1]


def test_a_scan_is_read_only(fleet, scanned):
    allowed = ("getprop", "pm list users", "pm list packages", "echo ::scanner:", "echo X4EXIT:")  # X4EXIT: adbutils, shell v1
    for profile in FLEET:
        if profile.faults.unauthorized or profile.faults.offline:
            continue
        for script in fleet.history(profile.serial):
            for command in script.split("; "):
                assert command.startswith(allowed), command


# --- selection ------------------------------------------------------------------------------------


def test_select_by_transport_serial(fleet):
    transport = fleet.transport_serial("OWNER0001")
    (inv,) = AndroidConnector(f"127.0.0.1:{fleet.adb_port}", serials=[transport]).inventories()
    assert inv.device.serial == "OWNER0001" and inv.status == "complete"


def test_select_by_ro_serialno_within_the_round_trip_budget(fleet):
    with round_trips(fleet, ["WORK00001"]) as trips:
        (inv,) = AndroidConnector(f"127.0.0.1:{fleet.adb_port}", serials=["WORK00001"]).inventories()
    assert inv.device.serial == "WORK00001" and inv.status == "complete"
    assert trips[fleet.transport_serial("WORK00001")] == 2  # the identifying read is reused


def test_selected_serial_not_attached_is_not_found(fleet):
    results = list(AndroidConnector(f"127.0.0.1:{fleet.adb_port}", serials=["NOSUCH123", "CLEAN0001"]).inventories())
    by_serial = {r.device.serial: r for r in results}
    assert set(by_serial) == {"NOSUCH123", "CLEAN0001"}
    missing = by_serial["NOSUCH123"]
    assert missing.status == "failed" and missing.reason == "not-found" and "scanner devices" in missing.message


def test_selected_unauthorized_phone_is_reported(fleet):
    transport = fleet.transport_serial("UNAUTH001")
    (inv,) = AndroidConnector(f"127.0.0.1:{fleet.adb_port}", serials=[transport]).inventories()
    assert (inv.status, inv.reason, inv.device.serial) == ("failed", "unauthorized", transport)


def test_devices_lists_every_state_with_what_to_do(fleet):
    attached = {a.serial: a for a in AndroidConnector(f"127.0.0.1:{fleet.adb_port}").devices()}
    assert len(attached) == len(FLEET)
    work = attached[fleet.transport_serial("WORK00001")]
    assert (work.state, work.model, work.os_version, work.message) == ("ready", "SM-G991B", "14", None)
    offline = attached[fleet.transport_serial("OFFLINE01")]
    assert offline.state == "offline" and "replug" in offline.message
    unauth = attached[fleet.transport_serial("UNAUTH001")]
    assert unauth.state == "unauthorized" and "USB debugging" in unauth.message


def test_devices_with_serials_shows_those_and_the_missing_ones(fleet):
    transport = fleet.transport_serial("CLEAN0001")
    found = AndroidConnector(f"127.0.0.1:{fleet.adb_port}", serials=["WORK00001", transport, "NOSUCH123"]).devices()
    assert sorted((a.serial, a.state) for a in found) == sorted([
        (fleet.transport_serial("WORK00001"), "ready"), (transport, "ready"), ("NOSUCH123", "not-found")])


def test_progress_reports_each_phone(fleet):
    seen: list[tuple[str, str, str, int | None]] = []
    serials = [fleet.transport_serial("CLEAN0001"), fleet.transport_serial("UNAUTH001")]
    list(AndroidConnector(f"127.0.0.1:{fleet.adb_port}", serials=serials,
                          progress=lambda *a: seen.append(a)).inventories())
    clean = [(s, n) for p, t, s, n in seen if t == serials[0]]
    assert clean == [("waiting", None), ("reading", None), ("done", 13)]
    assert [s for p, t, s, n in seen if t == serials[1]] == ["failed"]
    assert {p for p, *_ in seen} == {"android"}


# --- time ------------------------------------------------------------------------------------------


def test_slow_phone_times_out_and_the_others_are_unaffected():
    slow = phone("SLOW00001", faults=Faults(delay=4.0))
    quick = [phone(f"QUICK{i:04d}", AppProfile("com.intsig.camscanner")) for i in range(3)]
    with AndroidSimulator([slow, *quick]) as sim:
        STARTED_PIDS.extend(sim.pids)
        slow_transport = sim.transport_serial("SLOW00001")
        results = list(AndroidConnector(f"127.0.0.1:{sim.adb_port}", timeout=1.5).inventories())
    assert results[-1].device.serial == slow_transport  # it never got to tell its ro.serialno
    assert sorted((r.device.serial, r.status) for r in results[:-1]) == [
        (f"QUICK{i:04d}", "complete") for i in range(3)]
    late = results[-1]
    assert late.status == "failed" and late.reason == "timeout" and "1.5 s" in late.message


def test_phone_unplugged_during_the_scan():
    slow = phone("UNPLUG001", faults=Faults(delay=1.0))
    with AndroidSimulator([slow, phone("STAYS0001")]) as sim:
        STARTED_PIDS.extend(sim.pids)
        transport = sim.transport_serial("UNPLUG001")
        unplug, once = threading.Timer(0.3, sim.detach, [transport]), threading.Lock()

        def progress(platform: str, serial: str, state: str, n: int | None) -> None:
            # Unplugged once, 0.3 s into its reading; a second "reading" (the next round trip) starts nothing.
            with once:
                if state == "reading" and serial == transport and unplug.ident is None:
                    unplug.start()

        connector = AndroidConnector(f"127.0.0.1:{sim.adb_port}", timeout=30, progress=progress)
        results = list(connector.inventories())
        if unplug.ident is not None:
            unplug.join()  # never left to call the simulator once it is stopped
    by_serial = {r.device.serial: r for r in results}
    assert by_serial["STAYS0001"].status == "complete" and len(results) == 2
    gone = by_serial.get(transport) or by_serial["UNPLUG001"]  # unplugged in the first or the second round trip
    assert (gone.status, gone.reason) == ("failed", "disconnected") and gone.apps == ()
    assert gone.message == "The phone was disconnected during the scan; reconnect it and run again"


def test_twenty_phones_in_one_scan_all_complete(matcher):
    phones = [phone(f"FLEET{i:04d}", AppProfile("com.intsig.camscanner") if i % 5 == 0 else FRAMEWORK, fillers=40)
              for i in range(20)]
    with AndroidSimulator(phones) as sim:
        STARTED_PIDS.extend(sim.pids)
        with round_trips(sim, [p.serial for p in phones]) as trips:
            results = list(AndroidConnector(f"127.0.0.1:{sim.adb_port}").inventories())
    assert sorted(r.device.serial for r in results) == [f"FLEET{i:04d}" for i in range(20)]
    assert {r.status for r in results} == {"complete"}
    assert sum(bool(_findings(matcher, r)) for r in results) == 4
    assert len(trips) == 20 and set(trips.values()) == {2}


# --- the adb server ----------------------------------------------------------------------------------


def _adb_processes_naming(*ports: int) -> list[int]:
    """Pids of processes whose command line names one of these ports."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(str(p).encode() in arg for p in ports for arg in argv) and any(b"adb" in a for a in argv[:1]):
            found.append(int(entry))
    return found


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """A temporary HOME/TMPDIR, and an adb that would see no USB, emulator or mDNS devices if started."""
    for name in ("HOME", "TMPDIR"):
        path = tmp_path / name.lower()
        path.mkdir()
        monkeypatch.setenv(name, str(path))
    monkeypatch.setattr("tempfile.tempdir", None)
    for name, value in (("ADB_USB", "0"), ("ADB_EMU", "0"), ("ADB_MDNS", "0")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ADBUTILS_ADB_PATH", raising=False)
    return tmp_path


@pytest.fixture
def spawned(monkeypatch) -> list[list[str]]:
    """Every process started through subprocess while the test runs (passed through, only recorded)."""
    calls: list[list[str]] = []
    real_popen_init = subprocess.Popen.__init__

    def recording_init(self, args, *a, **kw):
        calls.append([str(x) for x in (args if isinstance(args, (list, tuple)) else [args])])
        real_popen_init(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", recording_init)
    return calls


def test_explicit_server_that_does_not_answer_is_reported_and_never_started(isolated_env, monkeypatch, spawned):
    port, trap = _free_port(), _free_port()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(trap))  # where adbutils' own auto-start would go
    notes: list[str] = []
    (inv,) = AndroidConnector(f"127.0.0.1:{port}", required=True).inventories()
    assert inv.status == "failed" and inv.reason == "adb-unavailable" and inv.device.serial is None
    assert f"127.0.0.1:{port}" in inv.message and "--adb-server" in inv.message
    assert list(AndroidConnector(f"127.0.0.1:{port}", notify=notes.append).inventories()) == []
    assert len(notes) == 1 and "Android devices were not scanned" in notes[0]
    with pytest.raises(ScannerError, match="No adb server answers"):
        AndroidConnector(f"127.0.0.1:{port}", required=True).devices()
    assert AndroidConnector(f"127.0.0.1:{port}", notify=notes.append).devices() == []
    assert [argv for argv in spawned if argv[1:] != ["version"]] == []
    assert _adb_listening(port) == [] and _adb_listening(trap) == []
    assert _adb_processes_naming(port, trap) == []


def test_default_server_is_started_on_the_users_port_and_said_so(isolated_env, monkeypatch, spawned):
    port = _free_port()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    notes: list[str] = []
    connector = AndroidConnector(required=True, notify=notes.append)
    try:
        assert list(connector.inventories()) == []  # a server, but no phones
        started = connector.started_server
        assert started is not None
        STARTED_PIDS.append(started.pid)
        assert started.port == port and _listeners(port) == [started.pid]
        starts = [argv for argv in spawned if argv[1:] != ["version"]]  # adb_path() checks the binary runs
        assert starts == [[adbutils.adb_path(), "-P", str(port), "server", "nodaemon"]]
        assert len(notes) == 1 and f"pid {started.pid}" in notes[0] and f"adb -P {port} kill-server" in notes[0]
        assert adbutils.AdbClient(port=port).server_version() >= 39
        assert _adb_processes_naming(port) == [started.pid]
        # A second connector finds it running and starts nothing.
        again = AndroidConnector(notify=notes.append)
        assert again.devices() == [] and again.started_server is None and len(notes) == 1
    finally:
        if connector.started_server is not None:
            os.kill(connector.started_server.pid, signal.SIGTERM)
            connector.started_server.proc.wait(timeout=10)
    assert not _alive(connector.started_server.pid) and _adb_listening(port) == []


def test_default_server_that_cannot_be_started(isolated_env, monkeypatch, tmp_path):
    port = _free_port()
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(port))
    monkeypatch.setenv("ADBUTILS_ADB_PATH", str(tmp_path / "no-such-adb"))
    (inv,) = AndroidConnector(required=True).inventories()
    assert inv.reason == "adb-unavailable" and inv.status == "failed"
    assert f"adb -P {port} start-server" in inv.message
    notes: list[str] = []
    assert list(AndroidConnector(notify=notes.append).inventories()) == []
    assert len(notes) == 1 and "adb -P" in notes[0]
    assert _adb_listening(port) == []


def test_bad_server_values_are_usage_errors(monkeypatch):
    with pytest.raises(ScannerError, match="--adb-server"):
        AndroidConnector("localhost:notaport")
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "50x")
    with pytest.raises(ScannerError, match="ANDROID_ADB_SERVER_PORT"):
        AndroidConnector()


# --- the wire format, strictly ------------------------------------------------------------------------


def test_script_sentinels_are_strict():
    script = Script([("a", "getprop"), ("b", "pm list users")], nonce="0123456789abcdef")
    assert script.command_line() == (
        "getprop 2>&1; echo ::scanner:0123456789abcdef:0:rc:$?; pm list users 2>&1; echo ::scanner:0123456789abcdef:1:rc:$?")
    ok = script.split(b"[x]: [1]\r\n::scanner:0123456789abcdef:0:rc:0\r\nUsers:\n::scanner:0123456789abcdef:1:rc:255\n")
    assert (ok["a"].lines, ok["a"].rc, ok["b"].lines, ok["b"].rc) == ((b"[x]: [1]",), 0, (b"Users:",), 255)
    no_newline = script.split(b"[x]: [1]::scanner:0123456789abcdef:0:rc:0\n::scanner:0123456789abcdef:1:rc:0\n")
    assert no_newline["a"].lines == (b"[x]: [1]",) and no_newline["b"].lines == ()
    forged = script.split(b"::scanner:other:1:rc:0\n::scanner:0123456789abcdef:0:rc:0\n::scanner:0123456789abcdef:1:rc:0\n")
    assert forged["a"].lines == (b"::scanner:other:1:rc:0",)
    with pytest.raises(BadAnswer, match="stopped after 1 of 2"):
        script.split(b"[x]: [1]\n::scanner:0123456789abcdef:0:rc:0\nUsers:\n")
    with pytest.raises(BadAnswer, match="out of order"):
        script.split(b"::scanner:0123456789abcdef:1:rc:0\n::scanner:0123456789abcdef:0:rc:0\n")
    with pytest.raises(BadAnswer, match="after the last"):
        script.split(b"::scanner:0123456789abcdef:0:rc:0\n::scanner:0123456789abcdef:1:rc:0\npackage:evil\n")


# --- the command line -----------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("ANDROID_", "ADB"))}
    full.update(env)
    full["USBMUXD_SOCKET_ADDRESS"] = f"127.0.0.1:{_free_port()}"  # no iPhones here
    proc = subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, env=full, cwd=cwd,
                          timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    return proc


def _cli_ready() -> bool:
    from scanner import cli

    return "platform" in {p.name for p in cli.main.commands["scan"].params}


cli_only = pytest.mark.skipif(not _cli_ready(), reason="the CLI does not scan attached devices yet")


@cli_only
@pytest.mark.parametrize("serials, code, statuses", [
    (["CLEAN0001"], 0, {"CLEAN0001": "complete"}),
    (["OWNER0001", "WORK00001"], 1, {"OWNER0001": "complete", "WORK00001": "complete"}),
    (["REFUSED01"], 4, {"REFUSED01": "partial"}),
    (["REFUSED02", "CLEAN0001"], 5, {"REFUSED02": "partial", "CLEAN0001": "complete"}),
])
def test_cli_scan_exit_codes(fleet, tmp_path, serials, code, statuses):
    args = ["scan", "--platform", "android", "--format", "json"]
    for s in serials:
        args += ["--serial", s]
    proc = _cli(*args, env=fleet.env, cwd=tmp_path)
    assert proc.returncode == code, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    assert {d["device"]["serial"]: d["status"] for d in doc["devices"]} == statuses
    ids = sorted(f["app"]["id"] for d in doc["devices"] for f in d["findings"])
    expected = {"OWNER0001": ["com.intsig.camscanner"], "WORK00001": ["com.lenovo.anyshare.gps"],
                "REFUSED02": ["com.intsig.camscanner"]}
    assert ids == sorted(i for s in serials for i in expected.get(s, []))


@cli_only
def test_cli_scan_of_the_whole_fleet(fleet, tmp_path):
    proc = _cli("scan", "--platform", "android", "--format", "json", env=fleet.env, cwd=tmp_path)
    assert proc.returncode == 5  # findings, and phones not fully read
    doc = json.loads(proc.stdout)
    assert len(doc["devices"]) == len(FLEET)
    reasons = {d["device"]["serial"]: d["reason"] for d in doc["devices"] if d["status"] != "complete"}
    assert reasons == {
        fleet.transport_serial("UNAUTH001"): "unauthorized", fleet.transport_serial("OFFLINE01"): "offline",
        "REFUSED01": "user-refused", "REFUSED02": "user-refused", "GARBAGE01": "bad-lines",
        "DROPPED01": "disconnected",
    }


@cli_only
def test_cli_starts_the_users_server_says_so_and_leaves_it_for_them(tmp_path):
    port = _free_port()
    env = {"ANDROID_ADB_SERVER_PORT": str(port), "HOME": str(tmp_path), "TMPDIR": str(tmp_path),
           "ADB_USB": "0", "ADB_EMU": "0", "ADB_MDNS": "0"}
    proc = _cli("devices", "--platform", "android", env=env, cwd=tmp_path)
    note = proc.stderr.decode()
    match = re.search(r"started on 127\.0\.0\.1:(\d+) \(pid (\d+),", note)
    assert match, note
    pid = int(match.group(2))
    STARTED_PIDS.append(pid)
    try:
        assert int(match.group(1)) == port and f"adb -P {port} kill-server" in note
        assert proc.returncode == 4 and _listeners(port) == [pid]  # no phone, but a server, as adb devices leaves
        assert _adb_processes_naming(port) == [pid]
    finally:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while (_alive(pid) or _adb_listening(port)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid) and _adb_listening(port) == []


@cli_only
def test_cli_devices(fleet, tmp_path):
    proc = _cli("devices", "--platform", "android", "--format", "json", env=fleet.env, cwd=tmp_path)
    assert proc.returncode == 4  # the unauthorized phone is not ready
    text = proc.stdout.decode()
    assert fleet.transport_serial("CLEAN0001") in text and "unauthorized" in text


@cli_only
def test_cli_slow_phone_with_a_short_timeout(tmp_path):
    with AndroidSimulator([phone("SLOWCLI01", faults=Faults(delay=3.0)), phone("FASTCLI01")]) as sim:
        STARTED_PIDS.extend(sim.pids)
        slow_transport = sim.transport_serial("SLOWCLI01")
        proc = _cli("scan", "--platform", "android", "--timeout", "1", "--format", "json", env=sim.env, cwd=tmp_path)
    assert proc.returncode == 4
    doc = json.loads(proc.stdout)
    statuses = {d["device"]["serial"]: (d["status"], d["reason"]) for d in doc["devices"]}
    assert statuses == {slow_transport: ("failed", "timeout"), "FASTCLI01": ("complete", None)}


@cli_only
def test_cli_adb_unavailable(tmp_path):
    port = _free_port()
    proc = _cli("scan", "--platform", "android", "--adb-server", f"127.0.0.1:{port}", "--format", "json",
                env={"HOME": str(tmp_path)}, cwd=tmp_path)
    assert proc.returncode == 4
    (device,) = json.loads(proc.stdout)["devices"]
    assert device["reason"] == "adb-unavailable"
    assert _adb_listening(port) == []


# --- nothing left behind ----------------------------------------------------------------------------


def test_no_adb_server_started_by_these_tests_is_left_running():
    with AndroidSimulator([phone("LAST00001")]) as sim:
        STARTED_PIDS.extend(sim.pids)
        (inv,) = AndroidConnector(f"127.0.0.1:{sim.adb_port}").inventories()
        assert inv.status == "complete"
    deadline = time.monotonic() + 10
    for pid in STARTED_PIDS:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    # The shared fleet is still up: its fixture stops it after the last test and checks its pids then.
    assert STARTED_PIDS and [pid for pid in STARTED_PIDS if _alive(pid)] == []
