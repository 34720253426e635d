"""What the fleet CSV reader keeps besides the current run (Fleet): the
lines of the record being read that need a second look, the devices seen,
why a record cannot be read (Fault), and the devices each such record is
charged to, at once or at the end of the file."""

from __future__ import annotations

import csv
import re
from bisect import bisect_left
from typing import Any, Iterator

from scanner.connectors.files.common import KNOWN_PLATFORMS
from scanner.connectors.files.csv_rows import SPILL, blank_row, csv_error_text, is_spill, line_span, swallowed_note
from scanner.connectors.files.readers.fleet_csv.header import CONTROL, HEADER_AGAIN, is_header_row
from scanner.connectors.files.readers.fleet_csv.results import Run, charged, orphaned
from scanner.connectors.files.source import HEAD_LINE_BYTES, InputLines
from scanner.connectors.records import Problems, clean_id, decodable, snippet
from scanner.model import Inventory

_PLATFORMS = (None, "android", "ios")
_CODES = {p: i for i, p in enumerate(_PLATFORMS)}
_GOOD = len(_PLATFORMS)  # a log entry: the device seen last had a run of rows read
_MENTIONS = 1 << 16  # words of unreadable lines kept to compare with the serials of devices seen later
_NAME_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # a quoted name may hold line breaks
# Where a row may begin inside text that is not one row: a line break, or what replaced one.
_BREAKS = re.compile(r"[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]+")
# The values in such text, without the blanks around them: what lies between commas, quotes and breaks.
_VALUES = re.compile(r'[^,"\s](?:[^,"\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]*[^,"\s])?')


class Fault:
    """A record that cannot be read: where it starts, how many problems it
    is, why, the device and platform cells of its first line (None when not
    whole), how many lines after its first it swallowed, its raw text, the
    number of cells csv found (0 when csv rejected it), when the file ends
    inside its device cell the start of that cell, and whether it is one
    line of the header's width (its device cell then as sure as a good
    row's: what is wrong is in another value)."""

    __slots__ = ("line", "count", "what", "dev", "plat", "swallowed", "text", "cells", "cut", "aligned")

    def __init__(self, line: int, count: int, what: str, dev: str | None, plat: str | None, swallowed: int,
                 text: str, cells: int = 0, cut: str | None = None, aligned: bool = False) -> None:
        self.line, self.count, self.what, self.dev, self.plat = line, count, what, dev, plat
        self.swallowed, self.text, self.cells, self.cut, self.aligned = swallowed, text, cells, cut, aligned


class Fleet:
    """What the reader keeps besides the current run: the lines of the record
    being read that need a second look, the devices seen, and what is charged
    to devices other than the current run's."""

    def __init__(self, header: list[str], col: dict[str, int]) -> None:
        self.header = header
        self.width = len(header)
        self.i_plat, self.i_dev, self.i_id = col["platform"], col["device"], col["app_id"]
        self.i_name = col.get("name")
        self.marked: list[tuple[int, str, bool]] = []  # (line, text, needs a look) of the record, see blocks
        self.bad: list[int] = []  # the lines of the current record that are not UTF-8
        self.orphans = Problems()
        # The devices seen (seen, platforms, good) are needed only when a record cannot be read: until then they
        # are a log of a few bytes a device, not dicts of sets, so memory stays flat as the fleet grows.
        self._log = bytearray()
        self._dicts = False
        self._platforms: dict[str, str] = {}  # serial -> the first platform it was seen with
        self._seen: dict[str, set[str | None]] = {}  # serial -> every platform it was seen with
        self._good: set[str] = set()  # devices with a run of rows read
        self.charges: dict[tuple[str | None, str], Problems] = {}  # problems of devices, off their runs
        self.mentions: dict[str, tuple[int, str]] = {}  # word of an unreadable record -> its line, why
        # The device cell of an unreadable record, when it may be a damaged or cut serial -> (line, why, whether
        # cut, the device it was charged to): the devices whose serial it is a start of (or starts) may own it.
        self.near: dict[str, tuple[int, str, bool, str]] = {}
        self.near_overflow = False
        self.cut = False  # the file ends inside the device cell of its last line
        self.runs = 0  # runs of rows read (ended)

    def ended(self, run: Run, name: str, src: InputLines | None) -> Inventory:
        """A run ends (off the hot path): its inventory, the run counted and remembered."""
        self.runs += 1
        self.ran(run)
        return run.inventory(name, src)

    def ran(self, run: Run) -> None:
        """A run ends (off the hot path)."""
        if run.count:
            if self._dicts:
                self._good.add(run.serial)
            else:
                self._log.append(_GOOD)  # of the serial the log saw last: the run's

    def saw(self, serial: str, platform: str | None) -> None:
        """Remember a device (off the hot path: once per run)."""
        if self._dicts:
            self._saw(serial, platform)
            return
        raw = serial.encode("utf-8", "surrogatepass")
        log = self._log
        log.append(_CODES[platform])
        if len(raw) < 255:
            log.append(len(raw))
        else:
            log.append(255)
            log += len(raw).to_bytes(4, "little")
        log += raw

    def _saw(self, serial: str, platform: str | None) -> None:
        self._seen.setdefault(serial, set()).add(platform)
        if platform is not None:
            self._platforms.setdefault(serial, platform)

    def _expand(self) -> None:
        """The log as the dicts, from now on kept as dicts."""
        if self._dicts:
            return
        self._dicts = True
        log, i, end, serial = self._log, 0, len(self._log), ""
        while i < end:
            code = log[i]
            if code == _GOOD:
                self._good.add(serial)
                i += 1
                continue
            n, i = log[i + 1], i + 2
            if n == 255:
                n, i = int.from_bytes(log[i:i + 4], "little"), i + 4
            serial, i = log[i:i + n].decode("utf-8", "surrogatepass"), i + n
            self._saw(serial, _PLATFORMS[code])
        self._log = bytearray()

    @property
    def seen(self) -> dict[str, set[str | None]]:
        """Serial -> every platform it was seen with."""
        self._expand()
        return self._seen

    @property
    def platforms(self) -> dict[str, str]:
        """Serial -> the first platform it was seen with."""
        self._expand()
        return self._platforms

    @property
    def good(self) -> set[str]:
        """The devices with a run of rows read."""
        self._expand()
        return self._good

    def examine(self, row: list[str], last: int) -> Fault | tuple[()] | None:
        """Why the record csv read, which ends on line `last`, cannot be
        read: () for a blank line, None when it can after all (quotes on one
        line, a name with a line break), else the fault."""
        marked, bad, i_plat, i_dev = self.marked, self.bad, self.i_plat, self.i_dev
        if len(marked) == 1 and not marked[0][2] and len(row) == self.width:
            marked.clear()  # the common case, quotes on one whole line: fine (a second header is caught later)
            return None
        first = marked[0][0] if marked else last  # only a quote makes a record span lines, and it is marked
        text = "".join(t for _, t, _ in marked) if marked else row_text(row)
        opening = marked[0][1] if marked else text
        marked.clear()
        one_line = first == last
        ended = text.endswith("\n")  # else the last line of the file, which may have been cut
        line, count, what = first, 1, None
        if bad:
            line, count, what = bad[0], len(bad), "not valid UTF-8"
            bad.clear()
        elif one_line and blank_row(row):
            return ()
        elif "app_id" in text.lower() and is_header_row(row):
            what = HEADER_AGAIN
            return Fault(first, 1, what, None, None, 0, text, len(row))
        elif len(row) != self.width:
            what = f"expected {self.width} columns ({','.join(self.header)}), found {len(row)}"
        elif one_line:
            what = self._controls(row)
        elif any("\n" in row[i] or "\r" in row[i] for i in (i_plat, i_dev, self.i_id)):
            what = "a line break inside the platform, device or app_id value"
        elif is_spill(row):
            what = SPILL
        else:
            what = self._controls(row)
        if not one_line:
            if what is None:
                return None
            # A quote opened on `first` and closed on `last`: the cells after it may come from the lines it
            # swallowed, so the device is the one written on the line the quote opened.
            dev, plat = _opening(opening, i_plat, i_dev)
            return Fault(first, 1, f"{what}; {swallowed_note(first, last)}", dev, plat, last - first, text,
                         len(row))
        dev = row[i_dev] if i_dev < len(row) else None
        plat = row[i_plat] if i_plat < len(row) else None
        if ended or i_dev < len(row) - 1:
            if what is None:
                return None  # a whole device cell: a cut later cell makes its run partial (make_inventory)
            return Fault(line, count, what, dev, plat, 0, text, len(row), aligned=len(row) == self.width)
        # The file ends inside this line, and inside or before its device cell: whose row it is cannot be told.
        cut = (dev or "").strip() if dev is None or decodable(dev) else ""
        where = (f"in its device cell {snippet(cut)}, so it may be a row of any device whose serial begins so, "
                 f"or of one not in the file") if cut else "before its device cell, so it may be a row of any device"
        what = f"{what + '; ' if what else ''}the file ends inside this line (no line break after it), {where}"
        return Fault(line, count, what, None, None, 0, text, len(row), cut)

    def _controls(self, row: list[str]) -> str | None:
        """Why a value of a row of the right width holds a control character, or None."""
        for i, cell in enumerate(row):
            value = cell.strip(" \t")  # blanks around a value are not part of it
            if not (_NAME_CONTROL if i == self.i_name else CONTROL).search(value):
                continue
            if i == self.i_id:
                why = clean_id(cell, "app_id")[1]
                if why:
                    return why
            return (f"{self.header[i]} {snippet(value)} holds a control character (NUL padding, ESC, a tab or CR "
                    f"for a line break...), so the line is damaged or forged and may hide other rows")
        return None

    def rejected(self, err: csv.Error, last: int) -> tuple[Fault | None, list[str] | None]:
        """The record csv rejected on line `last`: (its fault, None), or (None,
        the row) when it is only spaces after a closing quote, harmless noise
        of copies made by hand; the row is then examined like any other."""
        marked = self.marked
        first = marked[0][0] if marked else last
        text = "".join(t for _, t, _ in marked)
        if "expected after" in str(err) and marked:
            row = _respaced(text)
            if row is not None:
                return None, row  # `marked` kept: examine() looks at it
        opening = marked[0][1] if marked else None
        marked.clear()
        self.bad.clear()
        dev, plat = _opening(opening, self.i_plat, self.i_dev)
        return Fault(first, 1, csv_error_text(err, first, last), dev, plat, last - first, text), None

    def share(self, fault: Fault) -> tuple[str, str]:
        """(the device `fault` is charged to, "" for none, and the text that
        goes with that problem). Charges the rest: the lines it swallowed,
        the rows hidden inside it (to the device each names, or to the file),
        and remembers its words and its device cell to compare with the
        serials of the file at its end."""
        if fault.swallowed:
            n, first = fault.swallowed, fault.line
            self.orphans.add(f"{line_span(first + 1, first + n)}: swallowed by the quote opened on line {first}, "
                             f"so {'it' if n == 1 else 'they'} could hold rows of any device", n)
        owner = fault.dev.strip() if fault.dev is not None and decodable(fault.dev) else ""
        damaged = not owner.isprintable()  # a control or format character: no real serial holds one
        if damaged:
            self.orphans.add(f"line {fault.line}: device {snippet(owner)} holds a control or format character, "
                             f"so the row may be another device's, its serial damaged")
        cell = fault.cut if fault.cut is not None else owner
        cell = "".join(c for c in cell if c.isprintable()) if damaged or not cell.isprintable() else cell
        if cell and (damaged or not fault.aligned and not fault.swallowed):  # swallowed lines: the file's
            self._near(cell, fault, "" if damaged else owner)
            self.cut = self.cut or fault.cut is not None
        own: list[str] = []
        hidden = 0
        parts = _BREAKS.split(fault.text)
        if not parts[-1]:
            parts.pop()  # after the line break that ends the record
        named = {owner}
        for k, part in enumerate(parts):
            row_of = self._row_of([_unquoted(c) for c in part.split(",")], k < len(parts) - 1) if k else None
            if row_of is None:  # the record's own line, or a part that is not a row
                own.append(part)
            elif not row_of[1]:
                hidden += 1
                self.orphans.add(f"line {fault.line}: {fault.what}; part of it looks like a row whose device "
                                 f"cannot be told ({snippet(part)})", evidence=part)
            elif row_of[1] == owner:
                own.append(part)
            else:
                hidden += 1
                named.add(row_of[1])
                if not fault.swallowed:
                    self._near(row_of[1], fault, row_of[1])
                self._charge(row_of[0], row_of[1], f"line {fault.line}: {fault.what}; part of it looks like a row "
                                                   f"of this device ({snippet(part)})", part)
        self._mention(fault, named)
        if not hidden and fault.cells >= 2 * self.width - 1:
            self.orphans.add(f"line {fault.line}: {fault.cells} columns are room for more than one row joined "
                             f"without a line break, and the device of a row after the first cannot be told",
                             evidence=fault.text)  # searched for the ids of either platform
        return owner, "\n".join(own)

    def _row_of(self, cells: list[str], followed: bool) -> tuple[str, str] | None:
        """(platform, serial) when the cells of a part of an unreadable record
        start like a row (a platform where the header puts it), with "" for a
        device that cannot be told; None when they are no row."""
        i_plat, i_dev = self.i_plat, self.i_dev
        platform = KNOWN_PLATFORMS.get(cells[i_plat].lower()) if i_plat < len(cells) else None
        if platform is None:
            return None
        whole = i_dev < len(cells) - 1 or (i_dev == len(cells) - 1 and followed)
        serial = cells[i_dev] if whole else ""
        return platform, (serial if serial.isprintable() and decodable(serial) else "")

    def _mention(self, fault: Fault, named: set[str]) -> None:
        """Remember the values of `fault` not seen in an unreadable record before."""
        mentions = self.mentions
        if len(mentions) >= _MENTIONS:
            return
        values = set(_VALUES.findall(fault.text))
        squeezed = "".join(c for c in fault.text if c.isprintable() or c == "\n")
        if squeezed != fault.text:  # a serial a CR or a NUL was put into ("IP\rH1" of IPH1) is still that serial
            values.update(_VALUES.findall(squeezed))
        for value in values:
            if value not in mentions and value not in named and value.lower() not in KNOWN_PLATFORMS:
                mentions[value] = (fault.line, fault.what)

    def _near(self, cell: str, fault: Fault, owner: str) -> None:
        if len(self.near) >= _MENTIONS:
            self.near_overflow = True
        else:
            self.near.setdefault(cell, (fault.line, fault.what, fault.cut is not None, owner))

    def _relatives(self) -> None:
        """Charge an unreadable record whose device cell may be damaged or
        cut to every device whose serial that cell is a start of, or (not
        cut) starts with: "emulator" of "emulator,5554", a serial run into
        the next value by a lost comma. A cell that is a device read
        elsewhere is taken to be that device as written; one that names no
        such device and none of the kind above may be any device's serial,
        damaged, so the file's result says so."""
        if self.near_overflow:
            self.orphans.add(f"more than {_MENTIONS} device cells of lines that could not be read: those beyond were "
                             f"not compared with the devices' serials")
        if not self.near:
            return
        serials = sorted(self.seen)
        for cell, (line, what, cut, owner) in self.near.items():
            if owner and owner in self.good:
                continue
            hits = set()
            i = bisect_left(serials, cell)
            while i < len(serials) and serials[i].startswith(cell):
                hits.add(serials[i])
                i += 1
            if not cut:
                hits.update(cell[:k] for k in range(1, len(cell)) if cell[:k] in self.seen)
            hits.discard(owner)
            if not hits and owner:  # a cut cell or one with a control character is the file's already
                self.orphans.add(f"line {line}: {what}; its device cell {snippet(cell)} names no device with a "
                                 f"row read in the file, so it may be any device's serial, damaged")
            for serial in sorted(hits):
                for platform in self.seen[serial]:
                    self._charge(platform, serial, f"line {line}: {what}; its device cell {snippet(cell)} may be "
                                                   f"this device's serial, {'cut' if cut else 'damaged'}")

    def _charge(self, platform: str | None, serial: str, text: str, evidence: str | None = None) -> None:
        self.charges.setdefault((platform, serial), Problems()).add(text, evidence=evidence)

    def finish(self, name: str, src: InputLines, runs: int) -> Iterator[Inventory]:
        """What was charged to devices off their runs, then the file's own result."""
        seen = self.seen if self.mentions else {}  # the devices seen as dicts only when a record needs them
        for word, (line, what) in self.mentions.items():
            for serial in _serials_in(word, seen):
                for platform in seen[serial]:
                    self._charge(platform, serial, f"line {line}: {what}; that line holds this device's serial, so "
                                                   f"a row of it may be on it")
        if len(self.mentions) >= _MENTIONS:
            self.orphans.add(f"the lines that could not be read hold more than {_MENTIONS} distinct words, and "
                             f"those beyond were not compared with the devices' serials")
        self._relatives()
        for (platform, serial), problems in self.charges.items():
            yield charged(name, platform, serial, problems)
        if self.orphans.count or src.error is not None or not runs:
            yield orphaned(name, src, self.orphans, runs)


_AFFIX = 6  # the shortest serial looked for at either end of a word, not only as the whole word


def _serials_in(word: str, seen: dict[str, Any]) -> set[str]:
    """The serials of `seen` that are `word`, or (when not too short to
    mean anything) its start or its end: a serial run into the platform cell
    by a lost comma ("androidyR58M123ABC"), or into the next value."""
    hits = {word} if word in seen else set()
    if len(word) <= 255:
        for k in range(_AFFIX, len(word)):
            if word[:k] in seen:
                hits.add(word[:k])
            if word[-k:] in seen:
                hits.add(word[-k:])
    return hits


def _unquoted(cell: str) -> str:
    """A cell of a part of an unreadable line, cut at its commas: a quote
    only around it is not part of it, one on one side is (a value that runs
    on from elsewhere)."""
    cell = cell.strip(" ")
    return cell[1:-1].strip(" ") if len(cell) > 1 and cell[0] == cell[-1] == '"' else cell


def row_text(row: list[str]) -> str:
    """The text of a row csv read, for its evidence: the same words as its line."""
    return ",".join(row) + "\n"


def _respaced(text: str) -> list[str] | None:
    """The one row of `text` read with the spaces after its closing quotes
    taken out, or None when that does not make it a record csv reads."""
    try:
        rows = list(csv.reader([re.sub(r'" +(?=,|\r?\n?\Z)', '"', text)], strict=True, skipinitialspace=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


def _opening(text: str | None, i_plat: int, i_dev: int) -> tuple[str | None, str | None]:
    """(device cell, platform cell) written on the line `text` where a record
    that could not be read began, before the quote it opened; None for a
    cell that cannot be told."""
    if text is None:  # a line without quotes that csv rejected: not kept
        return None, None
    head = text[:HEAD_LINE_BYTES]  # below csv's field size limit
    cr = head.find("\r", 0, len(head) - 2)
    if cr >= 0:  # csv rejects a carriage return inside a line: read the cells before it
        head = head[:cr]
    # Every cell is whole on a line read to its line break; else the last one may go on (or was cut).
    ended = len(head) == len(text) and text.endswith("\n")
    try:
        cells = next(csv.reader([head], strict=True, skipinitialspace=True), [])
        whole = len(cells) if ended else len(cells) - 1
    except csv.Error:  # a quote left open: the last cell is not whole
        try:
            cells = next(csv.reader([head], skipinitialspace=True), [])
        except csv.Error:
            return None, None
        whole = len(cells) - 1
    return (cells[i_dev] if i_dev < whole else None), (cells[i_plat] if i_plat < whole else None)
