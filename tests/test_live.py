"""Live set-up (scanner.live): picking transports, opening them through the registry, listing and scanning.

A transport is one package registered once: the fake one in fake_transport.py, added to the registry
here, is picked up by the selection, by `scan`'s side-by-side reading, by `devices`' listing and by the
library, with no other change.
"""

from __future__ import annotations

import fake_transport
import pytest

from scanner import connectors, live
from scanner.audit import run
from scanner.connectors.interface import ScannerError
from scanner.matcher import Matcher
from scanner.model import EXIT_FINDINGS, EXIT_FINDINGS_INCOMPLETE, EXIT_INCOMPLETE
from scanner.signatures import load_signatures


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_signatures())


@pytest.fixture
def registered(monkeypatch):
    """The fake transport registered beside the real ones, with a fleet of two devices."""
    monkeypatch.setattr(connectors, "TRANSPORTS", (*connectors.TRANSPORTS, fake_transport.ENTRY))
    monkeypatch.setattr(fake_transport, "FLEET", {"F2": ("com.tencent.mm",), "F1": ("com.example.notes",)})
    fake_transport.BUILT.clear()
    return fake_transport


@pytest.mark.parametrize(("platform", "select", "expected"), [
    (None, {}, {"android": False, "ios": False}),
    ("all", {}, {"android": False, "ios": False}),
    ("all", {"android": ["X"]}, {"android": True, "ios": False}),
    (None, {"android": ["X"]}, {"android": True}),
    (None, {"ios": ["U"]}, {"ios": True}),
    (None, {"android": ["X"], "ios": ["U"]}, {"android": True, "ios": True}),
    ("android", {}, {"android": True}),
    ("ios", {"ios": ["U"]}, {"ios": True}),
])
def test_the_platforms_picked_and_whether_each_was_asked_for_by_name(platform, select, expected):
    assert live.pick_platforms(platform, select) == expected


@pytest.mark.parametrize(("platform", "select", "message"), [
    ("ios", {"android": ["X"]}, "--serial selects Android devices; it cannot be used with --platform ios (use --udid)"),
    ("android", {"ios": ["U"]},
     "--udid selects iPhones and iPads; it cannot be used with --platform android (use --serial)"),
    (None, {"ios": [" "]}, "--serial and --udid need a value; `scanner devices` lists the attached devices"),
])
def test_a_selection_that_cannot_be_used_is_a_usage_error(platform, select, message):
    with pytest.raises(live.UsageError) as caught:
        live.pick_platforms(platform, select)
    assert str(caught.value) == message and isinstance(caught.value, ScannerError)


def test_a_registered_transport_is_picked_opened_and_scanned_side_by_side(registered, matcher):
    platforms = live.pick_platforms(None, {"fake": ["F2"]})
    assert platforms == {"fake": True}
    (transport,) = live.open_transports(platforms, select={"fake": ["F2"]}, addresses={"fake": "127.0.0.1:1"},
                                        timeout=5, may_start=False)
    assert (transport.address, transport.select, transport.required, transport.may_start) == \
        ("127.0.0.1:1", ("F2",), True, False)
    report = live.scan([transport], matcher)
    assert [r.device.serial for r in report.results] == ["F2"]
    assert report.exit_code == EXIT_FINDINGS and report.results[0].findings[0].app.id == "com.tencent.mm"
    assert [(t.platform, t.answered) for t in report.transports] == [("fake", True)]


def test_live_results_are_sorted_whatever_order_the_devices_finish_in(registered, matcher):
    (transport,) = live.open_transports({"fake": False}, timeout=5)
    assert [r.device.serial for r in live.scan([transport], matcher).results] == ["F1", "F2"]
    # Files keep the order they were given in.
    assert [r.device.serial for r in run([transport], matcher).results] == ["F2", "F1"]


def test_a_registered_transport_that_does_not_answer_is_never_clean(registered, matcher, monkeypatch):
    monkeypatch.setattr(fake_transport, "FLEET", None)
    (transport,) = live.open_transports({"fake": False}, timeout=5)
    report = live.scan([transport], matcher)
    assert report.results == () and report.exit_code == EXIT_INCOMPLETE
    found, problems = live.list_devices(live.open_transports({"fake": False}, timeout=5))
    assert found == [] and problems == ["fakemux did not answer; start it"]


def test_devices_of_every_transport_are_listed_sorted(registered):
    found, problems = live.list_devices(live.open_transports({"fake": False}, timeout=5))
    assert [(d.platform, d.serial, d.state) for d in found] == [("fake", "F1", "ready"), ("fake", "F2", "ready")]
    assert problems == []


def test_a_transport_that_breaks_is_a_failed_result_and_the_others_go_on(registered, matcher):
    class Raising:
        name = "brokenmux"
        asked = None

        def inventories(self):
            raise RuntimeError("boom")

    (fake,) = live.open_transports({"fake": False}, timeout=5)
    report = live.scan([Raising(), fake], matcher)
    failed = [r for r in report.results if r.status == "failed"]
    assert [r.device.source for r in failed] == ["brokenmux"] and "RuntimeError: boom" in failed[0].message
    assert {r.device.serial for r in report.results if r.status == "complete"} == {"F1", "F2"}
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_the_library_scans_devices_through_the_registry(registered, monkeypatch):
    import scanner

    # Only the fake transport is registered: scan_devices must reach it with no code naming it.
    monkeypatch.setattr(connectors, "TRANSPORTS", (fake_transport.ENTRY,))
    report = scanner.scan_devices(platforms=("fake",), timeout=5)
    assert [r.device.serial for r in report.results] == ["F1", "F2"] and report.exit_code == EXIT_FINDINGS


def test_watch_follows_a_registered_transport_and_counts_a_device_it_never_read(registered, matcher, monkeypatch):
    import threading

    from scanner.intake import Intake

    monkeypatch.setattr(fake_transport, "OFFLINE", {"F1"})
    reported = threading.Event()
    seen: list[tuple[str, tuple[str, str]]] = []

    def on_report(report, why, key):
        seen.append((why, key))
        reported.set()

    intake = Intake(platforms={"fake": True}, addresses={"fake": "127.0.0.1:9"}, timeout=5, matcher=matcher,
                    fail_on="prohibited", on_report=on_report, notify=lambda message: None)
    intake.start()
    try:
        assert reported.wait(10), "the registered transport's tracker never asked for a scan"
    finally:
        intake.close()
    assert seen == [("attached", ("fake", "F2"))]
    tracker, scanner_of_f2 = fake_transport.BUILT[:2]
    assert (tracker.address, tracker.may_start, scanner_of_f2.select, scanner_of_f2.may_start) == \
        ("127.0.0.1:9", True, ("F2",), False)
    report = intake.report()
    by_serial = {r.device.serial: r for r in report.results}
    assert by_serial["F2"].findings[0].app.id == "com.tencent.mm"
    assert by_serial["F1"].status == "failed" and by_serial["F1"].message == "Seen device and never read: " \
        "fakemux saw it device: replug it"
    assert intake.never_read() == [(("fake", "F1"), "device")] and report.exit_code == EXIT_FINDINGS_INCOMPLETE
