"""The JSON report written as each device is finished (DeviceSpool, SpooledReport) is byte for byte the report
write_json writes of the same results held in memory: merged parts of a device seen again, apart, in their first
place; clones' finding ids; not-checked computers; name and count evidence; failed and partial devices; with and
without --inventory; and when every key hash collides."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.formats import json_report
from scanner.formats.json_report import DeviceSpool, SpooledReport, write_json
from scanner.model import DeviceInfo, DeviceResult, Scope, merge_results
from report_samples import (
    AGGREGATE,
    CLEAN,
    F_EXACT,
    F_TIKTOK,
    FAILED,
    IPHONE,
    MDM_PHONE,
    NOT_CHECKED,
    PHONE,
    make_mdm_report,
    make_report,
    render,
    with_inventory,
)


def merged(parts: list[DeviceResult]) -> tuple[DeviceResult, ...]:
    """What audit.run keeps: the parts of one device merged, in the order devices first came."""
    results: dict[tuple, DeviceResult] = {}
    for r in parts:
        key = r.device.key
        results[key] = merge_results(results[key], r) if key in results else r
    return tuple(results.values())


def spooled(report, parts: list[DeviceResult]) -> SpooledReport:
    spool = DeviceSpool(report.fail_on, report.inventory_included)
    for part in parts:
        spool.add(part)
    counts = spool.finish()
    kw = {f.name: getattr(report, f.name) for f in fields(report)}
    kw.update(results=(), spool=spool, counts=counts)
    return SpooledReport(**kw)


def check(report, parts: list[DeviceResult]) -> str:
    """The in-memory report of `parts` and the spooled one: the same bytes, summary and exit code."""
    whole = replace(report, results=merged(parts))
    streamed = spooled(whole, parts)
    try:
        expected = render(write_json, whole)
        assert render(write_json, streamed) == expected
        assert render(write_json, streamed) == expected  # written twice (--format json and --output json=...)
        assert streamed.summary == whole.summary
        assert (streamed.exit_code, streamed.verdict, streamed.complete) == (whole.exit_code, whole.verdict,
                                                                              whole.complete)
    finally:
        streamed.spool.close()
    return expected


def part(result: DeviceResult, **kw) -> DeviceResult:
    return replace(result, **kw)


A_FAILED = part(CLEAN, status="failed", reason="bad-lines", message="lines 3-4 could not be read", findings=(),
                app_count=0, coverage=(Scope("records", False, reason="2 lines could not be read"),),
                problems=("line 3: x", "line 4: y"), problem_count=2)
A_PARTIAL = part(CLEAN, status="partial", reason="truncated", message="cut", findings=(F_EXACT,), app_count=4,
                 coverage=(Scope("records", True, apps=4), Scope("records", False, reason="cut at line 9")))
# A result whose count is below the problems it keeps (the entry shows the larger): merged, the count as counted.
UNCOUNTED = part(IPHONE, problems=("one", "two", "three"), problem_count=0)


@pytest.mark.parametrize("inventory", [False, True])
def test_the_sample_reports_are_the_same_bytes(inventory):
    report = make_report()
    if inventory:
        report = with_inventory(report)
    check(report, list(report.results))
    mdm = make_mdm_report()
    if inventory:
        mdm = with_inventory(mdm)
    text = check(mdm, list(mdm.results))
    assert json.loads(text)["not_checked"] and json.loads(text)["devices"][1]["findings"][0]["evidence"] == "count"


def test_no_device_at_all_is_the_same_bytes():
    assert json.loads(check(make_report(not_checked=NOT_CHECKED), []))["devices"] == []


@pytest.mark.parametrize("fail_on", ["prohibited", "review", "never"])
def test_a_device_seen_again_apart_is_merged_into_its_first_place(fail_on):
    # complete, then failed, then failed again: merge_results is not associative, so the parts fold in order.
    parts = [CLEAN, PHONE, A_FAILED, IPHONE, A_FAILED, FAILED, A_PARTIAL, UNCOUNTED, UNCOUNTED, MDM_PHONE]
    text = check(make_report(fail_on=fail_on), parts)
    devices = json.loads(text)["devices"]
    assert [d["device"]["serial"] for d in devices] == ["CLEAN01", "1A2B3C4D", "00008110-001A", None, "Intune id 2f6c0a"]
    assert devices[0]["status"] == "partial" and devices[0]["app_count"] == 5


def test_clones_get_their_transport_in_finding_ids():
    a = part(PHONE, device=replace(PHONE.device, transport="usb:1-1"))
    b = part(PHONE, device=replace(PHONE.device, transport="usb:1-2"))
    bare = part(CLEAN, device=replace(CLEAN.device, serial=PHONE.device.serial, transport=None), findings=(F_EXACT,))
    lone = part(IPHONE, device=replace(IPHONE.device, transport="usb:2-1"))
    quiet = part(CLEAN, device=replace(CLEAN.device, transport="usb:3-1"))
    for parts in ([a, CLEAN, b], [bare, lone, a], [lone, quiet, a, a, bare], [quiet, part(quiet, findings=(F_TIKTOK,))]):
        text = check(make_report(), parts)
        ids = [f["id"] for d in json.loads(text)["devices"] for f in d["findings"]]
        assert len(ids) == len(set(ids)) or parts[-1].device.transport == "usb:3-1"


def test_every_key_hash_colliding_changes_nothing(monkeypatch):
    monkeypatch.setattr(json_report, "_SEEN_BITS", 8)  # one byte: nearly every device looks seen before
    parts = [CLEAN, PHONE, A_FAILED, IPHONE, FAILED, A_PARTIAL, MDM_PHONE, AGGREGATE, UNCOUNTED]
    check(make_report(), parts)
    check(with_inventory(make_report()), [p for p in parts if p.device in {CLEAN.device, PHONE.device}])


POOL = [CLEAN, PHONE, A_FAILED, IPHONE, FAILED, A_PARTIAL, MDM_PHONE, AGGREGATE, UNCOUNTED,
        part(PHONE, device=replace(PHONE.device, transport="usb:1")),
        part(PHONE, device=replace(PHONE.device, transport="usb:2"), status="partial", reason="x", message="m"),
        part(CLEAN, device=DeviceInfo("ios", "CLEAN01", source="adb"))]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(POOL), max_size=12), st.sampled_from([8, 64, 1 << 25]),
       st.sampled_from(["prohibited", "review", "never"]))
def test_any_sequence_of_parts_is_the_same_bytes(monkeypatch, parts, bits, fail_on):
    monkeypatch.setattr(json_report, "_SEEN_BITS", bits)
    check(make_report(fail_on=fail_on), parts)


FLEET = (
    "platform,device,app_id,name,version\n"
    "android,A1,com.tencent.mm,WeChat,8.0\n"
    "android,A1,com.whatsapp,WhatsApp,2.24\n"
    "ios,I1,com.zhiliaoapp.musically,TikTok,33\n"
    "android,B2,com.android.chrome,Chrome,120\n"
    'android,"B2,broken\n'
    "android,A1,cn.wps.moffice_eng,WPS,18\n"
    "ios,I1,com.apple.Pages,Pages,14\n"
    "android,C3,com.whatsapp,WhatsApp,2.24\n"
)


@pytest.mark.parametrize("extra", [[], ["--inventory"], ["--fail-on", "review"]])
def test_the_cli_writes_the_same_report_spooled_or_whole(tmp_path, extra):
    """`--format json` alone is spooled; with a table beside it the report is held whole: the same JSON."""
    fleet = tmp_path / "fleet.csv"
    fleet.write_text(FLEET, encoding="utf-8")
    base = [sys.executable, "-m", "scanner", "scan", "--input", str(fleet), "--format", "json", *extra]
    alone = subprocess.run(base, capture_output=True, text=True, check=False)
    whole = subprocess.run([*base, "--output", f"table={tmp_path / 'report.txt'}"], capture_output=True, text=True,
                           check=False)
    assert alone.returncode == whole.returncode == 5  # findings, and a device with a line that could not be read
    assert _untimed(alone.stdout) == _untimed(whole.stdout)
    devices = json.loads(alone.stdout)["devices"]
    assert [d["device"]["serial"] for d in devices] == ["A1", "I1", "B2", "C3", None]  # None: the file's own
    assert devices[0]["app_count"] >= 2 and devices[2]["status"] != "complete"


def _untimed(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith(('  "started"', '  "finished"')))
