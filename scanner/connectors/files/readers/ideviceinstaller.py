"""`ideviceinstaller -l` output: the old `<bundle id> - <name> <version>`
lines and the newer CSV form, both with an optional `Total: N apps` header
that says whether the list was cut short.

ideviceinstaller ends every line and prints one record per line, each field
in plain printable text. A line that holds a control character, or more than
one record (lines joined by a lost line break, a copy from a narrow console),
is a bad line, never an app with a poisoned field: it is counted, its text is
kept as evidence, and the device is never complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from scanner.connectors.files.common import header_refused, label_of, make_inventory
from scanner.connectors.files.csv_rows import csv_records, header_cells, repeated_names
from scanner.connectors.files.source import InputLines
from scanner.connectors.interface import FileReader, HeadLine
from scanner.connectors.records import Problems, clean_id, snippet
from scanner.model import App, DeviceInfo, Inventory

__all__ = ["READER", "read_idevice_csv", "read_idevice_list"]

TOTAL_LINE = re.compile(r"^Total: (\d{1,9}) apps?[ \t]*$")
# The start of an old-form `ideviceinstaller -l` line: `<bundle id> - `.
_IDEVICE_SNIFF = re.compile(r"^[A-Za-z0-9][\w-]*(?:\.[\w-]+)+ - ")
# ideviceinstaller before 1.1.1: `<bundle id> - <display name> <version>`.
_IDEVICE_LINE = re.compile(r"^(?P<id>\S+) - (?P<rest>.*)$")
_ID = r"[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+"
# Another record inside the rest of a line. A display name may hold " - " ("X - Twitter"), but not a
# version with a bundle id glued to it ("Safari 17.5com.tencent.xin": the line break between two records
# was lost), nor a reverse-DNS bundle id of three labels or more followed by " - " (records copied side by
# side from a narrow console: "Safari 17.5 com.tencent.xin - WeChat 8.0.50").
_GLUED = re.compile(rf"(?<![A-Za-z0-9_.-])\d+(?:\.\d+)*{_ID}")
_RUN = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")  # a run of id characters, as source.id_tokens reads
_TOTAL_INSIDE = re.compile(r"Total: \d{1,9} apps?\b")  # the list's own header glued to a record
# Where a second reverse-DNS id may begin inside a bundle id: the old form has no separator between
# records, so a line cut inside its id and glued to the next record reads as one valid-looking id
# ("com.tencent.xincom.burbn.instagram"). Its pieces are kept as evidence: a prohibited app hidden that
# way is still found, while an ordinary id such as com.example.telecom.x costs nothing unless a piece is a
# catalog id.
_SECOND_ID = re.compile(r"(?<=[A-Za-z0-9_.-])(?=(?:com|net|org|cn|io|jp|kr|ru|de|tv|me|co|uk|us|app)\.)")
# "6.0.240616com.alipay.iphoneclient", "17com.tencent.xin": a bundle id is reverse DNS, and no top-level
# domain starts with a digit.
_NUMBER_FIRST = re.compile(r"\d")
# For the evidence only: the version that a lost line break glued to the next record's bundle id.
_VERSION_THEN_ID = re.compile(rf"(?<![A-Za-z0-9_.-])(\d+(?:\.\d+)*)(?={_ID})")
# The attributes the CSV form maps to App fields.
_COLUMNS = (
    ("id", "CFBundleIdentifier"), ("display", "CFBundleDisplayName"), ("bundle_name", "CFBundleName"),
    ("version", "CFBundleShortVersionString"), ("build", "CFBundleVersion"),
    ("type", "ApplicationType"), ("signer", "SignerIdentity"), ("path", "Path"),
)


def _csv_form(text: str) -> bool:
    """True for the header line of the CSV form (`CFBundleIdentifier, ...`)."""
    return text.startswith("CFBundle") and "CFBundleIdentifier" in text


def _count(text: str) -> int | None:
    match = TOTAL_LINE.match(text)
    return int(match.group(1)) if match else None


def _read(name: str, src: InputLines, head: HeadLine) -> Iterator[Inventory]:
    if _csv_form(head.text):
        yield read_idevice_csv(name, src, head.at, head.count)
    else:
        yield read_idevice_list(name, src, head.count)


READER = FileReader(
    name="ideviceinstaller",
    description="`ideviceinstaller -l` output",
    help="ideviceinstaller -l",
    head=lambda text: _csv_form(text) or _IDEVICE_SNIFF.match(text) is not None,
    count=_count,
    read=_read,
)


def read_idevice_list(name: str, src: InputLines, total: int | None) -> Inventory:
    """The old form: `Total: N apps`, then `<bundle id> - <name> <version>` lines."""
    apps: list[App] = []
    problems = Problems()
    seen_total = False
    for n, text in src.nonblank_lines(problems):
        if not seen_total and total is not None and TOTAL_LINE.match(text):
            seen_total = True
            continue
        app, why = _old_record(text.strip(" \t"))
        if app is None:
            problems.add(f"line {n}: {why}", evidence=_old_evidence(text))
            continue
        apps.append(app)
        if _SECOND_ID.search(app.id):
            problems.search(_pieces(app.id))
    return _ios_inventory(name, src, apps, problems, total)


def _pieces(app_id: str) -> str:
    """The two ids an id may be made of, cut at each place a second one may begin."""
    return " ".join(f"{app_id[:m.start()].rstrip('.')} {app_id[m.start():]}" for m in _SECOND_ID.finditer(app_id))


def _old_record(text: str) -> tuple[App | None, str]:
    """The App of one old-form line, or None and why it is not one."""
    m = _IDEVICE_LINE.match(text)
    if m is None:
        if TOTAL_LINE.match(text):
            return None, (f"a 'Total:' line inside the list ({snippet(text)}): two listings mixed, or a line that "
                          f"was edited")
        if not text.isprintable():
            return None, _control(text)
        return None, f"expected '<bundle id> - <name> <version>' (ideviceinstaller -l), got {snippet(text)}"
    app_id, why = clean_id(m.group("id"), "bundle id", dotted=True)
    if why:
        return None, why
    if _NUMBER_FIRST.match(app_id):  # a reverse-DNS id never starts with a digit: a version glued to it
        return None, (f"bundle id {snippet(app_id)} starts with a digit, as the version of a record whose line "
                      f"break was lost does; none of the records on this line was read as an app")
    rest = m.group("rest")
    if not rest.isprintable():  # NUL padding, ESC, a bidi mark, a line break: more records may hide here
        return None, _control(text)
    if _another_record(rest):
        return None, (f"more than one record on one line (a lost line break, or a copy from a narrow console): "
                      f"{snippet(text)}; none of them was read as an app")
    name_part, _, version = rest.rpartition(" ")
    if not version[:1].isdigit():  # no version printed: it is all name
        name_part, version = rest, ""
    return App("ios", app_id, name_part.strip() or None, version or None), ""


def _another_record(rest: str) -> bool:
    """True when the rest of a line (after `<id> - `, printable) holds another record."""
    if _GLUED.search(rest) or _TOTAL_INSIDE.search(rest):
        return True
    end = rest.find(" - ")
    while end >= 0:  # the word before each " - ": an id of three labels or more begins a record
        word = rest[rest.rfind(" ", 0, end) + 1:end]
        if any(run.count(".") >= 2 for run in _RUN.findall(word)):
            return True
        end = rest.find(" - ", end + 1)
    return False


def _control(text: str) -> str:
    return (f"a line break or control character inside {snippet(text)} (NUL padding after a crash, ESC, a bidi "
            f"mark...): the line is damaged or forged, and other apps may be hidden in it")


def _old_evidence(text: str) -> str:
    """The text of a line that was not read, and the same with a version
    glued to the next record's id taken apart ("17.5com.tencent.xin")."""
    split = _VERSION_THEN_ID.sub(r"\1 ", text)
    return text if split == text else f"{text}\n{split}"


def read_idevice_csv(name: str, src: InputLines, at: int, total: int | None) -> Inventory:
    """The CSV form: a `CFBundleIdentifier, ...` header, then rows of plist-printed values."""
    header = header_cells(src.head[at])
    refused = _header_fault(header)
    if refused:
        return _unread(name, src, at, refused)
    col = {h: i for i, h in enumerate(header)}
    header_keys = {h.casefold() for h in header}
    width = len(header)
    problems = Problems()
    for n, raw in src.raw_lines():  # lines before the header: blank, Total, errors, not UTF-8
        if n > at:
            break
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            problems.add(f"line {n}: not valid UTF-8", evidence=raw)
            continue
        if text.strip() and not TOTAL_LINE.match(text):
            problems.add(f"line {n}: not part of an ideviceinstaller list: {snippet(text)}", evidence=text)
    getters = {key: col.get(attr) for key, attr in _COLUMNS}

    def cell(row: list[str], key: str) -> str | None:
        i = getters[key]
        return (row[i].strip() or None) if i is not None else None

    apps: list[App] = []
    bad: list[int] = []
    i_id = getters["id"]
    records = csv_records(src, at + 1, bad, problems, spaces_after_quotes=True, skipinitialspace=True,
                          escapechar="\\")
    for n, row in records:
        record = ", ".join(row)  # the evidence of a row that is not read
        if len(row) != width:
            problems.add(f"line {n}: expected {width} values ({', '.join(header)}), found {len(row)}",
                         evidence=record)
            continue
        app_id, why = clean_id(row[i_id] if i_id is not None else "", "CFBundleIdentifier", dotted=True)
        if app_id.casefold() in header_keys:
            why = f"a second header line ({snippet(record)}): two listings mixed, or a line that was edited"
        if not why:
            why = _cells_fault(row, header)
        if why:
            problems.add(f"line {n}: {why}", evidence=record)
            continue
        app_type = cell(row, "type")
        apps.append(App(
            "ios", app_id, cell(row, "display") or cell(row, "bundle_name"), cell(row, "version"),
            cell(row, "build"), None, None, "hidden" if app_type == "Hidden" else "installed",
            {"System": True, "User": False}.get(app_type or ""), cell(row, "path"), None, cell(row, "signer"),
        ))
    return _ios_inventory(name, src, apps, problems, total)


def _header_fault(header: list[str]) -> str | None:
    """Why a CSV header cannot be trusted to say which value is which, or None."""
    repeated = repeated_names(header)
    if repeated:
        names = ", ".join(repr(r) for r in repeated)
        return (f"the header gives the column {names} more than once, so which of them holds the app's value "
                f"cannot be known")
    for h in header:
        if not h.isprintable():
            return f"the header's column {snippet(h)} holds a control or format character"
    return None


def _cells_fault(row: list[str], header: list[str]) -> str | None:
    """Why a row's values are not what ideviceinstaller prints, or None."""
    for h, value in zip(header, row):
        if not value.strip(" \t").isprintable():  # blanks around a value are not part of it
            return (f"{h} {snippet(value)} holds a control, format or line-break character (NUL padding after a "
                    f"crash, ESC, a bidi mark...), so the line is damaged or forged; other apps may be hidden in it")
    return None


def _unread(name: str, src: InputLines, at: int, why: str) -> Inventory:
    return header_refused(name, src, at, why, "export the list again (ideviceinstaller -l, naming each attribute "
                                               "once)", platform="ios")


def _ios_inventory(name: str, src: InputLines, apps: list[App], problems: Problems, total: int | None) -> Inventory:
    device = DeviceInfo(platform="ios", serial=None, source=name)
    if total is None or len(apps) + problems.count >= total:
        return make_inventory(name, device, apps, problems, src)
    missing = total - len(apps) - problems.count
    problems.add(f"the header says 'Total: {total} apps' but {missing} of them are not in the file", missing)
    message = (
        f"{label_of(name)} says 'Total: {total} apps' but lists {len(apps)}: the list was cut short, so "
        f"{missing} apps were not checked; export it again (ideviceinstaller -l > file) and rescan"
    )
    return make_inventory(name, device, apps, problems, src, reason="truncated", message=message, unit="apps")
