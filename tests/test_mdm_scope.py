"""What an MDM inventory can prove: its blind spot, --accept-scope mdm, --max-age, and devices not checked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from scanner.audit import accepted, aged, run
from scanner.cli import main
from scanner.matcher import Matcher
from scanner.model import MDM_SCOPE, NOT_CHECKED, App, DeviceInfo, Inventory, Scope
from scanner.signatures import load_signatures

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_signatures())


class Source:
    def __init__(self, *inventories: Inventory) -> None:
        self.name = "export.json"
        self._inventories = inventories

    def inventories(self) -> Iterator[Inventory]:
        yield from self._inventories


def mdm_device(serial: str, *ids: str, when: datetime | None = None, extra: tuple[Scope, ...] = (),
               read: bool = False, status: str | None = None) -> Inventory:
    apps = tuple(App("ios", i) for i in ids)
    coverage = (Scope("records", read=True, apps=len(apps)),
                Scope(MDM_SCOPE, read=read, reason="a personal device: managed apps only"), *extra)
    complete = all(s.read for s in coverage)
    return Inventory(
        device=DeviceInfo("ios", f"Jamf id {serial}", source="export.json", inventoried=when),
        apps=apps, coverage=coverage, status=status or ("complete" if complete else "partial"),
        reason=None if complete else ("mdm-scope" if not extra else "bad-records"),
        message=None if complete else "export.json: the MDM does not see every app")


def test_an_mdm_device_is_partial_and_never_clean(matcher):
    report = run([Source(mdm_device("1", "com.apple.mobilesafari"))], matcher, now=NOW)
    assert report.results[0].status == "partial" and report.exit_code == 4
    assert report.accepted_scopes == ()


def test_accept_scope_mdm_counts_the_mdm_view_as_complete_and_says_so(matcher):
    report = run([Source(mdm_device("1", "com.apple.mobilesafari"))], matcher, accept_scopes=("mdm",), now=NOW)
    [result] = report.results
    assert result.status == "complete" and result.reason is None and report.exit_code == 0
    [scope] = [s for s in result.coverage if s.name == MDM_SCOPE]
    assert scope.read and scope.reason.startswith("accepted with --accept-scope mdm: a personal device")
    assert report.accepted_scopes == ("mdm",)


def test_accepting_the_mdm_view_does_not_hide_other_gaps(matcher):
    bad = Scope("records", read=False, reason="2 records could not be read")
    report = run([Source(mdm_device("1", "com.apple.mobilesafari", extra=(bad,)))], matcher, accept_scopes=("mdm",))
    assert report.results[0].status == "partial" and report.results[0].reason == "bad-records"
    assert report.exit_code == 4


def test_accepting_never_makes_a_failed_device_complete():
    inv = mdm_device("1", status="failed")
    assert accepted(inv, ("mdm",)).status == "failed"


def test_findings_stay_findings_when_the_scope_is_accepted(matcher):
    report = run([Source(mdm_device("1", "com.tencent.xin"))], matcher, accept_scopes=("mdm",))
    assert report.exit_code == 1 and report.results[0].findings


@pytest.mark.parametrize("days, status, reason", [(3, "complete", None), (10, "partial", "stale")])
def test_max_age_makes_an_older_inventory_partial(matcher, days, status, reason):
    inv = mdm_device("1", "com.apple.mobilesafari", when=NOW - timedelta(days=days), read=True)
    report = run([Source(inv)], matcher, max_age=7, now=NOW)
    [result] = report.results
    assert (result.status, result.reason) == (status, reason)
    assert report.max_age == 7
    if reason:
        assert f"{days} days ago" in result.message and "--max-age" in result.message
        assert any("older than --max-age 7" in (s.reason or "") for s in result.coverage)


def test_max_age_is_applied_before_the_scope_is_accepted(matcher):
    inv = mdm_device("1", "com.apple.mobilesafari", when=NOW - timedelta(days=30))
    report = run([Source(inv)], matcher, max_age=7, accept_scopes=("mdm",), now=NOW)
    assert report.results[0].status == "partial" and report.results[0].reason == "stale"


def test_an_mdm_inventory_without_a_date_cannot_pass_max_age(matcher):
    report = run([Source(mdm_device("1", "com.apple.mobilesafari", read=True))], matcher, max_age=7, now=NOW)
    assert report.results[0].reason == "age-unknown" and report.exit_code == 4


def test_a_listing_that_is_no_mdm_inventory_has_no_age_to_check():
    inv = Inventory(DeviceInfo("android", "A1", source="apps.txt"), (App("android", "com.x.y"),),
                    (Scope("records", read=True, apps=1),))
    assert aged(inv, 7, NOW) is inv


def test_desktop_devices_are_listed_not_checked_and_not_part_of_the_verdict(matcher):
    desktop = Inventory(
        device=DeviceInfo("windows", "Intune id D1", name="LT-0042", source="export.json"), apps=(),
        coverage=(Scope("apps", read=False, reason="a Windows computer", apps=812),), status="failed",
        reason=NOT_CHECKED, message="export.json, device LT-0042: a Windows computer: its 812 app rows were not "
                                    "checked")
    twice = Inventory(
        device=desktop.device, apps=(), coverage=(Scope("apps", read=False, reason="a Windows computer", apps=8),),
        status="failed", reason=NOT_CHECKED, message=desktop.message)
    phone = mdm_device("1", "com.apple.mobilesafari", read=True)
    report = run([Source(desktop, phone, twice)], matcher, now=NOW)
    assert [r.device.serial for r in report.results] == ["Jamf id 1"]
    [skipped] = report.not_checked
    assert skipped.rows == 820 and "Windows computer" in skipped.why
    assert report.summary.not_checked == 1 and report.exit_code == 0


def test_only_desktops_is_never_clean(matcher):
    desktop = Inventory(DeviceInfo("macos", "K1", source="k.json"), (), (Scope("apps", read=False, apps=3),),
                        status="failed", reason=NOT_CHECKED, message="a Mac")
    report = run([Source(desktop)], matcher)
    assert report.results == () and report.exit_code == 4


def test_cli_options(tmp_path):
    listing = tmp_path / "apps.txt"
    listing.write_text("package:com.android.chrome\n", encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(main, ["scan", "--input", str(listing), "--accept-scope", "mdm", "--max-age", "30", "-q"])
    assert ok.exit_code == 0, ok.output
    live = runner.invoke(main, ["scan", "--max-age", "30"])
    assert live.exit_code == 2 and "applies with --input only" in live.output
    wrong = runner.invoke(main, ["scan", "--input", str(listing), "--accept-scope", "everything"])
    assert wrong.exit_code == 2
    negative = runner.invoke(main, ["scan", "--input", str(listing), "--max-age", "-1"])
    assert negative.exit_code == 2


def test_library_refuses_an_unknown_scope(tmp_path):
    import scanner

    with pytest.raises(ValueError, match="accept_scopes"):
        scanner.scan([str(tmp_path / "x.txt")], accept_scopes=["all"])
