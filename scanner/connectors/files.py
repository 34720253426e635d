"""Saved and exported app inventories: one parser per format, detected by content.

The formats are what an admin already has on disk: `adb shell pm list
packages` output, `ideviceinstaller -l` output (old and CSV forms),
`pymobiledevice3 apps list` JSON, a scanner JSON report saved with
`--inventory`, and a fleet CSV with a `platform,device,app_id` header. The file
extension means nothing; the first lines decide.

Nothing here raises for a bad file. Every problem becomes an Inventory whose
status says how far it can be trusted: a line that cannot be read is counted
and makes its device "partial", never dropped in silence, because a line that
was skipped could have been the prohibited app. Input is read as bytes and
each line decoded here, so invalid UTF-8 is reported with its line number
instead of aborting the whole file. Whitespace around a value is not part of
it; otherwise values are kept exactly as read (escape sequences, bidi marks,
long strings): escaping them is the output formats' job. An app id is the
exception: one that still holds whitespace or a control or format character
(NUL, ESC, a bidi mark, a line break) is no real package name or bundle id,
so its record is a bad one. A quote never closed, a record whose quoted line
breaks swallowed other rows, a JSON key given twice, and a saved report whose
fields contradict its "complete" are all bad records too: what was not read
whole is never reported complete.

The fleet CSV can hold millions of rows, so it is streamed: one device's apps
at a time, one Inventory per contiguous run of rows of a device (the audit
merges runs of the same device).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from itertools import chain
from typing import Any, BinaryIO, Iterator

from scanner.model import APP_STATES, PLATFORMS, App, DeviceInfo, Inventory, Scope

__all__ = ["ACCEPTED_FORMATS", "FileConnector", "MAX_PROBLEMS", "read_input"]

MAX_PROBLEMS = 20  # problem details kept per inventory; all are counted
ACCEPTED_FORMATS = (
    "`adb shell pm list packages` output, `ideviceinstaller -l` output, `pymobiledevice3 apps list` JSON, "
    "a scanner JSON report saved with --inventory, or a CSV with a platform,device,app_id header"
)

_HEAD_LINES = 200  # lines looked at, at most, to recognise the format
_HEAD_LINE_BYTES = 1 << 16  # of each of them: enough to recognise any format
_BOM = b"\xef\xbb\xbf"

# `pm list packages [-f] [-i] [-U] [--show-versioncode]`: the path holds "=" ("~~abc==/"), so the
# package is the last "="-free word before the optional fields. A greedy `(.+)=` would stop at
# `installer=` and return the installer as the package. Digits are bounded so that int() never
# meets a hostile 5,000-digit uid.
_PM_LINE = re.compile(
    r"^package:(?:(?P<path>\S+)=)?(?P<pkg>[^=\s]+)(?: versionCode:(?P<code>\d{1,19}))?"
    r"(?:\s+installer=(?P<installer>\S+))?(?: uid:(?P<uid>\d{1,10}))?\s*$"
)
_PM_REFUSED = re.compile(r"SecurityException: .*?\buser (\d{1,10})\b")
# What `pm`, `cmd` and the iOS tools print instead of a list when they fail.
_TOOL_ERROR = re.compile(
    r"^(?:error\b|exception\b|failure\b|java\.|caused by:|\s+at |\s*\.\.\. \d+ more|no device found)", re.I
)
_TOTAL = re.compile(r"^Total: (\d{1,9}) apps?\s*$")
# ideviceinstaller before 1.1.1: `<bundle id> - <display name> <version>`.
_IDEVICE_LINE = re.compile(r"^(?P<id>\S+) - (?P<rest>.*)$")
_IDEVICE_SNIFF = re.compile(r"^[A-Za-z0-9][\w-]*(?:\.[\w-]+)+ - ")

_PLATFORM = {p: p for p in PLATFORMS}
_STATES = frozenset(APP_STATES)
_CSV_FIELDS = ("name", "version", "build", "user", "state", "installer", "team_id")


class _BadRecord(ValueError):
    """One record (row, JSON object) that cannot become an App; the text says why."""


class _Problems:
    """Problems of one inventory: all counted, the first MAX_PROBLEMS kept as text."""

    __slots__ = ("kept", "count")

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.count = 0

    def add(self, text: str, count: int = 1) -> None:
        self.count += count
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(text)


class _Source:
    """A binary stream, the lines already read to recognise its format, and
    the I/O error (if any) that stopped reading it."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.head: list[bytes] = []  # raw lines 1..n, BOM removed
        self.error: OSError | None = None
        self.error_line = 0

    def complete_head(self) -> None:
        """Read the rest of the last head line if it was cut at _HEAD_LINE_BYTES."""
        if self.head and not self.head[-1].endswith(b"\n"):
            self.head[-1] += self.stream.readline()

    def text_lines(self, start: int = 0) -> Iterator[tuple[int, str | None]]:
        """(line number, text without its line end) from head line `start`
        (0-based) on; text is None for a line that is not valid UTF-8."""
        n = start
        try:
            self.complete_head()
            for n, raw in enumerate(self._raw(start), start + 1):
                try:
                    yield n, raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError:
                    yield n, None
        except OSError as err:
            self.error, self.error_line = err, n + 1

    def nonblank_lines(self, problems: "_Problems") -> Iterator[tuple[int, str]]:
        """(line number, text) of every line with something on it; a line that
        is not valid UTF-8 is counted in `problems` instead."""
        for n, text in self.text_lines():
            if text is None:
                problems.add(f"line {n}: not valid UTF-8")
            elif text.strip():
                yield n, text

    def csv_lines(self, start: int, bad: list[int], quoted: list[tuple[int, str]]) -> Iterator[str]:
        """Decoded lines (line ends kept, as csv wants) from head line `start`
        on. The number of a line that is not valid UTF-8 is appended to `bad`
        when the line is handed out, and the line is given with
        surrogate escapes so that its device cell can still be told apart.
        (line number, text) of a line holding a quote is appended to
        `quoted`, which the caller empties after each record: only a quote
        makes a record span lines, so a record with nothing in `quoted` is
        one line, and otherwise began on quoted[0] (csv keeps nothing of a
        record it rejects, so that is the only way to know whose it was)."""
        n = start
        try:
            self.complete_head()
            for n, raw in enumerate(self._raw(start), start + 1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    bad.append(n)
                    text = raw.decode("utf-8", "surrogateescape")
                if '"' in text:
                    quoted.append((n, text))
                yield text
        except OSError as err:
            self.error, self.error_line = err, n + 1

    def _raw(self, start: int) -> Iterator[bytes]:
        return chain(self.head[start:], self.stream)  # C-level: no extra generator per line

    def rest(self) -> bytes:
        """Everything: the head and the unread remainder (OSError propagates)."""
        return b"".join(self.head) + self.stream.read()


# --- public API ----------------------------------------------------------------------------------


def read_input(name: str, stream: BinaryIO | None = None) -> Iterator[Inventory]:
    """The inventories in one saved or exported file; `name` "-" is stdin.

    `stream`, when given, is read instead of opening `name` (and not closed);
    `name` still labels every result. Never raises for a missing, unreadable
    or malformed input: each problem is an Inventory with status "partial" or
    "failed", a reason code, a one-line message and line-numbered details.
    """
    if stream is None and name == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # started with stdin closed
            yield _failed(name, "unreadable", "stdin is closed: nothing to read; give --input FILE instead")
            return
    if stream is not None:
        yield from _read(name, stream)
        return
    try:
        opened = open(name, "rb")  # noqa: SIM115 - closed by the with below, also when the caller stops early
    except OSError as err:
        yield _failed(name, "unreadable", _open_error(name, err))
        return
    with opened:
        yield from _read(name, opened)


class FileConnector:
    """A saved or exported inventory file ("-" for stdin) as a Connector."""

    def __init__(self, name: str, stream: BinaryIO | None = None) -> None:
        self.name = name
        self.stream = stream

    def inventories(self) -> Iterator[Inventory]:
        return read_input(self.name, self.stream)

    def __repr__(self) -> str:
        return f"FileConnector({self.name!r})"


# --- recognising the format ----------------------------------------------------------------------


def _read(name: str, stream: BinaryIO) -> Iterator[Inventory]:
    src = _Source(stream)
    try:
        kind, at, total, first_error = _sniff(name, src)
        src.complete_head()
    except _Failed as failed:
        yield failed.inventory
        return
    except OSError as err:
        yield _failed(name, "unreadable", f"cannot read {_label(name)}: {_why(err)}; check the file or device it is on")
        return
    if kind == "json":
        yield from _read_json(name, src)
    elif kind == "pm":
        yield _read_pm(name, src)
    elif kind == "idevice-list":
        yield _read_idevice_list(name, src, total)
    elif kind == "idevice-csv":
        yield _read_idevice_csv(name, src, at, total)
    elif kind == "csv":
        yield from _read_csv(name, src, at)
    else:  # only error messages from the tool that wrote the file
        yield _tool_error(name, src, first_error)


class _Failed(Exception):
    """The whole input failed; carries the Inventory that says why."""

    def __init__(self, inventory: Inventory) -> None:
        super().__init__(inventory.message)
        self.inventory = inventory


def _sniff(name: str, src: _Source) -> tuple[str, int, int | None, int]:
    """(kind, index of the deciding head line, a `Total: N apps` count, line
    of the first tool error). Lines before the deciding one that are blank,
    tool errors, a Total header or not UTF-8 are left for the parser to count;
    anything else there means the format is not one we read."""
    label = _label(name)
    total: int | None = None
    first_error = 0
    undecodable = 0  # the first line that is not UTF-8 text
    while len(src.head) < _HEAD_LINES:
        raw = src.stream.readline(_HEAD_LINE_BYTES)
        if not raw:
            break
        n = len(src.head) + 1
        if n == 1:
            if raw.startswith(_BOM):
                raw = raw[3:]
            elif raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
                raise _Failed(_failed(name, "not-text", (
                    f"{label} is UTF-16 text (what Windows PowerShell writes with '>'); save it as UTF-8, e.g. "
                    f"adb shell pm list packages -f -U | Out-File -Encoding utf8 apps.txt, and scan that file"
                )))
        src.head.append(raw)
        text = _decode_head(raw)
        if text is None or "\x00" in text:
            undecodable = undecodable or n
            continue
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        i = n - 1
        if text.startswith(("{", "[")):
            return "json", i, None, 0
        if text.startswith("package:"):
            return "pm", i, None, 0
        if text.startswith("CFBundle") and "CFBundleIdentifier" in text:
            return "idevice-csv", i, total, 0
        match = _TOTAL.match(text)
        if match and total is None:
            total = int(match.group(1))
            continue
        if _TOOL_ERROR.match(text):
            first_error = first_error or n
            continue
        if total is not None or _IDEVICE_SNIFF.match(text):
            return "idevice-list", i, total, 0
        if _is_csv_header(text):
            return "csv", i, None, 0
        if undecodable:
            raise _Failed(_not_text(name, undecodable))
        raise _Failed(_failed(name, "unknown-format", (
            f"{label} line {n}: not a format scanner reads (it starts {_snippet(text)}); give one of: "
            f"{ACCEPTED_FORMATS}"
        )))
    if total is not None:
        return "idevice-list", len(src.head), total, 0
    if first_error:
        return "tool-error", len(src.head), None, first_error
    if undecodable:
        raise _Failed(_not_text(name, undecodable))
    if len(src.head) == _HEAD_LINES:  # 200 blank lines and more to come
        raise _Failed(_failed(name, "unknown-format", (
            f"{label}: the first {_HEAD_LINES} lines are blank; give one of: {ACCEPTED_FORMATS}"
        )))
    raise _Failed(_failed(name, "empty", f"{label} is empty; give one of: {ACCEPTED_FORMATS}"))


def _decode_head(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # A head line cut at _HEAD_LINE_BYTES may end inside a character.
        if len(raw) == _HEAD_LINE_BYTES and err.start >= len(raw) - 3 and err.reason == "unexpected end of data":
            return raw[: err.start].decode("utf-8")
        return None


def _is_csv_header(text: str) -> bool:
    names = {c.lower() for c in _header(text.encode("utf-8"))}
    return {"platform", "device", "app_id"} <= names


def _header(raw: bytes) -> list[str]:
    """The column names of a header line (a stray CR or quote in it must not raise)."""
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    try:
        cells = next(csv.reader([text], skipinitialspace=True), [])
    except csv.Error:
        cells = text.split(",")
    return [c.strip() for c in cells]


def _not_text(name: str, line: int) -> Inventory:
    return _failed(name, "not-text", (
        f"{_label(name)} line {line}: not UTF-8 text (a binary file?); give one of: {ACCEPTED_FORMATS}"
    ), problems=(f"line {line}: not valid UTF-8",))


def _tool_error(name: str, src: _Source, first_error: int) -> Inventory:
    """A file with no list, only what the exporting tool printed when it failed."""
    first = src.head[first_error - 1].decode("utf-8", "replace").strip()
    refused = _PM_REFUSED.search(b"".join(src.head).decode("utf-8", "replace"))
    platform = "android" if refused or "java." in first else None
    if refused:
        return _failed(name, "user-refused", (
            f"{_label(name)}: the phone refused to list user {refused.group(1)} (a work profile, Secure Folder "
            f"or another user), so none of its apps were checked; that profile's apps cannot be listed over "
            f"adb on this phone: check them on the device or in the MDM's inventory"
        ), platform=platform, problems=(f"line {first_error}: {_snippet(first, 120)}",))
    return _failed(name, "tool-error", (
        f"{_label(name)} holds no app list, only the error the exporting tool printed: line "
        f"{first_error}: {_snippet(first, 120)}; fix that and export the list again"
    ), platform=platform, problems=(f"line {first_error}: {_snippet(first, 120)}",))


# --- adb shell pm list packages ------------------------------------------------------------------


def _read_pm(name: str, src: _Source) -> Inventory:
    apps: list[App] = []
    problems = _Problems()
    refused: dict[str, str] = {}  # user id -> what the device said
    for n, text in src.nonblank_lines(problems):
        m = _PM_LINE.match(text)
        if m is None:
            denied = _PM_REFUSED.search(text)
            if denied:
                refused.setdefault(denied.group(1), text.strip())
            problems.add(
                f"line {n}: expected 'package:<name>' (adb shell pm list packages output), got {_snippet(text)}"
            )
            continue
        path, pkg, code, installer, uid = m.group("path", "pkg", "code", "installer", "uid")
        if not pkg.isprintable():  # the pattern already keeps whitespace out
            problems.add(f"line {n}: {_clean_id(pkg, 'package')[1]}")
            continue
        uid_n = int(uid) if uid else None
        apps.append(App(
            "android", pkg, None, None, code, None if installer in (None, "null") else installer,
            None if uid_n is None else uid_n // 100000, "installed", None, path, None, None, uid_n,
        ))
    scopes = tuple(Scope(f"user {u}", read=False, reason=f"refused: {_snippet(t, 120)}") for u, t in refused.items())
    device = DeviceInfo(platform="android", serial=None, source=name)
    if not refused:
        return _inventory(name, device, apps, problems, src)
    users = ", ".join(refused)
    message = (
        f"{_label(name)}: user {users} (a work profile or another user) was refused by the device "
        f"({_snippet(next(iter(refused.values())), 120)}), so its apps are not in this list and were not "
        f"checked; list them with adb shell pm list packages --user <id> where the shell may read that user, "
        f"or scan the device directly"
    )
    return _inventory(name, device, apps, problems, src, scopes=scopes, reason="user-refused", message=message)


# --- ideviceinstaller -l -------------------------------------------------------------------------


def _read_idevice_list(name: str, src: _Source, total: int | None) -> Inventory:
    """The old form: `Total: N apps`, then `<bundle id> - <name> <version>` lines."""
    apps: list[App] = []
    problems = _Problems()
    seen_total = False
    for n, text in src.nonblank_lines(problems):
        if not seen_total and total is not None and _TOTAL.match(text):
            seen_total = True
            continue
        m = _IDEVICE_LINE.match(text.strip())
        if m is None:
            problems.add(f"line {n}: expected '<bundle id> - <name> <version>' (ideviceinstaller -l), "
                         f"got {_snippet(text)}")
            continue
        app_id, why = _clean_id(m.group("id"), "bundle id")
        if why:
            problems.add(f"line {n}: {why}")
            continue
        name_part, _, version = m.group("rest").rpartition(" ")
        if not version[:1].isdigit():  # no version printed: it is all name
            name_part, version = m.group("rest"), ""
        apps.append(App("ios", app_id, name_part.strip() or None, version or None))
    return _ios_inventory(name, src, apps, problems, total)


def _read_idevice_csv(name: str, src: _Source, at: int, total: int | None) -> Inventory:
    """The CSV form: a `CFBundleIdentifier, ...` header, then rows of plist-printed values."""
    header = _header(src.head[at])
    col = {h: i for i, h in reversed(list(enumerate(header)))}  # the first of a repeated name wins
    width = len(header)
    problems = _Problems()
    for n, text in src.text_lines():  # lines before the header: blank, Total, errors, not UTF-8
        if n > at:
            break
        if text is None:
            problems.add(f"line {n}: not valid UTF-8")
        elif text.strip() and not _TOTAL.match(text):
            problems.add(f"line {n}: not part of an ideviceinstaller list: {_snippet(text)}")
    getters = {
        key: col.get(attr)
        for key, attr in (
            ("id", "CFBundleIdentifier"), ("display", "CFBundleDisplayName"), ("bundle_name", "CFBundleName"),
            ("version", "CFBundleShortVersionString"), ("build", "CFBundleVersion"),
            ("type", "ApplicationType"), ("signer", "SignerIdentity"), ("path", "Path"),
        )
    }

    def cell(row: list[str], key: str) -> str | None:
        i = getters[key]
        return (row[i].strip() or None) if i is not None else None

    apps: list[App] = []
    bad: list[int] = []
    i_id = getters["id"]
    for n, row in _csv_records(src, at + 1, bad, problems, skipinitialspace=True, escapechar="\\"):
        if len(row) != width:
            problems.add(f"line {n}: expected {width} values ({', '.join(header)}), found {len(row)}")
            continue
        app_id, why = _clean_id(row[i_id] if i_id is not None else "", "CFBundleIdentifier")
        if why:
            problems.add(f"line {n}: {why}")
            continue
        app_type = cell(row, "type")
        apps.append(App(
            "ios", app_id, cell(row, "display") or cell(row, "bundle_name"), cell(row, "version"),
            cell(row, "build"), None, None, "hidden" if app_type == "Hidden" else "installed",
            {"System": True, "User": False}.get(app_type or ""), cell(row, "path"), None, cell(row, "signer"),
        ))
    return _ios_inventory(name, src, apps, problems, total)


def _ios_inventory(name: str, src: _Source, apps: list[App], problems: _Problems, total: int | None) -> Inventory:
    device = DeviceInfo(platform="ios", serial=None, source=name)
    if total is None or len(apps) + problems.count >= total:
        return _inventory(name, device, apps, problems, src)
    missing = total - len(apps) - problems.count
    problems.add(f"the header says 'Total: {total} apps' but {missing} of them are not in the file", missing)
    message = (
        f"{_label(name)} says 'Total: {total} apps' but lists {len(apps)}: the list was cut short, so "
        f"{missing} apps were not checked; export it again (ideviceinstaller -l > file) and rescan"
    )
    return _inventory(name, device, apps, problems, src, reason="truncated", message=message, unit="apps")


def _csv_records(src: _Source, start: int, bad: list[int], problems: _Problems,
                 **fmt: Any) -> Iterator[tuple[int, list[str]]]:
    """(first line number, row) of each non-blank record from head line
    `start` on; records that are not UTF-8, that csv rejects (a quote never
    closed) or that hold what look like swallowed rows are counted in
    `problems` instead, with the line they start on and every line they span."""
    quoted: list[tuple[int, str]] = []
    reader = csv.reader(src.csv_lines(start, bad, quoted), strict=True, **fmt)
    while True:
        try:
            for row in reader:
                last = reader.line_num + start
                first = quoted[0][0] if quoted else last
                quoted.clear()
                if bad:
                    problems.add(f"line {bad[0]}: not valid UTF-8", len(bad))
                    bad.clear()
                    continue
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if last > first and _spill(row):
                    problems.add(f"line {first}: {_SPILL}; {_swallowed(first, last)}", last - first + 1)
                    continue
                yield first, row
            return
        except csv.Error as err:
            last = reader.line_num + start
            first = quoted[0][0] if quoted else last
            quoted.clear()
            bad.clear()
            problems.add(f"line {first}: {_csv_error(err, first, last)}", last - first + 1)


# --- JSON: pymobiledevice3 apps list, or a scanner report ----------------------------------------


def _read_json(name: str, src: _Source) -> Iterator[Inventory]:
    label = _label(name)
    try:
        data = src.rest()
    except OSError as err:
        yield _failed(name, "unreadable", f"cannot read {label}: {_why(err)}; check the file or device it is on")
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        yield _failed(name, "bad-json", f"{label} line {line}: not valid UTF-8, so the JSON cannot be read; "
                                        f"export or save it again", problems=(f"line {line}: not valid UTF-8",))
        return
    try:
        doc = json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as err:
        yield _failed(name, "bad-json", (
            f"{label} line {err.lineno} column {err.colno}: not valid JSON ({err.msg}); the file was cut short "
            f"or edited: export or save it again"
        ), problems=(f"line {err.lineno}: {err.msg}",))
        return
    except (ValueError, RecursionError) as err:  # a number too long for int(), nesting too deep
        yield _failed(name, "bad-json", f"{label}: JSON scanner will not read ({err}); export or save it again")
        return
    if isinstance(doc, dict) and ("schema_version" in doc or "devices" in doc):
        if isinstance(doc, _Repeats):  # "devices" twice hides a whole list of devices
            yield _failed(name, "bad-json", (
                f"{label} is a scanner report that gives {_keys(doc.repeated)} more than once, so part of it "
                f"would be silently ignored: it was edited or damaged; save the scan again"
            ))
            return
        yield from _read_report(name, doc)
    elif isinstance(doc, dict) and doc and any(
        isinstance(v, dict) and any(str(k).startswith("CFBundle") for k in v) for v in doc.values()
    ):
        yield _read_pmd3(name, doc)
    elif isinstance(doc, dict) and not doc:
        yield _failed(name, "empty", (
            f"{label} is an empty JSON object: no apps; export again with pymobiledevice3 apps list --type Any "
            f"(without --type User an empty list is not a real iPhone's)"
        ))
    else:
        yield _failed(name, "unknown-format", (
            f"{label} holds JSON that is {_json_type(doc)}, not pymobiledevice3 apps list output (an object "
            f"keyed by bundle id) or a scanner report; give one of: {ACCEPTED_FORMATS}"
        ))


def _read_pmd3(name: str, doc: dict[str, Any]) -> Inventory:
    apps: list[App] = []
    problems = _Problems()
    # A bundle id given twice: JSON keeps the last value only, so read every one and say so.
    pairs = doc.pairs if isinstance(doc, _Repeats) else doc.items()
    for key in doc.repeated if isinstance(doc, _Repeats) else ():
        problems.add(f"app {_snippet(key)}: listed more than once (the same JSON key twice), so the file was "
                     f"edited or damaged")
    for key, value in pairs:
        try:
            if not isinstance(value, dict):
                raise _BadRecord(f"expected an object of app attributes, got {_json_type(value)}")
            apps.append(_pmd3_app(key, value))
        except _BadRecord as err:
            problems.add(f"app {_snippet(key)}: {err}")
    device = DeviceInfo(platform="ios", serial=None, source=name)
    return _inventory(name, device, apps, problems, None, unit="records", reason_bad="bad-records")


def _pmd3_app(key: str, v: dict[str, Any]) -> App:
    _no_repeats(v)
    bundle_id = v.get("CFBundleIdentifier", key)
    if not isinstance(bundle_id, str) or not bundle_id:
        raise _BadRecord(f"CFBundleIdentifier is {_json_type(bundle_id)}, expected a bundle id")
    _check_text("CFBundleIdentifier", bundle_id)
    bundle_id, why = _clean_id(bundle_id, "CFBundleIdentifier" if "CFBundleIdentifier" in v else "the key")
    if why:
        raise _BadRecord(why)
    if key.strip().lower() != bundle_id.lower():
        # pymobiledevice3 keys each app by its bundle id: either of the two could be the real app.
        raise _BadRecord(f"the key and CFBundleIdentifier {_snippet(bundle_id)} name different apps, so the "
                         f"file was edited or damaged")
    app_type = _text(v, "ApplicationType")
    state = "hidden" if app_type == "Hidden" else "installed"
    if _flag(v, "IsPlaceholder") or _flag(v, "IsDemotedApp"):
        state = "offloaded"  # the app's data is kept and it reinstalls with one tap
    entitlements = v.get("Entitlements")
    if entitlements is None:
        entitlements = {}
    elif not isinstance(entitlements, dict):
        raise _BadRecord(f"Entitlements is {_json_type(entitlements)}, expected an object")
    _no_repeats(entitlements, "Entitlements: ")
    team_id = _text(entitlements, "com.apple.developer.team-identifier")
    if team_id is None:
        app_identifier = _text(entitlements, "application-identifier")
        if app_identifier and "." in app_identifier:
            team_id = app_identifier.split(".", 1)[0]
    return App(
        "ios", bundle_id, _text(v, "CFBundleDisplayName") or _text(v, "CFBundleName"),
        _text(v, "CFBundleShortVersionString"), _text(v, "CFBundleVersion"), None, None, state,
        {"System": True, "User": False}.get(app_type or ""), _text(v, "Path"), team_id, _text(v, "SignerIdentity"),
    )


def _read_report(name: str, doc: dict[str, Any]) -> Iterator[Inventory]:
    label = _label(name)
    version = doc.get("schema_version")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        yield _failed(name, "unsupported-schema", (
            f"{label} is a scanner report with schema_version {_snippet(str(version))}; this scanner reads 1.x "
            f"reports: scan the devices again with this version, or use the version that wrote it"
        ))
        return
    if doc.get("inventory_included") is not True:
        yield _failed(name, "no-inventory", (
            f"{label} is a scanner report saved without its app list, so it cannot be matched again; rerun the "
            f"scan with --inventory (e.g. scanner scan ... --inventory --output json=FILE) and use that file"
        ))
        return
    devices = doc.get("devices")
    if not isinstance(devices, list) or not devices:
        what = "no devices" if isinstance(devices, list) else f"'devices' as {_json_type(devices)}, not a list"
        yield _failed(name, "empty" if isinstance(devices, list) else "unknown-format", (
            f"{label} is a scanner report with {what}; nothing to match: save the scan again with --inventory"
        ))
        return
    for number, entry in enumerate(devices, 1):
        yield _report_device(name, number, entry)


def _report_device(name: str, number: int, entry: Any) -> Inventory:
    """One device of a saved report, as it was when scanned: a partial or
    failed device stays so, and records that cannot be read make it partial."""
    where = f"{_label(name)} device #{number}"
    if not isinstance(entry, dict):
        return _failed(name, "bad-records", f"{where} is {_json_type(entry)}, not an object; save the scan again")
    problems = _Problems()
    if isinstance(entry, _Repeats):
        problems.add(f"device #{number}: {_keys(entry.repeated)} given more than once")
    info = entry.get("device")
    if not isinstance(info, dict):
        problems.add(f"device #{number}: 'device' is {_json_type(info)}, not an object")
        info = {}
    elif isinstance(info, _Repeats):
        problems.add(f"device #{number}: device {_keys(info.repeated)} given more than once")
    platform = info.get("platform")
    if platform is not None and not (isinstance(platform, str) and platform in _PLATFORM):
        problems.add(f"device #{number}: platform {_snippet(str(platform))} is not android or ios")
        platform = None
    fields = {}
    for key in ("serial", "model", "os_version", "name"):
        try:
            fields[key] = _text(info, key)
        except _BadRecord as err:
            problems.add(f"device #{number}: {err}")
            fields[key] = None
    # Say where the device was first read too ("saved.json: phone.txt"), so
    # that two serial-less devices of one report stay apart.
    try:
        origin = _text(info, "source")
    except _BadRecord:
        origin = None
    device = DeviceInfo(platform=platform, source=f"{name}: {origin}" if origin else name, **fields)

    apps: list[App] = []
    inventory = entry.get("inventory")
    if not isinstance(inventory, list):
        problems.add(f"device #{number}: 'inventory' is {_json_type(inventory)}, not a list of apps")
        inventory = []
    for i, item in enumerate(inventory, 1):
        try:
            apps.append(_report_app(item, platform))
        except _BadRecord as err:
            problems.add(f"device #{number} app #{i}: {err}")
    app_count = entry.get("app_count")
    if type(app_count) is int and app_count > len(inventory):
        missing = app_count - len(inventory)
        problems.add(f"device #{number}: app_count is {app_count} but the inventory lists {len(inventory)}", missing)

    saved = _Problems()
    saved_problems = entry.get("problems")
    for text in saved_problems if isinstance(saved_problems, list) else ():
        saved.add(text if isinstance(text, str) and _decodable(text) else ascii(text))
    saved_count = entry.get("problem_count")
    saved.count = max(saved_count if type(saved_count) is int else 0, len(saved.kept))
    coverage = []
    scopes = entry.get("coverage")
    for scope in scopes if isinstance(scopes, list) else ():
        try:
            coverage.append(_report_scope(scope))
        except _BadRecord as err:
            problems.add(f"device #{number} coverage: {err}")

    status = saved_status = entry.get("status")
    reason, message = _opt(entry.get("reason")), _opt(entry.get("message"))
    if status not in ("complete", "partial", "failed"):
        problems.add(f"device #{number}: status {_snippet(str(status))} is not complete, partial or failed")
        status = "partial"
    unread = problems.count
    if unread:
        coverage.append(Scope("records", read=False, reason=f"{unread} saved records could not be read"))
        if status == "complete":
            status, reason = ("partial" if apps else "failed"), "bad-records"
            message = (
                f"{where}: {unread} saved records could not be read ({problems.kept[0]}); the apps in them "
                f"were not checked: save the scan again with --inventory"
            )
    elif status == "complete":
        # Only ever downgraded: a device saved as complete must say so in every field that the
        # scanner writes, or the report was edited or damaged and its app list cannot be trusted.
        odd = _inconsistent(entry, len(inventory), coverage)
        if odd:
            for why in odd:
                problems.add(f"device #{number}: saved as complete but {why}")
            coverage.append(Scope("records", read=False, reason="the saved report is inconsistent"))
            status, reason = "partial", "bad-records"
            message = (
                f"{where} was saved as complete, but the saved report is inconsistent ({odd[0]}): it was edited "
                f"or damaged, so its app list cannot be trusted to be whole; scan the device again"
            )
    if status != "complete" and not (reason and message):  # a report that was edited by hand
        reason = reason or ("bad-records" if problems.count else "unknown")
        message = message or (
            (f"{where} was {status} when scanned" if status == saved_status
             else f"{where} has the unknown status {_snippet(str(saved_status))}")
            + (f" and {problems.count} saved records could not be read ({problems.kept[0]})" if problems.count else "")
            + "; scan the device again"
        )
    return Inventory(
        device=device, apps=tuple(apps), coverage=tuple(coverage), status=status, reason=reason, message=message,
        problems=tuple((problems.kept + saved.kept)[:MAX_PROBLEMS]), problem_count=problems.count + saved.count,
    )


def _inconsistent(entry: dict[str, Any], apps: int, coverage: list[Scope]) -> list[str]:
    """What contradicts the "complete" status of a saved device (`apps`
    records in its inventory): one phrase each."""
    odd: list[str] = []
    odd += [f"its coverage says {_snippet(s.name)} was not read" for s in coverage if not s.read]
    odd += [f"its coverage counts {s.apps} apps in {_snippet(s.name)} but the inventory lists {apps}"
            for s in coverage if s.read and s.apps is not None and s.apps > apps]
    scopes = entry.get("coverage", [])
    if not isinstance(scopes, list):
        odd.append(f"its coverage is {_json_type(scopes)}, not a list")
    count = entry.get("problem_count", 0)
    if not (type(count) is int and count == 0):
        odd.append(f"its problem_count is {_json_text(count)}")
    saved = entry.get("problems", [])
    if saved != []:
        odd.append(f"it lists problems ({_json_text(saved)})")
    if "app_count" not in entry:
        odd.append("its app_count is missing")
    else:
        app_count = entry["app_count"]
        if not (type(app_count) is int and app_count >= 0):
            odd.append(f"its app_count is {_json_text(app_count)}, not a whole number")
        elif app_count < apps:  # more than the inventory is counted as apps not in it
            odd.append(f"its app_count is {app_count} but the inventory lists {apps}")
    return odd


def _report_app(item: Any, platform: str | None) -> App:
    if not isinstance(item, dict):
        raise _BadRecord(f"{_json_type(item)}, not an app object")
    _no_repeats(item)
    app_id = item.get("id")
    if not isinstance(app_id, str) or not app_id:
        raise _BadRecord(f"id is {_json_type(app_id)}, expected an app id")
    _check_text("id", app_id)
    app_id, why = _clean_id(app_id, "id")
    if why:
        raise _BadRecord(why)
    app_platform = item.get("platform") or platform
    if not (isinstance(app_platform, str) and app_platform in _PLATFORM):
        raise _BadRecord(f"{_snippet(app_id)}: platform {_snippet(str(app_platform))} is not android or ios")
    state = item.get("state")
    if state is None:
        state = "installed"
    elif not (isinstance(state, str) and state in _STATES):
        raise _BadRecord(f"{_snippet(app_id)}: state {_snippet(str(state))} is not one of {', '.join(APP_STATES)}")
    system = item.get("system")
    if system is not None and not isinstance(system, bool):
        raise _BadRecord(f"{_snippet(app_id)}: system is {_json_type(system)}, expected true, false or null")
    return App(
        app_platform, app_id, _text(item, "name"), _text(item, "version"), _text(item, "build"),
        _text(item, "installer"), _int(item, "user"), state, system, _text(item, "path"), _text(item, "team_id"),
        _text(item, "signer"), _int(item, "uid"),
    )


def _report_scope(item: Any) -> Scope:
    if not isinstance(item, dict):
        raise _BadRecord(f"{_json_type(item)}, not a scope object")
    _no_repeats(item)
    scope, read = item.get("scope"), item.get("read")
    if not isinstance(scope, str) or not isinstance(read, bool):
        raise _BadRecord("a scope needs a 'scope' name and 'read' true or false")
    return Scope(_check_text("scope", scope), read, _text(item, "reason"), _int(item, "apps"))


# --- the fleet CSV: platform,device,app_id[,name,version,...] ------------------------------------


class _Run:
    """A contiguous run of rows of one device."""

    __slots__ = ("platform", "serial", "apps", "problems")

    def __init__(self, platform: str | None, serial: str) -> None:
        self.platform = platform
        self.serial = serial
        self.apps: list[App] = []
        self.problems = _Problems()

    def inventory(self, name: str, src: _Source) -> Inventory:
        device = DeviceInfo(platform=self.platform, serial=self.serial, source=name)
        return _inventory(name, device, self.apps, self.problems, src, what=f"device {_snippet(self.serial)}")


_KNOWN_IDS = 1 << 16  # app_id cells known to be clean ids, remembered (fleets repeat the same apps)


def _read_csv(name: str, src: _Source, at: int) -> Iterator[Inventory]:
    """Stream the rows; yield each device's run of rows as soon as it ends.

    This is the hot path for fleet exports (a million rows): a csv.reader
    over a generator of decoded lines, and per row only a length check, two
    list checks, two comparisons, one set look-up of the app id and one
    positional App(...). Everything unusual (bad rows, a line with a quote,
    a new device, an app id not seen before) is handled off that path.
    """
    header = [c.lower() for c in _header(src.head[at])]
    col: dict[str, int] = {}
    for i, h in enumerate(header):
        col.setdefault(h, i)
    width = len(header)
    i_plat, i_dev, i_id = col["platform"], col["device"], col["app_id"]
    i_name, i_version = col.get("name"), col.get("version")
    simple = i_name is not None and i_version is not None and not any(k in col for k in _CSV_FIELDS[2:])
    make = _csv_app_maker(col)

    orphans = _Problems()  # lines that cannot be told to belong to any one device
    for n, text in src.text_lines():
        if n > at:
            break
        if text is None or text.strip():  # only blank lines or undecodable ones come before the header
            orphans.add(f"line {n}: not valid UTF-8" if text is None else f"line {n}: {_snippet(text)}")

    bad: list[int] = []
    quoted: list[tuple[int, str]] = []  # the lines with a quote of the record being read
    # strict: a quote never closed is an error at the end of the file, not a last row that swallowed the rest.
    reader = csv.reader(src.csv_lines(at + 1, bad, quoted), strict=True, skipinitialspace=True)
    offset = at + 1  # reader.line_num counts from the line after the header
    keys = (i_plat, i_dev, i_id)
    clean: set[str] = set()  # app_id cells that are ids as they stand
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
                orphans.add(f"{_span(line + 1, line + swallowed)}: swallowed by the quote opened on line {line}, so "
                            f"{'it' if swallowed == 1 else 'they'} could hold rows of any device", swallowed)
            serial = dev.strip() if dev is not None and _decodable(dev) else ""
            if not serial:
                orphans.add(f"line {line}: {what}", count)
            else:
                if run is None or serial != run.serial:
                    if run is not None:
                        runs += 1
                        yield run.inventory(name, src)
                    plat = plat if plat is not None and _decodable(plat) else ""
                    platform = _PLATFORM.get(plat.strip().lower())
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
                    new = _PLATFORM.get(plat.strip().lower())
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
                            problem(f"line {line}: platform {_snippet(plat)} is not android or ios")
                            continue
                        platform = run.platform = new
                        cur_plat = plat
                    else:
                        if run is not None:
                            runs += 1
                            yield run.inventory(name, src)
                        platform = new
                        run = _Run(platform, serial)
                        cur_dev, cur_plat = dev, (plat if platform else None)
                        append, problem = run.apps.append, run.problems.add
                        if platform is None:
                            problem(f"line {line}: platform {_snippet(plat)} is not android or ios")
                            continue
                app_id = row[i_id]
                if app_id not in clean:
                    app_id, why = _clean_id(app_id, "app_id")
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
                    except _BadRecord as err:
                        problem(f"line {_first_line(reader.line_num + offset, row)}: {err}")
            else:
                break  # the end of the input
        except csv.Error as err:  # a quote never closed, or a field over csv's size limit
            last = reader.line_num + offset
            first, text = quoted[0] if quoted else (last, None)
            quoted.clear()
            bad.clear()
            dev, plat = _opening(text, i_plat, i_dev)
            fault = (first, 1, _csv_error(err, first, last), dev, plat, last - first)
    if run is not None:
        runs += 1
        yield run.inventory(name, src)
    if orphans.count or src.error is not None or not runs:
        yield _orphans(name, src, orphans, runs)


def _blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


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
    elif last == first and _blank(row):
        return ()
    elif len(row) != len(header):
        line, count = first, 1
        what = f"expected {len(header)} columns ({','.join(header)}), found {len(row)}"
    elif last == first:
        return None
    elif any("\n" in row[i] or "\r" in row[i] for i in keys):
        line, count = first, 1
        what = "a line break inside the platform, device or app_id value"
    elif _spill(row):
        line, count = first, 1
        what = _SPILL
    else:
        return None
    if last == first:
        return (line, count, what, row[i_dev] if len(row) > i_dev else None,
                row[i_plat] if len(row) > i_plat else None, 0)
    # A quote opened on `first` and closed on `last`: the cells after it may come from the lines it
    # swallowed, so the device is the one written on the line the quote opened.
    dev, plat = _opening(opened[1], i_plat, i_dev)
    return (first, 1, f"{what}; {_swallowed(first, last)}", dev, plat, last - first)


def _opening(text: str | None, i_plat: int, i_dev: int) -> tuple[str | None, str | None]:
    """(device cell, platform cell) written on the line `text` where a record
    that could not be read began, before the quote it opened; None for a
    cell that cannot be told."""
    if text is None:  # a line without quotes that csv rejected: not kept
        return None, None
    head = text[:_HEAD_LINE_BYTES]  # below csv's field size limit
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
                raise _BadRecord(f"user {_snippet(user)} is not a user number (0, 10, 150, ...)")
        state = cell(row, i_state)
        if state is not None:
            state = state.strip().lower()
            if state not in _STATES:
                raise _BadRecord(f"state {_snippet(state)} is not one of {', '.join(APP_STATES)}")
        return App(
            platform, app_id, cell(row, i_name), cell(row, i_version), cell(row, i_build), cell(row, i_installer),
            None if user is None else int(user), state or "installed", None, None, cell(row, i_team),
        )

    return make


def _orphans(name: str, src: _Source, orphans: _Problems, runs: int) -> Inventory:
    """The input itself: lines no device can be named for, a read error, or no rows at all."""
    label = _label(name)
    device = DeviceInfo(platform=None, serial=None, source=name)
    if src.error is not None:
        orphans.add(f"line {src.error_line}: {_why(src.error)}")
        return Inventory(
            device=device, apps=(), coverage=(Scope("records", read=False, reason=f"reading stopped at line "
                                                                                  f"{src.error_line}"),),
            status="partial" if runs else "failed", reason="read-error",
            message=(f"{label}: reading stopped at line {src.error_line} ({_why(src.error)}); the devices and apps "
                     f"after it were not checked: copy the file somewhere readable and scan it again"),
            problems=tuple(orphans.kept), problem_count=orphans.count,
        )
    if not orphans.count:
        return _failed(name, "empty", f"{label} has a CSV header but no rows: no device to check; export it again")
    return Inventory(
        device=device, apps=(), coverage=(Scope("records", read=False, reason=f"{orphans.count} lines could not "
                                                                              f"be read"),),
        status="partial" if runs else "failed", reason="bad-lines",
        message=(f"{label}: {orphans.count} lines could not be read ({orphans.kept[0]}) and could belong to any "
                 f"device in the file, so treat every device in it as possibly incomplete; fix those lines and "
                 f"scan again"),
        problems=tuple(orphans.kept), problem_count=orphans.count,
    )


# --- building results ----------------------------------------------------------------------------


def _inventory(
    name: str,
    device: DeviceInfo,
    apps: list[App],
    problems: _Problems,
    src: _Source | None,
    *,
    scopes: tuple[Scope, ...] = (),
    reason: str | None = None,
    message: str | None = None,
    unit: str = "lines",
    reason_bad: str = "bad-lines",
    what: str | None = None,
) -> Inventory:
    """The Inventory for what was read. Complete only when nothing was left
    unread; partial when some apps were read; failed when none were."""
    label = _label(name) + (f", {what}" if what else "")
    coverage = [Scope("records", read=True, apps=len(apps)), *scopes]
    if src is not None and src.error is not None:
        problems.add(f"line {src.error_line}: {_why(src.error)}")
        coverage.append(Scope("records", read=False, reason=f"reading stopped at line {src.error_line}"))
        reason = "read-error"
        message = (f"{label}: reading stopped at line {src.error_line} ({_why(src.error)}); the apps after it "
                   f"were not checked: copy the file somewhere readable and scan it again")
    elif problems.count and reason is None:
        coverage.append(Scope("records", read=False, reason=f"{problems.count} {unit} could not be read"))
        reason = reason_bad
        if apps:
            message = (f"{label}: {problems.count} {unit} could not be read ({problems.kept[0]}); the apps on them "
                       f"were not checked: fix or export the list again and rescan")
        else:
            message = (f"{label}: no app could be read, {problems.count} {unit} were not understood "
                       f"({problems.kept[0]}); export the list again and rescan")
    elif problems.count:
        coverage.append(Scope("records", read=False, reason=f"{problems.count} {unit} could not be read"))
    if all(s.read for s in coverage):
        status, reason, message = "complete", None, None
    else:
        status = "partial" if apps else "failed"
    return Inventory(
        device=device, apps=tuple(apps), coverage=tuple(coverage), status=status, reason=reason, message=message,
        problems=tuple(problems.kept), problem_count=problems.count,
    )


def _failed(
    name: str, reason: str, message: str, *, platform: str | None = None, problems: tuple[str, ...] = ()
) -> Inventory:
    return Inventory(
        device=DeviceInfo(platform=platform, serial=None, source=name),
        apps=(),
        coverage=(Scope("records", read=False, reason=reason),),
        status="failed",
        reason=reason,
        message=message,
        problems=problems,
        problem_count=len(problems),
    )


# --- small helpers -------------------------------------------------------------------------------


def _label(name: str) -> str:
    return "stdin" if name == "-" else name


def _why(err: OSError) -> str:
    return (err.strerror or str(err) or type(err).__name__).lower()


def _open_error(name: str, err: OSError) -> str:
    if isinstance(err, IsADirectoryError):
        return f"{name} is a folder; give the inventory file inside it (e.g. {name}/apps.txt)"
    if isinstance(err, FileNotFoundError):
        return f"{name} does not exist; check the path (an export is a .txt, .csv or .json file you saved)"
    if isinstance(err, PermissionError):
        return f"cannot open {name}: permission denied; make it readable for this user or copy it"
    return f"cannot open {name}: {_why(err)}; check the path and that it is a readable file"


def _snippet(text: str, width: int = 60) -> str:
    """A short quoted excerpt for a problem line; repr() escapes control and bidi characters."""
    return repr(text if len(text) <= width else text[:width] + "…")


def _first_line(last: int, row: list[str]) -> int:
    """The line a record starts on: quoted cells keep their line breaks, so count them back."""
    return last - sum(cell.count("\n") for cell in row)


def _decodable(cell: str) -> bool:
    """False for a cell holding the surrogate escapes of bytes that were not UTF-8."""
    try:
        cell.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _csv_error(err: csv.Error, first: int, end: int) -> str:
    """What csv said about the record on lines first..end, for a person."""
    text = str(err)
    if "unexpected end of data" in text:
        text = "a quote opened on this line is never closed (the file ends inside it)"
    elif "field larger than field limit" in text:
        text = f"{text}, probably a quote that is never closed"
    elif "expected after" in text:
        text = f"a quoted value is followed by other text before the next comma ({text})"
    elif "new-line character seen in unquoted field" in text:
        text = "a carriage return (CR) inside a value that is not quoted"
    return f"{text}; {_swallowed(first, end)}" if end > first else text


def _span(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _swallowed(first: int, last: int) -> str:
    """Of a quote opened on line `first` that ran to line `last`."""
    return f"it swallowed {_span(first + 1, last)}, which {'was' if last == first + 1 else 'were'} not read"


_SPILL = "a quoted value runs over several lines and holds what look like rows of the file (a stray quote?)"


def _spill(row: list[str]) -> bool:
    """True when a cell of a record that spans lines holds a line break
    followed by a comma: the rows a stray quote swallowed, not a name."""
    for cell in row:
        for brk in ("\n", "\r"):
            i = cell.find(brk)
            if i >= 0 and "," in cell[i:]:
                return True
    return False


def _clean_id(value: str, what: str) -> tuple[str, str | None]:
    """(the id without surrounding whitespace, why it is not an id or None).
    A package name or bundle id never holds whitespace or a control, format
    or other non-printable character (NUL, ESC, bidi marks, line breaks);
    one that does is a damaged or forged record, not an app to match."""
    app_id = value.strip()
    if not app_id:
        return app_id, f"empty {what}"
    if not app_id.isprintable() or " " in app_id:  # the only printable whitespace is " "
        return app_id, (f"{what} {_snippet(app_id)} holds whitespace or a control character, so it is not a "
                        f"real package name or bundle id")
    return app_id, None


class _Repeats(dict):  # type: ignore[type-arg]
    """A JSON object whose text gives a key more than once: the last value
    of each, as json keeps it, plus every (key, value) pair as written."""

    __slots__ = ("pairs", "repeated")

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs
        counts: dict[str, int] = {}
        for key, _ in pairs:
            counts[key] = counts.get(key, 0) + 1
        self.repeated = [key for key, n in counts.items() if n > 1]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """object_pairs_hook: a repeated key must not silently drop the value before it."""
    obj = dict(pairs)
    return obj if len(obj) == len(pairs) else _Repeats(pairs)


def _json_text(value: Any, width: int = 60) -> str:
    """A saved value as JSON writes it (so "2" and 2 differ), ASCII only, cut short."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (ValueError, RecursionError):
        return _json_type(value)
    return text if len(text) <= width else text[:width] + "..."


def _keys(keys: list[str]) -> str:
    return ", ".join(_snippet(k) for k in keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def _no_repeats(obj: dict[str, Any], where: str = "") -> None:
    if isinstance(obj, _Repeats):
        raise _BadRecord(f"{where}{_keys(obj.repeated)} given more than once, so the record was edited or damaged")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _text(obj: dict[str, Any], key: str) -> str | None:
    """An optional text attribute; numbers are taken as their text."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return _check_text(key, value) or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise _BadRecord(f"{key} is {_json_type(value)}, expected text")


def _check_text(key: str, value: str | None) -> str | None:
    """JSON can spell lone surrogates ("\\ud800"), which are not text and break every writer."""
    if value is not None and not _decodable(value):
        raise _BadRecord(f"{key} holds a lone surrogate escape, which is not text")
    return value


def _int(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None or (type(value) is int and value >= 0):
        return value
    raise _BadRecord(f"{key} is {_json_type(value)}, expected a whole number")


def _flag(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    raise _BadRecord(f"{key} is {_json_type(value)}, expected true or false")


def _opt(value: Any) -> str | None:
    return value if isinstance(value, str) and _decodable(value) else None
