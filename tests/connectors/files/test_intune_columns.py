"""Intune's Discovered-apps reports as JSON ({"columns": [...], "values": [...]}): row objects and row arrays,
read like the CSV form; damaged rows counted with their strings kept, never a false "clean"."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.connectors.files import read_input
from scanner.model import NOT_CHECKED, App, Inventory

COLUMNS = ["ApplicationKey", "ApplicationName", "ApplicationVersion", "DeviceId", "Platform"]


def read(doc: object, name: str = "AppInvRawData_1.json", bom: bool = False) -> list[Inventory]:
    data = json.dumps(doc).encode()
    return list(read_input(name, io.BytesIO(b"\xef\xbb\xbf" + data if bom else data)))


@pytest.mark.parametrize("bom", [False, True])
def test_row_objects_as_the_note_gives_them(bom):
    doc = {"columns": COLUMNS, "values": [
        {"ApplicationKey": "9b1f", "ApplicationName": "TikTok", "ApplicationVersion": "38.1.0",
         "DeviceId": "2f6c", "Platform": "iOS"},
        {"ApplicationKey": "41d0", "ApplicationName": "com.tencent.mm", "ApplicationVersion": "8.0.50",
         "DeviceId": "9d8e", "Platform": "Android"}]}
    first, second = read(doc, bom=bom)
    assert first.device.serial == "Intune id 2f6c" and first.apps == (App("ios", "TikTok", "TikTok", "38.1.0",
                                                                          "38.1.0", evidence="name"),)
    assert second.device.platform == "android" and second.apps[0].id == "com.tencent.mm"
    assert {first.reason, second.reason} == {"mdm-scope"}


def test_row_arrays_in_column_order_and_numbers():
    doc = {"columns": ["ApplicationName", "DeviceCount", "Platform"],
           "values": [["TikTok", 3, "iOS"], ["Edge", 9, "Windows"]]}
    [inv] = read(doc, "AppInvAggregate.json")
    assert inv.reason == "aggregate" and [(a.id, a.devices) for a in inv.apps] == [("TikTok", 3)]


def test_keys_of_row_objects_are_matched_without_case_and_extras_ignored():
    doc = {"columns": COLUMNS, "values": [{"applicationname": "Maps", "DEVICEID": "d1", "Platform": "iPadOS",
                                           "Other": [1, 2]}]}
    [inv] = read(doc)
    assert inv.apps[0].id == "Maps" and inv.device.platform == "ios"


def test_a_desktop_row_is_not_checked():
    [inv] = read({"columns": COLUMNS, "values": [["k", "WPS Office", "12", "w1", "Windows"]]})
    assert inv.reason == NOT_CHECKED and inv.device.platform == "windows"


@pytest.mark.parametrize("bad", [42, "row", ["k", {"x": 1}, "1", "d2", "iOS"], ["k", "TooShort"],
                                 ["k", "X", "1", "d2", "iOS", "extra"]])
def test_bad_rows_are_counted_and_searched(bad):
    doc = {"columns": COLUMNS, "values": [["k", "Maps", "1", "d1", "iOS"], bad, ["k", "com.tencent.mm", "1", "", "x"]]}
    invs = read(doc)
    [orphan] = [i for i in invs if i.device.serial is None]
    assert orphan.status == "partial" and orphan.problem_count == 2 and "com.tencent.mm" in orphan.residue


def test_no_rows_is_failed_and_values_not_a_list_is_failed():
    [inv] = read({"columns": COLUMNS, "values": []})
    assert inv.status == "failed" and inv.reason == "empty"
    [inv] = read({"columns": COLUMNS, "values": {"com.tencent.mm": 1}})
    assert inv.status == "failed" and "com.tencent.mm" in inv.residue


def test_a_key_twice_in_a_row_is_a_bad_record():
    data = (b'{"columns": ["ApplicationName", "DeviceId", "Platform"], "values": ['
            b'{"ApplicationName": "Maps", "DeviceId": "d1", "Platform": "iOS"},'
            b'{"ApplicationName": "com.tencent.mm", "ApplicationName": "Maps", "DeviceId": "d1", "Platform": "iOS"}]}')
    invs = list(read_input("r.json", io.BytesIO(data)))
    [orphan] = [i for i in invs if i.device.serial is None]
    assert orphan.problem_count == 1 and "com.tencent.mm" in orphan.residue


def test_other_columns_documents_are_not_claimed():
    [inv] = read({"columns": ["Name", "Serial"], "values": [["a", "b"]]})
    assert inv.status == "failed" and inv.reason != "mdm-scope"


_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                      lambda c: st.lists(c, max_size=5) | st.dictionaries(st.sampled_from(COLUMNS), c, max_size=5),
                      max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_VALUE, max_size=6))
def test_arbitrary_values_never_raise_and_never_complete(values):
    invs = read({"columns": COLUMNS, "values": values})
    assert invs and all(i.status != "complete" for i in invs)
