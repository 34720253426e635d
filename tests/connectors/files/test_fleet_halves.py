"""A large fleet CSV read in two halves, the second by a child process (fleet_csv/halves.py), gives the report of
the file read in one: byte for byte, wherever the split falls (inside a device's rows, between two parts of a
device repeated apart, just before a bad line, inside a quoted value that spans lines) and however the child ends
(it read to the end, stopped at a line it leaves to the reader, failed, or could not be started).

The files are small; the split threshold and the block sizes are made small to match, so that every example
crosses blocks, batches and the split."""

from __future__ import annotations

import io
import json
import os
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.audit import run
from scanner.connectors.files import FileConnector
from scanner.connectors.files.readers.fleet_csv import blocks, halves
from scanner.formats.json_report import write_json
from scanner.matcher import Matcher
from scanner.signatures import load_signatures

MOMENT = datetime(2025, 3, 1, tzinfo=UTC)
ALONE = halves._alone
HEADER = b"platform,device,app_id,name,version\n"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_signatures())


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(blocks, "_BLOCK", 64)
    monkeypatch.setattr(halves, "_BLOCK", 64)
    monkeypatch.setattr(halves, "_BATCH", 2)
    monkeypatch.setattr(halves, "_cpus", lambda: 2)
    monkeypatch.setattr(halves, "_alone", lambda: True)  # threads other tests of the session may leave running


class Taken:
    """The halves that were taken, and the lines their children read."""

    def __init__(self, monkeypatch) -> None:
        self.lines: list[int] = []
        take = halves.Half.take

        def counting(half):
            yield from take(half)
            self.lines.append(half.lines)

        monkeypatch.setattr(halves.Half, "take", counting)


def report(matcher: Matcher, path: Path, *, lean: bool = True, split: int | None = None) -> str:
    """The JSON report of `path`; `split`: the byte offset from which the split is looked for (None: no split)."""
    old = halves.SPLIT_BYTES, halves.split_near
    halves.SPLIT_BYTES = None if split is None else 0
    halves.split_near = lambda start, end: split
    try:
        conn = FileConnector(str(path), keep=matcher.knows, lean=matcher.may_find if lean else None)
        result = run([conn], matcher, inputs=("fleet.csv",), now=MOMENT, spooled=True)
        result = replace(result, started=MOMENT, finished=MOMENT)
        out = io.StringIO()
        write_json(result, out)
        result.spool.close()
    finally:
        halves.SPLIT_BYTES, halves.split_near = old
    return out.getvalue().replace(str(path), "fleet.csv")


def rows(devices: list[str], apps: int, start: int = 0) -> bytes:
    return b"".join(f"{'android' if d.startswith('A') else 'ios'},{d},com.example.app{i + start},App {i},1.0\n".encode()
                    for d in devices for i in range(apps))


def same_every_way(matcher: Matcher, path: Path, splits) -> str:
    whole = report(matcher, path, lean=False)
    assert report(matcher, path) == whole
    for split in splits:
        assert report(matcher, path, split=split) == whole, f"split looked for from byte {split}"
    return whole


def test_a_device_across_the_split_and_one_repeated_apart_read_in_halves(matcher, tmp_path, monkeypatch):
    data = HEADER + rows(["A1", "I1"], 12) + b"android,A1,com.tencent.mm,WeChat,8\n" + rows(["A2"], 30) \
        + rows(["A1"], 3, 50) + b"ios,I1,com.intsig.camscanner,CamScanner,1\n" + rows(["I2"], 10)
    path = tmp_path / "fleet.csv"
    path.write_bytes(data)
    taken = Taken(monkeypatch)
    whole = same_every_way(matcher, path, range(len(HEADER), len(data), 97))
    assert taken.lines and max(taken.lines) > 0  # the children did read
    assert '"serial": "A1"' in whole and whole.count('"catalog_app"') >= 2


def test_a_bad_line_in_the_second_half_keeps_its_number(matcher, tmp_path, monkeypatch):
    data = HEADER + rows(["A1"], 20) + b'android,A1,bad id!,X,1\n' + rows(["A2"], 5) + b"ios,I9,com.x\n" \
        + rows(["A3"], 5)
    path = tmp_path / "fleet.csv"
    path.write_bytes(data)
    taken = Taken(monkeypatch)
    whole = same_every_way(matcher, path, [len(HEADER) + 10, len(HEADER) + 400])
    assert "line 22: app_id" in whole and "line 28: expected 5 columns" in whole
    assert taken.lines and max(taken.lines) > 0


def test_a_quoted_value_open_across_the_split_is_read_by_the_reader(matcher, tmp_path, monkeypatch):
    data = HEADER + rows(["A1"], 5) + b'android,A1,com.example.q,"Two\nlines\n' + b"android,A1,x,y\n" * 20 \
        + b'more",1\n' + rows(["A2"], 30)
    path = tmp_path / "fleet.csv"
    path.write_bytes(data)
    taken = Taken(monkeypatch)
    same_every_way(matcher, path, [data.index(b"android,A1,x,y")])
    assert not taken.lines  # the split fell inside the quoted value: the child's lines were not taken


def test_an_export_that_quotes_every_value_is_read_in_halves_too(matcher, tmp_path, monkeypatch):
    def quoted(devices: list[str], apps: int) -> bytes:
        return b"".join(f'"{"android" if d.startswith("A") else "ios"}","{d}","com.example.app{i}","App, {i}","1"\n'
                        .encode() for d in devices for i in range(apps))

    data = HEADER + quoted(["A1", "I1"], 15) + b'"android","A1","com.tencent.mm","WeChat","8"\n' + quoted(["A2"], 20) \
        + b'"ios","I2","com.x","Two\nlines","1"\n' + quoted(["I2", "A1"], 10)
    path = tmp_path / "fleet.csv"
    path.write_bytes(data)
    taken = Taken(monkeypatch)
    whole = same_every_way(matcher, path, range(len(HEADER), len(data), 89))
    assert taken.lines and max(taken.lines) > 0
    status = {d["device"]["serial"]: d["status"] for d in json.loads(whole)["devices"]}
    assert status == {"A1": "complete", "I1": "complete", "A2": "complete", "I2": "complete"}  # two lines: a name


@pytest.mark.parametrize("spanning", [b'android,A1,com.example.a,"Na\nios,B2,com.tencent.mm,W,1\nme",1\n',
                                      b'android,"A\n1",com.example.a,N,1\n'], ids=["rows-in-a-name", "broken-device"])
def test_a_record_of_several_lines_of_the_width_of_a_row_is_the_row_loops(matcher, tmp_path, spanning):
    data = HEADER + rows(["A1", "B2"], 8) + spanning + rows(["A3"], 8)
    path = tmp_path / "fleet.csv"
    path.write_bytes(data)
    whole = same_every_way(matcher, path, [len(HEADER) + 5, len(HEADER) + 500])
    assert '"status": "partial"' in whole


def test_a_cut_last_line_and_an_undecodable_one_in_the_second_half(matcher, tmp_path):
    data = HEADER + rows(["A1", "I1"], 20) + b"android,A2,com.ex\xffample,X,1\n" + rows(["A2"], 5) + b"ios,I1,com.te"
    path = tmp_path / "fleet.csv"
    path.write_bytes(data)
    whole = same_every_way(matcher, path, range(len(HEADER), len(data), 211))
    assert "not valid UTF-8" in whole and "does not end with a line break" in whole


def test_no_fork_and_a_failed_child_read_the_file_in_one(matcher, tmp_path, monkeypatch):
    data = HEADER + rows(["A1", "I1", "A2"], 20) + b"android,A2,com.tencent.mm,WeChat,8\n"
    path = tmp_path / "fleet.csv"
    path.write_bytes(data)
    whole = report(matcher, path, lean=False)
    middle = len(data) // 2
    with monkeypatch.context() as m:
        m.setattr(os, "fork", lambda: (_ for _ in ()).throw(OSError("no fork")))
        assert report(matcher, path, split=middle) == whole

    def broken(*args):
        raise RuntimeError("the child breaks")

    taken = Taken(monkeypatch)
    monkeypatch.setattr(halves, "_read_half", broken)
    assert report(matcher, path, split=middle) == whole
    assert taken.lines == [0]  # taken, but nothing in it


def test_a_child_that_dies_half_way_leaves_the_batches_it_finished(matcher, tmp_path, monkeypatch):
    data = HEADER + rows(["A1", "I1", "A2", "I2", "A3"], 20) + b"android,A3,com.tencent.mm,WeChat,8\n"
    path = tmp_path / "fleet.csv"
    path.write_bytes(data)
    whole = report(matcher, path, lean=False)
    calls = []
    groups = halves.groups

    def dying(*args):
        calls.append(1)
        if len(calls) > 5:
            os._exit(3)  # in the child, after two batches of two blocks
        return groups(*args)

    taken = Taken(monkeypatch)
    monkeypatch.setattr(halves, "groups", dying)
    assert report(matcher, path, split=len(HEADER) + 100) == whole
    assert taken.lines and 0 < taken.lines[0] < data.count(b"\n") - 5


def test_a_stream_that_is_no_file_on_disk_is_not_split(matcher, monkeypatch):
    monkeypatch.setattr(halves, "SPLIT_BYTES", 0)
    src = type("Src", (), {"stream": io.BytesIO(b"x" * 100)})()
    assert halves.start(src, 5, (0, 1, 2, 3, 4), matcher.may_find) is None  # type: ignore[arg-type]


PLATFORMS = ["android", "ios", "Android", " ios", "\ufeffandroid", "pc", ""]
DEVICES = ["A1", "B2", "A1 ", "C3", "", "A1\u200b", "B"]
IDS = ["com.tencent.mm", "com.whatsapp", "com.example.a", "com.example.b", "com.tencent.xin.x", "Com.Tencent.MM",
       "com.intsig.camscanner", "bad id", "", " com.example.a"]
HOSTILE = [b"\n", b"\r\n", b"platform,device,app_id\n", b'android,A1,"com.tencent.mm",N,1\n',
           b'android,B2,com.example.a,"Na\nme",1\n', b'android,B2,com.example.a,"never closed,1\n',
           b"android,A1,com.example.a,N\x00,1\n", b"android,A1,com.example.a,N,1\rios,B2,com.tencent.mm,W,1\n",
           b"android,A1,com.example.a,N,1\tandroid,C3,com.tencent.mm,W,1\n", b"android,A1,com.ex\xffample.a,N,1\n",
           b"ios,B2,com.example.b,N\xc2\x85,1\n", b"android,A1\xe2\x80\xa8,com.example.a,N,1\n",
           b"android,A1,com.example.a\n", b"android,A1,com.example.a,N,1,extra\n", b"androidA1,com.tencent.mm,N,1\n",
           b'android,A1,com.example.a,"Na\nios,B2,com.tencent.mm,W,1\nme",1\n', b'android,"A\n1",com.example.a,N,1\n']

row = st.builds(lambda p, d, i, n: f"{p},{d},{i},{n},1\n".encode(), st.sampled_from(PLATFORMS),
                st.sampled_from(DEVICES), st.sampled_from(IDS), st.sampled_from(["N", "", " Name "]))
quoted_row = st.builds(lambda p, d, i, n: f'"{p}","{d}","{i}","{n}","1"\n'.encode(), st.sampled_from(PLATFORMS),
                      st.sampled_from(DEVICES), st.sampled_from(IDS), st.sampled_from(["N", "a, b", 'say ""hi""', "x\ny"]))
run_of = st.builds(lambda p, d, ids: b"".join(f"{p},{d},{i},N,1\n".encode() for i in ids),
                   st.sampled_from(["android", "ios"]), st.sampled_from(["A1", "B2", "C3", "D4"]),
                   st.lists(st.sampled_from(IDS[:7]), min_size=1, max_size=12))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(run_of, run_of, row, quoted_row, st.sampled_from(HOSTILE)), min_size=1, max_size=25),
       st.booleans(), st.lists(st.floats(0, 1), min_size=1, max_size=3))
def test_any_fleet_read_in_halves_gives_the_report_read_in_one(matcher, parts, cut, where):
    data = HEADER + b"".join(parts)
    if cut:
        data = data.rstrip(b"\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.csv"
        path.write_bytes(data)
        same_every_way(matcher, path, [len(HEADER) + int(f * (len(data) - len(HEADER))) for f in where])


def three_devices(matcher: Matcher, tmp_path: Path, monkeypatch) -> tuple[bytes, Path, Taken, str]:
    """A small fleet with one finding: its bytes, its path, the halves taken from now on, its report read in one."""
    data = HEADER + rows(["A1", "I1", "A2"], 20) + b"android,A2,com.tencent.mm,WeChat,8\n"
    path = tmp_path / "fleet.csv"
    path.write_bytes(data)
    taken = Taken(monkeypatch)
    return data, path, taken, report(matcher, path, lean=False)


def test_a_full_read_and_a_read_beside_other_threads_are_read_in_one(matcher, tmp_path, monkeypatch):
    import threading

    data, path, taken, whole = three_devices(matcher, tmp_path, monkeypatch)
    assert report(matcher, path, lean=False, split=len(data) // 2) == whole  # --inventory: every app kept, no split
    monkeypatch.setattr(halves, "_alone", ALONE)  # the real check of threads
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert report(matcher, path, split=len(data) // 2) == whole
    finally:
        stop.set()
        other.join()
    assert not taken.lines
    monkeypatch.setattr(halves, "_alone", lambda: True)  # as if the other tests of the session left none
    assert report(matcher, path, split=len(data) // 2) == whole
    assert taken.lines and taken.lines[0] > 0


def test_scanner_processes_1_reads_in_one_process(matcher, tmp_path, monkeypatch):
    data, path, taken, whole = three_devices(matcher, tmp_path, monkeypatch)
    with monkeypatch.context() as m:
        m.setenv(halves.ENV_ONE, "1")
        m.setattr(os, "fork", lambda: pytest.fail("forked with SCANNER_PROCESSES=1"))
        assert report(matcher, path, split=len(data) // 2) == whole
    assert not taken.lines
    monkeypatch.setenv(halves.ENV_ONE, "2")  # anything else: as usual
    assert report(matcher, path, split=len(data) // 2) == whole
    assert taken.lines and taken.lines[0] > 0


def test_a_reader_stopped_early_stops_its_child(matcher, tmp_path, monkeypatch):
    import signal
    import threading

    from scanner.connectors.files.common import lean_reading
    from scanner.connectors.files.connector import read_input

    data = HEADER + rows(["A1", "I1", "A2", "I2"], 20)
    path = tmp_path / "fleet.csv"
    path.write_bytes(data)
    monkeypatch.setattr(halves, "SPLIT_BYTES", 0)
    monkeypatch.setattr(halves, "_read_half", lambda *args: threading.Event().wait())  # the child never ends
    children: list[int] = []
    statuses: dict[int, int] = {}
    start, waitpid = halves.start, os.waitpid

    def starting(*args):
        half = start(*args)
        children.append(half.pid)
        return half

    def recording(pid, options):
        done, status = waitpid(pid, options)
        if done:
            statuses[done] = status
        return done, status

    monkeypatch.setattr(halves, "start", starting)
    monkeypatch.setattr(os, "waitpid", recording)
    with lean_reading(matcher.may_find):
        reading = read_input(str(path))
        first = next(reading)
        reading.close()
    assert first.device.serial == "A1"
    assert len(children) == 1
    assert os.WIFSIGNALED(statuses[children[0]]) and os.WTERMSIG(statuses[children[0]]) == signal.SIGKILL
