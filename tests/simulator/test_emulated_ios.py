"""The emulated iOS devices, driven by the real pymobiledevice3 and the real libimobiledevice tools.

Every check goes through a real client: pymobiledevice3's usbmux, lockdown
and installation_proxy code, libimobiledevice's `idevice_id` and
`ideviceinstaller` as an independent second implementation, and a small raw
client here for the wire details neither library exposes (chunking, the byte
order of Connect, StopSession back to plaintext). pymobiledevice3 looks for
pair records in its own cache folder too, so every call passes a temporary
`pairing_records_cache_folder`, and HOME / XDG_DATA_HOME point at a
temporary directory for anything that still reads them.
"""

from __future__ import annotations

import asyncio
import os
import plistlib
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pymobiledevice3.common
import pytest
from pymobiledevice3 import usbmux
from pymobiledevice3.exceptions import (
    BadDevError,
    ConnectionFailedToUsbmuxdError,
    ConnectionTerminatedError,
    DeviceNotFoundError,
    GetProhibitedError,
    InvalidServiceError,
    MissingValueError,
    NotPairedError,
    PairingDialogResponsePendingError,
    PairingError,
    PasswordRequiredError,
    UserDeniedPairingError,
)
from pymobiledevice3.lockdown import create_using_usbmux
from pymobiledevice3.services.installation_proxy import InstallationProxyService

from scanner.simulator.ios import IOSSimulator
from scanner.simulator.ios_apps import BROWSE_CHUNK
from scanner.simulator.profile import AppProfile, DeviceProfile, Faults, filler_apps

T = TypeVar("T")


def udid(n: int) -> str:
    return f"00008110-5CA77E51{n:08X}"


APPS = (
    AppProfile(id="com.tencent.xin", name="WeChat", version="8.0.50", build="8.0.50.34", team_id="88L2Q4487U"),
    AppProfile(id="com.zhiliaoapp.musically", name="TikTok", version="35.1.0", build="351005",
               team_id="68WJ4SQQ5Q"),
    AppProfile(id="com.example.corp.tool", name="Corp Tool", version="2.1", build="21",
               team_id="ABCDE12345", signer="iPhone Distribution: Example Corp"),
    AppProfile(id="com.intsig.CamScannerLite", name="CamScanner", version="6.70.0", build="6.70.0.2406250",
               state="offloaded"),
    AppProfile(id="com.apple.mobilesafari", name="Safari", version="17.5.1", build="8618.2.12", system=True),
    AppProfile(id="com.apple.webapp", name="Web", version="1.0", build="1", type="Hidden"),
)
BIG_APPS = filler_apps("ios", 45, seed="big")

MAIN = DeviceProfile(platform="ios", serial=udid(1), name="Ana's iPhone", model="iPhone 14 Pro",
                     product_type="iPhone15,2", os_version="17.5.1", build_version="21F90",
                     hardware_serial="F4GXK2N3PQ", apps=APPS)
BIG = DeviceProfile(platform="ios", serial=udid(2), name="Big", product_type="iPhone14,5", os_version="16.7.8",
                    apps=BIG_APPS)
LOCKED = DeviceProfile(platform="ios", serial=udid(3), apps=APPS, faults=Faults(locked=True))
LOCKED_UNTRUSTED = DeviceProfile(platform="ios", serial=udid(4), apps=APPS,
                                 faults=Faults(locked=True, pairing="not-paired"))
PENDING = DeviceProfile(platform="ios", serial=udid(5), apps=APPS, faults=Faults(pairing="pending"))
DENIED = DeviceProfile(platform="ios", serial=udid(6), apps=APPS, faults=Faults(pairing="denied"))
STALE = DeviceProfile(platform="ios", serial=udid(7), apps=APPS, faults=Faults(pairing="stale"))
UNTRUSTED = DeviceProfile(platform="ios", serial=udid(8), apps=APPS, faults=Faults(pairing="not-paired"))
DROP = DeviceProfile(platform="ios", serial=udid(9), apps=BIG_APPS, faults=Faults(drop_after_apps=25))
NO_COMPLETE = DeviceProfile(platform="ios", serial=udid(10), apps=BIG_APPS, faults=Faults(no_complete=True))
SLOW = DeviceProfile(platform="ios", serial=udid(11), apps=APPS, faults=Faults(delay=60.0))
FLEET = (MAIN, BIG, LOCKED, LOCKED_UNTRUSTED, PENDING, DENIED, STALE, UNTRUSTED, DROP, NO_COMPLETE, SLOW)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ios-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(path))
        mp.setenv("XDG_DATA_HOME", str(path / "data"))
        mp.setenv("XDG_CONFIG_HOME", str(path / "config"))
        yield path


@pytest.fixture(scope="module")
def sim(home: Path):
    for device in FLEET:  # a leftover system record would turn "not paired" into "stale"
        assert not Path(f"/var/lib/lockdown/{device.serial}.plist").exists()
    with IOSSimulator(FLEET) as simulator, pytest.MonkeyPatch.context() as mp:
        mp.setenv("USBMUXD_SOCKET_ADDRESS", simulator.address)
        yield simulator


@pytest.fixture
def records(tmp_path: Path) -> Path:
    """A fresh, empty pymobiledevice3 pair-record cache for one test."""
    path = tmp_path / "records"
    path.mkdir()
    return path


async def connect(sim: IOSSimulator, serial: str, records: Path, **kwargs: Any):
    kwargs.setdefault("autopair", False)
    return await create_using_usbmux(serial=serial, usbmux_address=sim.address,
                                     pairing_records_cache_folder=records, **kwargs)


async def lookup(sim: IOSSimulator, serial: str, records: Path, options: dict[str, Any]) -> dict[str, Any]:
    async with await connect(sim, serial, records) as lockdown:
        async with InstallationProxyService(lockdown=lockdown) as proxy:
            return await proxy.lookup(options)


# --- a raw client, for wire details the libraries hide ---------------------------------------------


class Raw:
    """A usbmuxd connection that speaks plist frames directly."""

    def __init__(self, address: str) -> None:
        host, port = address.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=20)
        self.tag = 0

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(message)
        return self.receive()

    def send(self, message: dict[str, Any]) -> None:
        self.tag += 1
        payload = plistlib.dumps({"ClientVersionString": "test", "ProgName": "test", **message})
        self.sock.sendall(struct.pack("<IIII", 16 + len(payload), 1, 8, self.tag) + payload)

    def receive(self) -> dict[str, Any]:
        length, version, message, _tag = struct.unpack("<IIII", recv_exact(self.sock, 16))
        assert (version, message) == (1, 8)
        return plistlib.loads(recv_exact(self.sock, length - 16))

    def close(self) -> None:
        self.sock.close()


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def send_plist(sock: socket.socket, value: dict[str, Any]) -> None:
    payload = plistlib.dumps(value)
    sock.sendall(struct.pack(">I", len(payload)) + payload)


def recv_plist(sock: socket.socket) -> dict[str, Any]:
    (size,) = struct.unpack(">I", recv_exact(sock, 4))
    return plistlib.loads(recv_exact(sock, size))


def device_id(sim: IOSSimulator, serial: str) -> int:
    raw = Raw(sim.address)
    try:
        devices = raw.request({"MessageType": "ListDevices"})["DeviceList"]
    finally:
        raw.close()
    return next(d["DeviceID"] for d in devices if d["Properties"]["SerialNumber"] == serial)


def raw_connect(sim: IOSSimulator, serial: str, port: int, *, swap: bool = True) -> socket.socket:
    raw = Raw(sim.address)
    reply = raw.request({"MessageType": "Connect", "DeviceID": device_id(sim, serial),
                         "PortNumber": socket.htons(port) if swap else port})
    if reply != {"MessageType": "Result", "Number": 0}:
        raw.close()
        raise ConnectionRefusedError(reply)
    return raw.sock


def host_context(record: dict[str, Any], tmp_path: Path) -> ssl.SSLContext:
    pem = tmp_path / "host.pem"
    pem.write_bytes(record["HostCertificate"] + b"\n" + record["HostPrivateKey"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(str(pem))
    return context


def raw_session(sim: IOSSimulator, serial: str, tmp_path: Path) -> ssl.SSLSocket:
    """A lockdownd connection inside a TLS session, as a host with the usbmuxd pair record makes it."""
    record = sim.pair_record(serial)
    assert record is not None
    sock = raw_connect(sim, serial, 62078)
    send_plist(sock, {"Request": "StartSession", "HostID": record["HostID"], "SystemBUID": record["SystemBUID"]})
    reply = recv_plist(sock)
    assert reply["EnableSessionSSL"] is True and reply["SessionID"]
    return host_context(record, tmp_path).wrap_socket(sock)


def raw_start_service(sim: IOSSimulator, serial: str, tmp_path: Path) -> socket.socket:
    tls = raw_session(sim, serial, tmp_path)
    send_plist(tls, {"Request": "StartService", "Service": "com.apple.mobile.installation_proxy"})
    port = recv_plist(tls)["Port"]
    tls.close()
    return raw_connect(sim, serial, port)


# --- usbmuxd ------------------------------------------------------------------------------------


def test_usbmux_lists_every_device_over_usb(sim: IOSSimulator):
    devices = run(usbmux.list_devices(usbmux_address=sim.address))
    assert sorted(d.serial for d in devices) == sorted(d.serial for d in FLEET)
    assert all(d.connection_type == "USB" for d in devices)
    assert len({d.devid for d in devices}) == len(FLEET)


def test_usbmux_buid_pair_records_and_unknown_commands(sim: IOSSimulator):
    raw = Raw(sim.address)
    try:
        assert raw.request({"MessageType": "ReadBUID"}) == {"BUID": sim.buid}
        paired = raw.request({"MessageType": "ReadPairRecord", "PairRecordID": MAIN.serial})
        record = plistlib.loads(paired["PairRecordData"])
        assert record["HostID"] == sim.host_id and record["SystemBUID"] == sim.buid
        assert b"BEGIN CERTIFICATE" in record["RootCertificate"] and b"PRIVATE KEY" in record["HostPrivateKey"]
        for serial in (UNTRUSTED.serial, PENDING.serial, DENIED.serial, "00000000-0000000000000000"):
            assert raw.request({"MessageType": "ReadPairRecord", "PairRecordID": serial}) == {
                "MessageType": "Result", "Number": 2}
        stale = plistlib.loads(raw.request({"MessageType": "ReadPairRecord", "PairRecordID": STALE.serial})[
            "PairRecordData"])
        assert stale["HostID"] != sim.host_id
        assert raw.request({"MessageType": "ListListeners"}) == {"ListenerList": []}
        assert raw.request({"MessageType": "Frobnicate"}) == {"MessageType": "Result", "Number": 1}
    finally:
        raw.close()


def test_connect_port_is_in_network_byte_order(sim: IOSSimulator):
    sock = raw_connect(sim, MAIN.serial, 62078)
    try:
        send_plist(sock, {"Request": "QueryType", "Label": "test"})
        assert recv_plist(sock)["Type"] == "com.apple.mobile.lockdown"
    finally:
        sock.close()
    with pytest.raises(ConnectionRefusedError) as refused:  # 62078 as is reads as port 32498: nothing there
        raw_connect(sim, MAIN.serial, 62078, swap=False)
    assert refused.value.args[0] == {"MessageType": "Result", "Number": 3}


def test_missing_device_and_missing_usbmuxd(sim: IOSSimulator, records: Path):
    with pytest.raises(DeviceNotFoundError):
        run(connect(sim, "00008110-0000000000000000", records))
    raw = Raw(sim.address)
    try:
        assert raw.request({"MessageType": "Connect", "DeviceID": 9999, "PortNumber": socket.htons(62078)}) == {
            "MessageType": "Result", "Number": 2}
    finally:
        raw.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    address = f"127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    with pytest.raises(ConnectionFailedToUsbmuxdError):
        run(usbmux.list_devices(usbmux_address=address))


# --- lockdownd ----------------------------------------------------------------------------------


def test_lockdown_values_in_a_session(sim: IOSSimulator, records: Path):
    async def go() -> None:
        async with await connect(sim, MAIN.serial, records) as lockdown:
            assert lockdown.paired
            assert lockdown.short_info == {
                "Identifier": MAIN.serial, "DeviceClass": "iPhone", "DeviceName": "Ana's iPhone",
                "BuildVersion": "21F90", "ProductVersion": "17.5.1", "ProductType": "iPhone15,2",
                "UniqueDeviceID": MAIN.serial, "ConnectionType": "USB"}
            assert lockdown.all_values["SerialNumber"] == "F4GXK2N3PQ"
            assert await lockdown.get_value(key="SerialNumber") == "F4GXK2N3PQ"
            assert (await lockdown.get_value(key="DevicePublicKey")).startswith(b"-----BEGIN RSA PUBLIC KEY")
            assert (await lockdown.get_value("com.apple.disk_usage"))["TotalDiskCapacity"] > 0
            assert await lockdown.get_value("com.apple.international", "Language") == "en"
            with pytest.raises(MissingValueError):
                await lockdown.get_value(key="NoSuchKey")
            with pytest.raises(InvalidServiceError):
                await lockdown.start_lockdown_service("com.apple.no.such.service")

    run(go())


def test_lockdown_before_a_session_shows_only_public_values(sim: IOSSimulator, records: Path):
    async def go() -> None:
        async with await connect(sim, UNTRUSTED.serial, records) as lockdown:
            assert not lockdown.paired
            assert lockdown.all_values["UniqueDeviceID"] == UNTRUSTED.serial
            assert lockdown.all_values["ProductVersion"] == "17.5.1"  # the default
            assert "SerialNumber" not in lockdown.all_values
            assert await lockdown.get_value(key="ProductType") == "iPhone15,2"
            with pytest.raises(GetProhibitedError):
                await lockdown.get_value(key="SerialNumber")
            with pytest.raises(GetProhibitedError):
                await lockdown.get_value("com.apple.disk_usage")

    run(go())


def test_stop_session_returns_to_plaintext(sim: IOSSimulator, tmp_path: Path):
    tls = raw_session(sim, MAIN.serial, tmp_path)
    send_plist(tls, {"Request": "GetValue", "Key": "SerialNumber"})
    assert recv_plist(tls)["Value"] == "F4GXK2N3PQ"
    send_plist(tls, {"Request": "StopSession", "SessionID": "x"})
    assert recv_plist(tls) == {"Request": "StopSession", "Result": "Success"}
    plain = tls.unwrap()  # close_notify both ways, then the same socket carries plaintext
    try:
        send_plist(plain, {"Request": "GetValue", "Key": "SerialNumber"})
        assert recv_plist(plain)["Error"] == "GetProhibited"
        send_plist(plain, {"Request": "QueryType"})
        assert recv_plist(plain)["Type"] == "com.apple.mobile.lockdown"
    finally:
        plain.close()


def test_service_ports_are_one_shot(sim: IOSSimulator, tmp_path: Path):
    tls = raw_session(sim, MAIN.serial, tmp_path)
    send_plist(tls, {"Request": "StartService", "Service": "com.apple.mobile.installation_proxy"})
    reply = recv_plist(tls)
    tls.close()
    assert reply["Service"] == "com.apple.mobile.installation_proxy" and "EnableServiceSSL" not in reply
    first = raw_connect(sim, MAIN.serial, reply["Port"])
    try:
        with pytest.raises(ConnectionRefusedError):
            raw_connect(sim, MAIN.serial, reply["Port"])
    finally:
        first.close()


# --- installation_proxy -------------------------------------------------------------------------


def test_lookup_returns_only_the_asked_attributes(sim: IOSSimulator, records: Path):
    few = ["CFBundleIdentifier", "CFBundleShortVersionString", "Entitlements", "NoSuchAttribute"]
    result = run(lookup(sim, MAIN.serial, records, {"ApplicationType": "User", "ReturnAttributes": few}))
    assert sorted(result) == ["com.example.corp.tool", "com.tencent.xin", "com.zhiliaoapp.musically"]
    for bundle_id, attrs in result.items():
        assert set(attrs) == {"CFBundleIdentifier", "CFBundleShortVersionString", "Entitlements"}
        assert attrs["CFBundleIdentifier"] == bundle_id
    assert result["com.tencent.xin"]["CFBundleShortVersionString"] == "8.0.50"
    assert result["com.tencent.xin"]["Entitlements"]["application-identifier"] == "88L2Q4487U.com.tencent.xin"
    assert result["com.tencent.xin"]["Entitlements"]["com.apple.developer.team-identifier"] == "88L2Q4487U"

    full = run(lookup(sim, MAIN.serial, records, {"ApplicationType": "User"}))
    wechat = full["com.tencent.xin"]
    assert wechat["CFBundleDisplayName"] == "WeChat" and wechat["CFBundleVersion"] == "8.0.50.34"
    assert wechat["SignerIdentity"] == "Apple iPhone OS Application Signing"
    assert wechat["Path"].startswith("/private/var/containers/Bundle/Application/")
    assert wechat["Path"].endswith(".app") and wechat["Container"].startswith("/private/var/mobile/Containers/")
    assert "StaticDiskUsage" not in wechat  # sizes only when asked
    corp = full["com.example.corp.tool"]
    assert corp["SignerIdentity"] == "iPhone Distribution: Example Corp" and corp["ProfileValidated"] is True
    ids_only = run(lookup(sim, MAIN.serial, records, {"ApplicationType": "User",
                                                      "ReturnAttributes": ["CFBundleIdentifier"]}))
    assert len(plistlib.dumps(full)) > 10 * len(plistlib.dumps(ids_only))  # every attribute costs

    sizes = run(lookup(sim, MAIN.serial, records, {"ApplicationType": "User", "BundleIDs": ["com.tencent.xin"],
                                                   "ReturnAttributes": ["StaticDiskUsage", "DynamicDiskUsage"]}))
    assert list(sizes) == ["com.tencent.xin"] and sizes["com.tencent.xin"]["StaticDiskUsage"] > 0


def test_application_types_and_placeholders(sim: IOSSimulator, records: Path):
    def ids(options: dict[str, Any]) -> list[str]:
        return sorted(run(lookup(sim, MAIN.serial, records, {**options, "ReturnAttributes": ["ApplicationType"]})))

    user = ["com.example.corp.tool", "com.tencent.xin", "com.zhiliaoapp.musically"]
    assert ids({"ApplicationType": "User"}) == user
    assert ids({"ApplicationType": "System"}) == ["com.apple.mobilesafari"]
    assert ids({"ApplicationType": "Hidden"}) == ["com.apple.webapp"]
    assert ids({"ApplicationType": "Any"}) == sorted([*user, "com.apple.mobilesafari", "com.apple.webapp"])
    assert ids({"ApplicationType": "User", "ShowPlaceholders": True}) == sorted([*user, "com.intsig.CamScannerLite"])
    assert ids({"ApplicationType": "Any", "BundleIDs": ["com.intsig.CamScannerLite", "com.tencent.xin"]}) == [
        "com.tencent.xin"]

    async def via_get_apps() -> tuple[dict[str, Any], dict[str, Any]]:
        async with await connect(sim, MAIN.serial, records) as lockdown:
            async with InstallationProxyService(lockdown=lockdown) as proxy:
                return await proxy.get_apps(), await proxy.get_apps(show_placeholders=True)

    plain, with_placeholders = run(via_get_apps())
    assert "com.intsig.CamScannerLite" not in plain
    offloaded = with_placeholders["com.intsig.CamScannerLite"]
    assert offloaded["IsPlaceholder"] is True and offloaded["IsDemotedApp"] is True
    assert "IsPlaceholder" not in with_placeholders["com.tencent.xin"]
    assert with_placeholders["com.apple.webapp"]["SBAppTags"] == ["hidden"]
    assert "SignerIdentity" not in with_placeholders["com.apple.mobilesafari"]


def test_browse_streams_in_chunks_then_complete(sim: IOSSimulator, records: Path, tmp_path: Path):
    async def browse() -> list[dict[str, Any]]:
        async with await connect(sim, BIG.serial, records) as lockdown:
            async with InstallationProxyService(lockdown=lockdown) as proxy:
                return await proxy.browse({"ApplicationType": "Any"}, ["CFBundleIdentifier", "CFBundleVersion"])

    apps = run(browse())
    assert [a["CFBundleIdentifier"] for a in apps] == [a.id for a in BIG_APPS]
    assert all(set(a) == {"CFBundleIdentifier", "CFBundleVersion"} for a in apps)

    sock = raw_start_service(sim, BIG.serial, tmp_path)
    try:
        send_plist(sock, {"Command": "Browse", "ClientOptions": {"ReturnAttributes": ["CFBundleIdentifier"]}})
        messages = [recv_plist(sock) for _ in range(4)]
    finally:
        sock.close()
    assert [(m["Status"], m.get("CurrentIndex"), m.get("CurrentAmount"), m.get("Total")) for m in messages] == [
        ("BrowsingApplications", 0, BROWSE_CHUNK, 45), ("BrowsingApplications", 20, 20, 45),
        ("BrowsingApplications", 40, 5, 45), ("Complete", None, None, None)]
    assert [len(m["CurrentList"]) for m in messages[:3]] == [20, 20, 5]


def test_service_ssl_mode(home: Path, records: Path, monkeypatch: pytest.MonkeyPatch):
    with IOSSimulator([MAIN], service_ssl=True) as simulator:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", simulator.address)
        result = run(lookup(simulator, MAIN.serial, records, {"ReturnAttributes": ["CFBundleIdentifier"]}))
        assert sorted(result) == sorted(a.id for a in APPS if a.state == "installed")
        if shutil.which("ideviceinstaller"):
            out = idevice(simulator, home, "ideviceinstaller", "-u", MAIN.serial, "-l")
            assert out.returncode == 0, out.stderr
            assert "com.tencent.xin" in out.stdout


# --- faults ---------------------------------------------------------------------------------------


def test_not_paired_scan_raises_not_paired(sim: IOSSimulator, records: Path):
    async def go() -> None:
        async with await connect(sim, UNTRUSTED.serial, records) as lockdown:
            assert not lockdown.paired
            with pytest.raises(NotPairedError):
                async with InstallationProxyService(lockdown=lockdown):
                    pass

    run(go())
    assert sim.pair_record(UNTRUSTED.serial) is None and not any(records.iterdir())  # nothing paired


@pytest.mark.parametrize(("device", "error"), [(PENDING, PairingDialogResponsePendingError),
                                                (DENIED, UserDeniedPairingError),
                                                (LOCKED_UNTRUSTED, PasswordRequiredError)])
def test_pairing_errors_come_from_create_using_usbmux(sim: IOSSimulator, records: Path, device: DeviceProfile,
                                                      error: type[Exception]):
    with pytest.raises(error) as raised:
        run(connect(sim, device.serial, records, autopair=True, pair_timeout=0))
    assert isinstance(raised.value, PairingError)
    assert sim.pair_record(device.serial) is None

    async def without_autopair() -> None:  # a scan never pairs: it sees an unpaired device
        async with await connect(sim, device.serial, records) as lockdown:
            with pytest.raises(NotPairedError):
                await lockdown.start_lockdown_service("com.apple.mobile.installation_proxy")

    run(without_autopair())


def test_pair_rejects_a_record_made_for_another_key(sim: IOSSimulator):
    record = sim.pair_record(MAIN.serial)
    assert record is not None
    sock = raw_connect(sim, UNTRUSTED.serial, 62078)
    try:
        # The host certificate carries the host's key, not the device's: not a DeviceCertificate for this device.
        send_plist(sock, {"Request": "Pair", "PairRecord": {
            "DeviceCertificate": record["HostCertificate"], "HostCertificate": record["HostCertificate"],
            "RootCertificate": record["RootCertificate"], "HostID": "11111111-2222-3333-4444-555555555555",
            "SystemBUID": sim.buid}, "ProtocolVersion": "2"})
        assert recv_plist(sock) == {"Request": "Pair", "Error": "InvalidPairRecord"}
        send_plist(sock, {"Request": "Pair"})
        assert recv_plist(sock) == {"Request": "Pair", "Error": "InvalidPairRecord"}
    finally:
        sock.close()
    assert sim.pair_record(UNTRUSTED.serial) is None


def test_stale_record_is_answered_with_invalid_host_id(sim: IOSSimulator, records: Path):
    stale = sim.pair_record(STALE.serial)
    assert stale is not None
    sock = raw_connect(sim, STALE.serial, 62078)
    try:
        send_plist(sock, {"Request": "StartSession", "HostID": stale["HostID"], "SystemBUID": stale["SystemBUID"]})
        assert recv_plist(sock) == {"Request": "StartSession", "Error": "InvalidHostID"}
    finally:
        sock.close()

    async def go() -> None:  # pymobiledevice3 swallows InvalidHostID: the client is simply not paired
        async with await connect(sim, STALE.serial, records) as lockdown:
            assert not lockdown.paired
            with pytest.raises(NotPairedError):
                async with InstallationProxyService(lockdown=lockdown):
                    pass

    run(go())


def test_locked_device_refuses_the_service(sim: IOSSimulator, records: Path):
    async def go() -> None:
        async with await connect(sim, LOCKED.serial, records) as lockdown:
            assert lockdown.paired and lockdown.all_values["PasswordProtected"] is True
            with pytest.raises(PasswordRequiredError):
                async with InstallationProxyService(lockdown=lockdown):
                    pass

    run(go())


def test_connection_dropped_in_the_middle_of_the_list(sim: IOSSimulator, records: Path, tmp_path: Path):
    async def go(command: str) -> None:
        async with await connect(sim, DROP.serial, records) as lockdown:
            async with InstallationProxyService(lockdown=lockdown) as proxy:
                if command == "Lookup":
                    await proxy.lookup({"ReturnAttributes": ["CFBundleIdentifier"]})
                else:
                    await proxy.browse({}, ["CFBundleIdentifier"])

    for command in ("Lookup", "Browse"):
        with pytest.raises(ConnectionTerminatedError):
            run(go(command))

    sock = raw_start_service(sim, DROP.serial, tmp_path)
    try:
        send_plist(sock, {"Command": "Browse", "ClientOptions": {"ReturnAttributes": ["CFBundleIdentifier"]}})
        first, second = recv_plist(sock), recv_plist(sock)
        assert (len(first["CurrentList"]), len(second["CurrentList"])) == (20, 5)  # 25 apps, then nothing
        with pytest.raises(EOFError):
            recv_plist(sock)
    finally:
        sock.close()


def test_device_that_never_says_complete(sim: IOSSimulator, records: Path, tmp_path: Path):
    async def browse() -> None:
        async with await connect(sim, NO_COMPLETE.serial, records) as lockdown:
            async with InstallationProxyService(lockdown=lockdown) as proxy:
                await asyncio.wait_for(proxy.browse({}, ["CFBundleIdentifier"]), 2)

    with pytest.raises(asyncio.TimeoutError):
        run(browse())

    sock = raw_start_service(sim, NO_COMPLETE.serial, tmp_path)
    try:
        send_plist(sock, {"Command": "Lookup", "ClientOptions": {"ReturnAttributes": ["CFBundleIdentifier"]}})
        reply = recv_plist(sock)
        assert sorted(reply["LookupResult"]) == sorted(a.id for a in BIG_APPS) and "Status" not in reply
        sock.settimeout(0.5)
        with pytest.raises(socket.timeout):  # still open, and silent
            sock.recv(1)
    finally:
        sock.close()


def test_slow_device_waits_before_answering(sim: IOSSimulator, records: Path):
    with pytest.raises(asyncio.TimeoutError):
        run(asyncio.wait_for(connect(sim, SLOW.serial, records), 1.0))


def test_delay_still_gives_the_right_answer(home: Path, records: Path, monkeypatch: pytest.MonkeyPatch):
    slow = DeviceProfile(platform="ios", serial=udid(40), apps=APPS, faults=Faults(delay=0.05))
    with IOSSimulator([slow]) as simulator:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", simulator.address)
        result = run(lookup(simulator, slow.serial, records, {"ReturnAttributes": ["CFBundleIdentifier"]}))
    assert sorted(result) == sorted(a.id for a in APPS if a.state == "installed")


# --- pairing for real -----------------------------------------------------------------------------


def test_pair_saves_the_record_and_the_next_scan_works(home: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    first_cache, second_cache = tmp_path / "first", tmp_path / "second"
    second_cache.mkdir()
    with IOSSimulator([UNTRUSTED]) as simulator:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", simulator.address)  # save_pair_record reads only the env
        lockdown = run(connect(simulator, UNTRUSTED.serial, first_cache, autopair=True, pair_timeout=0))
        run(lockdown.close())
        assert lockdown.paired
        saved = simulator.pair_record(UNTRUSTED.serial)
        assert saved is not None and saved["HostID"] == lockdown.host_id and saved["EscrowBag"]
        assert (first_cache / f"{UNTRUSTED.serial}.plist").exists()
        assert not (pymobiledevice3.common._HOMEFOLDER / f"{UNTRUSTED.serial}.plist").exists()
        # A second scan finds the record through usbmuxd alone (an empty cache) and reads the apps.
        result = run(lookup(simulator, UNTRUSTED.serial, second_cache, {"ReturnAttributes": ["CFBundleIdentifier"]}))
        assert "com.tencent.xin" in result and not any(second_cache.iterdir())
        # The device survives an unplug with its trust intact.
        simulator.detach(UNTRUSTED.serial)
        simulator.attach(UNTRUSTED)
        result = run(lookup(simulator, UNTRUSTED.serial, second_cache, {"ReturnAttributes": ["CFBundleIdentifier"]}))
        assert "com.tencent.xin" in result
        if shutil.which("ideviceinstaller"):  # libimobiledevice accepts the record pymobiledevice3 made
            out = idevice(simulator, home, "ideviceinstaller", "-u", UNTRUSTED.serial, "-l")
            assert out.returncode == 0 and "com.tencent.xin" in out.stdout, out.stderr


# --- attach / detach --------------------------------------------------------------------------------


def test_listen_sees_attach_and_detach(home: Path, records: Path, monkeypatch: pytest.MonkeyPatch):
    late = DeviceProfile(platform="ios", serial=udid(30), apps=APPS)

    async def go(simulator: IOSSimulator) -> None:
        mux = await usbmux.create_mux(usbmux_address=simulator.address)
        try:
            await mux.listen()
            await asyncio.wait_for(mux.receive_device_state_update(), 10)
            assert [d.serial for d in mux.devices] == [MAIN.serial]
            await asyncio.to_thread(simulator.attach, late)
            await asyncio.wait_for(mux.receive_device_state_update(), 10)
            assert [d.serial for d in mux.devices] == [MAIN.serial, late.serial]
            await asyncio.to_thread(simulator.detach, MAIN.serial)
            await asyncio.wait_for(mux.receive_device_state_update(), 10)
            assert [d.serial for d in mux.devices] == [late.serial]
        finally:
            await mux.close()

    with IOSSimulator([MAIN]) as simulator:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", simulator.address)
        run(go(simulator))
        devices = run(usbmux.list_devices(usbmux_address=simulator.address))
        assert [d.serial for d in devices] == [late.serial]
        result = run(lookup(simulator, late.serial, records, {"ReturnAttributes": ["CFBundleIdentifier"]}))
        assert "com.tencent.xin" in result
        with pytest.raises(ValueError):
            simulator.attach(late)
        with pytest.raises(KeyError):
            simulator.detach(MAIN.serial)


def test_detach_cuts_open_connections(home: Path, records: Path, monkeypatch: pytest.MonkeyPatch):
    async def go(simulator: IOSSimulator) -> None:
        async with await connect(simulator, MAIN.serial, records) as lockdown:
            old_id = lockdown.service.mux_device.devid
            await asyncio.to_thread(simulator.detach, MAIN.serial)
            with pytest.raises(DeviceNotFoundError):  # the cut connection, then a reconnect that finds nothing
                await lockdown.get_value(key="SerialNumber")
        mux = await usbmux.create_mux(usbmux_address=simulator.address)
        try:
            with pytest.raises(BadDevError):
                await mux.connect(usbmux.MuxDevice(old_id, MAIN.serial, "USB"), 62078)
        finally:
            await mux.close()

    with IOSSimulator([MAIN]) as simulator:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", simulator.address)
        run(go(simulator))


def test_ten_devices_at_once(home: Path, records: Path, monkeypatch: pytest.MonkeyPatch):
    fleet = [DeviceProfile(platform="ios", serial=udid(100 + i), name=f"Phone {i}",
                           apps=filler_apps("ios", 30, seed=str(i))) for i in range(10)]

    async def scan_all(simulator: IOSSimulator) -> list[dict[str, Any]]:
        return await asyncio.gather(*(lookup(simulator, d.serial, records, {"ReturnAttributes": [
            "CFBundleIdentifier", "CFBundleDisplayName"]}) for d in fleet))

    with IOSSimulator(fleet) as simulator:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", simulator.address)
        results = run(scan_all(simulator))
    for device, result in zip(fleet, results, strict=True):
        assert sorted(result) == sorted(a.id for a in device.apps)
        assert {v["CFBundleDisplayName"] for v in result.values()} == {a.name for a in device.apps}


def test_stop_closes_the_port_and_ends_every_thread(home: Path, tmp_path: Path):
    simulator = IOSSimulator([MAIN, NO_COMPLETE, SLOW]).start()
    host, port = simulator.address.split(":")
    listener = Raw(simulator.address)
    assert listener.request({"MessageType": "Listen"}) == {"MessageType": "Result", "Number": 0}
    stalled = raw_start_service(simulator, NO_COMPLETE.serial, tmp_path)
    send_plist(stalled, {"Command": "Browse", "ClientOptions": {}})
    slow = raw_connect(simulator, SLOW.serial, 62078)
    send_plist(slow, {"Request": "QueryType"})
    assert simulator.threads
    simulator.stop()
    simulator.stop()  # idempotent
    assert simulator.threads == []
    assert not [t for t in threading.enumerate() if t.name.startswith(f"ios-sim-{simulator.address}-")]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5)
    for sock in (listener.sock, stalled, slow):
        sock.close()


def test_profiles_must_be_ios():
    android = DeviceProfile(platform="android", serial="SIMA0001")
    with pytest.raises(ValueError):
        IOSSimulator([android])
    with pytest.raises(ValueError):
        IOSSimulator([MAIN, MAIN])


# --- libimobiledevice, an independent client ----------------------------------------------------------


def idevice(simulator: IOSSimulator, home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **simulator.env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(shutil.which("ideviceinstaller") is None, reason="libimobiledevice's ideviceinstaller "
                    "is not installed (Debian/Ubuntu: apt install ideviceinstaller)")
def test_ideviceinstaller_lists_exactly_the_user_apps(sim: IOSSimulator, home: Path):
    for device in (MAIN, BIG):
        out = idevice(sim, home, "ideviceinstaller", "-u", device.serial, "-l")
        assert out.returncode == 0, out.stderr
        expected = ["CFBundleIdentifier, CFBundleVersion, CFBundleDisplayName"] + [
            f'{a.id}, "{a.build}", "{a.name}"' for a in device.apps if a.app_type == "User" and a.state == "installed"]
        assert out.stdout.splitlines() == expected
    locked = idevice(sim, home, "ideviceinstaller", "-u", LOCKED.serial, "-l")
    assert locked.returncode != 0 and "installation_proxy" in locked.stdout + locked.stderr
    pending = idevice(sim, home, "ideviceinstaller", "-u", PENDING.serial, "-l")
    assert pending.returncode != 0 and "com.tencent.xin" not in pending.stdout
    assert sim.pair_record(PENDING.serial) is None


@pytest.mark.skipif(shutil.which("ideviceinstaller") is None, reason="libimobiledevice's ideviceinstaller "
                    "is not installed (Debian/Ubuntu: apt install ideviceinstaller)")
def test_libimobiledevice_pairs_and_pymobiledevice3_uses_its_record(home: Path, records: Path,
                                                                   monkeypatch: pytest.MonkeyPatch):
    with IOSSimulator([UNTRUSTED]) as simulator:
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", simulator.address)
        out = idevice(simulator, home, "ideviceinstaller", "-u", UNTRUSTED.serial, "-l")
        assert out.returncode == 0 and "com.tencent.xin" in out.stdout, out.stderr  # it paired (and saved)
        saved = simulator.pair_record(UNTRUSTED.serial)
        assert saved is not None and saved["SystemBUID"] == simulator.buid
        result = run(lookup(simulator, UNTRUSTED.serial, records, {"ReturnAttributes": ["CFBundleIdentifier"]}))
        assert "com.tencent.xin" in result


@pytest.mark.skipif(shutil.which("idevice_id") is None, reason="libimobiledevice's idevice_id is not installed "
                    "(Debian/Ubuntu: apt install libimobiledevice-utils)")
def test_idevice_id_lists_the_udids(sim: IOSSimulator, home: Path):
    out = idevice(sim, home, "idevice_id", "-l")
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.split()) == sorted(d.serial for d in FLEET)
    info = idevice(sim, home, "ideviceinfo", "-u", MAIN.serial, "-k", "SerialNumber")
    assert info.returncode == 0 and info.stdout.strip() == "F4GXK2N3PQ", info.stderr
