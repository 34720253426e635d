"""Android scans never answer "clean" for a phone they did not see or did not fully read.

Issue 10, items 7, 8, 10 and 11, against emulated phones behind the real adb
server (adbutils' bundled binary), through real adbutils:

- two phones with one ro.serialno (cheap clones) stay two devices, each with
  its own findings and finding ids (over the network, and on USB, where adb
  lists both under one serial and only the USB path tells them apart);
- a device list cut in transit (shorter than its length prefix) is a failed
  transport, never a shorter list;
- an adb server that could not be asked is recorded, with how to leave
  Android out on purpose (the report side of a transport that did not
  answer is in tests/test_unanswered_transports.py);
- a secondary user whose app list comes back empty is not read.

Faults on the wire come from an `AdbProxy` on 127.0.0.1 in front of the real
server: it passes everything through, except the answer to `host:devices-l`,
which it cuts or rewrites as a broken server or a USB hub of clones would.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import jsonschema
import pytest
from android_fleet import (  # noqa: F401 - the `sim`, `sigs` and `matcher` fixtures
    CLONE_SERIAL,
    SCHEMA,
    cli,
    fixture_matcher,
    fixture_sigs,
    fixture_sim,
    live,
)
from loopback import LoopbackServer, pump, recv_exact, shut
from served import free_port

from scanner.connectors.android.connector import AndroidConnector
from scanner.formats.json_report import clone_serials, finding_id, report_to_dict
from scanner.formats.table import write_table
from scanner.model import DeviceInfo, DeviceResult, Report
from scanner.simulator.android import AndroidSimulator


class AdbProxy(LoopbackServer):
    """A relay on 127.0.0.1 in front of a real adb server that changes only the answer to `host:devices-l`.

    `answer(body) -> (body to send, length to announce)`: a cut list announces the real length and sends
    less; a rewritten one announces its own length.
    """

    def __init__(self, port: int, answer: Callable[[bytes], tuple[bytes, int]]) -> None:
        self.target = ("127.0.0.1", port)
        self.answer = answer
        self.lists = 0
        self._lock = threading.Lock()
        super().__init__()

    def serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target, timeout=30)
        self.keep(upstream)
        try:
            head = recv_exact(client, 4)
            request = recv_exact(client, int(head, 16)) if len(head) == 4 else b""
            upstream.sendall(head + request)
            if request == b"host:devices-l":
                status = recv_exact(upstream, 4)
                length = int(recv_exact(upstream, 4), 16)
                body, announced = self.answer(recv_exact(upstream, length))
                with self._lock:
                    self.lists += 1
                client.sendall(status + f"{announced:04x}".encode() + body)
                return
            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
            pump(client, upstream)
        except (OSError, ValueError):
            pass
        finally:
            shut(client, upstream)


def cut_after_first_line(body: bytes) -> tuple[bytes, int]:
    """What a connection dropped mid-answer delivers: the first phone's line, then nothing."""
    first = body.split(b"\n", 1)[0] + b"\n"
    assert len(first) < len(body)
    return first, len(body)


def usb_clones(sim: AndroidSimulator, names: list[str]) -> Callable[[bytes], tuple[bytes, int]]:
    """The list adb prints for clones on a USB hub: one serial for all, told apart by the USB path."""
    transports = {sim.transport_serial(n): i for i, n in enumerate(names, 1)}

    def rewrite(body: bytes) -> tuple[bytes, int]:
        lines = []
        for line in body.decode().splitlines():
            serial, state, *tags = line.split()
            if serial in transports:
                line = " ".join([CLONE_SERIAL, state, f"usb:1-1.{transports[serial]}", *tags])
            lines.append(line)
        text = "".join(f"{line}\n" for line in lines).encode()
        return text, len(text)
    return rewrite


@pytest.fixture
def proxy(sim) -> Iterator[Callable[[Callable[[bytes], tuple[bytes, int]]], AdbProxy]]:
    made: list[AdbProxy] = []

    def make(answer):
        made.append(AdbProxy(sim.adb_port, answer))
        return made[-1]
    yield make
    for p in made:
        p.close()


def by_transport(report: Report) -> dict[str | None, DeviceResult]:
    return {r.device.transport: r for r in report.results}


# --- item 7: two phones with one ro.serialno ---------------------------------------------------------------


def test_two_clones_with_one_serial_are_two_devices_with_their_own_findings(sim, sigs, matcher):
    report = live(matcher, sigs, AndroidConnector(f"127.0.0.1:{sim.adb_port}", serials=[CLONE_SERIAL], timeout=20))
    a, b = sim.transport_serial("CLONEA001"), sim.transport_serial("CLONEB001")
    results = by_transport(report)
    assert set(results) == {a, b}, [r.device for r in report.results]
    assert all(r.device.serial == CLONE_SERIAL and r.status == "complete" for r in report.results)
    assert [f.app.id for f in results[a].findings] == ["com.tencent.mm"] and results[b].findings == ()
    assert report.exit_code == 1
    doc = report_to_dict(report)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    devices = {d["device"]["transport"]: d for d in doc["devices"]}
    assert devices[a]["device"]["serial"] == devices[b]["device"]["serial"] == CLONE_SERIAL
    assert [d["verdict"] for d in (devices[a], devices[b])] == ["findings", "clean"]
    out = io.StringIO()
    write_table(report, out)
    assert f"via {a}" in out.getvalue() and f"via {b}" in out.getvalue()


def test_a_clones_finding_id_names_its_transport_and_ids_of_files_do_not_change(sim, sigs, matcher):
    report = live(matcher, sigs, AndroidConnector(f"127.0.0.1:{sim.adb_port}",
                                                  serials=[sim.transport_serial("CLONEA001")], timeout=20))
    (result,) = report.results
    (finding,) = result.findings

    def old_id(device: DeviceInfo) -> str:  # the formula before transports: source|platform|serial|rule|app|user
        parts = ("" if device.serial else device.source, device.platform, device.serial or "", finding.rule,
                 finding.app.id, str(finding.app.user))
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def on(transport: str | None) -> DeviceResult:
        return replace(result, device=replace(result.device, transport=transport))

    assert result.device.transport == sim.transport_serial("CLONEA001")
    # Alone in its report, a device keeps the id it always had, whatever its transport (a phone reached
    # over the network gets a new address each run; its ids must not change with it).
    assert clone_serials(report) == frozenset()
    for transport in (None, CLONE_SERIAL, "127.0.0.1:1", result.device.transport):
        assert finding_id(on(transport), finding) == old_id(result.device)
    # Beside a clone with the same serial, each gets an id of its own.
    clones = frozenset({("android", CLONE_SERIAL)})
    assert finding_id(result, finding, clones) != finding_id(on("127.0.0.1:1"), finding, clones)
    assert finding_id(result, finding, clones) != old_id(result.device)
    both = replace(report, results=(result, on("usb:1-1.2")))
    assert clone_serials(both) == clones
    ids = [f["id"] for d in report_to_dict(both)["devices"] for f in d["findings"]]
    assert len(set(ids)) == 2


def test_usb_clones_listed_under_one_serial_are_told_apart_by_their_usb_path(sim, sigs, matcher, proxy):
    hub = proxy(usb_clones(sim, ["CLONEA001", "CLONEB001"]))
    report = live(matcher, sigs, AndroidConnector(hub.address, serials=[CLONE_SERIAL], timeout=20))
    results = by_transport(report)
    assert set(results) == {"usb:1-1.1", "usb:1-1.2"}, [r.device for r in report.results]
    assert [f.app.id for f in results["usb:1-1.1"].findings] == ["com.tencent.mm"]
    assert results["usb:1-1.2"].findings == () and all(r.status == "complete" for r in report.results)
    # One of them by its USB path, as `adb -s usb:1-1.2` would.
    (one,) = AndroidConnector(hub.address, serials=["usb:1-1.2"], timeout=20).inventories()
    assert (one.device.transport, one.device.serial, one.status) == ("usb:1-1.2", CLONE_SERIAL, "complete")
    listed = AndroidConnector(hub.address, serials=[CLONE_SERIAL]).devices()
    assert sorted((d.serial, d.state) for d in listed) == [("usb:1-1.1", "ready"), ("usb:1-1.2", "ready")]


def test_a_usb_phone_with_a_serial_of_its_own_keeps_it_as_its_transport(sim, sigs, matcher, proxy):
    hub = proxy(usb_clones(sim, ["PLAIN0001"]))  # alone under that serial: no need for the USB path
    (inv,) = AndroidConnector(hub.address, serials=[CLONE_SERIAL], timeout=20).inventories()
    assert inv.device.transport == CLONE_SERIAL and inv.status == "complete"


# --- item 8: a cut device list -----------------------------------------------------------------------------


def test_a_device_list_cut_short_is_a_failed_transport_not_a_shorter_list(sim, proxy):
    cut = proxy(cut_after_first_line)
    required = AndroidConnector(cut.address, required=True, timeout=20)
    (inv,) = required.inventories()
    assert (inv.status, inv.reason, inv.device.serial) == ("failed", "adb-unavailable", None)
    assert "cut short" in inv.message and cut.address in inv.message
    assert required.asked is not None and required.asked.answered is False
    notes: list[str] = []
    quiet = AndroidConnector(cut.address, notify=notes.append, timeout=20)
    assert list(quiet.inventories()) == [] and quiet.asked.answered is False
    assert "cut short" in notes[0] and "--platform ios" in notes[0]
    assert cut.lists == 2


def test_cli_scan_and_devices_with_a_cut_device_list_are_incomplete(sim, proxy, tmp_path):
    cut = proxy(cut_after_first_line)
    scan = cli("scan", "--platform", "android", "--adb-server", cut.address, "--format", "json", env={},
               cwd=tmp_path)
    assert scan.returncode == 4, scan.stderr
    doc = json.loads(scan.stdout)
    assert [(d["status"], d["reason"]) for d in doc["devices"]] == [("failed", "adb-unavailable")]
    assert "cut short" in doc["devices"][0]["message"]
    assert [(t["platform"], t["answered"]) for t in doc["transports"]] == [("android", False)]
    devices = cli("devices", "--platform", "android", "--adb-server", cut.address, env={}, cwd=tmp_path)
    assert devices.returncode == 4 and "cut short" in devices.stderr + devices.stdout


# --- item 10: an adb server that could not be asked ----------------------------------------------------------


def test_an_adb_server_that_cannot_be_asked_is_recorded_with_how_to_scan_ios_only(tmp_path):
    notes: list[str] = []
    connector = AndroidConnector(f"127.0.0.1:{free_port()}", notify=notes.append)
    assert list(connector.inventories()) == []
    asked = connector.asked
    assert asked is not None and (asked.platform, asked.transport, asked.answered) == ("android", "adb", False)
    assert "--platform ios" in asked.message and asked.message in notes[0]


# --- item 11: a secondary user whose listing is empty ------------------------------------------------------------


def test_a_work_profile_that_lists_no_app_is_not_read(sim):
    (inv,) = AndroidConnector(f"127.0.0.1:{sim.adb_port}", serials=["WORKEMPTY"], timeout=20).inventories()
    assert (inv.status, inv.reason) == ("partial", "user-empty"), inv
    scopes = {s.name: s for s in inv.coverage}
    work = scopes["user 10 (Work profile)"]
    assert (work.read, work.reason, work.apps) == (False, "the listing was empty", 0)
    assert scopes["user 0 (Owner)"].read is True
    assert "work profile" in inv.message and "empty" in inv.message


def test_a_work_profile_with_its_system_apps_is_read(sim):
    (inv,) = AndroidConnector(f"127.0.0.1:{sim.adb_port}", serials=["WORKFULL1"], timeout=20).inventories()
    assert inv.status == "complete" and all(s.read for s in inv.coverage)
    assert {s.name: s.apps for s in inv.coverage}["user 10 (Work profile)"] == 2
