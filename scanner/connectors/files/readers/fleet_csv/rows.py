"""The fleet CSV's rows (read_fleet_csv): the hot path that streams them,
one device's run of rows at a time, and hands every record that cannot be
read to the Fleet, which charges it to the devices it may be a row of."""

from __future__ import annotations

import csv
from itertools import chain
from typing import Any, Iterator

from scanner.connectors.files.common import KNOWN_PLATFORMS, KNOWN_STATES, lean
from scanner.connectors.files.csv_rows import header_cells
from scanner.connectors.files.readers.fleet_csv.blocks import blocks
from scanner.connectors.files.readers.fleet_csv.fleet import Fault, Fleet, row_text
from scanner.connectors.files.readers.fleet_csv.header import (
    CSV_FIELDS,
    HEADER_AGAIN,
    header_fault,
    is_header_row,
    refused,
)
from scanner.connectors.files.readers.fleet_csv import halves
from scanner.connectors.files.readers.fleet_csv.plain import KNOWN_IDS, Known, groups
from scanner.connectors.files.readers.fleet_csv.results import Run
from scanner.connectors.files.source import InputLines
from scanner.connectors.records import BadRecord, clean_id, decodable, snippet
from scanner.model import APP_STATES, App, Inventory

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
    why = header_fault(cells)
    if why:
        yield refused(name, src, at, why)
        return
    col = {h: i for i, h in enumerate(header)}
    width = len(header)
    i_plat, i_dev, i_id = col["platform"], col["device"], col["app_id"]
    i_name, i_version = col.get("name"), col.get("version")
    simple = i_name is not None and i_version is not None and not any(k in col for k in CSV_FIELDS[2:])
    make = _csv_app_maker(col)
    fleet = Fleet(header, col)
    orphans = fleet.orphans  # lines that cannot be told to belong to any one device

    for n, raw in src.raw_lines():
        if n > at:
            break
        if raw.strip():  # only blank lines or undecodable ones come before the header
            text = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
            orphans.add(f"line {n}: {'not valid UTF-8' if not decodable(text) else snippet(text)}", evidence=raw)

    wants = lean()  # a lean read: keep only the apps a finding may rest on (and the first), count the others
    known = Known(wants)
    # Plain blocks of a lean read are taken whole (plain.groups), put here by blocks() in place of their lines.
    whole: list[list[str]] | None = [] if simple and wants is not None else None
    cols = (i_plat, i_dev, i_id, i_name or 0, i_version or 0)
    # A large file on disk: its second half read meanwhile by a second process (halves).
    half = halves.start(src, width, cols, wants) if whole is not None else None
    try:
        yield from _rows(name, src, at, fleet, whole, half, known, simple, make, width, cols)
    finally:
        if half is not None:
            half.close()


def _rows(name: str, src: InputLines, at: int, fleet: Fleet, whole: list[Any] | None, half: halves.Half | None, known: Known,
          simple: bool, make: Any, width: int, cols: tuple[int, int, int, int, int]) -> Iterator[Inventory]:
    """The rows after the header, read (see read_fleet_csv)."""
    marked, orphans = fleet.marked, fleet.orphans
    i_plat, i_dev, i_id, i_name, i_version = cols
    wants = known.wants
    clean, hot = known.clean, known.hot  # app_id cells that are ids as they stand; whether their apps are kept
    reader = csv.reader(chain.from_iterable(blocks(src, at + 1, marked, fleet.bad, whole, half)), strict=True,
                        skipinitialspace=True)
    rows: Iterator[list[str]] = reader
    offset = at + 1  # reader.line_num counts from the line after the header
    run: Run | None = None
    cur_dev: str | None = None  # the device cell and platform cell of the current run, as written
    cur_plat: str | None = None
    platform: str | None = None  # the current run's platform
    append: Any = None  # the current run's apps.append and problems.add
    problem: Any = None
    apps: list[App] = []  # the current run's apps
    fault: Fault | None = None  # a record that cannot be read, to give to its device
    while True:
        if fault:
            serial, own = fleet.share(fault)
            if not serial:
                orphans.add(f"line {fault.line}: {fault.what}", fault.count, evidence=own)
            else:
                if run is None or serial != run.serial:
                    if run is not None:
                        yield fleet.ended(run, name, src)
                    plat = fault.plat if fault.plat is not None and decodable(fault.plat) else ""
                    # A platform cell that cannot be read: the device's platform from its other rows.
                    platform = KNOWN_PLATFORMS.get(plat.strip().lower()) or fleet.platforms.get(serial)
                    run = Run(platform, serial)
                    fleet.saw(serial, platform)
                    cur_dev, cur_plat = fault.dev, (plat if platform else None)
                    apps = run.apps
                    append, problem = apps.append, run.problems.add
                problem(f"line {fault.line}: {fault.what}", fault.count, evidence=own)
            fault = None
        try:
            for row in rows:
                if len(row) != width or marked:
                    if whole:  # the blank line read in place of a plain block (or the child's half): taken whole
                        block = whole[0]
                        if type(block) is list:
                            found: Any = groups(block, width, cols, known)
                            if found is None:
                                offset -= 1  # left in `whole`, for csv to read after all
                                continue
                            offset += len(block) - 1
                        else:
                            found = block.take()
                        whole.clear()
                        for plat, dev, count, first, first_kept, kept in found:
                            if dev != cur_dev or plat != cur_plat:  # as below, for a row groups() lets through
                                new = KNOWN_PLATFORMS[plat.strip().lstrip("\ufeff").lower()]
                                serial = dev.strip()
                                cur_dev, cur_plat = dev, plat
                                if run is not None and serial == run.serial and (platform is None or new == platform):
                                    platform = run.platform = new
                                else:
                                    if run is not None:
                                        yield fleet.ended(run, name, src)
                                    platform = new
                                    run = Run(platform, serial)
                                    apps = run.apps
                                    append, problem = apps.append, run.problems.add
                                fleet.saw(serial, new)
                            if first_kept or not apps:
                                append(_app(platform, first))
                                count -= 1
                            for app in kept:
                                append(_app(platform, app))
                            run.skipped += count - len(kept)  # type: ignore[union-attr]
                        if type(block) is not list:
                            offset += block.lines - 1
                        continue
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
                    if not serial or (new is None and is_header_row(row)):
                        what = "empty device" if not serial else HEADER_AGAIN
                        orphans.add(f"line {line}: {what}", evidence=row_text(row))
                        continue
                    if not serial.isprintable():  # NUL, ESC, a BOM or a bidi mark inside a serial: damaged
                        fault = Fault(line, 1, f"device {snippet(serial)} holds a control or format character",
                                      dev, plat, 0, row_text(row), width)
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
                                    evidence=row_text(row))
                            continue
                        platform = run.platform = new
                        cur_plat = plat
                        fleet.saw(serial, new)
                    else:
                        if run is not None:
                            yield fleet.ended(run, name, src)
                        platform = new
                        run = Run(platform, serial)
                        fleet.saw(serial, new)
                        cur_dev, cur_plat = dev, (plat if platform else None)
                        apps = run.apps
                        append, problem = apps.append, run.problems.add
                        if platform is None:
                            problem(f"line {line}: platform {snippet(plat)} is not android or ios",
                                    evidence=row_text(row))
                            continue
                app_id = row[i_id]
                if app_id not in clean:
                    app_id, why = clean_id(app_id, "app_id")
                    if why:
                        problem(f"line {_first_line(reader.line_num + offset, row)}: {why}", evidence=row_text(row))
                        continue
                    if app_id == row[i_id] and len(clean) < KNOWN_IDS:
                        clean.add(app_id)
                if simple:
                    if wants is not None:
                        kept = hot.get(app_id)
                        if kept is None:
                            kept = known.kept(app_id)
                        if not kept & (2 if platform == "ios" else 1) and apps:
                            run.skipped += 1  # type: ignore[union-attr]
                            continue
                    append(App(platform, app_id, row[i_name].strip() or None, row[i_version].strip() or None))
                else:
                    try:
                        app = make(platform, app_id, row)
                    except BadRecord as err:
                        problem(f"line {_first_line(reader.line_num + offset, row)}: {err}", evidence=row_text(row))
                        continue
                    if wants is None or not apps or wants(app):
                        append(app)
                    else:
                        run.skipped += 1  # type: ignore[union-attr]
            else:
                break  # the end of the input
        except csv.Error as err:  # a quote never closed, a CR inside a line, a field over csv's size limit
            fault, again = fleet.rejected(err, reader.line_num + offset)
            rows = reader if again is None else chain((again,), reader)
    if run is not None:
        # A last line cut inside its device cell was charged to the devices it may be a row of: the run
        # before it is not one of them just because it came last.
        yield fleet.ended(run, name, None if fleet.cut else src)
    yield from fleet.finish(name, src, fleet.runs)


def _app(platform: str | None, cells: tuple[str, str, str]) -> App:
    """The App of a row of a group (plain.groups): its id, name and version cells."""
    app_id, name, version = cells
    return App(platform, app_id, name.strip() or None, version.strip() or None)


def _csv_app_maker(col: dict[str, int]) -> Any:
    """App(...) from a row with any of the optional columns (off the simple path)."""
    i_name, i_version, i_build, i_user, i_state, i_installer, i_team = (col.get(k) for k in CSV_FIELDS)

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


def _first_line(last: int, row: list[str]) -> int:
    """The line a record starts on: quoted cells keep their line breaks, so count them back."""
    return last - sum(cell.count("\n") for cell in row)
