"""ZIP exports: the Intune admin center and its export-jobs API download a ZIP
holding the report (AppInvRawData_<guid>.csv or .json); other exports get
zipped on the way. Each member that is a file is read by the same path as a
loose input (its format recognised from its content, then its reader), its
results labelled "<zip>!<member>".

Nothing is ever written to disk under a member's name: members are streamed
out of the ZIP with ZipFile.open, never extracted. A ZIP read from a stream
that cannot seek (stdin) is first spooled into a tempfile.SpooledTemporaryFile
(memory up to MAX_SPOOL_MEMORY, then an anonymous temporary file, which has no
name at all), since a ZIP's table of contents is at its end.

What a ZIP cannot make us do, and what it says instead:

- a member whose name climbs out of the archive (`..`), is absolute (`/x`,
  `C:\\x`) or holds a control or format character: its content is read like
  any other (streaming it writes nothing, so the name can do no harm, and a
  prohibited app in it must still be found), but none of its results is
  complete: each says the name is hostile or damaged;
- a password-protected member, a member that says it inflates past
  MAX_MEMBER_SIZE or past MAX_RATIO times its compressed size (a ZIP bomb:
  real CSVs compress 5-30:1), a ZIP inside the ZIP, and the members past
  MAX_MEMBERS: refused, one failed result each, the others still read;
- a table of contents larger than MAX_DIRECTORY (millions of members would be
  held in memory before any is read): the whole ZIP is refused;
- a member whose data is damaged (a CRC that does not match, data cut short,
  deflate data that does not inflate): a read error at the line reached, what
  was read before it kept, the device never complete. zipfile never hands out
  more than the size a member declares, whatever its data inflates to;
- a ZIP whose table of contents is missing (a download cut short): failed, and
  the members before the cut are recovered by walking their local headers;
  each recovered member is at best partial, since the ZIP's own list of its
  members is lost;
- a ZIP with no member that is a file: failed (empty), never clean.

The macOS Finder's metadata (__MACOSX/._* AppleDouble files, .DS_Store) is
skipped silently, but only when its content is that metadata; directories
hold nothing and are skipped.
"""

from __future__ import annotations

import io
import re
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import BinaryIO

from scanner.connectors.files.common import error_text, failed_inventory, label_of
from scanner.connectors.records import snippet
from scanner.model import Inventory, Scope

__all__ = [
    "MAX_DIRECTORY", "MAX_MEMBERS", "MAX_MEMBER_SIZE", "MAX_RATIO", "MAX_SPOOL", "MAX_SPOOL_MEMORY", "MAX_WHOLE",
    "is_zip", "read_zip",
]

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a member's local header; the end record of an empty ZIP
MAX_MEMBERS = 10_000  # members read, at most; an export holds one or a few
MAX_MEMBER_SIZE = 16 << 30  # what a member may say it inflates to (8M app rows are about 2 GiB of CSV)
MAX_RATIO = 200  # inflated : compressed, at most, for a member past RATIO_FROM bytes
RATIO_FROM = 1 << 20  # a member smaller than this cannot be a bomb, whatever its ratio
MAX_DIRECTORY = 16 << 20  # bytes of the table of contents (the central directory), at most
MAX_WHOLE = 2 << 30  # a member that is read whole (a JSON document), at most
MAX_SPOOL_MEMORY = 64 << 20  # a ZIP from stdin is held in memory up to this, then in an anonymous temp file
MAX_SPOOL = 64 << 30  # a ZIP from stdin, at most
_CHUNK = 1 << 20

#: Reads one member as a loose input: (its label as a name, its stream, the size it declares).
ReadMember = Callable[[str, BinaryIO, int], Iterator[Inventory]]

# What zipfile, zlib, bz2 and lzma raise for damaged data (anything else would be a bug, and is not caught).
_DAMAGE: tuple[type[BaseException], ...] = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error,
                                             NotImplementedError, RuntimeError, ValueError, struct.error, OSError)
try:
    import lzma
    _DAMAGE += (lzma.LZMAError,)
except ImportError:  # pragma: no cover - Python built without lzma: zipfile cannot open such members either
    pass

_ADVICE = "download the export again and rescan"


def is_zip(head: bytes) -> bool:
    """Whether an input beginning with these bytes is a ZIP."""
    return head[:4] in ZIP_MAGIC


def read_zip(name: str, stream: BinaryIO, read_member: ReadMember) -> Iterator[Inventory]:
    """The inventories of every member of the ZIP `stream` (positioned at its start; not closed)."""
    label = label_of(name)
    try:
        seekable = stream.seekable()
    except (OSError, ValueError, AttributeError):
        seekable = False
    if seekable:
        yield from _read_archive(name, label, stream, read_member)
        return
    with tempfile.SpooledTemporaryFile(max_size=MAX_SPOOL_MEMORY) as spool:
        refused = _spool(name, label, stream, spool)
        if refused is not None:
            yield refused
            return
        spool.seek(0)
        yield from _read_archive(name, label, spool, read_member)  # type: ignore[arg-type]


def _spool(name: str, label: str, stream: BinaryIO, spool: tempfile.SpooledTemporaryFile) -> Inventory | None:
    """Copy a ZIP that cannot seek into `spool`; the failed Inventory if that cannot be done."""
    total = 0
    while True:
        try:
            chunk = stream.read(_CHUNK)
        except OSError as err:
            return failed_inventory(name, "unreadable", (
                f"cannot read {label}: {error_text(err)}; save the ZIP to a file and give --input FILE.zip"
            ))
        if not chunk:
            return None
        total += len(chunk)
        if total > MAX_SPOOL:
            return failed_inventory(name, "too-large", (
                f"{label} is a ZIP of more than {_size(MAX_SPOOL)}, too large to hold while it is read from a "
                f"stream; save it to a file and give --input FILE.zip"
            ))
        try:
            spool.write(chunk)
        except OSError as err:
            return failed_inventory(name, "unreadable", (
                f"{label}: no room to hold the ZIP while it is read ({error_text(err)}); save it to a file and "
                f"give --input FILE.zip"
            ))


def _read_archive(name: str, label: str, file: BinaryIO, read_member: ReadMember) -> Iterator[Inventory]:
    try:
        start = file.tell()
        directory = _directory_size(file)
        file.seek(start)
    except OSError as err:
        yield failed_inventory(name, "unreadable", f"cannot read {label}: {error_text(err)}; check the file")
        return
    if directory is not None and directory > MAX_DIRECTORY:
        yield failed_inventory(name, "zip-bomb", (
            f"{label}: refused: its table of contents is {_size(directory)}, more than {_size(MAX_DIRECTORY)}, "
            f"so it lists far more files than any export (a ZIP bomb or not an export); unzip it yourself if you "
            f"trust it and scan the export file in it"
        ))
        return
    try:
        archive = zipfile.ZipFile(file)
    except _DAMAGE as err:
        yield from _recovered(name, label, file, start, err, read_member)
        return
    with archive:
        yield from _members(name, label, archive, read_member)


def _members(name: str, label: str, archive: zipfile.ZipFile, read_member: ReadMember) -> Iterator[Inventory]:
    infos = archive.infolist()
    files = 0
    for index, info in enumerate(infos):
        if index == MAX_MEMBERS:
            more = len(infos) - MAX_MEMBERS
            yield failed_inventory(name, "too-many-members", (
                f"{label} holds {len(infos)} files, more than the {MAX_MEMBERS} read from one ZIP, so the last "
                f"{more} were not read; unzip it and scan the export files in it"
            ), problems=tuple(f"not read: {snippet(i.orig_filename)}" for i in infos[MAX_MEMBERS:][:20]))
            return
        member = info.orig_filename
        if member.endswith("/") and info.file_size == 0:
            continue  # a directory: nothing in it
        if _mac_metadata(archive, info):
            continue
        files += 1
        where = f"{label}!{member}"
        refusal = _refusal(info, where)
        if refusal is not None:
            yield refusal
            continue
        yield from _member(where, archive, info, read_member, _bad_name(member))
    if not files:
        yield failed_inventory(name, "empty", (
            f"{label} is a ZIP with no file in it, so no app was read; {_ADVICE}"
        ))


def _member(where: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, read_member: ReadMember,
            bad_name: str | None) -> Iterator[Inventory]:
    try:
        opened = archive.open(info)
    except _DAMAGE as err:
        yield failed_inventory(where, "bad-zip", (
            f"{where}: this file of the ZIP cannot be opened ({_damage(err)}); {_ADVICE}"
        ))
        return
    with opened:
        raw = _MemberRaw(opened)
        yield from _read_stream(where, io.BufferedReader(raw, buffer_size=1 << 16), info.file_size, raw,
                                read_member, bad_name)


def _read_stream(where: str, stream: io.BufferedReader, size: int, raw: _MemberRaw, read_member: ReadMember,
                 bad_name: str | None) -> Iterator[Inventory]:
    try:
        head = stream.peek(4)[:4]
    except OSError as err:
        yield failed_inventory(where, "read-error", f"{where}: this file of the ZIP is damaged ({err}); {_ADVICE}")
        return
    if is_zip(head):
        yield failed_inventory(where, "nested-zip", (
            f"{where}: a ZIP inside the ZIP, which scanner does not open: unzip the outer one and scan what is in it"
        ))
        return
    for inv in read_member(where, stream, size):
        if raw.damage is not None and inv.reason == "read-error":
            inv = replace(inv, message=(
                f"{where}: reading stopped inside the ZIP ({raw.damage}), so the apps after that point were not "
                f"checked; {_ADVICE}"
            ))
        if bad_name is not None:
            inv = _flagged(inv, where, bad_name)
        yield inv


class _MemberRaw(io.RawIOBase):
    """A member's stream as a raw stream, for io.BufferedReader (whose line reading is C code): the errors of
    damaged data become OSError, which the readers report as a read error at the line reached."""

    def __init__(self, member: BinaryIO) -> None:
        self.member = member
        self.damage: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        try:
            data = self.member.read(len(buffer))
        except _DAMAGE as err:
            self.damage = _damage(err)
            raise OSError(self.damage) from err
        n = len(data)
        buffer[:n] = data
        return n


def _damage(err: BaseException) -> str:
    """What a zipfile/zlib error means, in a few words."""
    text = str(err)
    if isinstance(err, zipfile.BadZipFile) and text == "File is not a zip file":
        return "the list of its files, at its end, is missing"
    if isinstance(err, zipfile.BadZipFile) and "CRC" in text:
        return "the data does not match its checksum: damaged in the download or on disk"
    if isinstance(err, EOFError):
        return "its data is cut short"
    if isinstance(err, zlib.error):
        return f"its compressed data is damaged: {text}"
    if isinstance(err, NotImplementedError):
        return f"it is compressed in a way scanner cannot read: {text}"
    return text or type(err).__name__


# --- what is refused, what is skipped ------------------------------------------------------------


def _refusal(info: zipfile.ZipInfo, where: str) -> Inventory | None:
    """The failed Inventory of a member that is not read at all, or None."""
    if info.flag_bits & 0x1:
        return failed_inventory(where, "encrypted", (
            f"{where}: the ZIP is password-protected: unzip it yourself and scan the CSV"
        ))
    size, packed = info.file_size, info.compress_size
    if size > MAX_MEMBER_SIZE:
        return failed_inventory(where, "zip-bomb", (
            f"{where}: refused: it says it inflates to {_size(size)}, more than {_size(MAX_MEMBER_SIZE)} (a ZIP "
            f"bomb, or not an export); unzip it yourself if you trust it and scan the file"
        ))
    if size > RATIO_FROM and size > MAX_RATIO * max(packed, 1):
        return failed_inventory(where, "zip-bomb", (
            f"{where}: refused: it says it inflates {size // max(packed, 1)} times, from {_size(packed)} to "
            f"{_size(size)}, and a real export inflates 5 to 30 times (a ZIP bomb); unzip it yourself if you "
            f"trust it and scan the file"
        ))
    return None


_DRIVE = re.compile(r"[A-Za-z]:")


def _bad_name(member: str) -> str | None:
    """Why a member's name is hostile or damaged, or None."""
    if any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp") for c in member):
        return "holds a control or format character"
    path = member.replace("\\", "/")
    if path.startswith("/") or _DRIVE.match(path):
        return "is an absolute path"
    if ".." in path.split("/"):
        return "climbs out of the ZIP (a '..' in its path)"
    return None


def _flagged(inv: Inventory, where: str, why: str) -> Inventory:
    """A result of a member whose name is hostile: read, never complete."""
    problem = f"the name of this file of the ZIP {why}: the ZIP is hostile or damaged"
    coverage = (*inv.coverage, Scope("archive", read=False, reason=f"a member's name {why}"))
    if inv.status != "complete":
        return replace(inv, coverage=coverage, problems=(problem, *inv.problems),
                       problem_count=inv.problem_count + 1)
    return replace(
        inv, coverage=coverage, status="partial" if inv.apps else "failed", reason="bad-member-name",
        message=(f"{where}: the name of this file of the ZIP {why}, so the ZIP is hostile or damaged; its apps "
                 f"were read (nothing is ever written to disk) but it is not trusted as complete: get the export "
                 f"again from the MDM itself and rescan"),
        problems=(problem, *inv.problems), problem_count=inv.problem_count + 1)


_METADATA = {"appledouble": b"\x00\x05\x16\x07", "ds_store": b"\x00\x00\x00\x01Bud1"}


def _mac_metadata(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """A file the macOS Finder adds when it zips (__MACOSX/._<name>, .DS_Store), by its name and content."""
    magic = _metadata_magic(info.orig_filename)
    if magic is None or info.file_size > RATIO_FROM or info.flag_bits & 0x1 or _bad_name(info.orig_filename):
        return False
    try:
        with archive.open(info) as opened:
            return opened.read(len(magic)) == magic
    except _DAMAGE:
        return False


def _metadata_magic(member: str) -> bytes | None:
    """What the content of a member so named begins with if it is the Finder's metadata (None: no such name)."""
    parts = member.split("/")
    if parts[0] == "__MACOSX" and parts[-1].startswith("._"):
        return _METADATA["appledouble"]
    if parts[-1] == ".DS_Store" and not _bad_name(member):
        return _METADATA["ds_store"]
    return None


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


# --- the table of contents, and a ZIP without one ------------------------------------------------

_END = b"PK\x05\x06"
_END64_LOCATOR = b"PK\x06\x07"


def _directory_size(file: BinaryIO) -> int | None:
    """The size of the ZIP's table of contents as its end record says (None when there is no end record:
    zipfile then says the ZIP is damaged), read before zipfile builds a ZipInfo for every entry of it."""
    end = file.seek(0, io.SEEK_END)
    tail_size = min(end, 22 + 0xFFFF + 20)
    file.seek(end - tail_size)
    tail = file.read(tail_size)
    at = tail.rfind(_END)
    if at < 0 or len(tail) - at < 22:
        return None
    size = struct.unpack_from("<I", tail, at + 12)[0]
    if size == 0xFFFFFFFF and at >= 20 and tail[at - 20: at - 16] == _END64_LOCATOR:
        where = struct.unpack_from("<Q", tail, at - 12)[0]
        if where + 56 <= end:
            file.seek(where)
            record = file.read(56)
            if record[:4] == b"PK\x06\x06":
                return struct.unpack_from("<Q", record, 40)[0]
    return size


_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # a member's local header, 30 bytes


def _recovered(name: str, label: str, file: BinaryIO, start: int, err: BaseException,
               read_member: ReadMember) -> Iterator[Inventory]:
    """A ZIP zipfile cannot open (its table of contents, at the end, is missing or damaged): failed, and the
    members before the damage recovered from their local headers, each at best partial."""
    yield failed_inventory(name, "bad-zip", (
        f"{label}: the ZIP is cut short or damaged ({_damage(err)}): download it again; the files found before "
        f"the damage were read, but none is trusted as whole"
    ), problems=(f"not a whole ZIP: {_damage(err)}",))
    try:
        file.seek(start)
    except OSError:
        return
    for _ in range(MAX_MEMBERS):
        try:
            header = file.read(_LOCAL.size)
        except OSError:
            return
        if len(header) < _LOCAL.size or header[:4] != b"PK\x03\x04":
            return
        (_, _, flags, method, _, _, _, packed, size, name_len, extra_len) = _LOCAL.unpack(header)
        try:
            raw_name = file.read(name_len)
            file.seek(extra_len, io.SEEK_CUR)
        except OSError:
            return
        member = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        where = f"{label}!{member}"
        if flags & 0x1:
            yield failed_inventory(where, "encrypted", f"{where}: the ZIP is password-protected: unzip it "
                                                       f"yourself and scan the CSV")
            return  # its compressed size is all that says where the next member begins; not trusted further
        if method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or (flags & 0x8 and method != 8):
            yield failed_inventory(where, "bad-zip", (
                f"{where}: in a ZIP cut short, and compressed in a way that cannot be recovered without its "
                f"list of files; {_ADVICE}"
            ))
            return
        recovery = _Recovering(file, method, None if flags & 0x8 else packed)
        stream = io.BufferedReader(recovery, buffer_size=1 << 16)
        if not (member.endswith("/") and size == 0) and not _metadata_in(member, stream):
            # A size the header does not give (a data descriptor follows the data) is 0: the reader of a JSON
            # member still stops reading it whole at MAX_WHOLE.
            for inv in _read_stream(where, stream, 0 if flags & 0x8 else size, recovery, read_member,
                                    _bad_name(member)):
                yield _recovered_only(inv, where)
        if not recovery.finish():
            return  # the cut: nothing after it
    yield failed_inventory(name, "too-many-members", (
        f"{label}: more than the {MAX_MEMBERS} files read from one ZIP, so the rest were not read; unzip it and "
        f"scan the export files in it"
    ))


def _metadata_in(member: str, stream: io.BufferedReader) -> bool:
    """Whether a member recovered from a ZIP without its list of files is the macOS Finder's metadata."""
    magic = _metadata_magic(member)
    try:
        return magic is not None and stream.peek(len(magic))[: len(magic)] == magic
    except OSError:
        return False


class _Recovering(io.RawIOBase):
    """The data of one member of a ZIP without its table of contents, inflated from where its local header
    ends: stored data up to the size its header gives; deflate data up to its own end (also when the header
    gives no size). Never more than MAX_MEMBER_SIZE, nor inflating more than MAX_RATIO times."""

    def __init__(self, file: BinaryIO, method: int, packed: int | None) -> None:
        self.file = file
        self.method = method
        self.left = packed  # compressed bytes left, when the header says
        self.inflate = zlib.decompressobj(-15) if method == zipfile.ZIP_DEFLATED else None
        self.pending = b""
        self.read_in = 0
        self.given = 0
        self.damage: str | None = None
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        while not self.pending and not self.done:
            self.pending = self._more(len(buffer))
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        self.given += n
        return n

    def _fail(self, why: str) -> OSError:
        self.damage = why
        self.done = True
        return OSError(why)

    def _more(self, want: int) -> bytes:
        ask = _CHUNK if self.left is None else min(_CHUNK, self.left)
        if ask == 0 and self.inflate is None:
            self.done = True
            return b""
        try:
            data = self.file.read(ask) if ask else b""
        except OSError as err:
            raise self._fail(error_text(err)) from err
        if self.left is not None:
            self.left -= len(data)
        self.read_in += len(data)
        if self.inflate is None:
            if not data:
                raise self._fail("its data is cut short")
            return data
        if not data and not self.inflate.eof:
            raise self._fail("its data is cut short")
        try:
            out = self.inflate.decompress(self.inflate.unconsumed_tail + data, _CHUNK)
        except zlib.error as err:
            raise self._fail(f"its compressed data is damaged: {err}") from err
        if self.given + len(out) > MAX_MEMBER_SIZE or (
                self.given + len(out) > RATIO_FROM and self.given + len(out) > MAX_RATIO * self.read_in):
            raise self._fail("it inflates far more than any export (a ZIP bomb), so reading stopped")
        if self.inflate.eof:
            self.done = True
        return out

    def finish(self) -> bool:
        """Put the file at the next member's local header; False when there is none to be found."""
        try:
            while not self.done:  # what the reader left unread (one that stops at its head)
                self.pending = b""
                self._more(_CHUNK)
        except OSError:
            return False
        if self.damage is not None:
            return False
        try:
            if self.inflate is not None:
                back = len(self.inflate.unused_data)
                self.file.seek(-back, io.SEEK_CUR)
            head = self.file.read(4)
            if head == b"PK\x07\x08":  # a data descriptor: crc, compressed and inflated sizes
                self.file.seek(12, io.SEEK_CUR)
            elif head:
                self.file.seek(-len(head), io.SEEK_CUR)
        except OSError:
            return False
        return True


def _recovered_only(inv: Inventory, where: str) -> Inventory:
    """A result of a member recovered from a ZIP without its list of files: never complete."""
    coverage = (*inv.coverage, Scope("archive", read=False, reason="the ZIP's list of files is lost"))
    if inv.status != "complete":
        return replace(inv, coverage=coverage)
    return replace(
        inv, coverage=coverage, status="partial" if inv.apps else "failed", reason="bad-zip",
        message=(f"{where}: recovered from a ZIP that is cut short or damaged, whose list of files is lost, so "
                 f"this file may not be whole; {_ADVICE}"))
