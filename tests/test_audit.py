"""The audit: results per device, merging, and failures that never read as clean."""

from __future__ import annotations

from typing import Iterator

import pytest

from scanner.audit import run
from scanner.live import scan as scan_live
from scanner.matcher import Matcher
from scanner.model import (
    App,
    DeviceInfo,
    Inventory,
    Scope,
    device_verdict,
)
from scanner.signatures import load_signatures


@pytest.fixture(scope="module")
def sigs():
    return load_signatures()


class Fixed:
    """A connector that yields given inventories, then optionally breaks."""

    def __init__(self, name: str, inventories: list[Inventory], crash: Exception | None = None):
        self.name = name
        self._inventories = inventories
        self._crash = crash

    def inventories(self) -> Iterator[Inventory]:
        yield from self._inventories
        if self._crash:
            raise self._crash


def phone(serial: str, *ids: str, status: str = "complete", scopes=()) -> Inventory:
    return Inventory(
        device=DeviceInfo("android", serial, source="fleet.csv"),
        apps=tuple(App("android", i) for i in ids),
        coverage=tuple(scopes) or (Scope("records", True, apps=len(ids)),),
        status=status,
        reason=None if status == "complete" else "bad-lines",
        message=None if status == "complete" else "1 line could not be read",
    )


def test_runs_of_one_device_are_merged(sigs):
    conn = Fixed(
        "fleet.csv",
        [
            phone("A", "com.intsig.camscanner"),
            phone("B", "com.whatsapp"),
            phone("A", "cn.wps.moffice_eng", status="partial", scopes=[Scope("records", False, "line 9: bad")]),
        ],
    )
    report = run([conn], Matcher(sigs))
    assert [r.device.serial for r in report.results] == ["A", "B"]
    a, b = report.results
    assert a.status == "partial" and a.reason == "bad-lines"
    assert a.app_count == 2
    assert sorted(f.app.id for f in a.findings) == ["cn.wps.moffice_eng", "com.intsig.camscanner"]
    assert Scope("records", False, "line 9: bad") in a.coverage
    assert Scope("records", True, apps=1) in a.coverage
    assert b.status == "complete" and not b.findings
    assert report.exit_code == 5
    assert device_verdict(a, "prohibited") == "findings-incomplete"
    assert device_verdict(b, "prohibited") == "clean"


def test_a_crashing_connector_becomes_a_failed_result_and_others_go_on(sigs):
    broken = Fixed("broken.txt", [phone("C", "com.tencent.mm")], crash=RuntimeError("boom"))
    fine = Fixed("fine.txt", [phone("D", "com.whatsapp")])
    report = run([broken, fine], Matcher(sigs))
    statuses = [(r.device.serial or r.device.source, r.status) for r in report.results]
    assert statuses == [("C", "complete"), ("broken.txt", "failed"), ("D", "complete")]
    failed = report.results[1]
    assert failed.reason == "error" and "RuntimeError: boom" in failed.message
    assert report.exit_code == 5


def test_no_target_at_all_is_incomplete_not_clean(sigs):
    report = run([], Matcher(sigs))
    assert report.results == () and report.exit_code == 4 and report.verdict == "incomplete"


@pytest.mark.parametrize(
    "fail_on, ids, expected",
    [
        ("prohibited", ["com.whatsapp"], 0),
        ("prohibited", ["com.tencent.tim"], 0),
        ("review", ["com.tencent.tim"], 1),
        ("never", ["com.tencent.mm"], 0),
        ("prohibited", ["com.tencent.mm"], 1),
    ],
)
def test_exit_code_table_for_complete_scans(sigs, fail_on, ids, expected):
    report = run([Fixed("x", [phone("A", *ids)])], Matcher(sigs), fail_on=fail_on)
    assert report.exit_code == expected


def test_inventory_kept_only_when_asked(sigs):
    conn = [Fixed("x", [phone("A", "com.whatsapp", "com.tencent.mm")])]
    assert run(conn, Matcher(sigs)).results[0].apps is None
    conn = [Fixed("x", [phone("A", "com.whatsapp", "com.tencent.mm")])]
    kept = run(conn, Matcher(sigs), inventory=True).results[0].apps
    assert [a.id for a in kept] == ["com.whatsapp", "com.tencent.mm"]


def test_library_scan_api(tmp_path):
    import scanner

    path = tmp_path / "fleet.csv"
    path.write_text("platform,device,app_id\nandroid,A,com.zhiliaoapp.musically\nios,B,com.tencent.mqq\n", encoding="utf-8")
    default = scanner.scan([str(path)])
    assert [(r.device.serial, [f.listed for f in r.findings]) for r in default.results] == [
        ("A", ["TikTok"]),  # the federal default set: TikTok is never clean by default
        ("B", ["QQ Wallet", "Tencent QQ"]),
    ]
    everything = scanner.scan([str(path)], policies=["all"], fail_on="review")
    assert {f.listed for f in everything.results[0].findings} == {"TikTok"}
    assert everything.exit_code == 1 and everything.inputs == (str(path),)
    assert scanner.load_signatures().policies["us-eo-13971"].status == "revoked"


def test_a_failed_part_of_a_device_read_elsewhere_makes_it_partial_not_failed(sigs):
    failed_part = Inventory(device=DeviceInfo("android", "A", source="fleet.csv"), apps=(), status="failed",
                            reason="bad-lines", message="line 4: not valid UTF-8",
                            coverage=(Scope("records", False, "1 lines could not be read"),))
    report = run([Fixed("fleet.csv", [phone("A", "com.whatsapp"), failed_part])], Matcher(sigs))
    (a,) = report.results
    assert a.status == "partial" and a.reason == "bad-lines" and a.app_count == 1
    both_failed = run([Fixed("f", [failed_part, failed_part])], Matcher(sigs)).results[0]
    assert both_failed.status == "failed"


class Handshake:
    """Yields its inventory only after the other connector has yielded: proves both run at once."""

    def __init__(self, name: str, inv: Inventory, wait_for, then_set):
        self.name, self._inv, self._wait, self._set = name, inv, wait_for, then_set

    def inventories(self) -> Iterator[Inventory]:
        if self._wait is not None:
            assert self._wait.wait(timeout=20), "the other connector never ran"
        yield self._inv
        if self._set is not None:
            self._set.set()


def test_live_connectors_run_side_by_side_and_results_are_sorted(sigs):
    import threading

    android_done = threading.Event()
    ios = Handshake("usbmux", Inventory(device=DeviceInfo("ios", "00008101-A", source="usbmux"), apps=(
        App("ios", "com.tencent.xin"),)), wait_for=android_done, then_set=None)
    android = Handshake("adb", phone("ZZ9"), wait_for=None, then_set=android_done)
    crash = Fixed("adb-2", [], crash=RuntimeError("boom"))
    # iOS is first and blocks until Android has yielded: sequential reading would dead-end.
    report = scan_live([ios, android, crash], Matcher(sigs))
    keys = [(r.device.platform, r.device.serial) for r in report.results]
    assert keys == [(None, None), ("android", "ZZ9"), ("ios", "00008101-A")]
    assert report.results[0].status == "failed" and "boom" in report.results[0].message
    assert report.results[2].findings and report.exit_code == 5


def test_one_app_seen_twice_on_one_device_is_one_finding(sigs):
    # The same phone through two transports (USB and adb over Wi-Fi) has one ro.serialno.
    usb = Inventory(device=DeviceInfo("android", "R5CT", source="adb"), apps=(App("android", "com.intsig.camscanner"),))
    report = scan_live([Fixed("adb", [usb, usb])], Matcher(sigs))
    (result,) = report.results
    assert [f.app.id for f in result.findings] == ["com.intsig.camscanner"]
    assert report.summary.findings == 1
