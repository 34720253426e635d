"""The fleet CSV: platform,device,app_id[,name,version,...], one row per app
of a device.

It can hold millions of rows, so it is streamed: one device's apps at a
time, one Inventory per contiguous run of rows of a device (the audit merges
runs of the same device).
"""

from __future__ import annotations

import csv
from typing import Any, Iterator

from scanner.connectors.inputs.common import (
    KNOWN_PLATFORMS, KNOWN_STATES, BadRecord, clean_id, decodable, error_text, failure, label_of,
    make_inventory, snippet,
)
from scanner.connectors.inputs.csv_rows import (
    SPILL, blank_row, csv_error_text, header_cells, is_spill, line_span, swallowed_note,
)
from scanner.connectors.inputs.detect import HEAD_LINE_BYTES
from scanner.connectors.inputs.source import Problems, Source
from scanner.model import APP_STATES, App, DeviceInfo, Inventory, Scope

__all__ = ["read_fleet_csv"]

_CSV_FIELDS = ("name", "version", "build", "user", "state", "installer", "team_id")


class _Run:
    """A contiguous run of rows of one device."""

    __slots__ = ("platform", "serial", "apps", "problems")

    def __init__(self, platform: str | None, serial: str) -> None:
        self.platform = platform
        self.serial = serial
        self.apps: list[App] = []
        self.problems = Problems()

    def inventory(self, name: str, src: Source) -> Inventory:
        device = DeviceInfo(platform=self.platform, serial=self.serial, source=name)
        return make_inventory(name, device, self.apps, self.problems, src, what=f"device {snippet(self.serial)}")


_KNOWN_IDS = 1 << 16  # app_id cells known to be clean ids, remembered (fleets repeat the same apps)


def read_fleet_csv(name: str, src: Source, at: int) -> Iterator[Inventory]:
    """Stream the rows; yield each device's run of rows as soon as it ends.

    This is the hot path for fleet exports (a million rows): a csv.reader
    over a generator of decoded lines, and per row only a length check, two
    list checks, two comparisons, one set look-up of the app id and one
    positional App(...). Everything unusual (bad rows, a line with a quote,
    a new device, an app id not seen before) is handled off that path.
    """
    header = [c.lower() for c in header_cells(src.head[at])]
    col: dict[str, int] = {}
    for i, h in enumerate(header):
        col.setdefault(h, i)
    width = len(header)
    i_plat, i_dev, i_id = col["platform"], col["device"], col["app_id"]
    i_name, i_version = col.get("name"), col.get("version")
    simple = i_name is not None and i_version is not None and not any(k in col for k in _CSV_FIELDS[2:])
    make = _csv_app_maker(col)

    orphans = Problems()  # lines that cannot be told to belong to any one device
    for n, text in src.text_lines():
        if n > at:
            break
        if text is None or text.strip():  # only blank lines or undecodable ones come before the header
            orphans.add(f"line {n}: not valid UTF-8" if text is None else f"line {n}: {snippet(text)}")

    bad: list[int] = []
    quoted: list[tuple[int, str]] = []  # the lines with a quote of the record being read
    # strict: a quote never closed is an error at the end of the file, not a last row that swallowed the rest.
    reader = csv.reader(src.csv_lines(at + 1, bad, quoted), strict=True, skipinitialspace=True)
    offset = at + 1  # reader.line_num counts from the line after the header
    keys = (i_plat, i_dev, i_id)
    clean: set[str] = set()  # app_id cells that are ids as they stand
    platforms: dict[str, str] = {}  # serial -> platform of the devices seen so far
    run: _Run | None = None
    runs = 0
    cur_dev: str | None = None  # the device cell and platform cell of the current run, as written
    cur_plat: str | None = None
    platform: str | None = None  # the current run's platform
    append: Any = None  # the current run's apps.append and problems.add
    problem: Any = None
    fault: tuple[Any, ...] | None = None  # a record that cannot be read, to give to its device
    while True:
        if fault:
            line, count, what, dev, plat, swallowed = fault
            fault = None
            if swallowed:
                orphans.add(f"{line_span(line + 1, line + swallowed)}: swallowed by the quote opened on line {line}, "
                            f"so {'it' if swallowed == 1 else 'they'} could hold rows of any device", swallowed)
            serial = dev.strip() if dev is not None and decodable(dev) else ""
            if not serial:
                orphans.add(f"line {line}: {what}", count)
            else:
                if run is None or serial != run.serial:
                    if run is not None:
                        runs += 1
                        yield run.inventory(name, src)
                    plat = plat if plat is not None and decodable(plat) else ""
                    # A platform cell that cannot be read: the device's platform from its other rows.
                    platform = KNOWN_PLATFORMS.get(plat.strip().lower()) or platforms.get(serial)
                    run = _Run(platform, serial)
                    cur_dev, cur_plat = dev, (plat if platform else None)
                    append, problem = run.apps.append, run.problems.add
                problem(f"line {line}: {what}", count)
        try:
            for row in reader:
                if len(row) != width or bad or quoted:
                    # Off the hot path: a blank line, a wrong column count, a line that is not
                    # UTF-8, or a record with a quote (which may span several lines).
                    last = reader.line_num + offset
                    fault = _fault(row, bad, quoted[0] if quoted else (last, None), last, header, keys)
                    quoted.clear()
                    if fault:
                        break  # given to its device at the top of the while loop
                    if fault is not None:  # a blank line
                        continue
                    # else a record that is fine after all
                dev = row[i_dev]
                plat = row[i_plat]
                if dev != cur_dev or plat != cur_plat:
                    new = KNOWN_PLATFORMS.get(plat.strip().lower())
                    line = _first_line(reader.line_num + offset, row)
                    serial = dev.strip()
                    if not serial:
                        orphans.add(f"line {line}: empty device")
                        continue
                    if run is not None and serial == run.serial and (
                        new is None or platform is None or new == platform
                    ):
                        # Still the same device: a row with a bad platform, the platform or the device
                        # spelled another way ("Android", "dev1 "), or the first good row of a run a
                        # bad row began.
                        cur_dev = dev
                        if new is None:
                            problem(f"line {line}: platform {snippet(plat)} is not android or ios")
                            continue
                        platform = run.platform = new
                        cur_plat = plat
                    else:
                        if run is not None:
                            runs += 1
                            yield run.inventory(name, src)
                        platform = new
                        run = _Run(platform, serial)
                        if new is not None:
                            platforms.setdefault(serial, new)
                        cur_dev, cur_plat = dev, (plat if platform else None)
                        append, problem = run.apps.append, run.problems.add
                        if platform is None:
                            problem(f"line {line}: platform {snippet(plat)} is not android or ios")
                            continue
                app_id = row[i_id]
                if app_id not in clean:
                    app_id, why = clean_id(app_id, "app_id")
                    if why:
                        problem(f"line {_first_line(reader.line_num + offset, row)}: {why}")
                        continue
                    if app_id == row[i_id] and len(clean) < _KNOWN_IDS:
                        clean.add(app_id)
                if simple:
                    append(App(platform, app_id, row[i_name].strip() or None, row[i_version].strip() or None))
                else:
                    try:
                        append(make(platform, app_id, row))
                    except BadRecord as err:
                        problem(f"line {_first_line(reader.line_num + offset, row)}: {err}")
            else:
                break  # the end of the input
        except csv.Error as err:  # a quote never closed, or a field over csv's size limit
            last = reader.line_num + offset
            first, text = quoted[0] if quoted else (last, None)
            quoted.clear()
            bad.clear()
            dev, plat = _opening(text, i_plat, i_dev)
            fault = (first, 1, csv_error_text(err, first, last), dev, plat, last - first)
    if run is not None:
        runs += 1
        yield run.inventory(name, src)
    if orphans.count or src.error is not None or not runs:
        yield _orphans(name, src, orphans, runs)


def _fault(row: list[str], bad: list[int], opened: tuple[int, str | None], last: int, header: list[str],
           keys: tuple[int, int, int]) -> tuple[Any, ...] | None:
    """Why a fleet CSV record that ends on line `last` cannot be read: ()
    for a blank line, None when it can after all (quotes on one line, a
    name with a line break), else (first line, lines, what, device cell,
    platform cell, lines it swallowed after the first). `opened` is (line,
    text) of its first line with a quote, which is its first line when the
    record spans several."""
    i_plat, i_dev, _ = keys
    first = opened[0]
    if bad:
        line, count = bad[0], len(bad)
        bad.clear()
        what = "not valid UTF-8"
    elif last == first and blank_row(row):
        return ()
    elif len(row) != len(header):
        line, count = first, 1
        what = f"expected {len(header)} columns ({','.join(header)}), found {len(row)}"
    elif last == first:
        return None
    elif any("\n" in row[i] or "\r" in row[i] for i in keys):
        line, count = first, 1
        what = "a line break inside the platform, device or app_id value"
    elif is_spill(row):
        line, count = first, 1
        what = SPILL
    else:
        return None
    if last == first:
        return (line, count, what, row[i_dev] if len(row) > i_dev else None,
                row[i_plat] if len(row) > i_plat else None, 0)
    # A quote opened on `first` and closed on `last`: the cells after it may come from the lines it
    # swallowed, so the device is the one written on the line the quote opened.
    dev, plat = _opening(opened[1], i_plat, i_dev)
    return (first, 1, f"{what}; {swallowed_note(first, last)}", dev, plat, last - first)


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
    try:
        cells = next(csv.reader([head], strict=True, skipinitialspace=True), [])
        whole = len(cells) if len(head) == len(text) else len(cells) - 1
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


def _orphans(name: str, src: Source, orphans: Problems, runs: int) -> Inventory:
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
            problems=tuple(orphans.kept), problem_count=orphans.count,
        )
    if not orphans.count:
        return failure(name, "empty", f"{label} has a CSV header but no rows: no device to check; export it again")
    return Inventory(
        device=device, apps=(), coverage=(Scope("records", read=False, reason=f"{orphans.count} lines could not "
                                                                              f"be read"),),
        status="partial" if runs else "failed", reason="bad-lines",
        message=(f"{label}: {orphans.count} lines could not be read ({orphans.kept[0]}) and could belong to any "
                 f"device in the file, so treat every device in it as possibly incomplete; fix those lines and "
                 f"scan again"),
        problems=tuple(orphans.kept), problem_count=orphans.count,
    )


def _first_line(last: int, row: list[str]) -> int:
    """The line a record starts on: quoted cells keep their line breaks, so count them back."""
    return last - sum(cell.count("\n") for cell in row)
