"""Jamf Pro Classic API mobile device records, saved as XML or JSON: the
answer of `GET /JSSResource/mobiledevices/id/{id}` and of its subsets
(`/subset/Applications`, `/subset/General&Location&Applications`): one
`<mobile_device>` with `<general>` (id, name or device_name, serial_number,
udid, os_type, os_version, model, managed, supervised,
device_ownership_level, last_inventory_update_utc and _epoch), `<location>`
(username, email_address) and `<applications><size>N</size><application>`
(application_name, application_version: the build, CFBundleVersion;
application_short_version: the version people see; identifier: the bundle
id; application_status). As JSON (`Accept: application/json`) the same
record is `{"mobile_device": {"general": {...}, "location": {...},
"applications": [{...}]}}`.

Verified against: the element names of the Classic API schema as
go-api-sdk-jamfpro's structs and a public Jamf script read them
(research/mdm-inventories.md §3.1: `applications>application`,
`application_name`, `application_version`, `application_short_version`,
`identifier`, the `<size>` before a list's items); no real export. Accepted as
plausible variants, unverified: several records in one file, as XML under a
root (`<mobile_devices><size>N</size><mobile_device>...`), as XML documents
one after another (`curl ... >> devices.xml`, each with its `<?xml`
declaration; or saved one per line, which apple_mdm's head leaves to this
reader), as a JSON array, as a JSON list (`{"mobile_devices": [...]}`, each
record wrapped in `{"mobile_device": ...}` or bare; the device list of
`GET /JSSResource/mobiledevices` has no apps, so each of its devices fails
"no-inventory") or JSON documents one after another; the
device-list fields (id, name, udid, serial_number, username) at the top of a
record without `<general>`; JSON applications given as the XML shape
(`{"size": N, "application": [...]}`); user enrollment markers in
enrollment_method or ownership. A `<size>` larger than the applications (or
records) held means the list was cut: the device is partial, "truncated".

What such an inventory cannot prove is said on every device, as for the Jamf
Pro API (jamf_pro, whose wording and key this reader shares through
jamf_common): it is what the device last reported to Jamf Pro, and Apple's
MDM reports only managed apps for a personal device or a User Enrollment and
no system apps before iOS 26. So a device read from it is `partial` with
reason `mdm-scope`, never `complete`, the blind spot named after what the
record says (device_ownership_level Personal, managed false). An Apple TV
(os_type tvOS) is listed as not checked. So is a Mac: a Classic API computer
record (`/JSSResource/computers/id/N`, `<computer>` with general, location,
hardware and software/applications of name, path, version, bundle_id; or a
`<computers>` list; or their JSON `{"computer": ...}`, `{"computers": [...]}`),
keyed "Jamf computer id N" (Jamf numbers computers and mobile devices apart),
its app rows counted, never dropped. What a list holds besides its records
and `<size>` is a bad record, its text searched; a device none of whose apps
was read has the strings of its whole record searched.

A device is keyed by its Jamf Pro id ("Jamf id 42", general/id), the key the
Jamf Pro API reader gives it too, so a device read from both APIs is one
device; serial, UDID and user are its identity, last_inventory_update_utc (or
_epoch, milliseconds) the date of its inventory.

XML is parsed as it streams (one record held at a time, never the file's
tree) by defusedxml's parser, with DTDs, entity declarations and external
entities forbidden: a file that has one (the billion laughs, XXE) is refused
and failed, its raw text still searched for whole catalog ids, entities never
expanded. XML that is not well formed (a file cut short, a control character)
is read up to the fault: what follows is failed with its line and column, the
record it stopped in is never complete, and the text not read is searched.
A key or element given twice, a record of the wrong type and an identifier
that is no bundle id are bad records: counted, their text kept as evidence,
their device never complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any, BinaryIO
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException, DTDForbidden
from defusedxml.ElementTree import DefusedXMLParser

from scanner.connectors.files.common import (
    error_text,
    failed_inventory,
    json_record,
    label_of,
    make_inventory,
    not_a_phone,
    value_evidence,
)
from scanner.connectors.files.readers.jamf_common import (
    ADVICE,
    BLIND,
    JAMF_KEY,
    PERSONAL,
    classic_root,
    epoch_ms,
    iso_time,
    personal,
)
from scanner.connectors.files.source import InputLines
from scanner.connectors.grammars.json_values import (
    Repeats,
    check_text,
    json_object,
    json_type,
    keys_text,
    no_repeats,
    strings_in,
    text_of,
)
from scanner.connectors.interface import FileReader
from scanner.connectors.records import BadRecord, Problems, clean_id, residue_of, snippet
from scanner.model import MDM_SCOPE, NOT_CHECKED, App, DeviceInfo, Inventory, Scope

__all__ = ["READER", "read_classic_json", "read_classic_xml"]

_CHUNK = 1 << 16
_MAX_DEPTH = 8  # elements below a record deeper than any Classic API record nests are not built
_RECORD = "mobile_device"
_LIST = "mobile_devices"
_COMPUTER = "computer"
_LISTS = {_LIST: _RECORD, "computers": _COMPUTER}  # a list's root: the records it holds
_RECORDS = frozenset(_LISTS.values())
_DECLARATION = re.compile(r"\s*<\?xml\s[^>]*\?>\s*\Z")
_OWNERSHIP = ("device_ownership_level", "device_ownership_type", "ownership", "ownership_level",
              "enrollment_method", "enrollment_type")
_REFUSED = ("the XML declares entities, which a Jamf Pro export never does: it was edited or is hostile, so none "
            "of it was read; fetch the record from Jamf Pro again")
_NOT_CHECKED_OS = {"tvos": ("tvos", "an Apple TV"), "watchos": ("watchos", "an Apple Watch"),
                   "visionos": ("visionos", "an Apple Vision Pro")}


# --- recognising the format -------------------------------------------------------------------------------


def _head(text: str) -> bool:
    """A record or list whose root begins the line (`<mobile_device>`, `<mobile_devices>`, `<computer>`,
    `<computers>`), or the XML declaration followed by one on the same line, as the Classic API writes its
    answers (a DOCTYPE of one is claimed too, and refused when read)."""
    return classic_root(text)


def _declaration(text: str) -> int | None:
    """A line that is only an XML declaration (`<?xml version="1.0" encoding="UTF-8"?>`) is taken as this
    format's preamble, as a count line is (0: it counts nothing): the line after it decides. Apple's plist
    (`<!DOCTYPE plist`, `<plist`) is claimed there by apple_mdm, before this reader in READERS; anything else
    is read here and failed if it is no Jamf record. A declaration followed by a Jamf record (or its DOCTYPE,
    refused) on the same line, as the Classic API writes its answer, is claimed the same way, and apple_mdm's
    head leaves such lines to this reader, so that documents saved one per line are read here too."""
    if _DECLARATION.match(text) or (text.lstrip().startswith("<?xml") and classic_root(text)):
        return 0
    return None


def _is_classic(doc: object) -> bool:
    """{"mobile_device": {...}} or {"computer": {...}} (a Classic API JSON answer), a list of them
    ({"mobile_devices": [...]}, {"computers": [...]}), or a JSON array holding one."""
    items = doc if isinstance(doc, list) else [doc]
    return any(isinstance(d, dict) and "schema_version" not in d and (
        any(isinstance(d.get(k), dict) for k in _RECORDS) or any(isinstance(d.get(k), list) for k in _LISTS))
        for d in items)


def _read(name: str, *args: Any) -> Iterator[Inventory]:
    """XML as lines (src, head line), or the parsed JSON (doc)."""
    if len(args) == 1:
        yield from read_classic_json(name, args[0])
    else:
        yield from read_classic_xml(name, args[0])


# --- JSON ---------------------------------------------------------------------------------------------------


def read_classic_json(name: str, doc: Any) -> Iterator[Inventory]:
    label = label_of(name)
    items = list(_json_records(doc))
    many = len(items) > 1 or isinstance(doc, list) or any(listed is not None for _, listed in items)
    for number, (item, listed) in enumerate(items, 1):
        where = f"{label} record #{number}" if many else label
        if isinstance(item, _Empty):
            problems = Problems()
            if isinstance(item.list, Repeats):
                problems.add(f"the list gives {keys_text(item.list.repeated)} more than once, so it was edited or "
                             f"damaged", evidence=" ".join(strings_in([v for k, v in item.list.pairs
                                                                        if k in item.list.repeated])))
            yield failed_inventory(name, "no-inventory" if not problems.count else "bad-records", (
                f"{label}: its list {listed} holds no record, so there was nothing to check: fetch the records "
                f"again (/JSSResource/mobiledevices/id/N/subset/Applications) and scan them")
                if not problems.count else (f"{label}: {problems.kept[0]}; its records were not read: fetch them "
                                            f"again and scan them"), platform="ios", evidence=problems)
            continue
        kind = next((k for k in _RECORDS if isinstance(item, dict) and isinstance(item.get(k), dict)), None)
        if listed is not None and kind is None and isinstance(item, dict) and not any(k in item for k in _RECORDS):
            kind, item = _LISTS[listed], {_LISTS[listed]: item}  # a list's record given bare, without its wrapper
        if kind is None:
            evidence = value_evidence(item)
            yield failed_inventory(name, "bad-records", (
                f"{where} is {json_type(item)} that is not a Jamf Pro Classic API mobile device or computer record "
                f"({{\"mobile_device\": ...}}); fetch the records again"), platform="ios", evidence=evidence)
            continue
        problems = Problems()
        if isinstance(item, Repeats):
            problems.add(f"the record gives {keys_text(item.repeated)} more than once, so it was edited or damaged",
                         evidence=" ".join(strings_in([v for k, v in item.pairs if k in item.repeated])))
        problems.search(" ".join(strings_in([k for k in item if k != kind] + [v for k, v in item.items() if k != kind])))
        yield _record(kind, name, where, item[kind], problems)


class _Empty:
    """A list that holds no record (or one whose key was given twice: its dropped values are evidence)."""

    def __init__(self, listed: dict[str, Any]) -> None:
        self.list = listed


def _json_records(doc: Any) -> Iterator[tuple[Any, str | None]]:
    """(record, the key of the list it is in, or None for one not in a list) of a JSON document: the records
    of {"mobile_devices": [...]} and {"computers": [...]} one by one, and an _Empty for an empty list or a
    list given twice."""
    for item in doc if isinstance(doc, list) else [doc]:
        lists = [k for k in _LISTS if isinstance(item, dict) and isinstance(item.get(k), list)]
        if not lists or any(isinstance(item.get(k), dict) for k in _RECORDS):
            yield item, None
            continue
        for key in lists:
            if not item[key] or (isinstance(item, Repeats) and key in item.repeated):
                yield _Empty(item), key
            for record in item[key]:
                yield record, key


# --- XML ----------------------------------------------------------------------------------------------------


class _Node:
    __slots__ = ("children", "tag", "text")

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.text: list[str] = []
        self.children: list[_Node] = []


class _Target:
    """What defusedxml's parser tells as it goes (start, data, end): only the record being read is built,
    and each finished one is handed out in `done`, so memory stays that of one record."""

    def __init__(self) -> None:
        self.depth = 0
        self.root: str | None = None
        self.open: list[_Node] = []  # the record being read and its open elements
        self.deep = 0  # elements open below _MAX_DEPTH (not built; their text kept as evidence)
        self.loose: list[str] = []  # the text of those
        self.done: list[tuple[_Node, list[str]]] = []
        self.records = 0
        self.size: list[str] | None = None  # a list root's <size>
        self.stray: str | None = None  # the first element a list holds besides its records and <size>
        self.strayed = Problems()  # their tags and text, searched as evidence as they come
        self.stray_text: list[str] = []  # the stray text since the last tag (the parser may hand it in pieces)
        self.straying = 0  # elements open outside a record (not built)

    def _stray_flush(self) -> None:
        if self.stray_text:
            self.strayed.search("".join(self.stray_text))
            self.stray_text = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._stray_flush()
        self.depth += 1
        if self.depth == 1:
            self.root = tag
        if self.open:
            if self.deep or len(self.open) >= _MAX_DEPTH:
                self.deep += 1
                return
            node = _Node(tag)
            self.open[-1].children.append(node)
            self.open.append(node)
        elif tag in _RECORDS and (self.depth == 1 or (self.depth == 2 and _LISTS.get(self.root or "") == tag)):
            self.open.append(_Node(tag))
        elif self.depth == 2 and tag == "size" and self.root in _LISTS and not self.straying:
            self.size = []
        elif self.depth > 1:
            self.straying += 1
            self.stray = self.stray or tag
            self.strayed.search(tag)

    def data(self, text: str) -> None:
        if self.deep:
            self.loose.append(text)
        elif self.open:
            self.open[-1].text.append(text)
        elif self.straying or (self.depth == 1 and text.strip()):
            self.stray = self.stray or (snippet(text.strip(), 40) if text.strip() else None)
            self.stray_text.append(text)
            if len(self.stray_text) > 4096:
                self._stray_flush()
        elif self.size is not None and self.depth == 2:
            self.size.append(text)

    def end(self, tag: str) -> None:
        self._stray_flush()
        self.depth -= 1
        if self.deep:
            self.deep -= 1
        elif self.straying:
            self.straying -= 1
        elif self.open:
            node = self.open.pop()
            if not self.open:
                self.done.append((node, self.loose))
                self.loose = []
                self.records += 1

    def close(self) -> None:
        return None

    def cut(self) -> tuple[_Node, list[str]] | None:
        """The record the XML stopped in, as far as it was read."""
        if not self.open:
            return None
        node, loose = self.open[0], self.loose
        if len(self.open) > 1 and not self.deep:
            # What was open when the XML stopped may be cut ("com.tencent.m" of com.tencent.mm): the app it stopped
            # in (or the innermost element) is not read, only searched.
            drop = self.open[2] if len(self.open) > 2 and self.open[1].tag == "applications" else self.open[-1]
            parent = self.open[self.open.index(drop) - 1]
            parent.children = [c for c in parent.children if c is not drop]
            loose = [*loose, _strings(drop)]
        self.open, self.loose = [], []
        return node, loose


def _value(node: _Node) -> Any:
    """An element as the JSON answer gives it: text for a leaf, an object of its children (a Repeats when one
    is given twice), a list of application objects for <applications>."""
    if node.tag == "applications":
        apps: list[Any] = [_value(c) for c in node.children if c.tag == "application"]
        size = [c for c in node.children if c.tag == "size"]
        other = [c for c in node.children if c.tag not in ("application", "size")]
        return _Applications(apps, ["".join(s.text) for s in size], [_strings(c) for c in other])
    if not node.children:
        return "".join(node.text)
    return json_object([(c.tag, _value(c)) for c in node.children])


class _Applications(list):  # type: ignore[type-arg]
    """The applications of an XML record, with what <size> said and any element that is no <application>."""

    def __init__(self, apps: list[Any], sizes: list[str], other: list[str]) -> None:
        super().__init__(apps)
        self.sizes, self.other = sizes, other


def _strings(node: _Node) -> str:
    parts: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        parts.append(item.tag)
        parts.extend(item.text)
        stack.extend(reversed(item.children))
    return " ".join(parts)


_ID_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


class _Searched:
    """Raw text searched for whole catalog ids as it streams past, an id cut between two chunks included."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.pending = b""

    def feed(self, data: bytes) -> None:
        data = self.pending + data
        cut = len(data)
        while cut and data[cut - 1] in _ID_BYTES:
            cut -= 1
        if cut == 0 and len(data) > 4096:  # one endless run of id characters: no id is that long
            cut = len(data)
        self.problems.search(data[:cut])
        self.pending = data[cut:]

    def close(self) -> None:
        self.problems.search(self.pending)
        self.pending = b""


def _chunks(src: InputLines) -> Iterator[bytes]:
    """The input's bytes: its head lines, then the rest in chunks (OSError propagates)."""
    yield from src.head
    stream: BinaryIO = src.stream
    while chunk := stream.read(_CHUNK):
        yield chunk


def _documents(src: InputLines) -> Iterator[tuple[bool, bytes]]:
    """(starts a new document, bytes) as they stream: an XML document begins at each `<?xml` declaration
    (documents saved one after another)."""
    carry = b""
    for chunk in _chunks(src):
        data = carry + chunk
        keep = next((k for k in (4, 3, 2, 1) if data.endswith(b"<?xml"[:k])), 0)  # a declaration cut in two
        data, carry = (data[:-keep], data[-keep:]) if keep else (data, b"")
        first, *rest = data.split(b"<?xml")
        if first:
            yield False, first
        for piece in rest:
            yield True, b"<?xml" + piece
    if carry:
        yield False, carry


class _Document:
    """One XML document of the input and where it begins (for the line of a fault)."""

    def __init__(self, number: int, line: int, column: int) -> None:
        self.number, self.line, self.column = number, line, column
        self.target = _Target()
        self.parser = DefusedXMLParser(target=self.target, forbid_dtd=True, forbid_entities=True,
                                       forbid_external=True)
        self.kept: list[bytes] = []  # raw bytes since the last finished record: evidence if reading fails
        self.fed = False  # something other than whitespace was fed
        self.fault: tuple[str, str, str] | None = None  # (reason, message, problem) of a refused or broken one
        self.cut: tuple[_Node, list[str]] | None = None  # the record it broke in, as far as it was read
        self.searched: _Searched | None = None  # its unread text, searched as it streams

    def where(self, label: str, number: int | None = None) -> str:
        return label + (f" document #{self.number}" if self.number > 1 else "") + (
            f" record #{number}" if number is not None and self.target.root in _LISTS else "")


def read_classic_xml(name: str, src: InputLines) -> Iterator[Inventory]:
    """The records of a Classic API XML file, read as the bytes stream past."""
    label = label_of(name)
    lines = column = 0  # where the current document begins: lines before it, bytes before it on its line
    doc = _Document(1, 0, 0)
    try:
        for new, data in _documents(src):
            if new and doc.fed:
                yield from _finish(name, label, doc)
                doc = _Document(doc.number + 1, lines, column)
            if doc.fed or data.strip():
                yield from _feed(name, label, doc, data)
            lines += data.count(b"\n")
            column = len(data) - data.rfind(b"\n") - 1 if b"\n" in data else column + len(data)
            if not doc.fed:  # blank lines before the document
                doc.line, doc.column = lines, column
    except OSError as err:
        why = (f"reading stopped after line {lines + 1} ({error_text(err)}); the records after it were not "
               f"checked: copy the file somewhere readable and scan it again")
        if doc.fault is None:
            _refuse(doc, ("read-error", why, f"line {lines + 1}: {error_text(err)}"))
        yield from _finish(name, label, doc)
        return
    yield from _finish(name, label, doc)


def _feed(name: str, label: str, doc: _Document, data: bytes) -> Iterator[Inventory]:
    if doc.searched is not None:  # refused or broken: its text is only searched
        doc.searched.feed(data)
        return
    doc.fed = doc.fed or bool(data.strip())
    doc.kept.append(data)
    try:
        doc.parser.feed(data)
    except (ParseError, DefusedXmlException, RecursionError, ValueError) as err:
        yield from _drain(name, label, doc)
        _refuse(doc, _fault(doc, err))
        return
    yield from _drain(name, label, doc)
    root = doc.target.root
    if root is not None and root not in _RECORDS and root not in _LISTS:
        _refuse(doc, ("unknown-format", (
            f"XML whose root is <{snippet(root, 40)[1:-1]}>, not a Jamf Pro Classic API mobile device record "
            f"(<mobile_device>), so it was not read; fetch /JSSResource/mobiledevices/id/N/subset/Applications "
            f"and scan that"), f"the root element is <{snippet(root, 40)[1:-1]}>"))


def _drain(name: str, label: str, doc: _Document) -> Iterator[Inventory]:
    """The records the parser finished since last asked."""
    target = doc.target
    if not target.done:
        return
    done, target.done = target.done, []
    first = target.records - len(done) + 1
    for number, (node, loose) in enumerate(done, first):
        problems = Problems()
        if loose:
            problems.add("the record nests deeper than any Jamf Pro record does", evidence=" ".join(loose))
        yield _record(node.tag, name, doc.where(label, number), _value(node), problems)
    doc.kept = doc.kept[-1:]  # the last bytes fed may hold the start of the next record


def _fault(doc: _Document, err: BaseException) -> tuple[str, str, str]:
    """(reason, message, problem) for what stopped the parser."""
    if isinstance(err, DefusedXmlException):
        what = "a DOCTYPE" if isinstance(err, DTDForbidden) else "an entity declaration"
        return "unsafe-xml", _REFUSED, f"{what}: the XML declares entities"
    if isinstance(err, ParseError):
        line, col = err.position
        line, col = line + doc.line, col + 1 + (doc.column if line == 1 else 0)
        msg = str(err).rsplit(": line", 1)[0]
        if msg.startswith(("no element found", "unclosed token")):
            return "truncated", (
                f"the XML stops at line {line} column {col} ({msg}): the file was cut short, and what was not "
                f"in it was not checked; fetch the records from Jamf Pro again"), f"line {line} column {col}: {msg}"
        return "bad-xml", (
            f"line {line} column {col}: not well-formed XML ({msg}): the file was edited or damaged, and what "
            f"follows was not read; fetch the records from Jamf Pro again"), f"line {line} column {col}: {msg}"
    detail = snippet(str(err) or type(err).__name__, 80)
    return "bad-xml", (f"XML that scanner will not read ({detail}); fetch the records from Jamf Pro again"), detail


def _refuse(doc: _Document, fault: tuple[str, str, str]) -> None:
    """Stop parsing the document: what was not read is failed, its text searched from here on."""
    doc.fault = fault
    doc.cut = doc.target.cut()
    problems = Problems()
    for raw in doc.kept:
        problems.search(raw)
    doc.target._stray_flush()
    problems.search(" ".join(doc.target.strayed.evidence))  # what the list held besides records, before here
    doc.searched = _Searched(problems)
    doc.kept = []


def _finish(name: str, label: str, doc: _Document) -> Iterator[Inventory]:
    """The end of one document: the parser closed (a document cut short fails there), then the result of a
    refused or broken one, or of a list whose <size> promises more records than it holds."""
    if doc.searched is None and doc.fed:
        try:
            doc.parser.close()
        except (ParseError, DefusedXmlException, RecursionError, ValueError) as err:
            yield from _drain(name, label, doc)
            _refuse(doc, _fault(doc, err))
        else:
            yield from _drain(name, label, doc)
    where = doc.where(label)
    target = doc.target
    if doc.fault is not None and doc.searched is not None:
        doc.searched.close()
        problems = doc.searched.problems
        reason, why, problem = doc.fault
        if doc.cut is not None and doc.cut[0].tag == _COMPUTER:  # a Mac, as far as it was read: not checked
            node, loose = doc.cut
            yield _computer(name, doc.where(label, target.records + 1), _value(node), Problems())
            problems.search(" ".join(loose))
        elif doc.cut is not None:  # the record it stopped in, as far as it was read: never complete
            node, loose = doc.cut
            problems.add(problem, evidence=" ".join(loose))
            yield _record(node.tag, name, doc.where(label, target.records + 1), _value(node), problems,
                          cut=(reason, why))
            return
        problems.add(problem)
        yield Inventory(
            device=DeviceInfo(platform="ios", serial=None, source=name), apps=(),
            coverage=(Scope("records", read=False, reason=problem),), status="failed", reason=reason,
            message=f"{where}: {why}", problems=tuple(problems.kept), problem_count=problems.count,
            residue=residue_of(problems))
        return
    if not doc.fed:
        return
    target._stray_flush()
    if target.stray:
        stray = target.strayed
        stray.add(f"the list holds elements other than its records and <size> ({snippet(target.stray, 40)})")
        yield Inventory(
            device=DeviceInfo(platform="ios", serial=None, source=name), apps=(),
            coverage=(Scope("records", read=False, reason="elements that are no record"),), status="failed",
            reason="bad-records", message=(
                f"{where}: the list holds elements that are no Jamf Pro record ({snippet(target.stray, 40)}), so "
                f"the file was edited or damaged and what they hold was not read as apps (it was searched): fetch "
                f"the records from Jamf Pro again"),
            problems=tuple(stray.kept), problem_count=stray.count, residue=residue_of(stray))
    if target.root in _LISTS and target.size is not None:
        size = "".join(target.size).strip()
        promised = int(size) if size.isdigit() and len(size) < 10 else None
        if promised is not None and promised > target.records:
            missing = promised - target.records
            yield Inventory(
                device=DeviceInfo(platform="ios", serial=None, source=name), apps=(),
                coverage=(Scope("devices", read=False, reason=f"{missing} devices not in this file"),),
                status="failed", reason="truncated", message=(
                    f"{where}: the list says it holds {promised} {_noun(target.root)} (<size>) and holds "
                    f"{target.records}, so {missing} {'device is' if missing == 1 else 'devices are'} not in this "
                    f"file and were not checked: save the whole answer again and scan it"))
    if target.records == 0:
        yield failed_inventory(name, "no-inventory", (
            f"{where} holds no mobile device record (<mobile_device>), so there was nothing to check: fetch "
            f"/JSSResource/mobiledevices/id/N/subset/Applications and scan that"), platform="ios")


# --- one record (XML or JSON) -------------------------------------------------------------------------------


def _noun(root: str | None) -> str:
    return "computers" if root == "computers" else "mobile devices"


def _record(kind: str, name: str, where: str, record: Any, problems: Problems,
            cut: tuple[str, str] | None = None) -> Inventory:
    if kind == _COMPUTER:
        return _computer(name, where, record, problems)
    inv = _device(name, where, record, problems, cut)
    if inv.status == "failed" and inv.reason != NOT_CHECKED:
        # No app of it was read: an id anywhere in the record (a field misnamed, a list of the wrong type) is
        # still searched.
        evidence = Problems()
        evidence.search(" ".join(inv.residue))
        evidence.search(" ".join(strings_in(record)))
        inv = replace(inv, residue=residue_of(evidence))
    return inv


def _computer(name: str, where: str, record: Any, problems: Problems) -> Inventory:
    """A Mac's record (`/JSSResource/computers/id/N`): listed as not checked, never dropped, its app rows
    (software/applications) counted; who it is read as far as the record allows."""
    start = json_record(name, where, "", record, platform="macos", advice="fetch the records again")
    if isinstance(start, Inventory):
        return start
    for text in start.kept:
        problems.add(text)
    jamf_id = device_name = serial = udid = user = model = os_version = None
    when: datetime | None = None
    try:
        general = _part(record, "general") if "general" in record else record
        location, hardware = _part(record, "location"), _part(record, "hardware")
        jamf_id, device_name = text_of(general, "id"), text_of(general, "name")
        serial, udid = text_of(general, "serial_number"), text_of(general, "udid")
        user = text_of(location, "username") or text_of(location, "email_address")
        model, os_version = text_of(hardware, "model"), text_of(hardware, "os_version")
        utc = text_of(general, "report_date_utc") or text_of(general, "last_contact_time_utc")
        when = iso_time("report_date_utc", utc) if utc else None
    except BadRecord as err:
        problems.add(f"the computer: {err}")
    software = record.get("software")
    listed = software.get("applications") if isinstance(software, dict) else None
    if isinstance(listed, dict) and "application" in listed:
        listed = listed["application"]
        listed = [listed] if isinstance(listed, dict) else listed
    rows = len(listed) if isinstance(listed, list) else 0
    jamf_id = (jamf_id or "").strip()
    key = (f"Jamf computer id {jamf_id}" if jamf_id else (serial or "").strip() or (udid or "").strip()
           or where[len(label_of(name)):].strip() or None)
    identity = tuple((k, v.strip()) for k, v in (("serial", serial), ("udid", udid), ("user", user)) if v and v.strip())
    device = DeviceInfo(platform="macos", serial=key, model=model, os_version=os_version,
                        name=(device_name or "").strip() or None, source=name, identity=identity, inventoried=when)
    return not_a_phone(device, f"{where}, computer {snippet(device.label)}", "a Mac", rows, problems)


def _device(name: str, where: str, record: Any, problems: Problems,
            cut: tuple[str, str] | None = None) -> Inventory:
    """One device: its apps, and what Jamf Pro does not report for it. `cut`: (reason, message) of the XML
    fault the record stopped at, as far as it was read."""
    start = json_record(name, where, "", record, platform="ios", advice="fetch the records again")
    if isinstance(start, Inventory):
        return start
    for text in start.kept:
        problems.add(text)
    problems.search(" ".join(start.evidence))
    device, os_type = _device_info(name, where, record, problems)
    what = f"device {snippet(device.label)}"
    listed = record.get("applications")
    if os_type is not None:
        count = len(listed) if isinstance(listed, list) else 0
        kind, label = _NOT_CHECKED_OS[os_type]
        return not_a_phone(DeviceInfo(platform=kind, serial=device.serial, name=device.name, source=name,
                                      identity=device.identity, inventoried=device.inventoried),
                           f"{where}, {what}", label, count)
    if listed is None and cut is None:
        problems.add("no applications: the record was fetched without its apps")
        return Inventory(
            device=device, apps=(), coverage=(Scope("apps", read=False, reason="no applications"),),
            status="failed", reason="no-inventory", message=(
                f"{where}, {what} holds no app list (no applications), so none of its apps were checked; fetch "
                f"/JSSResource/mobiledevices/id/N/subset/Applications (or the whole record) and scan that"),
            problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems))
    apps, held = _apps(listed, problems) if listed is not None else ([], 0)
    scopes: list[Scope] = []
    reason = message = None
    if cut is not None:
        reason, why = cut
        message = f"{where}, {what}: {why}"
        scopes.append(Scope("records", read=False, reason=why.split(":", 1)[0]))
    elif isinstance(listed, _Applications) or (isinstance(listed, dict) and "size" in listed):
        truncated = _size_check(listed, held, problems)
        if truncated:
            reason = "truncated"
            message = (f"{where}, {what}: {truncated}, so the list was cut and the apps missing from it were not "
                       f"checked; fetch the record from Jamf Pro again")
            scopes.append(Scope("apps", read=False, reason=truncated))
    blind = _blind(record)
    if not apps and not problems.count and reason is None:
        return Inventory(
            device=device, apps=(), coverage=(Scope("apps", read=False, reason="no apps listed"),),
            status="failed", reason="empty", message=(
                f"{where}, {what} lists no app, and a phone always has some: the device has not sent Jamf Pro its "
                f"inventory yet, or the export was cut; update its inventory in Jamf Pro and fetch it again, or "
                f"{ADVICE}"))
    scopes.append(Scope(MDM_SCOPE, read=False, reason=blind))
    if reason is None and not problems.count:
        reason = "mdm-scope"
        message = f"{where}, {what}: {blind}, so apps outside its view were not checked; {ADVICE}"
    return make_inventory(name, device, apps, problems, None, scopes=tuple(scopes), reason=reason, message=message,
                          unit="records", reason_bad="bad-records", what=what)


def _size_check(listed: Any, held: int, problems: Problems) -> str | None:
    """What a list's <size> says against the apps it holds: the words for a list cut short (a size larger
    than the apps held), a counted problem for a size that is no number or smaller."""
    sizes = listed.sizes if isinstance(listed, _Applications) else [listed.get("size")]
    if not sizes:
        return None
    given = sizes[-1]
    text = str(given).strip() if isinstance(given, (str, int)) and not isinstance(given, bool) else None
    if len(sizes) > 1:
        problems.add("applications gives <size> more than once, so the record was edited or damaged")
    if text is None or not text.isdigit() or len(text) > 9:
        problems.add(f"applications: size {snippet(str(given))} is not a number of apps")
        return None
    size = int(text)
    if size > held:
        return f"applications says it holds {size} apps (size) and holds {held}"
    if size < held:
        problems.add(f"applications says it holds {size} apps (size) and holds {held}, so it was edited")
    return None


def _blind(record: dict[str, Any]) -> str:
    """What Jamf Pro's inventory of this device cannot see, after what the record says of it."""
    general = record.get("general") if isinstance(record.get("general"), dict) else record
    said = personal(general, _OWNERSHIP)
    if said is None:
        for key in ("user_enrollment", "is_user_enrollment"):
            if _flag(general.get(key)) is True:
                said = f"{key} {snippet(str(general.get(key)))}"
    if said:
        return PERSONAL.format(what=said)
    if _flag(general.get("managed")) is False:
        return ("Jamf Pro does not manage the device (managed false), so its inventory is what the device last "
                "reported while it was managed, if ever, and holds managed apps at most")
    return BLIND


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _device_info(name: str, where: str, record: dict[str, Any],
                 problems: Problems) -> tuple[DeviceInfo, str | None]:
    """Who the device is (keyed by its Jamf Pro id, as jamf_pro keys it), and the kind of a device scanner
    does not check (an Apple TV), or None."""
    jamf_id = device_name = serial = udid = user = model = os_version = os_type = None
    when: datetime | None = None
    not_checked = None
    try:
        general = _part(record, "general") if "general" in record else record  # the device list: flat fields
        location = _part(record, "location")
        jamf_id = text_of(general, "id")
        device_name = text_of(general, "name") or text_of(general, "device_name") or text_of(general, "display_name")
        serial, udid = text_of(general, "serial_number"), text_of(general, "udid")
        user = (text_of(location, "username") or text_of(location, "email_address") or text_of(general, "username")
                or text_of(general, "email_address"))
        model = text_of(general, "model") or text_of(general, "model_display")
        os_version, os_type = text_of(general, "os_version"), text_of(general, "os_type")
        if general is not record:
            no_repeats(general, "general: ")
        no_repeats(location, "location: ")
    except BadRecord as err:
        problems.add(f"the device: {err}", evidence=" ".join(strings_in(record)))
    try:
        when = _when(record.get("general") if isinstance(record.get("general"), dict) else record)
    except BadRecord as err:
        problems.add(f"the device: {err}")
    if os_type is not None:
        folded = os_type.strip().lower()
        if folded in _NOT_CHECKED_OS:
            not_checked = folded
        elif folded not in ("ios", "ipados", ""):
            problems.add(f"the device: os_type {snippet(os_type)} is not iOS or iPadOS, so the record was edited")
    jamf_id = (jamf_id or "").strip()
    # Without an id (the Applications subset): the serial or UDID, else which record of the file it is.
    key = JAMF_KEY.format(jamf_id) if jamf_id else ((serial or "").strip() or (udid or "").strip() or
                                                   where[len(label_of(name)):].strip() or None)
    identity = tuple((kind, value.strip()) for kind, value in (("serial", serial), ("udid", udid), ("user", user))
                     if value and value.strip())
    device = DeviceInfo(platform="ios", serial=key, model=model, os_version=os_version,
                        name=(device_name or "").strip() or None, source=name, identity=identity, inventoried=when)
    return device, not_checked


def _when(general: dict[str, Any]) -> datetime | None:
    """When Jamf Pro last took the device's inventory: last_inventory_update_utc, else _epoch."""
    utc = text_of(general, "last_inventory_update_utc")
    if utc:
        return iso_time("last_inventory_update_utc", utc)
    epoch = general.get("last_inventory_update_epoch")
    if epoch is None or epoch == "":
        return None
    if isinstance(epoch, bool) or not isinstance(epoch, (str, int)):
        raise BadRecord(f"last_inventory_update_epoch is {json_type(epoch)}, expected a number")
    return epoch_ms("last_inventory_update_epoch", epoch)


def _part(record: dict[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    if value is None or value == "":  # <location/>: an empty element
        return {}
    if not isinstance(value, dict):
        raise BadRecord(f"{key} is {json_type(value)}, expected an object")
    return value


def _apps(listed: Any, problems: Problems) -> tuple[list[App], int]:
    """The apps read, and how many app records the list holds (read or not)."""
    if isinstance(listed, dict) and not isinstance(listed, Repeats) and "application" in listed:
        listed = listed["application"]  # the XML shape, converted to JSON by a tool
        listed = [listed] if isinstance(listed, dict) else listed
    if listed == "":  # <applications/>
        listed = []
    if not isinstance(listed, list):
        problems.add(f"applications is {json_type(listed)}, not a list", evidence=" ".join(strings_in(listed)))
        return [], 0
    if isinstance(listed, _Applications) and listed.other:
        problems.add("applications holds elements other than <size> and <application>",
                     evidence=" ".join(listed.other))
    apps: list[App] = []
    for i, record in enumerate(listed, 1):
        try:
            apps.append(_app(record))
        except BadRecord as err:
            # The record is not trusted, but its ids are still searched (identifier, name...).
            problems.add(f"app #{i}: {err}", evidence=" ".join(strings_in(record)))
    return apps, len(listed)


def _app(record: Any) -> App:
    if not isinstance(record, dict):
        raise BadRecord(f"expected an object of app attributes, got {json_type(record)}")
    no_repeats(record)
    identifier = record.get("identifier")
    if not isinstance(identifier, str):
        raise BadRecord(f"identifier is {json_type(identifier)}, expected a bundle id")
    check_text("identifier", identifier)
    identifier, why = clean_id(identifier, "identifier")
    if why:
        raise BadRecord(why)
    app_name, short, build = (text_of(record, k) for k in
                              ("application_name", "application_short_version", "application_version"))
    text_of(record, "application_status")
    return App("ios", identifier, app_name, short, build)


READER = FileReader(
    name="jamf-classic",
    description="Jamf Pro Classic API mobile device XML or JSON (JSSResource/mobiledevices/id/N)",
    help="Jamf Pro Classic API mobile devices XML or JSON",
    head=_head,
    count=_declaration,
    document=_is_classic,
    shape='Jamf Pro Classic API mobile device records ({"mobile_device": ...})',
    read=_read,
)
