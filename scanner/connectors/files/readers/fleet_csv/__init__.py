"""The fleet CSV: platform,device,app_id[,name,version,...], one row per app
of a device.

It can hold millions of rows, so it is streamed: one device's apps at a
time, one Inventory per contiguous run of rows of a device (the audit merges
runs of the same device, and so also the parts of a device's result that
are only known at the end, below).

A row that cannot be read is charged to every device it may be a row of,
never to one device only, and its text goes with it as evidence:

- the device written on its own line, when that cell is whole (a last line
  cut inside its device cell names no device: it goes to every device whose
  serial begins so, and to the file);
- the device of each row hidden inside it (rows joined by a carriage return
  or a tab, rows a stray quote swallowed);
- every device of the file whose serial is one of its values, or the start
  or end of one (a serial run into the next value by a lost comma);
- when the line is broken (not one line of the header's width) and its
  device cell names no device read elsewhere, the devices whose serial that
  cell starts or is the start of, or else the file: the cell may be a
  damaged serial. A serial holding a control or format character is always
  treated so.

Devices already yielded get a part of their own at the end. What cannot be
told to any device goes to the file's own result (no device): "treat every
device in it as possibly incomplete", and the exit code is incomplete.
"""

from __future__ import annotations

import csv
import re
from bisect import bisect_left
from itertools import chain
from typing import Any, Iterator

from scanner.connectors.files.common import (
    KNOWN_PLATFORMS, KNOWN_STATES, error_text, failed_inventory, header_refused, label_of, make_inventory,
)
from scanner.connectors.files.csv_rows import (
    SPILL, blank_row, csv_error_text, header_cells, is_spill, line_span, swallowed_note,
)
from scanner.connectors.files.source import HEAD_LINE_BYTES, InputLines
from scanner.connectors.interface import FileReader, HeadLine
from scanner.connectors.records import BadRecord, Problems, clean_id, decodable, residue_of, snippet
from scanner.model import APP_STATES, App, DeviceInfo, Inventory, Scope

__all__ = ["READER", "read_fleet_csv"]


def _is_header(text: str) -> bool:
    names = {c.lower() for c in header_cells(text.encode("utf-8"))}
    return {"platform", "device", "app_id"} <= names


def _read(name: str, src: InputLines, head: HeadLine) -> Iterator[Inventory]:
    return read_fleet_csv(name, src, head.at)


READER = FileReader(
    name="fleet-csv",
    description="a CSV with a platform,device,app_id header",
    help="a platform,device,app_id CSV",
    head=_is_header,
    read=_read,
)

_CSV_FIELDS = ("name", "version", "build", "user", "state", "installer", "team_id")
_KNOWN_IDS = 1 << 16  # app_id cells known to be clean ids, remembered (fleets repeat the same apps)
_MENTIONS = 1 << 16  # words of unreadable lines kept to compare with the serials of devices seen later
_BLOCK = 1 << 15  # bytes of lines read at a time

# The control characters (Unicode Cc): refused in every value, since no real value holds one. NUL padding
# after a crash, ESC, a tab or a carriage return standing for a line break mean a damaged or forged line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAME_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # a quoted name may hold line breaks
_C1 = re.compile(r"[\x80-\x9f]")
_CONTROL_BYTES = bytes([*range(0, 10), 11, 12, *range(14, 32), 127])  # C0 and DEL; LF and CR are counted
# Where a row may begin inside text that is not one row: a line break, or what replaced one.
_BREAKS = re.compile(r"[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]+")
# The values in such text, without the blanks around them: what lies between commas, quotes and breaks.
_VALUES = re.compile(r'[^,"\s](?:[^,"\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]*[^,"\s])?')


class _Run:
    """A contiguous run of rows of one device."""

    __slots__ = ("platform", "serial", "apps", "problems")

    def __init__(self, platform: str | None, serial: str) -> None:
        self.platform = platform
        self.serial = serial
        self.apps: list[App] = []
        self.problems = Problems()

    def inventory(self, name: str, src: InputLines | None) -> Inventory:
        device = DeviceInfo(platform=self.platform, serial=self.serial, source=name)
        return make_inventory(name, device, self.apps, self.problems, src, what=f"device {snippet(self.serial)}")


class _Fault:
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


def read_fleet_csv(name: str, src: InputLines, at: int) -> Iterator[Inventory]:
    """Stream the rows; yield each device's run of rows as soon as it ends.

    This is the hot path for fleet exports (a million rows): a csv.reader
    over blocks of decoded lines, and per row only a length check, a list
    check, two comparisons, one set look-up of the app id and one positional
    App(...). Everything unusual (a line with a quote or a control
    character, bad rows, a new device, an app id not seen before) is handled
    off that path.
    """
    cells = header_cells(src.head[at])
    header = [c.lower() for c in cells]
    why = _header_fault(cells)
    if why:
        yield _refused(name, src, at, why)
        return
    col = {h: i for i, h in enumerate(header)}
    width = len(header)
    i_plat, i_dev, i_id = col["platform"], col["device"], col["app_id"]
    i_name, i_version = col.get("name"), col.get("version")
    simple = i_name is not None and i_version is not None and not any(k in col for k in _CSV_FIELDS[2:])
    make = _csv_app_maker(col)
    fleet = _Fleet(header, col)
    orphans = fleet.orphans  # lines that cannot be told to belong to any one device

    for n, raw in src.raw_lines():
        if n > at:
            break
        if raw.strip():  # only blank lines or undecodable ones come before the header
            text = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
            orphans.add(f"line {n}: {'not valid UTF-8' if not decodable(text) else snippet(text)}", evidence=raw)

    marked, platforms = fleet.marked, fleet.platforms
    reader = csv.reader(chain.from_iterable(_blocks(src, at + 1, marked, fleet.bad)), strict=True,
                        skipinitialspace=True)
    rows: Iterator[list[str]] = reader
    offset = at + 1  # reader.line_num counts from the line after the header
    clean: set[str] = set()  # app_id cells that are ids as they stand
    run: _Run | None = None
    runs = 0
    cur_dev: str | None = None  # the device cell and platform cell of the current run, as written
    cur_plat: str | None = None
    platform: str | None = None  # the current run's platform
    append: Any = None  # the current run's apps.append and problems.add
    problem: Any = None
    fault: _Fault | None = None  # a record that cannot be read, to give to its device
    while True:
        if fault:
            serial, own = fleet.share(fault)
            if not serial:
                orphans.add(f"line {fault.line}: {fault.what}", fault.count, evidence=own)
            else:
                if run is None or serial != run.serial:
                    if run is not None:
                        runs += 1
                        fleet.ran(run)
                        yield run.inventory(name, src)
                    plat = fault.plat if fault.plat is not None and decodable(fault.plat) else ""
                    # A platform cell that cannot be read: the device's platform from its other rows.
                    platform = KNOWN_PLATFORMS.get(plat.strip().lower()) or platforms.get(serial)
                    run = _Run(platform, serial)
                    fleet.saw(serial, platform)
                    cur_dev, cur_plat = fault.dev, (plat if platform else None)
                    append, problem = run.apps.append, run.problems.add
                problem(f"line {fault.line}: {fault.what}", fault.count, evidence=own)
            fault = None
        try:
            for row in rows:
                if len(row) != width or marked:
                    # Off the hot path: a blank line, a wrong column count, a line that is not UTF-8, holds
                    # a quote (a record may span several lines) or a control character, or may be cut.
                    fault = fleet.examine(row, reader.line_num + offset)
                    if fault:
                        break  # given to its device at the top of the while loop
                    if fault is not None:  # a blank line
                        continue
                    # else a record that is fine after all
                dev = row[i_dev]
                plat = row[i_plat]
                if dev != cur_dev or plat != cur_plat:
                    new = KNOWN_PLATFORMS.get(plat.strip().lstrip("\ufeff").lower())  # a BOM: files joined
                    line = _first_line(reader.line_num + offset, row)
                    serial = dev.strip()
                    if not serial or (new is None and _is_header(row)):
                        what = "empty device" if not serial else _HEADER_AGAIN
                        orphans.add(f"line {line}: {what}", evidence=_text(row))
                        continue
                    if not serial.isprintable():  # NUL, ESC, a BOM or a bidi mark inside a serial: damaged
                        fault = _Fault(line, 1, f"device {snippet(serial)} holds a control or format character",
                                       dev, plat, 0, _text(row), width)
                        break
                    if run is not None and serial == run.serial and (
                        new is None or platform is None or new == platform
                    ):
                        # Still the same device: a row with a bad platform, the platform or the device
                        # spelled another way ("Android", "dev1 "), or the first good row of a run a
                        # bad row began.
                        cur_dev = dev
                        if new is None:
                            problem(f"line {line}: platform {snippet(plat)} is not android or ios",
                                    evidence=_text(row))
                            continue
                        platform = run.platform = new
                        cur_plat = plat
                        fleet.saw(serial, new)
                    else:
                        if run is not None:
                            runs += 1
                            fleet.ran(run)
                            yield run.inventory(name, src)
                        platform = new
                        run = _Run(platform, serial)
                        fleet.saw(serial, new)
                        cur_dev, cur_plat = dev, (plat if platform else None)
                        append, problem = run.apps.append, run.problems.add
                        if platform is None:
                            problem(f"line {line}: platform {snippet(plat)} is not android or ios",
                                    evidence=_text(row))
                            continue
                app_id = row[i_id]
                if app_id not in clean:
                    app_id, why = clean_id(app_id, "app_id")
                    if why:
                        problem(f"line {_first_line(reader.line_num + offset, row)}: {why}", evidence=_text(row))
                        continue
                    if app_id == row[i_id] and len(clean) < _KNOWN_IDS:
                        clean.add(app_id)
                if simple:
                    append(App(platform, app_id, row[i_name].strip() or None, row[i_version].strip() or None))
                else:
                    try:
                        append(make(platform, app_id, row))
                    except BadRecord as err:
                        problem(f"line {_first_line(reader.line_num + offset, row)}: {err}", evidence=_text(row))
            else:
                break  # the end of the input
        except csv.Error as err:  # a quote never closed, a CR inside a line, a field over csv's size limit
            fault, again = fleet.rejected(err, reader.line_num + offset)
            rows = reader if again is None else chain((again,), reader)
    if run is not None:
        runs += 1
        fleet.ran(run)
        # A last line cut inside its device cell was charged to the devices it may be a row of: the run
        # before it is not one of them just because it came last.
        yield run.inventory(name, None if fleet.cut else src)
    yield from fleet.finish(name, src, runs)


_HEADER_AGAIN = ("the header line again (two exports joined into one?): not a row of any device, and the rows "
                 "after it may follow another order of columns")


class _Fleet:
    """What the reader keeps besides the current run: the lines of the record
    being read that need a second look, the devices seen, and what is charged
    to devices other than the current run's."""

    def __init__(self, header: list[str], col: dict[str, int]) -> None:
        self.header = header
        self.width = len(header)
        self.i_plat, self.i_dev, self.i_id = col["platform"], col["device"], col["app_id"]
        self.i_name = col.get("name")
        self.marked: list[tuple[int, str, bool]] = []  # (line, text, needs a look) of the record, see _blocks
        self.bad: list[int] = []  # the lines of the current record that are not UTF-8
        self.orphans = Problems()
        self.platforms: dict[str, str] = {}  # serial -> the first platform it was seen with
        self.seen: dict[str, set[str | None]] = {}  # serial -> every platform it was seen with
        self.charges: dict[tuple[str | None, str], Problems] = {}  # problems of devices, off their runs
        self.mentions: dict[str, tuple[int, str]] = {}  # word of an unreadable record -> its line, why
        # The device cell of an unreadable record, when it may be a damaged or cut serial -> (line, why, whether
        # cut, the device it was charged to): the devices whose serial it is a start of (or starts) may own it.
        self.near: dict[str, tuple[int, str, bool, str]] = {}
        self.near_overflow = False
        self.good: set[str] = set()  # devices with a run of rows read
        self.cut = False  # the file ends inside the device cell of its last line

    def ran(self, run: _Run) -> None:
        """A run ends (off the hot path)."""
        if run.apps:
            self.good.add(run.serial)

    def saw(self, serial: str, platform: str | None) -> None:
        """Remember a device (off the hot path: once per run)."""
        self.seen.setdefault(serial, set()).add(platform)
        if platform is not None:
            self.platforms.setdefault(serial, platform)

    def examine(self, row: list[str], last: int) -> _Fault | tuple[()] | None:
        """Why the record csv read, which ends on line `last`, cannot be
        read: () for a blank line, None when it can after all (quotes on one
        line, a name with a line break), else the fault."""
        marked, bad, i_plat, i_dev = self.marked, self.bad, self.i_plat, self.i_dev
        if len(marked) == 1 and not marked[0][2] and len(row) == self.width:
            marked.clear()  # the common case, quotes on one whole line: fine (a second header is caught later)
            return None
        first = marked[0][0] if marked else last  # only a quote makes a record span lines, and it is marked
        text = "".join(t for _, t, _ in marked) if marked else _text(row)
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
        elif "app_id" in text.lower() and _is_header(row):
            what = _HEADER_AGAIN
            return _Fault(first, 1, what, None, None, 0, text, len(row))
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
            return _Fault(first, 1, f"{what}; {swallowed_note(first, last)}", dev, plat, last - first, text,
                          len(row))
        dev = row[i_dev] if i_dev < len(row) else None
        plat = row[i_plat] if i_plat < len(row) else None
        if ended or i_dev < len(row) - 1:
            if what is None:
                return None  # a whole device cell: a cut later cell makes its run partial (make_inventory)
            return _Fault(line, count, what, dev, plat, 0, text, len(row), aligned=len(row) == self.width)
        # The file ends inside this line, and inside or before its device cell: whose row it is cannot be told.
        cut = (dev or "").strip() if dev is None or decodable(dev) else ""
        where = (f"in its device cell {snippet(cut)}, so it may be a row of any device whose serial begins so, "
                 f"or of one not in the file") if cut else "before its device cell, so it may be a row of any device"
        what = f"{what + '; ' if what else ''}the file ends inside this line (no line break after it), {where}"
        return _Fault(line, count, what, None, None, 0, text, len(row), cut)

    def _controls(self, row: list[str]) -> str | None:
        """Why a value of a row of the right width holds a control character, or None."""
        for i, cell in enumerate(row):
            value = cell.strip(" \t")  # blanks around a value are not part of it
            if not (_NAME_CONTROL if i == self.i_name else _CONTROL).search(value):
                continue
            if i == self.i_id:
                why = clean_id(cell, "app_id")[1]
                if why:
                    return why
            return (f"{self.header[i]} {snippet(value)} holds a control character (NUL padding, ESC, a tab or CR "
                    f"for a line break...), so the line is damaged or forged and may hide other rows")
        return None

    def rejected(self, err: csv.Error, last: int) -> tuple[_Fault | None, list[str] | None]:
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
        return _Fault(first, 1, csv_error_text(err, first, last), dev, plat, last - first, text), None

    def share(self, fault: _Fault) -> tuple[str, str]:
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

    def _mention(self, fault: _Fault, named: set[str]) -> None:
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

    def _near(self, cell: str, fault: _Fault, owner: str) -> None:
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
        seen = self.seen
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
            yield _charged(name, platform, serial, problems)
        if self.orphans.count or src.error is not None or not runs:
            yield _orphans(name, src, self.orphans, runs)


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


def _blocks(src: InputLines, start: int, marked: list[tuple[int, str, bool]],
            bad: list[int]) -> Iterator[list[str] | Iterator[str]]:
    """The lines from head line `start` (0-based) on, in blocks for csv to
    read through itertools.chain: a block with nothing unusual in it is one
    list of decoded lines, handed out without a Python step per line.

    A block with a quote, a control character, a carriage return other than
    of CRLF, bytes that are not UTF-8, a line over csv's field limit, or the
    end of a file without a line break, is handed out one line at a time:
    each line with a quote or that needs a second look is appended to
    `marked` as (line number, text, whether it needs a second look: see
    _one_by_one), and so is every line after it until the reader empties
    `marked` at the end of the record. A record with nothing in
    `marked` is therefore one ordinary line; otherwise `marked` holds all its
    lines, the raw text of a record csv may reject. Lines that are not UTF-8
    are also numbered in `bad`, and given with surrogate escapes so that
    their device cell can still be told apart.
    """
    limit = csv.field_size_limit()
    n = start  # the last line handed out
    tail = b""  # the last lines handed out
    try:
        for chunk in _chunks(src, start):
            if not chunk:
                continue
            tail = chunk
            lines = _plain(chunk, limit)
            if lines is None:
                raw = [line + b"\n" for line in chunk.split(b"\n")]
                raw[-1] = raw[-1][:-1]  # what follows the last line break: nothing, or a last line without one
                if not raw[-1]:
                    raw.pop()
                yield _one_by_one(raw, n, marked, bad, limit)
            elif marked or b'"' in chunk:
                yield _quoted(lines, n, marked)
            else:
                yield lines
            n += len(lines if lines is not None else raw)
    except OSError as err:
        src.error, src.error_line = err, n + 1
    else:
        if tail[tail.rfind(b"\n") + 1:].strip(b" \t\r"):
            src.unterminated = n  # as InputLines does: make_inventory says the file may have been cut


def _chunks(src: InputLines, start: int) -> Iterator[bytes]:
    """Whole lines, about _BLOCK bytes at a time (the rest of the head
    first); the last chunk is what follows the last line break. Reading in
    blocks, not lines, so that a read error loses only the line it cut."""
    src.complete_head()
    yield b"".join(src.head[start:])
    read = getattr(src.stream, "read1", src.stream.read)  # read1: what one read gives, never lost to a later error
    carry: list[bytes] = []
    while True:
        data = read(_BLOCK)
        if not data:
            yield b"".join(carry)
            return
        cut = data.rfind(b"\n") + 1
        if not cut:  # a line longer than a block
            carry.append(data)
            continue
        carry.append(data[:cut])
        yield b"".join(carry)
        carry = [data[cut:]]


def _plain(chunk: bytes, limit: int) -> list[str] | None:
    """The decoded lines of `chunk`, line ends kept, when none of them needs a
    second look: no control character (C0 or DEL; C1 is \\xc2\\x80-\\x9f in
    UTF-8), no CR but those of CRLF, valid UTF-8, each ending in a line
    break (none of the other line breaks str.splitlines knows), and below
    csv's field limit. Else None."""
    if (len(chunk) >= limit or not chunk.endswith(b"\n") or b"\xc2" in chunk or b"\xe2\x80\xa8" in chunk
            or b"\xe2\x80\xa9" in chunk or chunk.count(b"\r") != chunk.count(b"\r\n")
            or len(chunk.translate(None, _CONTROL_BYTES)) != len(chunk)):
        return None
    try:
        return chunk.decode("utf-8").splitlines(True)
    except UnicodeDecodeError:
        return None


def _quoted(lines: list[str], n: int, marked: list[tuple[int, str, bool]]) -> Iterator[str]:
    """Plain lines of which some hold a quote, one at a time (see _blocks)."""
    for n, text in enumerate(lines, n + 1):
        if marked or '"' in text:
            marked.append((n, text, False))
        yield text


def _one_by_one(block: list[bytes], n: int, marked: list[tuple[int, str, bool]], bad: list[int],
                limit: int) -> Iterator[str]:
    for n, raw in enumerate(block, n + 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(n)
            text = raw.decode("utf-8", "surrogateescape")
            marked.append((n, text, True))
            yield text
            continue
        # A control character (C0 and DEL here, C1 below), a carriage return that is not of the line end,
        # no line break at the end (the last line of a file that may have been cut), a line over csv's limit.
        look = (raw[-1:] != b"\n" or len(raw) >= limit or len(raw.translate(None, _CONTROL_BYTES)) != len(raw)
                or (b"\r" in raw and raw.find(b"\r", 0, len(raw) - 2) >= 0)
                or (b"\xc2" in raw and _C1.search(text) is not None))
        if look or marked or '"' in text:
            marked.append((n, text, look))
        yield text


def _unquoted(cell: str) -> str:
    """A cell of a part of an unreadable line, cut at its commas: a quote
    only around it is not part of it, one on one side is (a value that runs
    on from elsewhere)."""
    cell = cell.strip(" ")
    return cell[1:-1].strip(" ") if len(cell) > 1 and cell[0] == cell[-1] == '"' else cell


def _text(row: list[str]) -> str:
    """The text of a row csv read, for its evidence: the same words as its line."""
    return ",".join(row) + "\n"


def _is_header(row: list[str]) -> bool:
    return {"platform", "device", "app_id"} <= {c.strip(" \t\ufeff").lower() for c in row}


_COLUMNS = frozenset(("platform", "device", "app_id", *_CSV_FIELDS))


def _header_fault(cells: list[str]) -> str | None:
    """Why the header cannot be trusted to say which value is which, or None:
    a column named twice (compared without case), a control character, or
    a row joined to it ("version" + "android,R58M1,..." = "versionandroid")."""
    seen: set[str] = set()
    repeated: dict[str, None] = {}
    for cell in cells:
        key = cell.casefold()
        if _CONTROL.search(cell):
            return f"the header's column {snippet(cell)} holds a control character"
        if key in KNOWN_PLATFORMS or any(key.endswith(p) and key[:-len(p)] in _COLUMNS for p in KNOWN_PLATFORMS):
            return f"the header's column {snippet(cell)} is not a name but runs into a row (a lost line break)"
        if key in seen:
            repeated[cell] = None
        elif key:  # columns with no name ("a,b,c,," from a spreadsheet) are ignored
            seen.add(key)
    if repeated:
        names = ", ".join(repr(r) for r in repeated)
        return (f"the header gives the column {names} more than once, so which of them holds each row's value "
                f"cannot be known")
    return None


def _refused(name: str, src: InputLines, at: int, why: str) -> Inventory:
    return header_refused(name, src, at, why, "export it again with each column named once and nothing else on "
                                               "the header line")


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


def _csv_app_maker(col: dict[str, int]) -> Any:
    """App(...) from a row with any of the optional columns (off the simple path)."""
    i_name, i_version, i_build, i_user, i_state, i_installer, i_team = (col.get(k) for k in _CSV_FIELDS)

    def cell(row: list[str], i: int | None) -> str | None:
        return (row[i].strip() or None) if i is not None else None

    def make(platform: str, app_id: str, row: list[str]) -> App:
        user = cell(row, i_user)
        if user is not None:
            user = user.strip()
            if not (user.isascii() and user.isdigit() and len(user) <= 10):
                raise BadRecord(f"user {snippet(user)} is not a user number (0, 10, 150, ...)")
        state = cell(row, i_state)
        if state is not None:
            state = state.strip().lower()
            if state not in KNOWN_STATES:
                raise BadRecord(f"state {snippet(state)} is not one of {', '.join(APP_STATES)}")
        return App(
            platform, app_id, cell(row, i_name), cell(row, i_version), cell(row, i_build), cell(row, i_installer),
            None if user is None else int(user), state or "installed", None, None, cell(row, i_team),
        )

    return make


def _charged(name: str, platform: str | None, serial: str, problems: Problems) -> Inventory:
    """The part of a device's result that lines of other devices, which could
    not be read, may hold: no app read, merged by the audit with the device's
    own rows (partial then), or failed when the file has no other row of it."""
    label = f"{label_of(name)}, device {snippet(serial)}"
    return Inventory(
        device=DeviceInfo(platform=platform, serial=serial, source=name), apps=(),
        coverage=(Scope("records", read=False, reason=f"{problems.count} lines that could not be read may hold "
                                                      f"rows of it"),),
        status="failed", reason="bad-lines",
        message=(f"{label}: {problems.count} lines that could not be read may hold rows of this device "
                 f"({problems.kept[0]}); the apps on them were not checked: fix those lines and scan again"),
        problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems),
    )


def _orphans(name: str, src: InputLines, orphans: Problems, runs: int) -> Inventory:
    """The input itself: lines no device can be named for, a read error, or no rows at all."""
    label = label_of(name)
    device = DeviceInfo(platform=None, serial=None, source=name)
    if src.error is not None:
        orphans.add(f"line {src.error_line}: {error_text(src.error)}")
        return Inventory(
            device=device, apps=(), coverage=(Scope("records", read=False, reason=f"reading stopped at line "
                                                                                  f"{src.error_line}"),),
            status="partial" if runs else "failed", reason="read-error",
            message=(f"{label}: reading stopped at line {src.error_line} ({error_text(src.error)}); the devices and "
                     f"apps after it were not checked: copy the file somewhere readable and scan it again"),
            problems=tuple(orphans.kept), problem_count=orphans.count, residue=residue_of(orphans),
        )
    if not orphans.count:
        return failed_inventory(name, "empty",
                                f"{label} has a CSV header but no rows: no device to check; export it again")
    return Inventory(
        device=device, apps=(), coverage=(Scope("records", read=False, reason=f"{orphans.count} lines could not "
                                                                              f"be read"),),
        status="partial" if runs else "failed", reason="bad-lines",
        message=(f"{label}: {orphans.count} lines could not be read ({orphans.kept[0]}) and could belong to any "
                 f"device in the file, so treat every device in it as possibly incomplete; fix those lines and "
                 f"scan again"),
        problems=tuple(orphans.kept), problem_count=orphans.count, residue=residue_of(orphans),
    )


def _first_line(last: int, row: list[str]) -> int:
    """The line a record starts on: quoted cells keep their line breaks, so count them back."""
    return last - sum(cell.count("\n") for cell in row)
