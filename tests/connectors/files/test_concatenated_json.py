"""JSON documents one after another in one file (`curl ... >> pages.json`): read as the JSON array of those
documents, the way a page set saved with `jq -s` is; text after the last whole document is a failed result
of its own, its text searched, and what came before it still read. One document reads exactly as before.
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scanner
from scanner.audit import run
from scanner.connectors.files import FileConnector, read_input
from scanner.matcher import Matcher
from scanner.model import DeviceResult, Inventory


@cache
def matcher() -> Matcher:
    return Matcher(scanner.load_signatures(), None)


def read(data: str | bytes, name: str = "pages.json") -> list[Inventory]:
    return list(read_input(name, io.BytesIO(data.encode() if isinstance(data, str) else data)))


def audited(data: str, name: str = "pages.json") -> list[DeviceResult]:
    stream = io.BytesIO(data.encode())
    return list(run([FileConnector(name, stream)], matcher(), inventory=True, inputs=(name,)).results)


def found(results: list[DeviceResult]) -> set[tuple[str | None, str, str]]:
    return {(r.device.serial, f.app.id, f.match) for r in results for f in r.findings}


def ids(inv: Inventory) -> list[str]:
    return [a.id for a in inv.apps]


def page(total: int, *records: Any) -> dict[str, Any]:
    return {"totalCount": total, "results": list(records)}


def record(jamf_id: str, *bundle_ids: str) -> dict[str, Any]:
    return {"mobileDeviceId": jamf_id, "deviceType": "iOS", "applications": [
        {"identifier": b, "name": "App", "version": "1", "shortVersion": "1.0"} for b in bundle_ids]}


P1 = json.dumps(page(2, record("1", "com.apple.Pages")), indent=2)
P2 = json.dumps(page(2, record("2", "com.tencent.xin")), indent=2)
ONE = json.dumps(page(1, record("1", "com.apple.Pages")), indent=2)  # a page set of one page


def test_pages_appended_with_and_without_a_line_break_read_as_the_array_of_them():
    as_array = read(json.dumps([json.loads(P1), json.loads(P2)]))
    assert [i.device.serial for i in as_array] == ["Jamf id 1", "Jamf id 2"]
    for text in (P1 + P2, P1 + "\n" + P2, P1 + "\r\n\r\n\t " + P2 + "\n\n", "\n\n" + P1 + "  " + P2):
        assert read(text) == as_array
    assert found(audited(P1 + P2)) == {("Jamf id 2", "com.tencent.xin", "exact")}


def test_a_missing_page_of_appended_pages_still_adds_the_failed_result_for_it():
    invs = read(P1 + json.dumps(page(3, record("2", "com.tencent.xin"))))
    assert [i.status for i in invs] == ["partial", "partial", "failed"] and invs[-1].reason == "truncated"


def test_text_after_the_last_whole_page_is_a_failed_result_and_the_pages_before_it_are_read():
    cut = P2[: P2.index("com.tencent.xin") + 20]
    invs = read(ONE + "\n" + cut)
    assert [i.device.serial for i in invs] == ["Jamf id 1", None]
    device, rest = invs
    assert device.status == "partial" and device.reason == "mdm-scope" and ids(device) == ["com.apple.Pages"]
    line = ONE.count("\n") + 2
    assert rest.status == "failed" and rest.reason == "bad-json" and rest.device.source == "pages.json"
    assert rest.message.startswith(f"pages.json line {line + cut.count(chr(10))} column ")
    assert f"document 2, which begins on line {line}, is not valid JSON (" in rest.message
    assert "the whole document before it was read, and nothing after it" in rest.message
    assert rest.residue == ("com.tencent.xin",)  # its text searched: only the rest, not the page before it
    assert found(audited(ONE + "\n" + cut)) == {(None, "com.tencent.xin", "recovered")}


def test_garbage_after_several_documents_names_the_document_it_is():
    invs = read(P1 + P2 + "\nerror: curl: (56) Recv failure com.zhiliaoapp.musically\n")
    assert [i.device.serial for i in invs] == ["Jamf id 1", "Jamf id 2", None]
    assert "document 3, which begins on line" in invs[-1].message
    assert "the 2 whole documents before it were read" in invs[-1].message
    assert invs[-1].residue == ("com.zhiliaoapp.musically",)


def test_one_document_reads_exactly_as_before():
    (inv,) = read(ONE)
    assert inv.device.serial == "Jamf id 1" and inv.reason == "mdm-scope"
    (bad,) = read(ONE[:-3])
    assert bad.status == "failed" and bad.reason == "bad-json"
    assert bad.message.startswith("pages.json line ") and "not valid JSON (" in bad.message
    assert "the file was cut short or edited: export or save it again" in bad.message


def test_documents_no_reader_knows_are_unknown_format_and_their_text_searched():
    (inv,) = read('{"a": "com.tencent.xin"}\n{"b": 2}')
    assert inv.status == "failed" and inv.reason == "unknown-format"
    assert "holds JSON that is a list" in inv.message and inv.residue == ("com.tencent.xin",)


def test_a_device_read_whole_before_damaged_text_is_never_complete():
    whole = json.dumps({"packageName": "x"})  # no reader's: unknown-format, failed as ever
    (unknown, rest) = read(whole + "{")
    assert unknown.reason == "unknown-format" and rest.reason == "bad-json"
    listing = (Path(__file__).parents[2] / "data" / "inputs" / "pymobiledevice3-apps-list.json").read_text()
    (alone,) = read(listing)
    assert alone.status == "complete"  # pymobiledevice3 lists every app
    cut_after, rest = read(listing + "\n{cut")
    assert cut_after.apps == alone.apps and cut_after.status == "partial" and cut_after.reason == "bad-json"
    assert "the text after the last whole document is damaged" in cut_after.message and rest.reason == "bad-json"
    detail = json.dumps({"id": "7", "name": "iPhone 7", "serialNumber": "SN7", "type": "ios",
                         "ios": {"model": "iPhone 15", "applications": [
                             {"identifier": "com.apple.Pages", "name": "Pages", "version": "1", "shortVersion": "1"}]}})
    read_alone = read(detail)
    device, rest = read(detail + "\n]")
    assert rest.reason == "bad-json"
    assert device.apps == read_alone[0].apps and device.status == "partial"


def test_a_number_too_long_in_a_later_document_fails_the_rest_only():
    invs = read(ONE + "\n" + "1" * 5000)
    assert [i.device.serial for i in invs] == ["Jamf id 1", None]
    assert invs[-1].reason == "bad-json" and "document 2" in invs[-1].message


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                     max_leaves=8)
_DOC = st.one_of(st.dictionaries(st.text(max_size=5), _JSON, max_size=3),
                 st.builds(lambda ids: page(len(ids), *(record(str(n), i) for n, i in enumerate(ids))),
                           st.lists(st.sampled_from(["com.tencent.xin", "com.apple.Pages", "bad id"]), max_size=3)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_DOC, min_size=2, max_size=4), st.lists(st.sampled_from(["", " ", "\n", "\r\n", "\t"]),
                                                        min_size=4, max_size=4))
def test_appended_documents_read_as_their_array_and_never_raise(docs, gaps):
    text = "".join(json.dumps(d) + gap for d, gap in zip(docs, gaps, strict=False))
    assert read(text) == read(json.dumps(docs))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_DOC, min_size=1, max_size=3), st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40))
def test_any_text_after_whole_documents_never_raises_and_the_rest_is_never_complete(docs, tail):
    text = "".join(json.dumps(d) for d in docs) + tail
    invs = read(text)
    assert invs
    rest = tail.lstrip(" \t\r\n")
    if rest and rest[0] not in '-0123456789"[{tfn':  # what follows cannot begin a document: failed, alone
        assert invs[-1].status == "failed" and invs[-1].reason == "bad-json"
        assert invs[-1].device.serial is None and all(i.status != "complete" for i in invs)


def test_damaged_text_after_the_pages_keeps_an_mdm_device_unproven_even_when_its_scope_is_accepted():
    text = json.dumps(page(1, record("1", "com.apple.Pages"))) + "\n{\"totalCount\": 1, \"resu"
    report = run([FileConnector("pages.json", io.BytesIO(text.encode()))], matcher(), accept_scopes=("mdm",))
    device = next(r for r in report.results if r.device.serial == "Jamf id 1")
    assert device.status == "partial"
    assert any(not s.read and "after the last whole document" in (s.reason or "") for s in device.coverage)
    assert report.exit_code == 4


def test_a_bare_value_after_a_page_is_damaged_text_not_another_page():
    # Python's JSON decoder reads `Infinity`, `NaN` and bare numbers and strings; a page is never one.
    invs = read(json.dumps(page(1, record("1", "com.apple.Pages"))) + "\nInfinity")
    assert invs[-1].status == "failed" and invs[-1].reason == "bad-json"
    assert all(inv.status != "complete" for inv in invs)
