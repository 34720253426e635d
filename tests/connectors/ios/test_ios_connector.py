"""The iOS connector, driven through the real pymobiledevice3 against emulated iPhones.

Nothing is mocked: scanner.simulator.ios serves usbmuxd, lockdownd (pairing,
TLS sessions) and installation_proxy on 127.0.0.1, and the connector reaches
it through the unmodified pymobiledevice3. HOME and XDG_DATA_HOME point at a
temporary directory (pymobiledevice3 keeps pair records there), and no UDID
used here may have a record in /var/lib/lockdown. A small relay in front of
the emulated usbmuxd records what the connector sends, to check what it asks
for (one Lookup, only the attributes it uses) and what it never sends (Pair).
"""

from __future__ import annotations

import asyncio
import json
import os
import plistlib
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer, pump
from pymobiledevice3 import usbmux

from scanner.connectors.interface import ScannerError
from scanner.connectors.ios.connector import IOSConnector
from scanner.connectors.ios.pairing import pair, pair_record_folder
from scanner.connectors.ios.usbmux import resolve_address
from scanner.matcher import Matcher
from scanner.model import Inventory, Transport
from scanner.signatures import load_signatures
from scanner.simulator.android import AndroidSimulator
from scanner.simulator.ios import IOSSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, Faults, filler_apps


def udid(n: int) -> str:
    return f"00008120-5CA9E5{n:010X}"


WECHAT_TEAM = "88L2Q4487U"  # signatures/catalog/wechat.toml
APPS = (
    AppProfile(id="com.tencent.xin", name="WeChat", version="8.0.50", build="8.0.50.34", team_id=WECHAT_TEAM),
    AppProfile(id="com.tencent.mqq", name="QQ", version="9.0.60", build="9.0.60.612", team_id="FN2V63AD2J"),
    # Not in the catalog, signed by WeChat's team: a `review` finding, never `prohibited`.
    AppProfile(id="com.tencent.sim.helper", name="Helper", version="1.2", build="12", team_id=WECHAT_TEAM),
    AppProfile(id="com.intsig.CamScannerLite", name="CamScanner", version="6.70.0", build="6.70.0.2406250",
               team_id="2XG5WP5BD9", state="offloaded"),
    AppProfile(id="com.apple.mobilesafari", name="Safari", version="17.5.1", build="8618.2.12", system=True),
    AppProfile(id="com.apple.webapp", name="Web", type="Hidden"),
    AppProfile(id="com.example.corp.tool", name="Corp Tool", version="2.1", build="21", team_id="ABCDE12345",
               signer="iPhone Distribution: Example Corp"),
) + filler_apps("ios", 40, seed="trusted")
ORDINARY = filler_apps("ios", 25, seed="ordinary")

TRUSTED = DeviceProfile(platform="ios", serial=udid(1), name="Ana's iPhone", product_type="iPhone15,2",
                        os_version="17.5.1", apps=APPS)
NOT_PAIRED = DeviceProfile(platform="ios", serial=udid(2), apps=ORDINARY, faults=Faults(pairing="not-paired"))
PENDING = DeviceProfile(platform="ios", serial=udid(3), apps=ORDINARY, faults=Faults(pairing="pending"))
DENIED = DeviceProfile(platform="ios", serial=udid(4), apps=ORDINARY, faults=Faults(pairing="denied"))
STALE = DeviceProfile(platform="ios", serial=udid(5), apps=ORDINARY, faults=Faults(pairing="stale"))
LOCKED = DeviceProfile(platform="ios", serial=udid(6), apps=ORDINARY, faults=Faults(locked=True))
DROP = DeviceProfile(platform="ios", serial=udid(7), apps=ORDINARY, faults=Faults(drop_after_apps=5))
NO_COMPLETE = DeviceProfile(platform="ios", serial=udid(8), apps=APPS[:1] + ORDINARY,
                            faults=Faults(no_complete=True))
SLOW = DeviceProfile(platform="ios", serial=udid(9), apps=ORDINARY, faults=Faults(delay=30.0))
LOCKED_UNTRUSTED = DeviceProfile(platform="ios", serial=udid(10), apps=ORDINARY,
                                 faults=Faults(locked=True, pairing="not-paired"))
EMPTY = DeviceProfile(platform="ios", serial=udid(11), apps=())
# A bundle id with a space is no bundle id: a damaged or forged record, never matched, never skipped silently.
BAD_RECORD = DeviceProfile(platform="ios", serial=udid(12), apps=ORDINARY + (AppProfile(id="com.example.bad id"),))
FLEET = (TRUSTED, NOT_PAIRED, PENDING, DENIED, STALE, LOCKED, DROP, NO_COMPLETE, SLOW, EMPTY, BAD_RECORD)
TEN = tuple(
    DeviceProfile(platform="ios", serial=udid(0x100 + i), name=f"Pool iPhone {i}", product_type="iPhone14,5",
                  os_version="16.7.8", apps=(APPS[:1] if i == 3 else ()) + filler_apps("ios", 60, seed=f"ten{i}"))
    for i in range(10)
)
FAULT_TIMEOUT = 3.0  # long enough for a loaded CI machine, short enough for a quick suite

# What the scan's one Lookup must ask for, and nothing more.
EXPECTED_OPTIONS = {
    "ApplicationType": "Any",
    "ShowPlaceholders": True,
    "ReturnAttributes": ["CFBundleIdentifier", "CFBundleDisplayName", "CFBundleName", "CFBundleShortVersionString",
                         "CFBundleVersion", "ApplicationType", "SignerIdentity", "Entitlements", "IsPlaceholder",
                         "IsDemotedApp"],
}


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private HOME / XDG_DATA_HOME for the whole module: pymobiledevice3 writes pair records there."""
    for device in (*FLEET, *TEN, LOCKED_UNTRUSTED):
        assert not Path(f"/var/lib/lockdown/{device.serial}.plist").exists(), "a real pair record would interfere"
    base = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(base))
        mp.setenv("XDG_DATA_HOME", str(base / "xdg"))
        mp.delenv("SUDO_USER", raising=False)
        mp.delenv("PYMOBILEDEVICE3_USBMUX", raising=False)
        mp.delenv("USBMUXD_SOCKET_ADDRESS", raising=False)
        yield base


@pytest.fixture(scope="module")
def fleet(home: Path) -> Iterator[IOSSimulator]:
    with IOSSimulator(FLEET) as sim:
        yield sim


@pytest.fixture(scope="module")
def ten(home: Path) -> Iterator[IOSSimulator]:
    with IOSSimulator(TEN) as sim:
        yield sim


@pytest.fixture
def pairing(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IOSSimulator]:
    """Fresh devices, and a fresh HOME, for each pairing test: pairing changes both.

    (A record left in the folder by one test would be a stale record to the
    next simulator's devices, which never trusted it.)
    """
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with IOSSimulator((NOT_PAIRED, PENDING, DENIED, STALE, LOCKED_UNTRUSTED)) as sim:
        yield sim


@pytest.fixture
def on(monkeypatch: pytest.MonkeyPatch):
    """Point $USBMUXD_SOCKET_ADDRESS at a simulator, as the CLI's users do."""
    def point(sim: IOSSimulator) -> IOSSimulator:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", sim.address)
        return sim
    return point


@pytest.fixture(scope="module")
def signatures():
    return load_signatures()


@pytest.fixture(scope="module")
def matcher(signatures) -> Matcher:
    return Matcher(signatures)  # the default policy (us-eo-13971)


@pytest.fixture(scope="module")
def fault_scan(fleet: IOSSimulator) -> tuple[dict[str, Inventory], list[tuple]]:
    """One scan of the whole fleet with a short timeout: every fault at once, as on a USB hub."""
    events: list[tuple] = []
    connector = IOSConnector(fleet.address, timeout=FAULT_TIMEOUT, progress=lambda *e: events.append(e))
    invs = list(connector.inventories())
    assert len(invs) == len(FLEET)
    return {inv.device.serial: inv for inv in invs}, events


def free_address() -> str:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


class Recorder(LoopbackServer):
    """A TCP relay in front of the emulated usbmuxd that keeps every plist the client sends.

    usbmuxd requests, lockdownd requests before a session (Pair is one) and
    installation_proxy commands travel as plain XML plists; lockdownd traffic
    inside a TLS session does not, and is not recorded.
    """

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.sent: list[bytes] = []
        self.lock = threading.Lock()
        super().__init__()

    def serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        buffer = bytearray()
        self.keep(upstream)
        with self.lock:
            self.sent.append(buffer)  # type: ignore[arg-type]
        threading.Thread(target=pump, args=(client, upstream, buffer), daemon=True).start()
        pump(upstream, client)

    def requests(self) -> list[dict[str, Any]]:
        found = []
        with self.lock:
            streams = [bytes(b) for b in self.sent]
        for stream in streams:
            for match in re.finditer(rb"<\?xml.*?</plist>", stream, re.DOTALL):
                value = plistlib.loads(match.group(0))
                if isinstance(value, dict):
                    found.append(value)
        return found


@pytest.fixture
def recorder(fleet: IOSSimulator) -> Iterator[Recorder]:
    rec = Recorder(fleet.address)
    yield rec
    rec.close()


def scan(address: str | None = None, **kwargs: Any) -> list[Inventory]:
    return list(IOSConnector(address, **kwargs).inventories())


def one(invs: list[Inventory]) -> Inventory:
    assert len(invs) == 1, invs
    return invs[0]


def cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, **env}, timeout=timeout)


def cli_env(sim: IOSSimulator | None, address: str | None = None) -> dict[str, str]:
    env = {"HOME": os.environ["HOME"], "XDG_DATA_HOME": os.environ["XDG_DATA_HOME"]}
    env["USBMUXD_SOCKET_ADDRESS"] = address or (sim.address if sim else free_address())
    return env


# --- a trusted iPhone ---------------------------------------------------------------------------------


def test_trusted_iphone_lists_every_app_with_its_facts(fleet, on):
    on(fleet)  # no address argument: $USBMUXD_SOCKET_ADDRESS decides
    inv = one(scan(udids=[TRUSTED.serial]))
    assert inv.status == "complete" and inv.reason is None and inv.message is None
    assert inv.device.platform == "ios" and inv.device.serial == TRUSTED.serial and inv.device.source == "usbmux"
    assert (inv.device.model, inv.device.os_version, inv.device.name) == ("iPhone15,2", "17.5.1", "Ana's iPhone")
    assert sorted(a.id for a in inv.apps) == sorted(a.id for a in APPS)
    assert [(s.name, s.read, s.apps) for s in inv.coverage] == [("apps", True, len(APPS))]
    apps = {a.id: a for a in inv.apps}
    wechat = apps["com.tencent.xin"]
    assert (wechat.name, wechat.version, wechat.build, wechat.state, wechat.system) == (
        "WeChat", "8.0.50", "8.0.50.34", "installed", False)
    assert wechat.team_id == WECHAT_TEAM and wechat.signer == "Apple iPhone OS Application Signing"
    assert apps["com.intsig.CamScannerLite"].state == "offloaded"  # only a Lookup with ShowPlaceholders sees it
    assert apps["com.apple.webapp"].state == "hidden"
    safari = apps["com.apple.mobilesafari"]
    assert safari.system is True and safari.team_id is None  # Apple's apps carry no team
    corp = apps["com.example.corp.tool"]
    assert corp.team_id == "ABCDE12345" and corp.signer == "iPhone Distribution: Example Corp"
    assert all(a.platform == "ios" for a in inv.apps)


def test_trusted_iphone_findings_with_the_default_policy(fleet, matcher):
    inv = one(scan(fleet.address, udids=[TRUSTED.serial]))
    found = {(f.app.id, f.listed, f.relation, f.match, f.severity) for f in matcher.match(inv.apps)}
    assert ("com.tencent.xin", "WeChat Pay", "feature-of", "exact", "prohibited") in found
    assert ("com.tencent.mqq", "QQ Wallet", "feature-of", "exact", "prohibited") in found
    assert ("com.tencent.mqq", "Tencent QQ", "app", "exact", "prohibited") in found
    assert ("com.intsig.CamScannerLite", "CamScanner", "app", "exact", "prohibited") in found
    review = [f for f in matcher.match(inv.apps) if f.app.id == "com.tencent.sim.helper"]
    assert review and {(f.match, f.severity, f.identifier) for f in review} == {("team-id", "review", WECHAT_TEAM)}
    offloaded = [f for f in matcher.match(inv.apps) if f.app.id == "com.intsig.CamScannerLite"]
    assert offloaded and all(f.app.state == "offloaded" for f in offloaded)
    flagged = {f.app.id for f in matcher.match(inv.apps)}
    assert not flagged & {"com.apple.mobilesafari", "com.example.corp.tool", "com.apple.webapp"}
    assert not any(a.startswith("org.example.filler") for a in flagged)


def test_the_lookup_asks_only_for_what_the_scanner_uses(fleet, recorder):
    inv = one(scan(recorder.address, udids=[TRUSTED.serial]))
    assert inv.status == "complete"
    commands = [r for r in recorder.requests() if "Command" in r]
    assert commands == [{"Command": "Lookup", "ClientOptions": EXPECTED_OPTIONS}]


def test_the_trimmed_lookup_moves_far_fewer_bytes_than_get_apps(fleet):
    """The same apps and facts, for a fraction of what a bare Lookup (pymobiledevice3 get_apps) pulls."""
    from pymobiledevice3.lockdown import create_using_usbmux
    from pymobiledevice3.services.installation_proxy import InstallationProxyService

    async def both() -> tuple[dict, dict]:
        lockdown = await create_using_usbmux(serial=TRUSTED.serial, autopair=False, usbmux_address=fleet.address,
                                             pairing_records_cache_folder=pair_record_folder())
        try:
            async with InstallationProxyService(lockdown=lockdown) as proxy:
                full = await proxy.get_apps(show_placeholders=True)
            async with InstallationProxyService(lockdown=lockdown) as proxy:
                trimmed = await proxy.lookup(dict(EXPECTED_OPTIONS))
        finally:
            await lockdown.close()
        return full, trimmed

    full, trimmed = asyncio.run(both())
    assert set(full) == set(trimmed) == {a.id for a in APPS}
    assert len(plistlib.dumps(trimmed)) * 3 < len(plistlib.dumps(full))
    assert all(set(entry) <= set(EXPECTED_OPTIONS["ReturnAttributes"]) for entry in trimmed.values())


def test_a_scan_never_pairs(fleet, recorder):
    """Untrusted devices are reported, not paired: no Pair, no SavePairRecord, no Trust dialog."""
    invs = scan(recorder.address, udids=[NOT_PAIRED.serial, PENDING.serial, DENIED.serial, STALE.serial])
    assert {inv.reason for inv in invs} == {"not-paired", "pair-record-invalid"}
    sent = recorder.requests()
    assert any(r.get("Request") == "QueryType" for r in sent)  # the relay did see lockdownd
    assert not [r for r in sent if r.get("Request") == "Pair" or r.get("MessageType") == "SavePairRecord"]
    assert fleet.pair_record(NOT_PAIRED.serial) is None
    assert not (pair_record_folder() / f"{NOT_PAIRED.serial}.plist").exists()


# --- every fault, in one scan --------------------------------------------------------------------------

FAULTS = [
    # device, status, reason, words the message must hold
    (NOT_PAIRED, "failed", "not-paired", [f"scanner pair --udid {NOT_PAIRED.serial}", "tap Trust"]),
    # A scan never sends Pair, so the Trust dialog (up or refused) is not something it can see:
    # the device is untrusted, and pairing is what to do.
    (PENDING, "failed", "not-paired", [f"scanner pair --udid {PENDING.serial}"]),
    (DENIED, "failed", "not-paired", [f"scanner pair --udid {DENIED.serial}"]),
    (STALE, "failed", "pair-record-invalid", ["out of date", f"scanner pair --udid {STALE.serial}"]),
    (LOCKED, "failed", "locked", ["locked", "unlock it, then run again"]),
    (DROP, "failed", "disconnected", ["dropped while reading the app list"]),
    (NO_COMPLETE, "partial", "timeout", [f"did not answer within {FAULT_TIMEOUT:g} s while reading the app list"]),
    (SLOW, "failed", "timeout", [f"did not answer within {FAULT_TIMEOUT:g} s", "--timeout"]),
    # An iPhone always has apps: a whole answer with none is broken, never a clean device.
    (EMPTY, "failed", "empty", ["no apps at all"]),
    (BAD_RECORD, "partial", "bad-records", ["1 app(s) the scanner cannot read", "'com.example.bad id'"]),
]


@pytest.mark.parametrize("device,status,reason,words", FAULTS, ids=[f[2] + "-" + f[0].serial[-2:] for f in FAULTS])
def test_each_fault_has_its_status_reason_and_message(fault_scan, device, status, reason, words):
    inv = fault_scan[0][device.serial]
    assert (inv.status, inv.reason) == (status, reason), inv.message
    assert inv.message and "\n" not in inv.message
    for word in words:
        assert word in inv.message
    assert any(not s.read and s.reason for s in inv.coverage)  # what was not read is on record, with why


def test_the_trusted_device_is_complete_beside_the_faulty_ones(fault_scan):
    inv = fault_scan[0][TRUSTED.serial]
    assert inv.status == "complete" and len(inv.apps) == len(APPS)


def test_a_list_without_status_complete_keeps_what_arrived_and_is_never_complete(fault_scan, matcher):
    inv = fault_scan[0][NO_COMPLETE.serial]
    assert inv.status == "partial" and len(inv.apps) == len(NO_COMPLETE.apps)
    assert any(f.app.id == "com.tencent.xin" for f in matcher.match(inv.apps))  # a finding is still reported
    assert [(s.read, s.reason) for s in inv.coverage] == [(True, None), (False, "timeout")]


def test_an_unreadable_record_is_a_problem_and_the_rest_is_read(fault_scan):
    inv = fault_scan[0][BAD_RECORD.serial]
    assert sorted(a.id for a in inv.apps) == sorted(a.id for a in ORDINARY)
    assert inv.problem_count == 1 and "whitespace" in inv.problems[0]


def test_a_drop_mid_lookup_reads_nothing_rather_than_a_cut_list(fault_scan):
    inv = fault_scan[0][DROP.serial]
    assert inv.apps == () and inv.status == "failed"


def test_progress_says_waiting_then_reading_then_done_or_failed(fault_scan):
    events = fault_scan[1]
    for device in FLEET:
        states = [(state, apps) for platform, serial, state, apps in events if serial == device.serial]
        assert all(platform == "ios" for platform, *_ in events)
        assert states[0] == ("waiting", None)
        if device is TRUSTED:
            assert states[1:] == [("reading", None), ("done", len(APPS))]
        else:
            assert states[-1][0] == "failed"
    untrusted = [s for p, serial, s, a in events if serial == NOT_PAIRED.serial]
    assert "reading" not in untrusted  # never got as far as the app list


# --- usbmuxd and device selection ----------------------------------------------------------------------


@pytest.mark.parametrize("address", [free_address(), "/nonexistent/usbmuxd", "UNIX:/nonexistent/usbmuxd"])
def test_usbmuxd_absent_is_one_failed_target_when_ios_was_asked_for(address):
    inv = one(scan(address, required=True, timeout=5))
    assert inv.status == "failed" and inv.reason == "usbmuxd-unavailable"
    assert inv.device.platform == "ios" and inv.device.serial is None and inv.device.source == "usbmux"
    assert "apt install usbmuxd" in inv.message and "USBMUXD_SOCKET_ADDRESS" in inv.message
    assert address.removeprefix("UNIX:") in inv.message


def test_usbmuxd_absent_is_only_a_note_when_ios_was_not_asked_for():
    notes: list[str] = []
    assert scan(free_address(), required=False, notify=notes.append) == []
    assert len(notes) == 1 and "usbmuxd is not running" in notes[0]
    notes.clear()
    assert IOSConnector(free_address(), notify=notes.append).devices() == []
    assert len(notes) == 1


def test_the_ios_connector_records_whether_usbmuxd_answered():
    address = free_address()
    connector = IOSConnector(address, timeout=5)
    assert list(connector.inventories()) == []
    assert connector.asked == Transport("ios", "usbmux", address, False, connector.asked.message)
    assert "--platform android" in connector.asked.message
    required = IOSConnector(address, timeout=5, required=True)
    (inv,) = required.inventories()
    assert inv.reason == "usbmuxd-unavailable" and required.asked.answered is False
    assert "--platform android" not in required.asked.message  # iOS was asked for by name


def test_usbmuxd_absent_for_devices_when_asked_for_is_an_error():
    with pytest.raises(ScannerError, match="apt install usbmuxd"):
        IOSConnector(free_address(), required=True).devices()


def test_selecting_a_udid_means_ios_is_required():
    inv = one(scan(free_address(), udids=[TRUSTED.serial]))
    assert inv.reason == "usbmuxd-unavailable"


def test_an_address_pymobiledevice3_would_misread_is_reported_not_crashed():
    inv = one(scan("fe80::1:27015", required=True))
    assert inv.reason == "usbmuxd-unavailable" and "HOST:PORT" in inv.message
    with pytest.raises(ValueError):
        resolve_address("localhost:notaport")
    assert resolve_address("UNIX:/var/run/usbmuxd") == "/var/run/usbmuxd"


def test_the_address_argument_wins_over_the_environment(fleet, monkeypatch):
    monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", free_address())
    assert one(scan(fleet.address, udids=[TRUSTED.serial])).status == "complete"


def test_no_device_attached_gives_no_inventory(home):
    with IOSSimulator([]) as sim:
        assert scan(sim.address, required=True) == []
        assert IOSConnector(sim.address, required=True).devices() == []
        inv = one(scan(sim.address, udids=[TRUSTED.serial]))
    assert (inv.status, inv.reason, inv.device.serial) == ("failed", "not-found", TRUSTED.serial)
    assert "scanner devices" in inv.message


def test_a_selected_udid_that_is_not_attached_is_not_found_and_the_others_are_read(fleet):
    missing = udid(0xFFF)
    invs = {inv.device.serial: inv for inv in scan(fleet.address, udids=[missing, TRUSTED.serial.lower()])}
    assert invs[missing].reason == "not-found" and invs[missing].status == "failed"
    assert invs[TRUSTED.serial].status == "complete"  # a UDID matches whatever its case


def test_a_device_unplugged_between_listing_and_reading(home):
    with IOSSimulator([TRUSTED]) as sim:
        def unplug(platform: str, serial: str, state: str, apps: int | None) -> None:
            if state == "waiting":  # usbmuxd listed it a moment ago; gone when the connector gets to it
                sim.detach(serial)
        inv = one(scan(sim.address, timeout=10, progress=unplug))
    assert (inv.status, inv.reason) == ("failed", "disconnected")
    assert "unplugged" in inv.message and inv.device.serial == TRUSTED.serial


def test_devices_says_what_each_iphone_needs(fleet):
    attached = {a.serial: a for a in IOSConnector(fleet.address, timeout=FAULT_TIMEOUT).devices()}
    assert set(attached) == {d.serial for d in FLEET}
    states = {serial: a.state for serial, a in attached.items()}
    assert states[TRUSTED.serial] == "ready" and attached[TRUSTED.serial].message is None
    assert (attached[TRUSTED.serial].model, attached[TRUSTED.serial].name) == ("iPhone15,2", "Ana's iPhone")
    assert states[NOT_PAIRED.serial] == "not-paired" and states[STALE.serial] == "pair-record-invalid"
    assert states[LOCKED.serial] == "locked" and states[SLOW.serial] == "timeout"
    assert "scanner pair --udid" in attached[NOT_PAIRED.serial].message


def test_closing_the_stream_early_stops_the_other_devices(fleet):
    stream = IOSConnector(fleet.address, timeout=30).inventories()
    first = next(stream)
    stream.close()  # SLOW and NO_COMPLETE are cancelled, not waited for
    assert first.device.serial in {d.serial for d in FLEET}


# --- ten iPhones ---------------------------------------------------------------------------------------


def test_ten_iphones_in_one_scan_are_all_complete(ten, matcher):
    invs = scan(ten.address)
    assert sorted(inv.device.serial for inv in invs) == sorted(d.serial for d in TEN)
    assert all(inv.status == "complete" for inv in invs)
    counts = {inv.device.serial: len(inv.apps) for inv in invs}
    assert counts == {d.serial: len(d.apps) for d in TEN}
    flagged = {inv.device.serial for inv in invs if matcher.match(inv.apps)}
    assert flagged == {TEN[3].serial}


# --- pairing -------------------------------------------------------------------------------------------


def test_pair_then_scan(pairing, on):
    on(pairing)
    notes: list[str] = []
    result = pair(None, NOT_PAIRED.serial, timeout=10, notify=notes.append)
    assert (result.serial, result.state) == (NOT_PAIRED.serial, "ready")
    assert result.message and result.message.startswith("Paired")
    assert len(notes) == 1 and "Tap Trust" in notes[0] and NOT_PAIRED.serial in notes[0]
    # Saved where the next scan, in any process, finds it: usbmuxd and pymobiledevice3's folder.
    assert pairing.pair_record(NOT_PAIRED.serial) is not None
    assert (pair_record_folder() / f"{NOT_PAIRED.serial}.plist").is_file()
    assert str(pair_record_folder()).startswith(os.environ["XDG_DATA_HOME"])
    inv = one(scan(udids=[NOT_PAIRED.serial]))
    assert inv.status == "complete" and len(inv.apps) == len(ORDINARY)
    again = pair(None, NOT_PAIRED.serial, timeout=10, notify=notes.append)
    assert again.state == "ready" and again.message.startswith("Already paired")
    assert len(notes) == 1  # nobody is asked to tap Trust again


def test_a_scan_in_a_new_process_finds_the_record_from_pymobiledevice3s_folder(pairing):
    assert pair(pairing.address, NOT_PAIRED.serial, timeout=10).state == "ready"

    async def forget() -> None:  # usbmuxd loses it: only the folder still has it
        mux = await usbmux.create_mux(usbmux_address=pairing.address)
        try:
            await mux._send_receive({"MessageType": "DeletePairRecord", "PairRecordID": NOT_PAIRED.serial})
        finally:
            await mux.close()

    asyncio.run(forget())
    assert pairing.pair_record(NOT_PAIRED.serial) is None
    run = cli("scan", "--udid", NOT_PAIRED.serial, "--format", "json", env=cli_env(pairing))
    assert run.returncode == 0, run.stderr
    device = json.loads(run.stdout)["devices"][0]
    assert device["status"] == "complete" and device["app_count"] == len(ORDINARY)


def test_pair_saves_to_the_usbmuxd_it_was_given_even_when_the_environment_names_another(pairing, monkeypatch):
    """pymobiledevice3 saves the record through $USBMUXD_SOCKET_ADDRESS only; pair() points it right."""
    elsewhere = free_address()
    monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", elsewhere)
    assert pair(pairing.address, NOT_PAIRED.serial, timeout=10).state == "ready"
    assert pairing.pair_record(NOT_PAIRED.serial) is not None
    assert os.environ["USBMUXD_SOCKET_ADDRESS"] == elsewhere  # put back


def test_pair_waits_a_bounded_time_for_trust(pairing):
    notes: list[str] = []
    result = pair(pairing.address, PENDING.serial, timeout=2, notify=notes.append)
    assert result.state == "trust-pending"
    assert "within 2 s" in result.message and f"scanner pair --udid {PENDING.serial}" in result.message
    assert notes and "Tap Trust" in notes[0]
    assert pairing.pair_record(PENDING.serial) is None


def test_pair_refused(pairing):
    result = pair(pairing.address, DENIED.serial, timeout=5)
    assert result.state == "trust-denied"
    assert result.message == f"Trust was refused on the iPhone: run `scanner pair --udid {DENIED.serial}` and tap Trust"
    assert pairing.pair_record(DENIED.serial) is None


def test_pair_on_a_locked_iphone(pairing):
    result = pair(pairing.address, LOCKED_UNTRUSTED.serial, timeout=5)
    assert result.state == "locked" and "unlock it" in result.message


def test_pair_replaces_a_stale_record_and_the_iphone_then_scans(pairing):
    assert one(scan(pairing.address, udids=[STALE.serial])).reason == "pair-record-invalid"
    result = pair(pairing.address, STALE.serial, timeout=10)
    assert result.state == "ready" and result.message.startswith("Paired")
    assert one(scan(pairing.address, udids=[STALE.serial])).status == "complete"


def test_pair_through_the_registered_transport(pairing):
    """`scanner pair` reaches pairing the way every command reaches a transport: through the registry."""
    from scanner.connectors import transport_entry

    notes: list[str] = []
    transport = transport_entry("ios").load()(pairing.address, timeout=60, notify=notes.append, required=True)
    result = transport.pair(PENDING.serial, timeout=2)  # the pairing's own time limit, not the transport's
    assert (result.serial, result.state) == (PENDING.serial, "trust-pending") and "within 2 s" in result.message
    assert notes and "Tap Trust" in notes[0]
    assert transport.pair(NOT_PAIRED.serial).state == "ready"
    assert pairing.pair_record(NOT_PAIRED.serial) is not None


def test_pair_needs_a_device_and_a_choice(pairing, home):
    result = pair(pairing.address, udid(0xFFF), timeout=5)
    assert result.state == "not-found"
    with pytest.raises(ScannerError, match="--udid"):
        pair(pairing.address, None, timeout=5)  # several attached
    with IOSSimulator([]) as empty, pytest.raises(ScannerError, match="No iPhone found"):
        pair(empty.address, None, timeout=5)
    with pytest.raises(ScannerError, match="usbmuxd"):
        pair(free_address(), None, timeout=5)


# --- the command line ----------------------------------------------------------------------------------


def test_cli_scan_finds_the_apps_and_exits_1(ten):
    run = cli("scan", "--platform", "ios", "--format", "json", env=cli_env(ten))
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    assert doc["summary"]["devices"] == 10 and doc["summary"]["complete"] == 10
    assert {d["device"]["serial"] for d in doc["devices"]} == {d.serial for d in TEN}
    device = next(d for d in doc["devices"] if d["device"]["serial"] == TEN[3].serial)
    assert device["device"] == {"platform": "ios", "serial": TEN[3].serial, "transport": None, "model": "iPhone14,5",
                                "os_version": "16.7.8", "name": "Pool iPhone 3", "source": "usbmux", "identity": [],
                                "inventoried": None}
    assert {(f["app"]["id"], f["listed"]) for f in device["findings"]} == {("com.tencent.xin", "WeChat Pay")}


def test_cli_scan_of_the_trusted_iphone(fleet):
    run = cli("scan", "--udid", TRUSTED.serial, "--format", "json", "--inventory", env=cli_env(fleet))
    assert run.returncode == 1, run.stderr
    device = one_device(run)
    assert device["status"] == "complete" and device["app_count"] == len(APPS)
    findings = {(f["app"]["id"], f["listed"], f["severity"]) for f in device["findings"]}
    assert ("com.tencent.sim.helper", "WeChat Pay", "review") in findings
    assert ("com.intsig.CamScannerLite", "CamScanner", "prohibited") in findings
    states = {a["id"]: a["state"] for a in device["inventory"]}
    assert states["com.intsig.CamScannerLite"] == "offloaded" and states["com.apple.webapp"] == "hidden"


def one_device(run: subprocess.CompletedProcess) -> dict[str, Any]:
    doc = json.loads(run.stdout)
    assert len(doc["devices"]) == 1, doc["devices"]
    return doc["devices"][0]


@pytest.mark.parametrize("device,status,reason,words", FAULTS, ids=[f[2] + "-" + f[0].serial[-2:] for f in FAULTS])
def test_cli_exit_code_for_each_fault(fleet, device, status, reason, words):
    run = cli("scan", "--udid", device.serial, "--timeout", f"{FAULT_TIMEOUT:g}", "--format", "json",
              env=cli_env(fleet))
    has_findings = device is NO_COMPLETE  # WeChat arrived before the list stalled
    assert run.returncode == (5 if has_findings else 4), run.stderr
    result = one_device(run)
    assert (result["status"], result["reason"]) == (status, reason)
    assert all(word in result["message"] for word in words)


def test_cli_scan_with_usbmuxd_absent(home):
    run = cli("scan", "--platform", "ios", "--format", "json", env=cli_env(None))
    assert run.returncode == 4, run.stderr
    result = one_device(run)
    assert (result["status"], result["reason"]) == ("failed", "usbmuxd-unavailable")
    assert "apt install usbmuxd" in result["message"]


def test_cli_scan_with_no_iphone_attached(home):
    with IOSSimulator([]) as sim:
        run = cli("scan", "--platform", "ios", "--format", "json", env=cli_env(sim))
    assert run.returncode == 4, run.stderr
    assert json.loads(run.stdout)["devices"] == [] and "no device found" in run.stderr


def test_cli_devices(fleet):
    run = cli("devices", "--platform", "ios", "--format", "json", "--timeout", f"{FAULT_TIMEOUT:g}",
              env=cli_env(fleet))
    assert run.returncode == 4, run.stderr  # not every iPhone is ready
    states = {d["serial"]: d["state"] for d in json.loads(run.stdout)["devices"]}
    assert states[TRUSTED.serial] == "ready" and states[NOT_PAIRED.serial] == "not-paired"
    assert states[LOCKED.serial] == "locked" and states[STALE.serial] == "pair-record-invalid"
    ready = cli("devices", "--udid", TRUSTED.serial, "--format", "json", env=cli_env(fleet))
    assert ready.returncode == 0, ready.stderr
    assert [d["state"] for d in json.loads(ready.stdout)["devices"]] == ["ready"]


def test_cli_pair_then_scan(pairing):
    env = cli_env(pairing)
    before = cli("scan", "--udid", NOT_PAIRED.serial, "--format", "json", env=env)
    assert before.returncode == 4 and one_device(before)["reason"] == "not-paired"
    run = cli("pair", "--udid", NOT_PAIRED.serial, "--timeout", "10", env=env)
    assert run.returncode == 0, run.stderr
    assert "Tap Trust" in run.stderr and NOT_PAIRED.serial in run.stdout
    after = cli("scan", "--udid", NOT_PAIRED.serial, "--format", "json", env=env)
    assert after.returncode == 0, after.stderr
    assert one_device(after)["status"] == "complete"


def test_cli_pair_refused_and_pending(pairing):
    env = cli_env(pairing)
    denied = cli("pair", "--udid", DENIED.serial, "--timeout", "5", env=env)
    assert denied.returncode == 4 and "Trust was refused" in denied.stderr
    pending = cli("pair", "--udid", PENDING.serial, "--timeout", "1", env=env)
    assert pending.returncode == 4 and "Nobody tapped Trust" in pending.stderr


def test_cli_android_and_ios_in_one_scan(ten, home):
    phone = DeviceProfile(platform="android", serial="SIMIOSMIX1", model="Pixel 7",
                          apps=(AppProfile(id="com.intsig.camscanner", build="6420"),))
    with AndroidSimulator([phone]) as adb:
        env = {**cli_env(ten), **adb.env}
        run = cli("scan", "--format", "json", "--platform", "all", env=env)
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    platforms = sorted(d["device"]["platform"] for d in doc["devices"])
    assert platforms == ["android"] + ["ios"] * 10
    assert all(d["status"] == "complete" for d in doc["devices"])
    android_device = next(d for d in doc["devices"] if d["device"]["platform"] == "android")
    assert [f["app"]["id"] for f in android_device["findings"]] == ["com.intsig.camscanner"]
