"""The device entries the JSON spool writes directly (json_report._plain_entry, the devices of an export with no
finding and no problem) are the text the encoder writes of device_to_dict, for any such result: hostile serials,
names and sources (quotes, backslashes, control and bidi characters, lone surrogates, non-ASCII), identities,
inventory dates, every status, coverage and count; and every other result (findings, problems, a value of another
type) is left to the encoder."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.formats.json_report import _plain_entry, device_to_dict
from scanner.model import App, DeviceInfo, DeviceResult, Finding, Report, Scope

ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": ")).encode
TEXT = st.one_of(st.none(), st.text(), st.sampled_from(['"', "\\", "\x00\x1b[0m", "\u202e", "\ud800", "é😀", ""]))


def head(fail_on: str) -> Report:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    return Report(tool="", version="", started=now, finished=now, policies=(), signature_files=(), results=(),
                  fail_on=fail_on, inventory_included=False)


scopes = st.builds(Scope, st.text(), st.booleans(), TEXT, st.one_of(st.none(), st.integers()))
results = st.builds(
    DeviceResult,
    device=st.builds(DeviceInfo, platform=st.sampled_from([None, "android", "ios"]), serial=TEXT, source=TEXT,
                     model=TEXT, os_version=TEXT, name=TEXT, transport=TEXT,
                     identity=st.lists(st.tuples(st.text(), st.text()), max_size=3).map(tuple),
                     inventoried=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)), st.datetimes())),
    status=st.sampled_from(["complete", "partial", "failed"]), reason=TEXT, message=TEXT,
    coverage=st.lists(scopes, max_size=3).map(tuple), findings=st.just(()),
    app_count=st.integers(0, 10**12), problems=st.just(()), problem_count=st.integers(-1, 10**6))


@settings(max_examples=300)
@given(results, st.sampled_from(["prohibited", "review", "never"]))
def test_a_plain_entry_is_what_the_encoder_writes(result, fail_on):
    entry = _plain_entry(result, fail_on)
    assert entry is not None
    assert entry == ENCODE(device_to_dict(result, head(fail_on)))


APP = App("android", "com.tencent.mm")
FINDING = Finding(app=APP, policy="p", policy_status="active", rule="r", listed="com.tencent.mm", relation="same",
                  catalog_app="WeChat", catalog_name="WeChat", match="exact", identifier="com.tencent.mm",
                  confidence="high", severity="prohibited", edition=None)


@given(results)
def test_any_other_result_is_left_to_the_encoder(result):
    from dataclasses import replace

    others = [
        replace(result, findings=(FINDING,)), replace(result, problems=("line 2: bad",)),
        replace(result, device=replace(result.device, model=5)),  # type: ignore[arg-type]
        replace(result, device=replace(result.device, identity=(("imei", 1),))),  # type: ignore[arg-type]
        replace(result, app_count=True), replace(result, app_count=1.0),
        replace(result, coverage=(Scope("records", 1),)),  # type: ignore[arg-type]
        replace(result, status=b"complete"),  # type: ignore[arg-type]
    ]
    for other in others:
        assert _plain_entry(other, "prohibited") is None
