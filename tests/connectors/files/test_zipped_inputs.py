"""ZIP inputs (the Intune admin center and export-jobs downloads, or any export zipped on the way): every
member read by the same path as a loose input, labelled "<zip>!<member>", and every way a ZIP can be hostile
or broken refused or reported, member by member, never extracted, never a false "clean".

The ZIPs are built here with zipfile, and damaged by editing their bytes (a flag bit, a declared size, a
flipped data byte, a cut), so that what is tested is exactly what a reader gets.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import tempfile
import types
import zipfile
from functools import cache

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import scanner
from scanner.audit import run
from scanner.connectors.files import FileConnector, read_input, zipped
from scanner.connectors.files import connector as file_connector
from scanner.matcher import Matcher
from scanner.model import DeviceResult, Inventory

WECHAT = "package:/data/app/~~a==/com.tencent.mm-b==/base.apk=com.tencent.mm versionCode:2280  installer=com.android.vending uid:10234"
CHROME = "package:/data/app/~~c==/com.android.chrome-d==/base.apk=com.android.chrome versionCode:1  installer=null uid:10100"
PM = f"{WECHAT}\n{CHROME}\n".encode()
PM_CLEAN = f"{CHROME}\n".encode()
FLEET_HEAD = "platform,device,app_id\n"


@cache
def matcher() -> Matcher:
    return Matcher(scanner.load_signatures(), None)


def make_zip(*members: tuple[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, (2024, 5, 1, 12, 0, 0))
            info.compress_type = method
            archive.writestr(info, data)
    return buf.getvalue()


def read(data: bytes, name: str = "export.zip") -> list[Inventory]:
    return list(read_input(name, io.BytesIO(data)))


def audited(data: bytes, name: str = "export.zip") -> list[DeviceResult]:
    return list(run([FileConnector(name, io.BytesIO(data))], matcher(), inventory=True, inputs=(name,)).results)


def found(results: list[DeviceResult]) -> set[tuple[str, str, str]]:
    return {(r.device.source, f.app.id, f.match) for r in results for f in r.findings}


def by_source(invs: list[Inventory]) -> dict[str, Inventory]:
    out = {inv.device.source: inv for inv in invs}
    assert len(out) == len(invs), [i.device.source for i in invs]
    return out


def ids(inv: Inventory) -> list[str]:
    return [a.id for a in inv.apps]


def directory_entries(data: bytes) -> dict[str, tuple[int, int]]:
    """member name -> (offset of its central directory entry, offset of its local header)."""
    out = {}
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        local = struct.unpack_from("<I", data, at + 42)[0]
        out[data[at + 46: at + 46 + name_len].decode("utf-8")] = (at, local)
        at = data.find(b"PK\x01\x02", at + 46 + name_len + extra_len + comment_len)
    return out


def data_offset(data: bytes, local: int) -> int:
    name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
    return local + 30 + name_len + extra_len


class Pipe(io.RawIOBase):
    """A stream that cannot seek, as stdin from a pipe."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self.data.readinto(buffer)


class CountingFile(io.BytesIO):
    """A seekable file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, n: int | None = -1) -> bytes:
        out = super().read(n)
        self.taken += len(out)
        return out


# --- what a ZIP holds ----------------------------------------------------------------------------


def test_a_zipped_pm_listing_is_read_as_the_loose_one_and_wechat_is_found_in_the_member():
    data = make_zip(("apps.txt", PM))
    (inv,) = read(data)
    (loose,) = read_input("apps.txt", io.BytesIO(PM))
    assert inv.device.source == "export.zip!apps.txt"
    assert (inv.status, inv.apps, inv.coverage) == (loose.status, loose.apps, loose.coverage) == (
        "complete", loose.apps, loose.coverage)
    assert ids(inv) == ["com.tencent.mm", "com.android.chrome"]
    assert found(audited(data)) == {("export.zip!apps.txt", "com.tencent.mm", "exact")}


def test_every_member_is_read_and_labelled_with_its_name_and_stored_members_too():
    fleet = (FLEET_HEAD + "android,A1,com.tencent.mm\nandroid,A2,com.android.chrome\n").encode()
    data = make_zip(("AppInv/one.txt", PM), ("fleet.csv", fleet), ("two.txt", PM_CLEAN), method=zipfile.ZIP_STORED)
    invs = read(data)
    assert [(i.device.source, i.device.serial, i.status) for i in invs] == [
        ("export.zip!AppInv/one.txt", None, "complete"), ("export.zip!fleet.csv", "A1", "complete"),
        ("export.zip!fleet.csv", "A2", "complete"), ("export.zip!two.txt", None, "complete")]
    assert found(audited(data)) == {("export.zip!AppInv/one.txt", "com.tencent.mm", "exact"),
                                    ("export.zip!fleet.csv", "com.tencent.mm", "exact")}


def test_the_zip_is_recognised_by_its_bytes_not_its_name():
    (inv,) = read(make_zip(("apps.txt", PM)), name="apps.txt")
    assert inv.device.source == "apps.txt!apps.txt" and inv.status == "complete"


def test_a_member_of_unknown_format_is_failed_and_its_text_still_searched():
    data = make_zip(("notes.txt", b"hello\nthe phone had com.tencent.mm on it\n"), ("apps.txt", PM_CLEAN))
    results = {r.device.source: r for r in audited(data)}
    assert results["export.zip!notes.txt"].status == "failed"
    assert found(list(results.values())) == {("export.zip!notes.txt", "com.tencent.mm", "recovered")}
    assert results["export.zip!apps.txt"].status == "complete"


def test_directories_and_the_finders_metadata_are_skipped_but_a_lookalike_is_read():
    data = make_zip(("AppInv/", b""), ("AppInv/apps.txt", PM_CLEAN), ("__MACOSX/", b""),
                    ("__MACOSX/AppInv/._apps.txt", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "),
                    ("AppInv/.DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(100)),
                    # named as metadata, but not metadata: read, and WeChat in it found
                    ("__MACOSX/._hidden.txt", PM), (".DS_Store", PM))
    invs = by_source(read(data))
    assert set(invs) == {"export.zip!AppInv/apps.txt", "export.zip!__MACOSX/._hidden.txt", "export.zip!.DS_Store"}
    assert all(i.status == "complete" for i in invs.values())
    assert {(s, a) for s, a, _ in found(audited(data))} == {("export.zip!__MACOSX/._hidden.txt", "com.tencent.mm"),
                                                             ("export.zip!.DS_Store", "com.tencent.mm")}


@pytest.mark.parametrize("data", [
    b"PK\x05\x06" + bytes(18),  # the empty ZIP
    make_zip(("AppInv/", b"")),  # only a folder
    make_zip(("__MACOSX/._a.txt", b"\x00\x05\x16\x07\x00\x02")),  # only the Finder's metadata
], ids=["no-members", "only-a-folder", "only-metadata"])
def test_a_zip_with_no_file_is_failed_never_clean(data):
    (inv,) = read(data)
    assert inv.status == "failed" and inv.reason == "empty" and inv.device.source == "export.zip"
    assert inv.message == "export.zip is a ZIP with no file in it, so no app was read; download the export again " \
                          "and rescan"


# --- names: read in memory, never extracted, never complete -------------------------------------


HOSTILE_NAMES = ["../../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "C:\\Windows\\evil.txt", "C:evil.txt",
                 "..\\..\\evil.txt", "evil\x1b[31m.txt", "evil\u202etxt.exe", "line\nbreak.txt"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_member_name_is_read_in_memory_flagged_and_nothing_is_written(name, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(work))  # a spool, were there one, would land here too
    monkeypatch.setattr(zipfile.ZipFile, "extract", None)  # would raise if called
    monkeypatch.setattr(zipfile.ZipFile, "extractall", None)
    data = make_zip((name, PM), ("good.txt", PM_CLEAN))
    flagged, good = read(data)
    assert flagged.device.source == f"export.zip!{name}"  # the name as data: escaping is the output formats' job
    assert flagged.status == "partial" and flagged.reason == "bad-member-name"
    assert ids(flagged) == ["com.tencent.mm", "com.android.chrome"]
    assert "so the ZIP is hostile or damaged" in flagged.message and "nothing is ever written" in flagged.message
    assert flagged.problems[0].startswith("the name of this file of the ZIP ")
    assert any(s.name == "archive" and not s.read for s in flagged.coverage)
    assert good.status == "complete"
    assert (f"export.zip!{name}", "com.tencent.mm", "exact") in found(audited(data))
    assert list(work.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["cwd"]


def test_a_nul_in_a_member_name_is_kept_whole_and_flagged():
    data = make_zip(("evilXtxt.csv", PM))
    data = data.replace(b"evilXtxt.csv", b"evil\x00txt.csv")  # zipfile cuts a name at NUL when it writes one
    (inv,) = read(data)
    assert inv.device.source == "export.zip!evil\x00txt.csv" and inv.status == "partial"
    assert inv.reason == "bad-member-name" and "control or format character" in inv.message


def test_a_hostile_name_whose_content_is_damaged_keeps_both_problems():
    (inv,) = read(make_zip(("../x.txt", b"garbage that is no format\n")))
    assert inv.status == "failed" and inv.reason == "unknown-format"
    assert inv.problems[0].startswith("the name of this file of the ZIP climbs out of the ZIP")


# --- refused members: the others are still read --------------------------------------------------


def set_flag(data: bytes, member: str, bit: int) -> bytes:
    out = bytearray(data)
    central, local = directory_entries(data)[member]
    for at in (central + 8, local + 6):
        out[at:at + 2] = struct.pack("<H", struct.unpack_from("<H", out, at)[0] | bit)
    return bytes(out)


def test_a_password_protected_member_is_refused_and_the_others_read():
    data = set_flag(make_zip(("AppInvRawData_1.csv", PM), ("apps.txt", PM_CLEAN)), "AppInvRawData_1.csv", 0x1)
    invs = by_source(read(data))
    locked = invs["export.zip!AppInvRawData_1.csv"]
    assert locked.status == "failed" and locked.reason == "encrypted"
    assert locked.message == ("export.zip!AppInvRawData_1.csv: the ZIP is password-protected: unzip it yourself "
                              "and scan the CSV")
    assert invs["export.zip!apps.txt"].status == "complete"


@pytest.fixture(scope="session")
def bomb() -> bytes:
    """A ZIP whose first member is 200 MB of zeros (about 200 KB compressed, a ratio near 1000)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("AppInvRawData_bomb.csv", "w") as member:
            chunk = bytes(1 << 20)
            for _ in range(200):
                member.write(chunk)
        archive.writestr("apps.txt", PM)
    return buf.getvalue()


def test_a_zip_bomb_is_refused_without_inflating_it(bomb, monkeypatch):
    assert len(bomb) < 1 << 20
    inflated = []
    original = zipfile.ZipFile.open

    def spying_open(self, name, *args, **kwargs):
        inflated.append(getattr(name, "orig_filename", name))
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spying_open)
    invs = by_source(read(bomb))
    refused = invs["export.zip!AppInvRawData_bomb.csv"]
    assert refused.status == "failed" and refused.reason == "zip-bomb"
    assert "refused: it says it inflates" in refused.message and "200 MiB" in refused.message
    assert "a real export inflates 5 to 30 times (a ZIP bomb)" in refused.message
    assert inflated == ["apps.txt"]  # the bomb was never opened
    assert invs["export.zip!apps.txt"].status == "complete"


def test_a_member_that_says_it_is_larger_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(zipped, "MAX_MEMBER_SIZE", 100)
    (inv,) = read(make_zip(("apps.txt", PM), method=zipfile.ZIP_STORED))
    assert inv.status == "failed" and inv.reason == "zip-bomb" and "more than 100 bytes" in inv.message


def test_a_member_that_lies_about_its_size_is_never_read_past_what_it_declares():
    # The table of contents says 40 bytes; the data inflates to far more. zipfile hands out at most the 40
    # (verified here), and the CRC of those does not match: a read error, never complete.
    rows = "".join(f"package:com.example.app{i}\n" for i in range(20000)).encode() + PM
    data = bytearray(make_zip(("apps.txt", rows)))
    central, _ = directory_entries(bytes(data))["apps.txt"]
    struct.pack_into("<I", data, central + 24, 40)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive, archive.open("apps.txt") as member:
        with pytest.raises(zipfile.BadZipFile, match="CRC"):
            member.read()
        assert member._left == 0  # what zipfile still owed: nothing past the 40 bytes was given
    (inv,) = read(bytes(data))
    assert inv.status == "failed" and inv.reason == "read-error" and inv.apps == ()
    assert inv.message == ("export.zip!apps.txt: this file of the ZIP is damaged (the data does not match its "
                           "checksum: damaged in the download or on disk); download the export again and rescan")


def test_a_zip_inside_the_zip_is_refused():
    inner = make_zip(("apps.txt", PM))
    invs = by_source(read(make_zip(("inner.zip", inner), ("apps.txt", PM_CLEAN), ("empty.zip", b"PK\x05\x06" +
                                                                                   bytes(18)))))
    for name in ("export.zip!inner.zip", "export.zip!empty.zip"):
        assert invs[name].status == "failed" and invs[name].reason == "nested-zip"
        assert "a ZIP inside the ZIP" in invs[name].message and "unzip the outer one" in invs[name].message
    assert invs["export.zip!apps.txt"].status == "complete"


def test_members_beyond_the_limit_are_refused_with_one_result(monkeypatch):
    monkeypatch.setattr(zipped, "MAX_MEMBERS", 3)
    invs = read(make_zip(*((f"apps{i}.txt", PM_CLEAN) for i in range(5))))
    assert [i.device.source for i in invs] == ["export.zip!apps0.txt", "export.zip!apps1.txt",
                                               "export.zip!apps2.txt", "export.zip"]
    rest = invs[-1]
    assert rest.status == "failed" and rest.reason == "too-many-members"
    assert "holds 5 files, more than the 3 read from one ZIP, so the last 2 were not read" in rest.message
    assert rest.problems == ("not read: 'apps3.txt'", "not read: 'apps4.txt'")


def test_a_table_of_contents_too_large_to_hold_refuses_the_whole_zip(monkeypatch):
    monkeypatch.setattr(zipped, "MAX_DIRECTORY", 200)
    (inv,) = read(make_zip(*((f"apps{i}.txt", PM_CLEAN) for i in range(10))))
    assert inv.status == "failed" and inv.reason == "zip-bomb" and inv.device.source == "export.zip"
    assert "its table of contents is" in inv.message


def test_a_json_member_larger_than_it_may_be_read_whole_is_refused_and_its_text_searched(monkeypatch):
    monkeypatch.setattr(file_connector, "MAX_WHOLE", 50)
    doc = b'{"totalCount": 1, "results": [{"mobileDeviceId": "1", "applications": [{"identifier": ' \
          b'"com.tencent.xin"}]}]}'
    data = make_zip(("pages.json", doc))
    (inv,) = read(data)
    assert inv.status == "failed" and inv.reason == "too-large"
    assert "more than the 0 MiB scanner reads whole from a ZIP" in inv.message
    assert "com.tencent.xin" in inv.residue
    monkeypatch.setattr(file_connector, "MAX_WHOLE", 1 << 20)
    (inv,) = read(data)
    assert inv.reason == "mdm-scope" and ids(inv) == ["com.tencent.xin"]


# --- damaged data ---------------------------------------------------------------------------------


def test_a_crc_error_in_a_stored_member_keeps_what_was_read_and_is_never_complete():
    rows = PM + "".join(f"package:com.example.app{i}\n" for i in range(100_000)).encode()
    data = bytearray(make_zip(("apps.txt", rows), ("after.txt", PM_CLEAN), method=zipfile.ZIP_STORED))
    _, local = directory_entries(bytes(data))["apps.txt"]
    data[data_offset(bytes(data), local) + len(rows) - 5] ^= 0x01  # a letter of the last line: only the CRC tells
    invs = by_source(read(bytes(data)))
    inv = invs["export.zip!apps.txt"]
    assert inv.status == "partial" and inv.reason == "read-error"
    assert ids(inv)[0] == "com.tencent.mm" and len(inv.apps) > 50_000
    assert inv.message.startswith("export.zip!apps.txt: reading stopped inside the ZIP (the data does not match "
                                  "its checksum: damaged in the download or on disk)")
    assert any(p.startswith("line ") for p in inv.problems)
    assert invs["export.zip!after.txt"].status == "complete"


def test_damaged_deflate_data_is_a_read_error_at_the_line_reached():
    rows = PM + "".join(f"package:com.example.app{i} versionCode:{i}\n" for i in range(200_000)).encode()
    data = bytearray(make_zip(("apps.txt", rows)))
    _, local = directory_entries(bytes(data))["apps.txt"]
    start = data_offset(bytes(data), local)
    for at in range(start + len(data) // 2, start + len(data) // 2 + 64):
        data[at] ^= 0xA5
    (inv,) = read(bytes(data))
    assert inv.status in ("partial", "failed") and inv.reason == "read-error"
    assert "reading stopped inside the ZIP" in inv.message


def test_a_cut_zip_is_failed_and_the_members_before_the_cut_are_recovered_but_never_complete():
    data = make_zip(("one.txt", PM), ("AppInv/", b""), ("__MACOSX/._one.txt", b"\x00\x05\x16\x07\x00\x02"),
                    ("two.txt", PM_CLEAN), ("three.txt", PM_CLEAN * 3000))
    _, three = directory_entries(data)["three.txt"]
    cut = data[: three + 200]  # inside three.txt's data
    invs = read(cut)
    assert [i.device.source for i in invs] == ["export.zip", "export.zip!one.txt", "export.zip!two.txt",
                                               "export.zip!three.txt"]
    whole, one, two, three_inv = invs
    assert whole.status == "failed" and whole.reason == "bad-zip"
    assert whole.message.startswith("export.zip: the ZIP is cut short or damaged (the list of its files, at its "
                                    "end, is missing): download it again")
    assert one.status == two.status == "partial" and one.reason == "bad-zip" and ids(one) == ["com.tencent.mm",
                                                                                              "com.android.chrome"]
    assert three_inv.reason == "read-error" and "its data is cut short" in three_inv.message
    assert all(i.status != "complete" for i in invs)
    assert ("export.zip!one.txt", "com.tencent.mm", "exact") in found(audited(cut))


def test_a_zip_cut_inside_its_first_header_is_only_failed():
    data = make_zip(("apps.txt", PM))
    (inv,) = read(data[:20])
    assert inv.status == "failed" and inv.reason == "bad-zip"


def test_recovery_follows_data_descriptors_of_a_streamed_zip():
    buf = io.BytesIO()
    pipe = types.SimpleNamespace(write=buf.write, flush=lambda: None)  # not seekable: zipfile writes descriptors
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        archive.writestr("one.txt", PM)
        archive.writestr("two.txt", PM_CLEAN)
    data = buf.getvalue()
    assert b"PK\x07\x08" in data
    whole = by_source(read(data))
    assert whole["export.zip!two.txt"].status == "complete"
    invs = by_source(read(data[: data.rfind(b"PK\x01\x02")]))  # no table of contents
    assert ids(invs["export.zip!one.txt"]) == ["com.tencent.mm", "com.android.chrome"]
    assert ids(invs["export.zip!two.txt"]) == ["com.android.chrome"]
    assert invs["export.zip"].reason == "bad-zip"


# --- stdin and streaming --------------------------------------------------------------------------


def test_a_zip_on_stdin_is_spooled_and_read(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BufferedReader(Pipe(make_zip(
        ("AppInvRawData_1.txt", PM))))))
    (inv,) = read_input("-")
    assert inv.device.source == "stdin!AppInvRawData_1.txt" and inv.status == "complete"
    assert ids(inv) == ["com.tencent.mm", "com.android.chrome"]


def test_a_large_stdin_zip_spools_to_an_anonymous_file_that_has_no_name(monkeypatch, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    monkeypatch.setattr(zipped, "MAX_SPOOL_MEMORY", 1024)
    rows = "".join(f"android,D{d},com.example.app{i}\n" for d in range(3) for i in range(3000))
    data = make_zip(("fleet.csv", (FLEET_HEAD + rows).encode()), method=zipfile.ZIP_STORED)
    reading = read_input("-", io.BufferedReader(Pipe(data)))
    first = next(reading)
    assert first.device.source == "stdin!fleet.csv" and len(first.apps) == 3000
    assert list(spool.iterdir()) == []  # the temporary file holding the ZIP has no name on disk
    assert [len(i.apps) for i in reading] == [3000, 3000]


def test_a_stdin_zip_larger_than_may_be_held_is_refused(monkeypatch):
    monkeypatch.setattr(zipped, "MAX_SPOOL", 100)
    (inv,) = read_input("-", io.BufferedReader(Pipe(make_zip(("apps.txt", PM * 10)))))
    assert inv.status == "failed" and inv.reason == "too-large" and "give --input FILE.zip" in inv.message


def test_a_stream_without_peek_or_seek_is_still_recognised():
    class Bare:
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self.data.read(n)

        def seekable(self) -> bool:
            return False

    (inv,) = read_input("x.zip", Bare(make_zip(("apps.txt", PM))))  # type: ignore[arg-type]
    assert inv.device.source == "x.zip!apps.txt" and inv.status == "complete"
    (loose,) = read_input("apps.txt", Bare(PM))  # type: ignore[arg-type]
    assert loose.status == "complete" and ids(loose) == ["com.tencent.mm", "com.android.chrome"]


def test_a_large_member_is_streamed_one_device_at_a_time():
    rows = "".join(f"android,DEV{d:03d},com.example.app{i}\n" for d in range(300) for i in range(2000))
    data = make_zip(("fleet.csv", (FLEET_HEAD + rows).encode()))
    file = CountingFile(data)
    reading = read_input("fleet.zip", file)
    first = next(reading)
    assert first.device.serial == "DEV000" and len(first.apps) == 2000 and first.status == "complete"
    assert file.taken < len(data) // 5  # the table of contents and the first device's rows, not the whole
    assert sum(len(i.apps) for i in reading) == 299 * 2000


def test_a_stream_that_fails_while_looking_at_its_first_bytes_is_unreadable():
    class Failing(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            raise OSError(5, "Input/output error")

    (inv,) = read_input("x.zip", io.BufferedReader(Failing()))
    assert inv.status == "failed" and inv.reason == "unreadable" and "input/output error" in inv.message


def test_a_file_on_disk_is_read_in_place(tmp_path):
    path = tmp_path / "export.zip"
    path.write_bytes(make_zip(("apps.txt", PM)))
    (inv,) = read_input(str(path))
    assert inv.device.source == f"{path}!apps.txt" and inv.status == "complete"
    assert sorted(os.listdir(tmp_path)) == ["export.zip"]


# --- properties ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([b"PK\x03\x04", b"PK\x05\x06"]), st.binary(max_size=3000))
@example(b"PK\x05\x06", bytes(18))
@example(b"PK\x03\x04", b"\x14\x00\x08\x00\x08\x00" + bytes(20))
def test_random_bytes_after_a_zip_header_never_raise_and_are_never_complete(magic, rest):
    invs = read(magic + rest)
    assert invs and all(isinstance(i, Inventory) for i in invs)
    assert all(i.status != "complete" for i in invs)


_SAMPLE = make_zip(("one.txt", PM), ("fleet.csv", (FLEET_HEAD + "android,A1,com.tencent.mm\n").encode()),
                   ("two.txt", PM_CLEAN))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(_SAMPLE) - 1),
       st.lists(st.tuples(st.integers(min_value=0, max_value=len(_SAMPLE) - 1), st.integers(1, 255)), max_size=4))
def test_a_damaged_or_cut_zip_never_raises_and_a_cut_one_is_never_complete(cut, flips):
    data = bytearray(_SAMPLE)
    for at, mask in flips:
        data[at] ^= mask
    invs = read(bytes(data))  # never raises
    assert invs
    if not flips:
        invs = read(bytes(data[:cut]))
        assert all(i.status != "complete" for i in invs)
