"""What the MDM exports of one row per app per device share (the Kandji Prism
export, the Jamf Pro advanced-search CSV, the Workspace ONE console CSV): a
table of column names to fields (RowFormat), the header line of such a CSV
(its delimiter `,`, `;` or tab, its cells case-folded and stripped of all but
letters and digits), and the stream of rows turned into inventories (AppRows):
one Inventory per contiguous run of one device's rows, so memory stays that of
one device (the audit merges the runs of one device listed again later).

Not a reader itself (no READER): kandji_prism, jamf_search and
workspace_one_csv are, each with its own columns and blind spot.

A row's device is its MDM id, else its serial, UDID or name; a row that names
none is counted against the whole file (it could be any device's). An app is
its bundle or package id when the row gives one (an id that is no id is a bad
row, its text kept as evidence), else its display name (evidence "name"). A
desktop or other device scanner does not check (a Mac, a Windows computer, an
Apple TV) is listed as not checked with its rows counted. Every device is
partial with reason mdm-scope, never complete.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from scanner.connectors.files.common import label_of, make_inventory, not_a_phone, unowned
from scanner.connectors.files.csv_rows import csv_records, repeated_names
from scanner.connectors.files.readers.intune.rows import platform_of, suspect
from scanner.connectors.files.source import InputLines
from scanner.connectors.interface import FileReader, HeadLine
from scanner.connectors.records import Problems, clean_id, snippet
from scanner.model import MDM_SCOPE, App, DeviceInfo, Inventory, Scope

__all__ = ["AppRows", "RowFormat", "csv_reader", "header_fields", "normal", "read_csv"]

_NOT_ALNUM = re.compile(r"[\W_]+")
_OTHER_APPLE = (("appletv", "tvos", "an Apple TV"), ("tvos", "tvos", "an Apple TV"), ("vision", "visionos",
                "an Apple Vision Pro"), ("watch", "watchos", "an Apple Watch"), ("homepod", "audioos", "a HomePod"))
_DATES = ("%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%Y/%m/%d %H:%M:%S",
          "%m/%d/%Y")


def normal(cell: str) -> str:
    """A column name or JSON key as compared: case-folded, all but letters and digits removed."""
    return _NOT_ALNUM.sub("", cell.strip().strip('"').casefold())


@dataclass(frozen=True)
class RowFormat:
    """One system's export: how messages name it, its columns (normal() name -> field: "device id", "serial",
    "udid", "device name", "user", "platform", "app id", "app name", "version", "build", "date", "os version",
    "model", "path"), the columns of which one must be present to recognise it (`marks`), the key of a device
    ("Kandji id {}"), the platform of a row that names none (None: checked as on Android and on iOS), and what
    its inventory cannot see."""

    system: str
    columns: dict[str, str]
    marks: frozenset[str]
    key: str
    platform: str | None
    blind: str
    advice: str
    export: str  # how to export it again, for messages
    #: A column that says every row is a device scanner does not check (Jamf's "Computer Name": a Mac search):
    #: normal() name -> (platform, what it is).
    whole: tuple[tuple[str, tuple[str, str]], ...] = ()

    def forced(self, cells: list[str]) -> tuple[str, str] | None:
        names = {normal(c) for c in cells}
        return next((kind for name, kind in self.whole if name in names), None)

    def fields(self, cells: list[str]) -> list[str | None]:
        return [self.columns.get(normal(c)) for c in cells]

    def recognises(self, cells: list[str]) -> bool:
        """A header of this export: a mark, an app column, and no column of Intune's reports (whose
        reader comes after these)."""
        names = {normal(c) for c in cells}
        found = {self.columns.get(n) for n in names}
        return (bool(names & (self.marks | {n for n, _ in self.whole})) and bool(found & {"app id", "app name"})
                and not names & {"applicationkey", "devicecount"})


def delimiter_of(text: str) -> str:
    counts = {d: text.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def header_cells(text: str) -> list[str]:
    text = text.lstrip("\ufeff").rstrip("\r\n")
    delimiter = delimiter_of(text)
    try:
        cells = next(csv.reader([text], delimiter=delimiter, skipinitialspace=True), [])
    except csv.Error:
        cells = text.split(delimiter)
    return [c.strip() for c in cells]


def header_fields(fmt: RowFormat, text: str) -> bool:
    """`text` is the header line of `fmt`'s CSV export."""
    if len(text) > 8192 or text.lstrip("\ufeff \t").startswith(("{", "[", "<")):
        return False
    return fmt.recognises(header_cells(text))


def platform_in(cell: str, default: str | None) -> tuple[str | None, str | None] | None:
    """(platform or None for both, kind of a device not checked or None), or None for a value that names
    nothing scanner knows. A blank cell is the format's default."""
    if not cell.strip():
        return (default, None)
    folded = normal(cell)
    for start, platform, kind in _OTHER_APPLE:
        if folded.startswith((start, "apple" + start)):  # "AppleTV", "Apple tvOS"
            return (platform, kind)
    if folded.startswith("apple"):  # Workspace ONE: "Apple", "Apple iOS", "Apple macOS", "AppleOsX"
        cell = folded[5:] or "ios"
    elif folded.startswith("winrt"):
        cell = "windows"
    return platform_of(cell)


def when_of(cell: str) -> datetime | None:
    """An inventory or check-in time as the exports write it (ISO 8601, or the US forms of the consoles); None
    for a blank or a form not known (the device's age is then unknown, never guessed)."""
    text = cell.strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.removesuffix(" UTC"))
    except ValueError:
        for form in _DATES:
            try:
                when = datetime.strptime(text, form)
                break
            except ValueError:
                continue
        else:
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class _Run:
    __slots__ = ("apps", "identity", "key", "kind", "model", "name", "os_version", "platform", "problems", "rows",
                 "when")

    def __init__(self, key: str, platform: str | None, kind: str | None) -> None:
        self.key, self.platform, self.kind = key, platform, kind
        self.apps: list[App] = []
        self.rows = 0
        self.problems = Problems()
        self.name: str | None = None
        self.os_version: str | None = None
        self.model: str | None = None
        self.identity: tuple[tuple[str, str], ...] = ()
        self.when: datetime | None = None


class AppRows:
    """Rows in (`row`: field -> value), inventories out; `end` at the end."""

    def __init__(self, name: str, fmt: RowFormat, what: str = "lines", forced: tuple[str, str] | None = None) -> None:
        self.name, self.fmt, self.what, self.forced = name, fmt, what, forced
        self.word = "line" if what == "lines" else what.removesuffix("s")
        self.orphans = Problems()  # rows no device can be named for
        self.run: _Run | None = None
        self.runs = 0

    def row(self, line: int, values: dict[str, str], text: str) -> Inventory | None:
        """One row that starts on `line` (its fields, its raw text for evidence); the Inventory of the run it
        ends, if it ends one."""
        word, fmt = self.word, self.fmt
        device_id = values.get("device id", "")
        serial, udid, device_name = values.get("serial", ""), values.get("udid", ""), values.get("device name", "")
        key = (fmt.key.format(device_id) if device_id else serial or udid or device_name)
        if not key or suspect(key):
            self.orphans.add(f"{word} {line}: {'no column' if not key else snippet(key)} names the device",
                             evidence=text)
            return None
        plat_cell = values.get("platform", "")
        plat = platform_in(plat_cell, fmt.platform)
        if not plat_cell.strip() and values.get("path", "").startswith("/"):
            plat = ("macos", "a Mac")  # no platform given, but a path on disk (/Applications/...): a Mac's app
        if self.forced is not None:
            plat = self.forced
        run, done = self.run, None
        platform, kind = plat if plat is not None else ((run.platform, run.kind) if run and run.key == key
                                                        else (fmt.platform, None))
        if run is None or run.key != key or run.platform != platform or run.kind != kind:
            if run is not None:
                done = self._inventory(run, None)
            run = self.run = _Run(key, platform, kind)
            self.runs += 1
            run.name = device_name or None
            run.os_version = values.get("os version") or None
            run.model = values.get("model") or None
            user = values.get("user", "")
            run.identity = tuple((k, v) for k, v in (("serial", serial), ("udid", udid), ("user", user)) if v)
            run.when = when_of(values.get("date", ""))
        run.rows += 1
        if plat is None:
            run.problems.add(f"{word} {line}: the platform {snippet(plat_cell)} is no platform scanner knows",
                             evidence=text)
            return done
        if kind is not None:
            return done
        app_id, app_name = values.get("app id", ""), values.get("app name", "")
        version = values.get("version") or None
        build = values.get("build") or None
        if app_id:
            app_id, why = clean_id(app_id, "the app id")
            if why:
                run.problems.add(f"{word} {line}: {why}", evidence=text)
                return done
            for each in (platform,) if platform else ("android", "ios"):
                run.apps.append(App(each, app_id, app_name or None, version, build))
        elif app_name:
            if suspect(app_name):
                run.problems.add(f"{word} {line}: the app name {snippet(app_name)} holds a control or format "
                                 f"character, so the row is damaged or forged", evidence=text)
                return done
            for each in (platform,) if platform else ("android", "ios"):
                run.apps.append(App(each, app_name, app_name, version, build, evidence="name"))
        else:
            run.problems.add(f"{word} {line}: no app id and no app name", evidence=text)
        return done

    def _inventory(self, run: _Run, src: InputLines | None) -> Inventory:
        fmt, label = self.fmt, label_of(self.name)
        device = DeviceInfo(platform=run.platform, serial=run.key, name=run.name, model=run.model,
                            os_version=run.os_version, source=self.name, identity=run.identity, inventoried=run.when)
        what = f"device {snippet(run.key)}"
        if run.kind is not None:
            return not_a_phone(device, f"{label}, {what}", run.kind, run.rows, run.problems)
        scopes = [Scope(MDM_SCOPE, read=False, reason=fmt.blind)]
        if run.platform is None:
            scopes.append(Scope("platform", read=False, reason="the export names no platform, so each app is checked "
                                                               "as on Android and on iOS"))
        clean = not run.problems.count and not (src is not None and (src.unterminated or src.error is not None))
        return make_inventory(self.name, device, run.apps, run.problems, src, what=what, unit=self.what,
                              scopes=tuple(scopes), reason="mdm-scope" if clean else None,
                              message=(f"{label}, {what}: {fmt.blind}, so apps outside its view were not checked; "
                                       f"{fmt.advice}") if clean else None, reason_bad="bad-records")

    def end(self, src: InputLines | None, extra: Problems | None = None) -> Iterator[Inventory]:
        """The last run, then the rows no device can be named for (and `extra`: what the caller could not
        read), or the failure of an export with no row."""
        if self.run is not None:
            yield self._inventory(self.run, src)
            self.run = None
            src = None  # the last run took the cut line and the read error
        orphans = self.orphans
        if extra is not None:
            orphans.kept.extend(extra.kept)
            orphans.count += extra.count
            orphans.evidence.update(extra.evidence)
        yield from unowned(self.name, orphans, src, runs=self.runs, what=self.what,
                           header=f"the {self.fmt.system} header", where="it", empty_hint=self.fmt.export,
                           damaged_hint=self.fmt.export, status="failed", reason="bad-records")


def read_csv(name: str, fmt: RowFormat, src: InputLines, at: int) -> Iterator[Inventory]:
    """The rows of `fmt`'s CSV export whose header is head line `at`."""
    text = src.head[at].decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r\n")
    cells = header_cells(text)
    delimiter = delimiter_of(text)
    fields = fmt.fields(cells)
    rows = AppRows(name, fmt, forced=fmt.forced(cells))
    if not {"device id", "serial", "udid", "device name"} & set(fields):
        # A list of apps with no device (a catalog, or one device's apps exported without it): nothing to check.
        yield from _refused(rows, src, at, delimiter, "no column names a device, so this export is a list of apps, "
                            "not which device holds them")
        return
    repeated = [c for c in repeated_names(cells) if fmt.columns.get(normal(c))]
    twice = {f for f in fields if f is not None and fields.count(f) > 1}
    if repeated or twice:
        # Two columns for one field (an id, a device): which one holds it cannot be known.
        which = repeated[0] if repeated else next(iter(twice))
        yield from _refused(rows, src, at, delimiter, f"the header gives {snippet(which)} more than once, so which "
                            f"column holds it cannot be known")
        return
    width = len(cells)
    for line, row in csv_records(src, at + 1, [], rows.orphans, delimiter=delimiter, skipinitialspace=True):
        raw = delimiter.join(row)
        if len(row) != width:
            rows.orphans.add(f"line {line}: expected {width} columns, found {len(row)}", evidence=raw)
            continue
        values = {f: c.strip() for f, c in zip(fields, row, strict=True) if f is not None}
        done = rows.row(line, values, raw)
        if done is not None:
            yield done
    yield from rows.end(src)


def _refused(rows: AppRows, src: InputLines, at: int, delimiter: str, why: str) -> Iterator[Inventory]:
    """A header that cannot be read (head line `at`): no row is read, all their text is searched."""
    rows.orphans.add(f"line {at + 1}: {why}")
    for _line, row in csv_records(src, at + 1, [], rows.orphans, delimiter=delimiter, skipinitialspace=True):
        rows.orphans.search(delimiter.join(row))
    yield from rows.end(src)


def csv_reader(fmt: RowFormat, *, name: str, description: str, help: str) -> FileReader:
    """The FileReader of `fmt`'s CSV export."""

    def head(text: str) -> bool:
        return header_fields(fmt, text)

    def read(file: str, src: InputLines, line: HeadLine) -> Iterator[Inventory]:
        return read_csv(file, fmt, src, line.at)

    return FileReader(name=name, description=description, help=help, head=head, read=read)
