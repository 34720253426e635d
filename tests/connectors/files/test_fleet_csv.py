"""The fleet CSV reader never answers a false "clean" (issue 10, items 1, 4 and 9).

A row that cannot be read is charged to every device it may be a row of: the
device written on its own line when that cell is whole, the device of a row
hidden inside it (a carriage return or a tab where a line break was), and
every device of the file whose serial appears in it, even one whose rows
came before. When some of it cannot be told to any device, the file's own
result (no device) says so and the exit code is incomplete. Every such row's
text is still searched for whole catalog ids ("recovered" findings), and
harmless noise of copies made by hand (a BOM, CRLF, spaces after a closing
quote) costs no app.

Every input is written to tmp_path as bytes: what is tested is exactly what is on disk.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from scanner import scan
from scanner.connectors.files import read_input
from scanner.model import EXIT_FINDINGS, EXIT_FINDINGS_INCOMPLETE, EXIT_INCOMPLETE, Inventory, Report

HEAD = "platform,device,app_id\n"
WIDE = "platform,device,app_id,name,version,build,installer,team_id\n"


def write(tmp_path: Path, data: str | bytes, name: str = "fleet.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def read(tmp_path: Path, data: str | bytes) -> list[Inventory]:
    return list(read_input(str(write(tmp_path, data))))


def scanned(tmp_path: Path, data: str | bytes) -> tuple[Report, dict]:
    """The report of a scan of `data` with the default policies, and its results by serial (None: the file)."""
    report = scan([str(write(tmp_path, data))])
    results = {r.device.serial: r for r in report.results}
    assert len(results) == len(report.results), "one result per device: the audit merges a device's parts"
    return report, results


def found(result) -> set[tuple[str, str]]:
    return {(f.app.id, f.match) for f in result.findings}


# --- item 1: a file cut off mid-line -------------------------------------------------------------------


def test_a_last_line_cut_inside_its_device_cell_leaves_every_device_it_may_be_incomplete(tmp_path):
    # "android,A" may be the start of a row of A1 (or of a device not in the file): not a device "A".
    report, results = scanned(tmp_path, HEAD + "android,A1,com.google.android.gm\nandroid,A")
    assert set(results) == {"A1", None}
    assert results["A1"].status == "partial" and results["A1"].app_count == 1
    assert any("device cell 'A'" in p for p in results["A1"].problems)
    assert results[None].status == "partial" and "any device whose serial begins so" in results[None].problems[0]
    assert report.exit_code == EXIT_INCOMPLETE


def test_a_cut_device_cell_charges_the_devices_its_start_fits_not_the_one_before_it(tmp_path):
    data = HEAD + "android,B1,com.a\nandroid,B2,com.b\nandroid,A1,com.c\nandroid,B"
    report, results = scanned(tmp_path, data)
    assert results["B1"].status == results["B2"].status == "partial"  # "B" may be B1's or B2's row
    assert results["A1"].status == "complete"  # its cell is not the start of "B"; it only came last
    assert results[None].status == "partial" and report.exit_code == EXIT_INCOMPLETE


def test_a_last_line_cut_before_its_device_cell_may_be_any_devices(tmp_path):
    report, results = scanned(tmp_path, HEAD + "android,A1,com.a\nios,I1,com.b\nandr")
    assert results[None].status == "partial" and "any device" in results[None].message
    assert results["I1"].status == "partial" and results["I1"].reason == "truncated"  # the last run, most likely
    assert report.exit_code == EXIT_INCOMPLETE


def test_a_last_line_cut_after_its_device_cell_is_that_devices(tmp_path):
    report, results = scanned(tmp_path, HEAD + "android,A1,com.a\nandroid,B1,com.tencent.m")
    assert set(results) == {"A1", "B1"}  # whose row it is is known: no doubt on the file
    assert results["A1"].status == "complete"
    assert results["B1"].status == "partial" and results["B1"].reason == "truncated"
    assert report.exit_code == EXIT_INCOMPLETE


@pytest.mark.parametrize("column, value", [
    ("version", "8.0.50\x00\x00\x00\x00"),  # NUL padding after a crash
    ("installer", "com.android.vending\x1b[0m"),
    ("team_id", "88L2Q4487U\x00"),
    ("name", "WeChat\x1b]0;owned\x07"),
    ("build", "2280\x7f"),
    ("version", "8.0\x85"),  # a C1 control
    ("name", "We\x0bChat"),
])
def test_a_control_character_in_any_value_makes_the_row_a_bad_line_whose_app_is_still_found(tmp_path, column,
                                                                                              value):
    cells = {"platform": "android", "device": "A1", "app_id": "com.tencent.mm", "name": "WeChat",
             "version": "8.0.50", "build": "2280", "installer": "com.android.vending", "team_id": ""}
    cells[column] = value
    row = ",".join(cells[c] for c in WIDE.strip().split(","))
    data = WIDE + "android,A1,com.google.android.gm,Gmail,1,1,,\n" + row + "\n"
    report, results = scanned(tmp_path, data)
    device = results["A1"]
    assert device.status == "partial" and device.app_count == 1
    assert device.problems[0].startswith(f"line 3: {column} ") and "control character" in device.problems[0]
    assert found(device) == {("com.tencent.mm", "recovered")}
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_a_line_break_in_a_quoted_name_alone_is_still_a_name(tmp_path):
    inv, = read(tmp_path, HEAD.strip() + ',name\nandroid,A1,com.a,"Two\r\nlines"\n')
    assert inv.status == "complete" and inv.apps[0].name == "Two\r\nlines"


# --- item 4: a column given twice; the header again -----------------------------------------------------


@pytest.mark.parametrize("header, twice", [
    ("platform,device,app_id,app_id", "'app_id'"),
    ("platform,device,app_id,APP_ID", "'APP_ID'"),
    ("Platform,device,app_id,platform", "'platform'"),
    ("platform,device,Device,app_id", "'Device'"),
    ("platform,device,app_id,name,Name", "'Name'"),
])
def test_a_header_that_gives_a_column_twice_is_refused_and_its_text_still_searched(tmp_path, header, twice):
    data = f"{header}\n" + "android,A1,com.tencent.mm,com.google.android.gm,x\n"
    report, results = scanned(tmp_path, data)
    (result,) = results.values()
    assert result.status == "failed" and result.reason == "bad-header" and result.app_count == 0
    assert f"the header gives the column {twice} more than once" in result.message
    assert ("com.tencent.mm", "recovered") in found(result)
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_empty_column_names_from_a_spreadsheet_are_not_columns_given_twice(tmp_path):
    inv, = read(tmp_path, "platform,device,app_id,,\nandroid,A1,com.a,,\n")
    assert inv.status == "complete" and [a.id for a in inv.apps] == ["com.a"]


@pytest.mark.parametrize("again", ["platform,device,app_id", "\ufeffplatform,device,app_id",
                                   '"Platform","Device","App_ID"', "device,platform,app_id,name"])
def test_the_header_again_in_the_middle_is_a_bad_line_not_an_app(tmp_path, again):
    data = HEAD + f"android,A1,com.a\n{again}\nandroid,A1,com.b\n"
    report, results = scanned(tmp_path, data)
    assert set(results) == {"A1", None}  # no device called "device", no app called "app_id"
    assert results["A1"].app_count == 2
    assert results[None].status == "partial" and results[None].problems[0].startswith("line 3: the header line again")
    assert report.exit_code == EXIT_INCOMPLETE


# --- item 9: a row that cannot be read is charged to every device it may be a row of ----------------------


@pytest.mark.parametrize("sep", ["\r", "\t"])
def test_a_row_hidden_behind_a_carriage_return_or_tab_is_charged_to_the_device_it_names(tmp_path, sep):
    data = HEAD + f"android,A1,com.google.android.gm{sep}ios,IPH1,com.tencent.xin\n"
    report, results = scanned(tmp_path, data)
    assert results["A1"].status == results["IPH1"].status == "failed"
    assert found(results["IPH1"]) == {("com.tencent.xin", "recovered")}
    assert found(results["A1"]) == set()  # WeChat's row names IPH1: it is not charged to A1
    # Neither serial has a row read anywhere else, so either may be another device's, damaged: the file says so.
    assert results[None].status == "partial" and "may be any device's serial" in results[None].problems[0]
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


@pytest.mark.parametrize("sep", ["\r", "\t"])
def test_a_row_hidden_in_a_line_of_devices_read_elsewhere_is_charged_to_them_alone(tmp_path, sep):
    data = HEAD + (
        "android,A1,com.android.chrome\n"
        f"android,A1,com.google.android.gm{sep}ios,IPH1,com.tencent.xin\n"
        "ios,IPH1,com.apple.mobilesafari\n"
    )
    report, results = scanned(tmp_path, data)
    assert results["A1"].status == results["IPH1"].status == "partial"
    assert found(results["IPH1"]) == {("com.tencent.xin", "recovered")} and found(results["A1"]) == set()
    assert None not in results  # every part of the line was told to a device of the file
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


@pytest.mark.parametrize("sep", ["\r", "\t"])
def test_a_hidden_row_reaches_its_device_also_when_that_device_was_already_read(tmp_path, sep):
    data = HEAD + (
        "ios,IPH1,com.apple.mobilesafari\n"  # IPH1's run ends (and is yielded) before the bad line
        f"android,A1,com.google.android.gm{sep}ios,IPH1,com.tencent.xin\n"
        "android,A1,com.android.chrome\n"
        "ios,IPH1,com.apple.Maps\n"
    )
    report, results = scanned(tmp_path, data)
    assert results["IPH1"].status == "partial" and results["IPH1"].app_count == 2
    assert found(results["IPH1"]) == {("com.tencent.xin", "recovered")}
    assert results["A1"].status == "partial"
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


@pytest.mark.parametrize("bad, where", [
    ("android,A1,com.google.android.gm,IPH1\n", "after"),  # a column too many, that names IPH1
    ('android,A1,"com.google.android.gm,IPH1\n', "after"),  # a quote never closed
    ("android,A1,com.google.android.gm,IPH1\n", "before"),
])
def test_a_device_whose_serial_appears_in_a_line_that_cannot_be_read_is_never_complete(tmp_path, bad, where):
    iph1 = "ios,IPH1,com.apple.mobilesafari\n"
    data = HEAD + (iph1 if where == "before" else "") + bad + (iph1 if where == "after" else "")
    if where == "after" and bad.count('"') == 1:
        data = HEAD + iph1 + bad  # a quote never closed swallows the rest: IPH1's rows come first
    report, results = scanned(tmp_path, data)
    assert results["IPH1"].status == "partial"
    assert any("holds this device's serial" in p for p in results["IPH1"].problems)
    assert report.exit_code == EXIT_INCOMPLETE


def test_rows_joined_without_a_separator_make_the_file_incomplete(tmp_path):
    # Room for two rows, and no sign where the second begins: its device cannot be told.
    report, results = scanned(tmp_path, HEAD + "android,A1,com.google.android.gmios,IPH1,com.tencent.xin\n")
    assert results["A1"].status == "failed"
    assert results[None].status == "partial" and "more than one row" in results[None].problems[0]
    assert ("com.tencent.xin", "recovered") in found(results[None])  # an iOS id: not A1's, an Android phone
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_a_bad_row_whose_device_cannot_be_told_at_all_makes_the_file_incomplete(tmp_path):
    data = HEAD + "android,A1,com.a\n\x00\x00\x00com.tencent.mm\nandroid,A2,com.b\n"
    report, results = scanned(tmp_path, data)
    assert results["A1"].status == results["A2"].status == "complete"
    assert results[None].status == "partial" and "treat every device in it as possibly incomplete" in \
        results[None].message
    assert found(results[None]) == {("com.tencent.mm", "recovered")}
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


# --- never drop evidence ---------------------------------------------------------------------------------


@pytest.mark.parametrize("header, row", [
    (HEAD, "windows,A1,com.tencent.mm\n"),  # a platform that is not one
    (HEAD, "android,,com.tencent.mm\n"),  # no device: the file's
    (HEAD, "android,A1,com.tencent.mm\x00\n"),
    (HEAD, "android,A1,com.tencent.mm;\n"),  # not an id as it stands
    (HEAD, 'android,A1,"com.tencent.mm"x\n'),  # a quoted value followed by text
    (HEAD, 'android,A1,"com.tencent.mm\n'),  # a quote never closed
    ("platform,device,app_id,user\n", "android,A1,com.tencent.mm,ten\n"),
    ("platform,device,app_id,state\n", "android,A1,com.tencent.mm,exploded\n"),
    ("platform,device,app_id,name\n", "android,A1,com.tencent.mm,Caf\xe9\n"),  # not UTF-8
    ("platform,device,app_id,name\n", "android,A1,com.tencent.mm\n"),  # a column short
    ("platform,device,app_id,name\n", 'android,A1,com.a,"x\nandroid,A1,com.tencent.mm,WeChat\n'),  # swallowed
    (HEAD, "android,A1,com.tencent.mm"),  # cut: read, and the run is partial
])
def test_every_row_that_cannot_be_read_is_still_searched_for_prohibited_ids(tmp_path, header, row):
    data = header.encode() + b"android,A1,com.google.android.gm" + b"," * header.count(",", 23) + b"\n"
    data += row.encode("latin-1") if "\xe9" in row else row.encode()
    report, results = scanned(tmp_path, data)
    assert any(("com.tencent.mm", m) in found(r) for r in results.values() for m in ("recovered", "exact"))
    assert all(r.status != "complete" for r in results.values() if r.findings)
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


def test_lines_swallowed_by_a_quote_are_searched_too(tmp_path):
    data = HEAD.strip() + ",name\nandroid,A1,com.a,\"x\nandroid,B1,com.tencent.mm,WeChat\n"
    report, results = scanned(tmp_path, data)
    assert ("com.tencent.mm", "recovered") in found(results["B1"])  # its line names its device
    assert results[None].status == "partial"  # and the swallowed line could have been any device's
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE


# --- harmless noise costs no app --------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    b'\xef\xbb\xbfplatform,device,app_id,name\r\nandroid,A1,"com.tencent.mm"  ,"WeChat"   \r\n',
    b'platform,device,app_id,name\nandroid,A1,"com.tencent.mm","We\nChat"  \n',
    b"platform,device,app_id,name\r\nandroid , A1 , com.tencent.mm , WeChat \r\n",
    b"platform,device,app_id,name\nandroid,A1,com.tencent.mm,WeChat\t\n",  # a tab around a value is a blank
    b"platform,device,app_id\nandroid,A1,com.google.android.gm\n\xef\xbb\xbfandroid,A1,com.tencent.mm\n",  # joined
])
def test_harmless_noise_costs_no_app(tmp_path, data):
    report, results = scanned(tmp_path, data)
    device = results["A1"]
    assert device.status == "complete", device.problems
    assert ("com.tencent.mm", "exact") in found(device)
    assert report.exit_code == EXIT_FINDINGS


# --- the fast path: blocks of lines, and what crosses their edges ----------------------------------------


def test_line_numbers_and_records_survive_the_edges_of_the_blocks_read(tmp_path):
    rows = [f"android,A1,com.example.app{i},App {i}\n" for i in range(6000)]
    rows[1500] = 'android,A1,com.multi,"a name\nover two lines"\n'  # near where a block of 32 KiB ends
    rows[2999] = "android,A1,com.tencent.mm\x00,WeChat\n"
    rows[4000] = "android,A1,com.crlf,CRLF\r\n"
    inv, = read(tmp_path, "platform,device,app_id,name\n" + "".join(rows))
    assert len(inv.apps) == 5999 and inv.apps[1500].name == "a name\nover two lines"
    assert inv.problems == ("line 3002: app_id 'com.tencent.mm\\x00' holds whitespace or a control character, so "
                            "it is not a real package name or bundle id",)
    assert inv.apps[3999].id == "com.crlf" and inv.apps[3999].name == "CRLF"


def test_a_read_error_loses_no_line_handed_out_before_it():
    data = (HEAD + "".join(f"android,A,com.app{i}\n" for i in range(20_000))).encode()

    class Failing(io.RawIOBase):
        pos = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            if self.pos >= 100_000:
                raise OSError(5, "Input/output error")
            n = min(len(buffer), 4096, len(data) - self.pos)
            buffer[:n] = data[self.pos:self.pos + n]
            self.pos += n
            return n

    device, rest = read_input("f.csv", io.BufferedReader(Failing(), buffer_size=4096))
    assert device.status == "partial" and device.reason == "read-error"
    stopped = int(device.message.split("reading stopped at line ")[1].split(" ")[0])
    assert len(device.apps) == stopped - 2  # every line before the one it stopped at (after the header)
    assert rest.reason == "read-error"


# --- the CLI ---------------------------------------------------------------------------------------------


def test_the_cli_reports_a_hidden_row_on_its_own_device_and_exits_incomplete_with_findings(tmp_path):
    path = write(tmp_path, HEAD + "android,A1,com.google.android.gm\rios,IPH1,com.tencent.xin\n")
    out = subprocess.run([sys.executable, "-m", "scanner", "scan", "-i", str(path), "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == EXIT_FINDINGS_INCOMPLETE, out.stderr
    devices = {d["device"]["serial"]: d for d in json.loads(out.stdout)["devices"]}
    assert {s: d["status"] for s, d in devices.items()} == {"A1": "failed", "IPH1": "failed", None: "partial"}
    assert [(f["app"]["id"], f["matched_by"]) for f in devices["IPH1"]["findings"]] == [
        ("com.tencent.xin", "recovered")]


@pytest.mark.parametrize("damaged", [
    "androidyR58M123ABC,com.tencent.mm,WeChat\n",  # the comma after the platform lost: the row shifts left
    "android,R58M123ABCocom.tencent.mm,WeChat\n",  # the comma after the serial lost
    "android,R58M123,ABC,com.tencent.mm,WeChat\n",  # a comma inside the serial: "R58M123" is no device
])
def test_a_row_whose_device_cell_is_damaged_is_charged_to_the_device_its_serial_names(tmp_path, damaged):
    data = "platform,device,app_id,name\n" + (
        "android,R58M123ABC,com.google.android.gm,Gmail\n" + damaged + "android,R58M123ABC,com.android.chrome,Chrome\n"
        "android,emulator-5554,com.whatsapp,WhatsApp\n")
    report, results = scanned(tmp_path, data)
    assert results["R58M123ABC"].status == "partial" and results["R58M123ABC"].app_count == 2
    assert results["emulator-5554"].status == "complete"
    assert report.exit_code in (EXIT_INCOMPLETE, EXIT_FINDINGS_INCOMPLETE)


@pytest.mark.parametrize("serial", ["A1\u200b", "A1\x00", "A1\x1b[0m", "\ufeffA1"])
def test_a_serial_with_a_control_or_format_character_is_never_a_device_of_its_own_alone(tmp_path, serial):
    data = HEAD + f"android,A1,com.google.android.gm\nandroid,{serial},com.tencent.mm\nandroid,B2,com.whatsapp\n"
    report, results = scanned(tmp_path, data)
    assert results["A1"].status == "partial"  # "A1" followed by what no serial holds: may be A1's row
    assert results["B2"].status == "complete"
    assert results[None].status == "partial" and any("its serial damaged" in p for p in results[None].problems)
    assert any(("com.tencent.mm", "recovered") in found(r) for r in results.values())
    assert report.exit_code == EXIT_FINDINGS_INCOMPLETE
