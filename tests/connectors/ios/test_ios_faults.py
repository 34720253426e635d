"""Adversarial checks of the iOS connector: hostile or broken usbmuxd and devices, damaged pair records.

Real pymobiledevice3 throughout, against the emulated iPhones
(scanner.simulator.ios) or, for a usbmuxd that misbehaves, against a small
usbmuxd here that answers the real protocol's framing with broken content.
Device-side misbehaviour the emulator has no fault for (an installation_proxy
reply with an Error beside `Status: Complete`, records of the wrong types) is
made by a relay between pymobiledevice3 and the emulated usbmuxd that rewrites
the Lookup reply on its way back: the app list service is plain text (no
service TLS), so the relay sees it whole, while lockdownd's TLS session passes
through untouched.
"""

from __future__ import annotations

import copy
import json
import os
import plistlib
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer, recv_exact, shut

from scanner.connectors.interface import ScannerError
from scanner.connectors.ios.connector import IOSConnector
from scanner.connectors.ios.pairing import pair, pair_record_folder
from scanner.model import Inventory
from scanner.simulator.ios import IOSSimulator
from scanner.simulator.profile import AppProfile, DeviceProfile, Faults, filler_apps


def udid(n: int) -> str:
    return f"00008120-5CA9E6{n:010X}"


WECHAT = "com.tencent.xin"
APPS = (AppProfile(id=WECHAT, name="WeChat", version="8.0.50", team_id="88L2Q4487U"),) + filler_apps(
    "ios", 12, seed="review")
# A device name and an app name carrying a bidi override and a C1 CSI (both legal in an XML plist).
HOSTILE_NAME = "Ana\u202e\u009b2J iPhone"
TRUSTED = DeviceProfile(platform="ios", serial=udid(1), name=HOSTILE_NAME, apps=APPS + (
    AppProfile(id="com.example.rtl", name="Evil\u202eName\u009b31m"),))
NOT_PAIRED = DeviceProfile(platform="ios", serial=udid(2), apps=APPS, faults=Faults(pairing="not-paired"))
SLOW = DeviceProfile(platform="ios", serial=udid(3), apps=APPS, faults=Faults(delay=30.0))


# --- fixtures and helpers -----------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private HOME / XDG_DATA_HOME: pymobiledevice3 reads and writes pair records there."""
    for device in (TRUSTED, NOT_PAIRED, SLOW):
        assert not Path(f"/var/lib/lockdown/{device.serial}.plist").exists(), "a real pair record would interfere"
    base = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(base))
        mp.setenv("XDG_DATA_HOME", str(base / "xdg"))
        mp.delenv("SUDO_USER", raising=False)
        mp.delenv("USBMUXD_SOCKET_ADDRESS", raising=False)
        yield base


@pytest.fixture(scope="module")
def sim(home: Path) -> Iterator[IOSSimulator]:
    with IOSSimulator([TRUSTED, SLOW]) as s:
        yield s


def scan(address: str, **kwargs: Any) -> list[Inventory]:
    return list(IOSConnector(address, **kwargs).inventories())


def cli(*args: str, address: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "USBMUXD_SOCKET_ADDRESS": address}
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, check=False,
                          env=env, timeout=timeout)


def no_traceback(run: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in run.stderr, run.stderr


def mux_packet(tag: int, value: Any, *, binary: bool = False) -> bytes:
    payload = plistlib.dumps(value, fmt=plistlib.FMT_BINARY if binary else plistlib.FMT_XML)
    return struct.pack("<IIII", 16 + len(payload), 1, 8, tag) + payload


class FakeUsbmuxd(LoopbackServer):
    """A usbmuxd speaking the real framing with the content `answer(request, tag)` chooses.

    `answer` returns the bytes to send back, or None to say nothing (a usbmuxd that hangs).
    """

    def __init__(self, answer: Callable[[dict[str, Any], int], bytes | None]) -> None:
        self.answer = answer
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        try:
            while (header := _exact(conn, 16)) is not None:
                length, _, _, tag = struct.unpack("<IIII", header)
                body = _exact(conn, length - 16) or b""
                out = self.answer(plistlib.loads(body), tag)
                if out is not None:
                    conn.sendall(out)
        except OSError:
            pass


def _exact(sock: socket.socket, size: int) -> bytes | None:
    data = recv_exact(sock, size)
    return data if len(data) == size else None


def listing(devices: Any, *, binary: bool = False) -> Callable[[dict[str, Any], int], bytes | None]:
    """A usbmuxd that lists `devices` (whatever they are) and refuses every Connect."""
    def answer(request: dict[str, Any], tag: int) -> bytes:
        kind = request.get("MessageType")
        if kind == "ReadBUID":
            return mux_packet(tag, {"BUID": "REVIEW"})
        if kind == "ListDevices":
            return mux_packet(tag, {"DeviceList": devices}, binary=binary)
        if kind == "ReadPairRecord":
            return mux_packet(tag, {"MessageType": "Result", "Number": 2})
        return mux_packet(tag, {"MessageType": "Result", "Number": 3})  # Connect refused
    return answer


def attached(serial: Any, device_id: int = 1, kind: str = "USB") -> dict[str, Any]:
    return {"MessageType": "Attached", "DeviceID": device_id,
            "Properties": {"SerialNumber": serial, "ConnectionType": kind}}


@pytest.fixture
def fake_usbmuxd() -> Iterator[Callable[..., FakeUsbmuxd]]:
    made: list[FakeUsbmuxd] = []

    def make(answer: Callable[[dict[str, Any], int], bytes | None]) -> FakeUsbmuxd:
        made.append(FakeUsbmuxd(answer))
        return made[-1]
    yield make
    for fake in made:
        fake.close()


class LookupRewriter(LoopbackServer):
    """A relay in front of the emulated usbmuxd that replaces each installation_proxy Lookup reply
    with what `rewrite(reply)` returns: plists (sent as binary plists, which can carry any
    character) or raw frame bodies, then the connection is left open."""

    def __init__(self, target: str, rewrite: Callable[[dict[str, Any]], list[Any]]) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.rewrite = rewrite
        self.rewritten = 0
        super().__init__()

    def serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        self.keep(upstream)
        lookup = threading.Event()
        threading.Thread(target=self._up, args=(client, upstream, lookup), daemon=True).start()
        self._down(upstream, client, lookup)

    @staticmethod
    def _up(src: socket.socket, dst: socket.socket, lookup: threading.Event) -> None:
        tail = b""
        try:
            while data := src.recv(65536):
                tail = (tail + data)[-4096:]
                if b"<string>Lookup</string>" in tail:
                    lookup.set()  # before the request goes on: the reply cannot overtake it
                    tail = b""
                dst.sendall(data)
        except OSError:
            pass
        finally:
            shut(src, dst)

    def _down(self, src: socket.socket, dst: socket.socket, lookup: threading.Event) -> None:
        try:
            while data := src.recv(65536):
                if not lookup.is_set():
                    dst.sendall(data)
                    continue
                while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
                    more = src.recv(65536)
                    if not more:
                        return
                    data += more
                size = struct.unpack(">I", data[:4])[0]
                lookup.clear()
                self.rewritten += 1
                for out in self.rewrite(plistlib.loads(data[4:4 + size])):
                    body = out if isinstance(out, bytes) else plistlib.dumps(out, fmt=plistlib.FMT_BINARY)
                    dst.sendall(struct.pack(">I", len(body)) + body)
        except OSError:
            pass
        finally:
            shut(src, dst)


def read_through(sim: IOSSimulator, rewrite: Callable[[dict[str, Any]], list[Any]]) -> Inventory:
    relay = LookupRewriter(sim.address, rewrite)
    try:
        invs = scan(relay.address, udids=[TRUSTED.serial], timeout=5)
    finally:
        relay.close()
    assert relay.rewritten == 1, "the relay never saw the Lookup: the test did not test anything"
    assert len(invs) == 1
    return invs[0]


def edit_app(app_id: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], list[Any]]:
    def rewrite(reply: dict[str, Any]) -> list[Any]:
        reply = copy.deepcopy(reply)
        change(reply["LookupResult"][app_id])
        return [reply]
    return rewrite


# --- usbmuxd that answers, badly -------------------------------------------------------------------------

GARBLED = {
    "not-a-plist": lambda request, tag: struct.pack("<IIII", 20, 1, 8, tag) + b"abcd",
    "device-list-not-a-list": listing(5),
    "entry-without-properties": listing([{"MessageType": "Attached", "DeviceID": 1}]),
    "udid-not-text": listing([attached(1234)]),
    "udid-empty": listing([attached("")]),
}


@pytest.mark.parametrize("answer", GARBLED.values(), ids=GARBLED.keys())
def test_a_usbmuxd_answering_garbage_is_a_failed_target_never_a_crash(fake_usbmuxd, answer):
    """Before: KeyError/TypeError/plistlib errors escaped discover(): `devices` and `pair`
    crashed, a scan became an "internal error ... please report this"."""
    mux = fake_usbmuxd(answer)
    for required in (True, False):  # usbmuxd is there: even a scan that did not ask for iOS must say so
        invs = scan(mux.address, required=required, timeout=5)
        assert len(invs) == 1, invs
        inv = invs[0]
        assert (inv.status, inv.reason, inv.device.platform) == ("failed", "usbmuxd-unavailable", "ios")
        assert "does not understand" in inv.message and "restart usbmuxd" in inv.message
        assert "\n" not in inv.message
    for required in (True, False):
        with pytest.raises(ScannerError, match="restart usbmuxd"):
            IOSConnector(mux.address, required=required, timeout=5).devices()
    with pytest.raises(ScannerError, match="restart usbmuxd"):
        pair(mux.address, None, timeout=5)


def test_the_cli_with_a_garbled_usbmuxd(fake_usbmuxd):
    mux = fake_usbmuxd(GARBLED["entry-without-properties"])
    devices = cli("devices", "--platform", "ios", address=mux.address)
    no_traceback(devices)
    assert devices.returncode == 4 and "restart usbmuxd" in devices.stdout + devices.stderr
    paired = cli("pair", "--timeout", "5", address=mux.address)
    no_traceback(paired)
    assert paired.returncode == 4 and "restart usbmuxd" in paired.stderr
    # iOS not asked for: still a failed target (exit 4), not a clean run with a note.
    run = cli("scan", "--format", "json", "--adb-server", "127.0.0.1:1", address=mux.address)
    no_traceback(run)
    assert run.returncode == 4
    ios = [d for d in json.loads(run.stdout)["devices"] if d["device"]["source"] == "usbmux"]
    assert [(d["status"], d["reason"]) for d in ios] == [("failed", "usbmuxd-unavailable")]


def test_a_usbmuxd_that_accepts_and_never_answers_is_not_passed_over(fake_usbmuxd):
    """Before: a scan that did not ask for iOS only noted it, so the run could exit 0 with iPhones unread."""
    mux = fake_usbmuxd(lambda request, tag: None)
    notes: list[str] = []
    inv, = scan(mux.address, required=False, timeout=1, notify=notes.append)
    assert (inv.status, inv.reason) == ("failed", "usbmuxd-unavailable")
    assert "did not answer" in inv.message and not notes


def test_a_missing_usbmuxd_is_still_only_a_note_when_ios_was_not_asked_for(tmp_path):
    notes: list[str] = []
    assert scan(str(tmp_path / "no-usbmuxd"), required=False, notify=notes.append) == []
    assert len(notes) == 1 and "usbmuxd is not running" in notes[0]


def test_a_device_listed_twice_is_read_once(fake_usbmuxd):
    """USB and Wi-Fi at once, and a dashless spelling: one device, one result."""
    mux = fake_usbmuxd(listing([attached(TRUSTED.serial, 1, "Network"), attached(TRUSTED.serial, 2, "USB"),
                                attached(TRUSTED.serial.replace("-", ""), 3, "USB")]))
    invs = scan(mux.address, timeout=5)
    assert len(invs) == 1 and invs[0].status == "failed"  # this usbmuxd refuses every Connect
    selected = scan(mux.address, udids=[TRUSTED.serial.lower(), TRUSTED.serial.replace("-", "")], timeout=5)
    assert len(selected) == 1 and selected[0].reason != "not-found"


def test_udids_from_usbmuxd_cannot_reach_the_terminal(fake_usbmuxd):
    mux = fake_usbmuxd(listing([attached("\x1b]0;owned\x07\x1b[2J00008120-EVIL\u202e")], binary=True))
    run = cli("devices", "--platform", "ios", address=mux.address)
    no_traceback(run)
    assert run.returncode == 4
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", run.stdout + run.stderr)
    assert "\\x1b]0;owned" in run.stdout


# --- installation_proxy answers that must never be `complete` ------------------------------------------

NOT_COMPLETE = {
    "error-beside-complete": (lambda r: [{**r, "Error": "InternalError"}], "failed", "error"),
    "empty-error-beside-complete": (lambda r: [{**r, "Error": ""}], "failed", "error"),
    "false-error-beside-complete": (lambda r: [{**r, "Error": False}], "failed", "error"),
    "apps-then-a-result-that-is-not-a-dict": (
        lambda r: [{"LookupResult": r["LookupResult"]}, {"LookupResult": ["x"], "Status": "Complete"}],
        "partial", "error"),
    "broken-xml": (lambda r: [b"<?xml version='1.0'?><plist><dict><key>a</key>"], "failed", "error"),
}


@pytest.mark.parametrize("rewrite,status,reason", NOT_COMPLETE.values(), ids=NOT_COMPLETE.keys())
def test_a_lookup_reply_that_is_not_whole_is_never_complete(sim, rewrite, status, reason):
    inv = read_through(sim, rewrite)
    assert (inv.status, inv.reason) == (status, reason), inv.message
    assert "please report" not in inv.message  # a known kind of broken answer, with what to do
    assert "run again" in inv.message


def test_device_text_in_a_message_stays_on_one_line_and_inert(sim):
    inv = read_through(sim, lambda r: [{**r, "Error": "InternalError",
                                         "ErrorDescription": "boom\nsecond line \x1b[31mred\u202e"}])
    assert inv.status == "failed"
    assert "\n" not in inv.message and "\x1b" not in inv.message and "\u202e" not in inv.message
    assert "boom second line" in inv.message


BAD_RECORDS = {
    "bundle-id-a-number": lambda e: e.__setitem__("CFBundleIdentifier", 7),
    "bundle-id-empty": lambda e: e.__setitem__("CFBundleIdentifier", ""),
    "bundle-id-with-a-bidi-mark": lambda e: e.__setitem__("CFBundleIdentifier", WECHAT + "\u200f"),
    "bundle-id-of-another-app": lambda e: e.__setitem__("CFBundleIdentifier", "com.example.other"),
    "entitlements-a-list": lambda e: e.__setitem__("Entitlements", ["x"]),
    "team-id-data": lambda e: e["Entitlements"].__setitem__("com.apple.developer.team-identifier", b"88L2Q4487U"),
    "placeholder-a-number": lambda e: e.__setitem__("IsPlaceholder", 1),
    "version-a-uid": lambda e: e.__setitem__("CFBundleVersion", plistlib.UID(3)),
}


@pytest.mark.parametrize("change", BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_an_app_record_of_the_wrong_shape_is_a_problem_never_skipped(sim, change):
    inv = read_through(sim, edit_app(WECHAT, change))
    assert (inv.status, inv.reason, inv.problem_count) == ("partial", "bad-records", 1), inv.message
    assert WECHAT not in {a.id for a in inv.apps} and len(inv.apps) == len(TRUSTED.apps) - 1


def test_hostile_names_reach_no_terminal(sim):
    run = cli("scan", "--udid", TRUSTED.serial, "--inventory", address=sim.address)
    no_traceback(run)
    assert run.returncode == 1  # WeChat
    assert "\u202e" not in run.stdout and "\u009b" not in run.stdout
    assert "\\u202e" in run.stdout and "\\x9b" in run.stdout  # shown, escaped: the name and the app
    devices = cli("devices", "--udid", TRUSTED.serial, address=sim.address)
    assert devices.returncode == 0 and "\u202e" not in devices.stdout and "\\u202e" in devices.stdout


# --- pair records ----------------------------------------------------------------------------------------


@pytest.fixture
def fresh(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IOSSimulator]:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with IOSSimulator([NOT_PAIRED]) as s:
        yield s


@pytest.mark.parametrize("content", [b"garbage", plistlib.dumps(["not", "a", "record"])], ids=["not-a-plist", "a-list"])
def test_a_damaged_pair_record_says_which_file_to_delete(fresh, content):
    """Before: "Unexpected error ... please report this", and `scanner pair` failed the same way for ever."""
    record = pair_record_folder() / f"{NOT_PAIRED.serial}.plist"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_bytes(content)
    inv, = scan(fresh.address, timeout=5)
    assert (inv.status, inv.reason) == ("failed", "pair-record-invalid")
    assert str(record) in inv.message and "delete" in inv.message and "scanner pair --udid" in inv.message
    device, = IOSConnector(fresh.address, timeout=5).devices()
    assert device.state == "pair-record-invalid" and str(record) in device.message
    result = pair(fresh.address, NOT_PAIRED.serial, timeout=5)
    assert result.state == "pair-record-invalid" and str(record) in result.message
    assert fresh.pair_record(NOT_PAIRED.serial) is None  # nothing was paired on the way
    record.unlink()  # what the message says to do
    assert pair(fresh.address, NOT_PAIRED.serial, timeout=10).state == "ready"
    assert scan(fresh.address, timeout=5)[0].status == "complete"


# --- Ctrl-C ----------------------------------------------------------------------------------------------


class Watch(LoopbackServer):
    """A relay that says when a client has got as far as talking to a device (a lockdownd request)."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.talking = threading.Event()
        super().__init__()

    def serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        self.keep(upstream)
        threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
        self._pump(upstream, client, False)

    def _pump(self, src: socket.socket, dst: socket.socket, watch: bool) -> None:
        try:
            while data := src.recv(65536):
                if watch and b"QueryType" in data:
                    self.talking.set()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            shut(src, dst)


def test_ctrl_c_during_a_scan_exits_promptly_with_130_and_no_traceback(sim):
    watch = Watch(sim.address)
    env = {**os.environ, "USBMUXD_SOCKET_ADDRESS": watch.address}
    proc = subprocess.Popen([sys.executable, "-m", "scanner", "scan", "--udid", SLOW.serial, "--timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert watch.talking.wait(30), "the scan never reached the device"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)  # far below the 60 s the device would take
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        watch.close()
    assert "Traceback" not in err, err
    assert proc.returncode == 130, (proc.returncode, err)
