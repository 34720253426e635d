"""The rows of Intune's Discovered-apps reports, however they are saved (a CSV
or the columns/values JSON): the columns (Columns), and the stream of rows
turned into inventories (Rows): one Inventory per contiguous run of one
device's rows, never the whole file in memory, and for an aggregate report one
inventory of counted apps."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

from scanner.connectors.files.common import label_of, lean, make_inventory, not_a_phone, unowned
from scanner.connectors.files.source import InputLines
from scanner.connectors.records import Problems, residue_of, snippet
from scanner.model import MAX_PROBLEMS, MDM_SCOPE, App, DeviceInfo, Inventory, Scope

# The column names, compared casefolded with everything but letters and digits removed. The report's own
# (AppInvRawData...) are confirmed by the note; the display-style ones of the UI's "selected columns" export
# are unverified guesses, accepted so that such an export is not refused.
_FIELDS = {
    "applicationkey": "key", "applicationname": "name", "appname": "name", "application": "name",
    "applicationpublisher": "publisher", "publisher": "publisher",
    "applicationshortversion": "short", "applicationversion": "version", "version": "version",
    "deviceid": "device", "intunedeviceid": "device", "devicename": "device name",
    "osdescription": "os description", "osversion": "os version", "platform": "platform",
    "userid": "user id", "emailaddress": "email", "email": "email", "username": "user name",
    "devicecount": "count", "devices": "count",
}
_NOT_ALNUM = re.compile(r"[\W_]+")
_BLANKS = re.compile(r"[\s_-]+")  # "Device ID", "device_id": what a column name may be spelled with
_SUSPECT = frozenset(("Cc", "Cf", "Zl", "Zp"))  # control and format (bidi) characters: a damaged or forged name

BLIND = ("Intune's discovered apps are all but system apps on a corporate iOS device, managed apps only on a "
         "personal one and the work profile only on Android Enterprise, and the export does not say which this "
         "is; Intune gives display names only, so an app renamed or localized beyond the catalog's names is not "
         "found (the restricted-apps violations report carries app ids)")
MESSAGE = ("{label}, device {dev}: Intune's discovered apps may leave out apps (personal devices: managed apps "
           "only; Android Enterprise: the work profile only) and give display names only: check those apps on "
           "the device itself, or scan it with --accept-scope mdm to accept what Intune sees")
DESKTOPS = (("windowsmobile", "windows", "a Windows Mobile device"), ("windowsholographic", "windows", "a HoloLens"),
            ("windows", "windows", "a Windows computer"), ("macos", "macos", "a Mac"), ("osx", "macos", "a Mac"),
            ("mac", "macos", "a Mac"), ("linux", "linux", "a Linux computer"), ("ubuntu", "linux", "a Linux computer"),
            ("chromeos", "chromeos", "a ChromeOS device"), ("chrome", "chromeos", "a ChromeOS device"))
_PLATFORMS: dict[str, tuple[str, str | None] | None] = {}  # a Platform cell -> (platform, desktop kind); None: unknown


def field_of(cell: str) -> tuple[str | None, bool]:
    """(the field a column holds or None, whether it is the `_loc` twin)."""
    text = cell.strip().strip('"').strip()
    loc = text.casefold().endswith("_loc")
    if loc:
        text = text[:-4]
    return _FIELDS.get(_BLANKS.sub("", text.casefold())), loc


def platform_of(cell: str) -> tuple[str, str | None] | None:
    """("android"|"ios", None), (desktop platform, what it is) or None for a value that names no platform."""
    try:
        return _PLATFORMS[cell]
    except KeyError:
        pass
    v = _NOT_ALNUM.sub("", cell.casefold())
    found: tuple[str, str | None] | None = None
    if v.startswith(("ios", "ipados", "iphone", "ipad")):
        found = ("ios", None)
    elif v.startswith("android") or v in ("aosp", "androidosp"):
        found = ("android", None)
    else:
        for start, platform, kind in DESKTOPS:
            if v.startswith(start):
                found = (platform, kind)
                break
    if len(_PLATFORMS) < 4096:
        _PLATFORMS[cell] = found
    return found


class Columns:
    """Which position holds which field: the raw column, else its `_loc` twin."""

    def __init__(self, cells: list[str]) -> None:
        self.cells = cells
        self.width = len(cells)
        raw: dict[str, int] = {}
        loc: dict[str, int] = {}
        for i, cell in enumerate(cells):
            field, is_loc = field_of(cell)
            if field is not None:
                (loc if is_loc else raw).setdefault(field, i)
        self.at = {**loc, **raw}

    @property
    def recognised(self) -> bool:
        at = self.at
        return ("key" in at or "name" in at) and ("device" in at or "count" in at)

    @property
    def aggregate(self) -> bool:
        return "device" not in self.at


def suspect(text: str) -> bool:
    """A control or format (bidi) character in a value: damaged or forged."""
    return not text.isprintable() and any(unicodedata.category(c) in _SUSPECT for c in text)


class _Run:
    __slots__ = ("apps", "kind", "name", "os_version", "plat_cell", "platform", "problems", "rows", "serial", "skipped",
                 "user")

    def __init__(self, serial: str, platform: str | None, kind: str | None) -> None:
        self.serial, self.platform, self.kind = serial, platform, kind
        self.plat_cell: str | None = None  # the Platform value of its first row
        self.name: str | None = None
        self.user: str | None = None
        self.os_version: str | None = None
        self.apps: list[App] = []
        self.skipped = 0  # apps read and not kept (a lean read)
        self.rows = 0
        self.problems = Problems()


class Rows:
    """Rows in, inventories out: `row` for each record, `end` at the end."""

    def __init__(self, name: str, columns: Columns, what: str = "lines", delimiter: str = ",") -> None:
        self.name, self.columns, self.what, self.delimiter = name, columns, what, delimiter
        self.width = columns.width
        self.word = "line" if what == "lines" else what.removesuffix("s")  # "line 3", "row 3", "app 3"
        at = columns.at
        self.i_dev = at.get("device")
        self.i_name = at.get("name", at.get("key"))
        self.i_short, self.i_version = at.get("short"), at.get("version")
        self.i_plat, self.i_count = at.get("platform"), at.get("count")
        self.i_devname, self.i_os = at.get("device name"), at.get("os version")
        self.i_email, self.i_user = at.get("email"), at.get("user name")
        self.orphans = Problems()  # records no device can be named for
        self.run: _Run | None = None
        self.runs = 0
        # the aggregate
        self.counted: list[App] = []
        self.desktop_rows: dict[str, int] = {}
        self.agg_problems = Problems()
        self.wants = lean()  # a lean read: keep only the apps a finding may rest on (and the first)
        self.hot: dict[str | None, dict[str, bool]] = {"android": {}, "ios": {}}  # name -> kept, per platform

    def _cell(self, row: list[str], i: int | None) -> str:
        return row[i].strip() if i is not None else ""

    def text(self, row: list[str], text: str | None) -> str:
        """The raw text of a record, for the evidence of a problem: as given, else its cells joined."""
        return text if text is not None else self.delimiter.join(row)

    def row(self, line: int, row: list[str], text: str | None = None) -> Inventory | None:
        """One record (a list of cells in header order) that starts on `line`; `text` is its raw text (None: its
        cells joined by `delimiter`). Returns the Inventory of the run of rows it ends, if it ends one.

        The hot loop of an export of millions of rows: a row of the device and Platform value of the row
        before it goes straight to the app."""
        if len(row) != self.width:
            self.orphans.add(f"{self.word} {line}: expected {self.width} columns, found {len(row)}",
                             evidence=self.text(row, text))
            return None
        if self.i_dev is None:
            self._counted(line, row, self.text(row, text))
            return None
        serial = row[self.i_dev].strip()
        plat_cell = row[self.i_plat].strip() if self.i_plat is not None else ""
        run = self.run
        done = None
        if run is None or serial != run.serial or plat_cell != run.plat_cell:
            if not serial or (not serial.isprintable() and suspect(serial)):
                self.orphans.add(f"{self.word} {line}: "
                                 f"{'no DeviceId' if not serial else 'the DeviceId ' + snippet(serial)} names no "
                                 f"device", evidence=self.text(row, text))
                return None
            plat = platform_of(plat_cell)
            platform, kind = plat if plat is not None else (None, None)
            if plat is None and run is not None and run.serial == serial:
                platform, kind = run.platform, run.kind  # a bad Platform among a device's rows: charged to its run
            if run is None or run.serial != serial or run.platform != platform:
                if run is not None:
                    done = self._inventory(run, None)
                run = self.run = _Run(serial, platform, kind)
                run.plat_cell = plat_cell if plat is not None else None  # a run of no platform: never the fast path
                self.runs += 1
                run.name = self._cell(row, self.i_devname) or None
                run.user = self._cell(row, self.i_email) or self._cell(row, self.i_user) or None
                run.os_version = self._cell(row, self.i_os) or None
            if plat is None:
                run.rows += 1
                run.problems.add(f"{self.word} {line}: the Platform {snippet(plat_cell) if plat_cell else '(blank)'} "
                                 f"is no platform scanner knows", evidence=self.text(row, text))
                return done
        run.rows += 1
        if run.kind is not None:
            return done
        name = row[self.i_name].strip() if self.i_name is not None else ""
        if not name:
            run.problems.add(f"{self.word} {line}: no ApplicationName", evidence=self.text(row, text))
            return done
        if not name.isprintable() and suspect(name):
            run.problems.add(f"{self.word} {line}: the ApplicationName {snippet(name)} holds a control or format "
                             f"character, so the line is damaged or forged", evidence=self.text(row, text))
        version = row[self.i_version].strip() if self.i_version is not None else ""
        short = (row[self.i_short].strip() if self.i_short is not None else "") or version
        app = App(run.platform, name, name, short or None, version or None, evidence="name")
        if self.wants is not None and run.apps:
            hot = self.hot[run.platform]
            kept = hot.get(name)
            if kept is None:
                kept = self.wants(app)
                if len(hot) < 100_000:
                    hot[name] = kept
            if not kept:
                run.skipped += 1
                return done
        run.apps.append(app)
        return done

    def feed(self, records: Iterable[tuple[int, list[str]]]) -> Iterator[Inventory]:
        """`row` for each (line, cells) of `records`, yielding the inventories of the runs they end.

        A row of the device and Platform value of its run, whose app a lean read already knows it does not keep
        (or of a computer, whose apps are only counted), is counted here without a call to `row`: what `row`
        would do with it, in the loop itself."""
        each = self.row
        width, i_dev, i_plat, i_name = self.width, self.i_dev, self.i_plat, self.i_name
        hot = self.hot
        fast = self.wants is not None and i_dev is not None and i_name is not None
        for line, row in records:
            run = self.run
            if (fast and run is not None and len(row) == width and row[i_dev].strip() == run.serial
                    and (row[i_plat].strip() if i_plat is not None else "") == run.plat_cell):
                if run.kind is not None:
                    run.rows += 1
                    continue
                if run.apps:
                    name = row[i_name].strip()
                    if name and hot[run.platform].get(name) is False and name.isprintable():
                        run.rows += 1
                        run.skipped += 1
                        continue
            done = each(line, row)
            if done is not None:
                yield done

    def _counted(self, line: int, row: list[str], text: str) -> None:
        problems = self.agg_problems
        plat_cell = self._cell(row, self.i_plat)
        plat = platform_of(plat_cell) if self.i_plat is not None else ("", None)
        if plat is None:
            problems.add(f"{self.word} {line}: the Platform {snippet(plat_cell) if plat_cell else '(blank)'} is no "
                         f"platform scanner knows", evidence=text)
            return
        count_cell = self._cell(row, self.i_count)
        try:
            count = int(count_cell)
        except ValueError:
            count = -1
        if count < 0:
            problems.add(f"{self.word} {line}: the DeviceCount {snippet(count_cell)} is no number", evidence=text)
            return
        platform, kind = plat
        if kind is not None:
            self.desktop_rows[kind] = self.desktop_rows.get(kind, 0) + 1
            return
        name = row[self.i_name].strip() if self.i_name is not None else ""
        if not name:
            problems.add(f"{self.word} {line}: no ApplicationName", evidence=text)
            return
        if suspect(name):
            problems.add(f"{self.word} {line}: the ApplicationName {snippet(name)} holds a control or format "
                         f"character, so the line is damaged or forged", evidence=text)
        version = self._cell(row, self.i_version)
        short = self._cell(row, self.i_short) or version
        for each in (platform,) if platform else ("android", "ios"):  # no Platform column: checked on both
            self.counted.append(App(each, name, name, short or None, version or None, evidence="name",
                                    devices=count))

    def _inventory(self, run: _Run, src: InputLines | None) -> Inventory:
        label = label_of(self.name)
        identity = (("user", run.user),) if run.user else ()
        device = DeviceInfo(platform=run.platform, serial=f"Intune id {run.serial}", name=run.name,
                            os_version=run.os_version, source=self.name, identity=identity)
        what = f"device {snippet(run.serial)}"
        if run.kind is not None:
            return not_a_phone(device, f"{label}, {what}", run.kind, run.rows, run.problems)
        # A run with bad rows gets make_inventory's own reason and message (bad-lines) rather than mdm-scope.
        clean = not run.problems.count and not (src is not None and (src.unterminated or src.error is not None))
        return make_inventory(self.name, device, run.apps, run.problems, src, what=what, unit=self.what,
                              count=len(run.apps) + run.skipped if run.skipped else None,
                              scopes=(Scope(MDM_SCOPE, read=False, reason=BLIND),),
                              reason="mdm-scope" if clean else None,
                              message=MESSAGE.format(label=label, dev=snippet(run.serial)) if clean else None)

    def end(self, src: InputLines | None) -> Iterator[Inventory]:
        """What is left: the last run, the aggregate, the records no device can be named for, an empty file."""
        if self.run is not None:
            yield self._inventory(self.run, src)
            self.run = None
            src = None  # the last run took the cut line and the read error
        if self.i_dev is None:
            yield self._aggregate(src)
            return
        yield from unowned(self.name, self.orphans, src, runs=self.runs, what=self.what,
                           header="the Intune report's header", where="the report",
                           empty_hint="export the report again", damaged_hint="export the report again and rescan",
                           status="partial" if self.runs else "failed", reason="bad-lines")

    def _aggregate(self, src: InputLines | None) -> Inventory:
        label = label_of(self.name)
        problems = self.agg_problems
        problems.kept.extend(self.orphans.kept[:max(0, MAX_PROBLEMS - len(problems.kept))])
        problems.count += self.orphans.count
        problems.evidence.update(self.orphans.evidence)
        if src is not None and src.error is not None:
            problems.add(f"line {src.error_line}: reading stopped ({src.error})")
        elif src is not None and src.unterminated:
            problems.add(f"line {src.unterminated}: the last line does not end with a line break, so the file may "
                         f"have been cut inside it")
        apps = self.counted
        coverage = [Scope("records", read=True, apps=len(apps)),
                    Scope("devices", read=False, reason="an aggregate names no devices"),
                    Scope(MDM_SCOPE, read=False, reason=BLIND)]
        if self.i_plat is None:
            coverage.append(Scope("platform", read=False, reason="the report gives no Platform column, so each app "
                                                                  "is checked as on Android and on iOS"))
        for kind, rows in self.desktop_rows.items():
            coverage.append(Scope("apps", read=False, reason=f"{kind}: not checked", apps=rows))
        if problems.count:
            coverage.append(Scope("records", read=False, reason=f"{problems.count} {self.what} could not be read"))
        desktop = sum(self.desktop_rows.values())
        if apps:
            message = (f"{label} is an aggregate: it counts apps on devices ({len(apps)} app rows"
                       f"{f', {problems.count} not readable' if problems.count else ''}"
                       f"{f', {desktop} of computers not checked' if desktop else ''}) but names no device; export "
                       f"AppInvRawData (discovered apps with their devices) to know which devices hold them")
        else:
            message = (f"{label} is an Intune aggregate report with no app row that could be read"
                       f"{f' ({problems.kept[0]})' if problems.count else ''}: no device to check; export "
                       f"AppInvRawData and rescan")
        return Inventory(
            device=DeviceInfo(platform=None, serial=None, name="the tenant's aggregate", source=self.name),
            apps=tuple(apps), coverage=tuple(coverage), status="partial" if apps else "failed",
            reason="aggregate" if apps else ("bad-lines" if problems.count else "empty"), message=message,
            problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems))
