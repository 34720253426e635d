"""Apple MDM `InstalledApplicationList` answers: the device's response plist
(XML or binary, as an MDM server receives it), and the NanoMDM / MicroMDM
webhook JSON that carries it base64-encoded (`{"topic": "mdm.Connect",
"acknowledge_event": {"udid", "status", "command_uuid", "raw_payload"}}`, one
event or a JSON array of them).

Each app is a dict: `Identifier` (the bundle id), `Name` (the display name,
which may be localized), `ShortVersion` (CFBundleShortVersionString, the
version people see) and `Version` (CFBundleVersion, the build).

What such an answer cannot prove is said on every device, as Apple documents
it: the answer does not say how the command was asked. Sent with
`ManagedAppsOnly` it lists managed apps only, sent with `Identifiers` only
those apps, and on a User Enrollment (a response with an EnrollmentID instead
of a UDID) apps the user installed from the App Store are never listed. So a
device read from it is `partial` with reason `mdm-scope`, never `complete`:
the MDM's own view of the device, not the device (the MDM's scope,
model.MDM_SCOPE, unread: `--accept-scope mdm` accepts it). A device that answered
`Error`, `CommandFormatError` or `NotNow` sent no list: it is failed, with what
to do.

Who a device is: its UDID, else a User Enrollment's EnrollmentID (the plist's,
else the webhook's `udid` / `enrollment_id`); its identity lists each UDID and
enrollment id the answer and its event give. The webhook's `topic` is the kind
of event ("mdm.Connect"), not a name of the device, and is not part of it. No
inventory date in a saved plist: Apple's answer has none, so --max-age finds
such a device's age unknown. A webhook event's `created_at` (the time the MDM
received the answer, in the event schema of micromdm/nanomdm
service/webhook/event.go) is the inventory's date when it is an ISO 8601 time
no later than a day from now; one that cannot be read, or lies further ahead
(it would dodge --max-age), is not used: the age is then unknown.

Verified against: Apple's application.installed.list schema and the MicroMDM /
NanoMDM webhook Event (topic, acknowledge_event with udid, status,
command_uuid, raw_payload) as research/mdm-inventories.md section 4.1 gives
them; no real answer. Accepted as plausible, unverified: NanoMDM's
`enrollment_id`, a raw_payload holding the XML plist as text, a JSON array of
events.

XML is parsed by plistlib, which refuses entity declarations (the billion
laughs) and never fetches a DTD; before it, an input with a DOCTYPE other than
Apple's plist one, an entity declaration or an entity reference that XML does
not predefine is refused whole (expat would silently drop an undeclared
reference under an external DTD), and its text is still searched for catalog
ids. A key given twice, a record of the wrong type and an Identifier that is
no bundle id are bad records: counted, their text kept as evidence, and their
device never complete. A plist cut short is not read at all.
"""

from __future__ import annotations

import base64
import binascii
import plistlib
import re
import struct
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.parsers.expat import ExpatError

from scanner.connectors.files.common import error_text, failed_inventory, label_of, make_inventory
from scanner.connectors.files.readers.jamf_common import classic_root
from scanner.connectors.files.source import InputLines
from scanner.connectors.grammars.json_values import Repeats, json_type, keys_text
from scanner.connectors.interface import FileReader
from scanner.connectors.records import BadRecord, Problems, clean_id, decodable, residue_of, snippet
from scanner.model import MDM_SCOPE, App, DeviceInfo, Inventory, Scope

__all__ = ["READER", "read_response"]

_MAX_BYTES = 1 << 28  # 256 MiB: an answer for thousands of apps is a few MB
_APPLE_DOCTYPE = re.compile(
    rb'<!DOCTYPE\s+plist\s+PUBLIC\s+"-//Apple//DTD PLIST 1\.0//EN"\s+'
    rb'"http://www\.apple\.com/DTDs/PropertyList-1\.0\.dtd"\s*>'
)
_ENTITY_REF = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)[^\s<&]{0,40}")
_FAILED_STATUS = {"Error", "CommandFormatError", "NotNow", "Idle"}
_SCOPE = ("an InstalledApplicationList answer does not say how the command was asked: with ManagedAppsOnly it "
          "lists managed apps only, with Identifiers only the apps named")
_USER_ENROLLMENT = ("it is a User Enrollment (an EnrollmentID, no UDID), and on a User Enrollment the MDM is never "
                    "told of apps the user installed from the App Store")


class _Dict(dict):  # type: ignore[type-arg]
    """A plist dict that remembers a key given twice and the value plistlib would silently drop."""

    __slots__ = ("dropped", "repeated")

    def __init__(self) -> None:
        super().__init__()
        self.repeated: list[str] = []
        self.dropped: list[Any] = []

    def __setitem__(self, key: Any, value: Any) -> None:
        if key in self:
            if key not in self.repeated:
                self.repeated.append(key)
            self.dropped.append(dict.__getitem__(self, key))
        super().__setitem__(key, value)


class _Refused(Exception):
    """A plist that is not read at all: (reason, why, what to do)."""

    def __init__(self, reason: str, why: str, advice: str) -> None:
        super().__init__(why)
        self.reason, self.why, self.advice = reason, why, advice


def _head(text: str) -> bool:
    """A plist's first line; never a Jamf Pro Classic API record after its declaration (`<?xml ...?><computer>`):
    that is jamf_classic's, and in a file of such documents saved one per line, the second is not a plist."""
    return text.lstrip().startswith(("bplist", "<?xml", "<!DOCTYPE plist", "<plist")) and not classic_root(text)


def _is_webhook(doc: object) -> bool:
    """A NanoMDM / MicroMDM webhook event, or a JSON array of them, with a command answer among them."""
    events = doc if isinstance(doc, list) else [doc]
    return any(isinstance(e, dict) and isinstance(e.get("acknowledge_event"), dict) for e in events)


def _read(name: str, *args: Any) -> Iterator[Inventory]:
    """A plist as lines (src, head line), or a webhook's parsed JSON (doc)."""
    if len(args) == 1:
        yield from _read_webhook(name, args[0])
        return
    src: InputLines = args[0]
    try:
        data = src.rest() if src.stream is not None else b"".join(src.head)
    except OSError as err:
        yield failed_inventory(name, "unreadable", f"cannot read {label_of(name)}: {error_text(err)}; check the "
                               f"file or device it is on", platform="ios")
        return
    yield from read_response(name, data)


def read_response(name: str, data: bytes) -> Iterator[Inventory]:
    """The inventory of one saved response plist (XML or binary)."""
    label = label_of(name)
    try:
        doc = _parse(data)
    except _Refused as refused:
        yield _refused(name, label, refused, data)
        return
    inventory = _response(name, label, doc, None)
    yield inventory if inventory is not None else _not_app_list(name, label, doc, data)


def _refused(name: str, where: str, refused: _Refused, data: bytes) -> Inventory:
    evidence = Problems()
    evidence.search(data)  # a plist that is not read is still searched for whole catalog ids
    if data.startswith(b"bplist"):
        evidence.search(_binary_strings(data))
    return failed_inventory(name, refused.reason, f"{where} {refused.why}, so none of it was read; {refused.advice}",
                            platform="ios", problems=(refused.why,), evidence=evidence)


def _not_app_list(name: str, where: str, doc: Any, data: bytes) -> Inventory:
    keys = keys_text([str(k) for k in doc]) if isinstance(doc, dict) and doc else None
    what = f"an MDM answer with {keys}" if keys else f"a plist of {json_type(doc)}"
    return _refused(name, where, _Refused("no-inventory", f"is {what}, not an InstalledApplicationList answer",
                                          "send the InstalledApplicationList command and save its answer"), data)


def _parse(data: bytes) -> Any:
    if len(data) > _MAX_BYTES:
        raise _Refused("bad-plist", f"is {len(data)} bytes long, more than any InstalledApplicationList answer",
                       "save only the answer to the command")
    if data.startswith(b"bplist"):
        fmt = plistlib.FMT_BINARY
        if not data.startswith(b"bplist00"):
            raise _Refused("bad-plist", f"is a binary plist of version {snippet(data[6:8].decode('latin-1'))}, "
                           f"which scanner does not read (only bplist00)", "convert it with plutil -convert xml1")
    else:
        fmt = plistlib.FMT_XML
        _check_xml(data)
    try:
        return plistlib.loads(data, fmt=fmt, dict_type=_Dict)
    except ExpatError as err:
        cut = err.lineno >= data.count(b"\n") + (not data.endswith(b"\n")) and (
            "no element found" in str(err) or "unclosed token" in str(err))
        raise _Refused("truncated" if cut else "bad-plist", f"line {err.lineno}: not a whole XML plist "
                       f"({str(err).split(':')[0]})", "the file was cut short or edited: save the answer again") from None
    except RecursionError:
        raise _Refused("bad-plist", "nests deeper than any MDM answer", "save the answer again") from None
    # plistlib raises InvalidFileException (a ValueError) and, for some damaged binary plists, TypeError (a dict
    # for a key), OverflowError, LookupError or struct.error.
    except (ValueError, TypeError, OverflowError, LookupError, struct.error) as err:
        what = "binary plist" if fmt is plistlib.FMT_BINARY else "XML plist"
        detail = str(err) or type(err).__name__
        if isinstance(err, plistlib.InvalidFileException) and fmt is plistlib.FMT_BINARY:
            detail = "its object table or trailer is cut or damaged"
        raise _Refused("truncated" if fmt is plistlib.FMT_BINARY else "bad-plist",
                       f"is not a whole {what} ({snippet(detail, 80)})",
                       "the file was cut short or edited: save the answer again") from None


def _binary_strings(data: bytes) -> str:
    """The strings of a binary plist that plistlib cannot read (cut, damaged), walked object by object as they
    are written after the header. Each object begins with a marker byte, often an ASCII letter ('V' for a
    string of six), so the raw bytes run an id into the next string ("com.tencent.xinVWeChat") and would hide
    it. The size of an object reference is in the trailer, which a cut file has lost: both 1 and 2 are tried."""
    found: dict[str, None] = {}
    for ref in (1, 2):
        i, end = 8, len(data)
        while i < end:
            kind, size, at = data[i] >> 4, data[i] & 0xF, i + 1
            if kind in (4, 5, 6, 0xA, 0xD) and size == 0xF and at < end and data[at] >> 4 == 1:  # a long length
                width = 1 << (data[at] & 0xF)
                size, at = int.from_bytes(data[at + 1:at + 1 + width], "big"), at + 1 + width
            length = {0: 0, 1: 1 << size, 2: 1 << size, 3: 8, 4: size, 5: size, 6: 2 * size, 8: size + 1,
                      0xA: size * ref, 0xD: 2 * size * ref}.get(kind, 0)
            text = data[at:at + length]
            if kind == 5 and text.isascii():
                found.setdefault(text.decode("ascii"), None)
            elif kind == 6 and len(text) % 2 == 0:
                found.setdefault(text.decode("utf-16-be", "replace"), None)
            i = at + length if at + length > i else i + 1
    return " ".join(found)


def _check_xml(data: bytes) -> None:
    """What plistlib would parse and should not be asked to: a DTD of its own, entities."""
    if b"<!ENTITY" in data:
        raise _Refused("unsafe-xml", "declares XML entities (<!ENTITY), which no plist does and which can expand "
                       "to gigabytes or name files and URLs", "save the answer as the device sent it")
    at = data.find(b"<!DOCTYPE")
    if at >= 0 and not _APPLE_DOCTYPE.match(data, at):
        raise _Refused("unsafe-xml", f"has a DOCTYPE other than Apple's plist one "
                       f"({snippet(data[at:at + 80].decode('utf-8', 'replace'))}), which could name a DTD or "
                       f"entities elsewhere", "save the answer as the device sent it")
    ref = _ENTITY_REF.search(data)
    if ref:
        raise _Refused("unsafe-xml", f"holds an entity reference {snippet(ref.group().decode('utf-8', 'replace'))} "
                       f"that XML does not predefine and no plist uses", "save the answer as the device sent it")


# --- one answer ---------------------------------------------------------------------------------------------


def _response(name: str, where: str, doc: Any, event: dict[str, Any] | None) -> Inventory | None:
    """The inventory of one command answer; None for an answer to another command."""
    if not isinstance(doc, dict):
        return None
    problems = Problems()
    if isinstance(doc, _Dict) and doc.repeated:
        problems.add(f"the answer gives {keys_text([str(k) for k in doc.repeated])} more than once, so it was "
                     f"edited or damaged", evidence=_strings(doc.dropped))
    device = _device(name, doc, event, problems)
    what = f"device {snippet(device.label)}"
    status = doc.get("Status")
    if status in _FAILED_STATUS and "InstalledApplicationList" not in doc:
        return _failed(name, where, what, device, status, doc, problems)
    if "InstalledApplicationList" not in doc:
        return None
    if status != "Acknowledged":
        problems.add(f"Status is {_shown(status)}, not Acknowledged, so the answer was edited or damaged")
    listed = doc["InstalledApplicationList"]
    if not isinstance(listed, list):
        problems.add(f"InstalledApplicationList is {json_type(listed)}, not a list", evidence=_strings(listed))
        listed = []
    apps: list[App] = []
    for i, record in enumerate(listed, 1):
        try:
            apps.append(_app(record))
        except BadRecord as err:
            # The record is not trusted, but its ids are still searched (Identifier, Name...).
            problems.add(f"app #{i}: {err}", evidence=_strings(record))
    user_enrollment = device.serial is not None and device.serial == _text(doc, "EnrollmentID") and not _udid(doc)
    blind = _USER_ENROLLMENT if user_enrollment else _SCOPE
    if not apps and not problems.count:
        return Inventory(
            device=device, apps=(), coverage=(Scope("apps", read=False, reason="no apps listed"),),
            status="failed", reason="empty", message=(
                f"{where}, {what} lists no app, and {blind}: either it has no app of its own or the command "
                f"was limited; send InstalledApplicationList without ManagedAppsOnly and Identifiers, or scan the "
                f"iPhone itself over USB"))
    scope = Scope(MDM_SCOPE, read=False, reason=blind)
    message = (f"{where}, {what}: {blind}, so apps outside them were not checked; send InstalledApplicationList "
               f"without ManagedAppsOnly and Identifiers{' to a device enrollment' if user_enrollment else ''}, or "
               f"scan the iPhone itself over USB, to check every app")
    return make_inventory(name, device, apps, problems, None, scopes=(scope,),
                          reason=None if problems.count else "mdm-scope", message=None if problems.count else message,
                          unit="records", reason_bad="bad-records", what=what)


def _failed(name: str, where: str, what: str, device: DeviceInfo, status: str, doc: dict[str, Any],
            problems: Problems) -> Inventory:
    if status == "NotNow":
        reason, message = "mdm-not-now", (
            f"{where}, {what} answered NotNow (it was locked or busy), so it sent no app list and none of its apps "
            f"were checked; the MDM sends the command again when the device next checks in: save that answer and "
            f"scan it")
    elif status == "Idle":
        reason, message = "no-inventory", (
            f"{where}, {what}: an Idle check-in (the device asking for its next command), not an answer to "
            f"InstalledApplicationList: no app list; send the command and save its answer")
    else:
        reason = "mdm-error"
        chain = doc.get("ErrorChain")
        first = chain[0] if isinstance(chain, list) and chain and isinstance(chain[0], dict) else {}
        text = _text(first, "USEnglishDescription") or _text(first, "LocalizedDescription")
        code = ", ".join(str(first[k]) for k in ("ErrorDomain", "ErrorCode") if isinstance(first.get(k), (str, int)))
        said = f": {snippet(text, 120)}" if text else ""
        said += f" ({snippet(code, 80)})" if code else ""
        advice = ("the MDM server sent a command the device could not parse: check the command" if
                  status == "CommandFormatError" else "fix what the error says")
        message = (f"{where}, {what} answered the command with {status}{said}, so it sent no app list and none of "
                   f"its apps were checked; {advice} and send InstalledApplicationList again")
    return Inventory(device=device, apps=(), coverage=(Scope("apps", read=False, reason=f"Status {status}"),),
                     status="failed", reason=reason, message=message, problems=tuple(problems.kept),
                     problem_count=problems.count, residue=residue_of(problems))


def _udid(doc: dict[str, Any]) -> str | None:
    return _text(doc, "UDID")


def _device(name: str, doc: dict[str, Any], event: dict[str, Any] | None, problems: Problems) -> DeviceInfo:
    """Who answered: the UDID, else a User Enrollment's EnrollmentID; the webhook's udid when the plist has
    none. A plist and a webhook that name two devices are a damaged or forged record."""
    udid = _udid(doc) or _text(doc, "EnrollmentID")
    if event is not None:
        said = _text(event, "udid") or _text(event, "enrollment_id")
        if said and udid and said != udid:
            problems.add(f"the webhook names device {snippet(said)} and its answer {snippet(udid)}, so the event "
                         f"was edited or damaged", evidence=said)
        udid = udid or said
    for key in ("UDID", "EnrollmentID", "CommandUUID"):
        value = doc.get(key)
        if value is not None and _text(doc, key) is None:
            problems.add(f"{key} is {_shown(value)}, expected text", evidence=_strings(value))
    if udid is not None and not udid.isprintable():
        problems.add(f"the device id {snippet(udid)} holds a control character, so the answer was damaged or forged",
                     evidence=udid)
    return DeviceInfo(platform="ios", serial=udid, source=name, identity=_identity(doc, event))


def _identity(doc: dict[str, Any], event: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """Every UDID and enrollment id the answer, then its webhook event, gives: once each, in that order (two
    that differ are both shown: the event was edited or damaged)."""
    pairs = [("udid", _text(doc, "UDID")), ("enrollment id", _text(doc, "EnrollmentID"))]
    if event is not None:
        pairs += [("udid", _text(event, "udid")), ("enrollment id", _text(event, "enrollment_id"))]
    return tuple(dict.fromkeys((kind, value) for kind, value in pairs if value))


def _app(record: Any) -> App:
    if not isinstance(record, dict):
        raise BadRecord(f"expected a dict of app attributes, got {_shown(record)}")
    if isinstance(record, _Dict) and record.repeated:
        raise BadRecord(f"{keys_text([str(k) for k in record.repeated])} given more than once, so the record was "
                        f"edited or damaged")
    identifier = record.get("Identifier")
    if identifier is None:
        raise BadRecord("no Identifier (iOS always gives one; macOS may leave it out), so the app cannot be told")
    if not isinstance(identifier, str) or not decodable(identifier):
        raise BadRecord(f"Identifier is {_shown(identifier)}, expected a bundle id")
    identifier, why = clean_id(identifier, "Identifier")
    if why:
        raise BadRecord(why)
    name, short, build = (_field(record, k) for k in ("Name", "ShortVersion", "Version"))
    return App("ios", identifier, name, short, build)


def _field(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, str) and decodable(value):
        return value
    raise BadRecord(f"{key} is {_shown(value)}, expected text")


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value.strip() or None if isinstance(value, str) and decodable(value) else None


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return snippet(value)
    if isinstance(value, (bytes, bytearray)):
        return "data"
    return json_type(value) if isinstance(value, (dict, list, bool, int, float)) or value is None else type(
        value).__name__


def _strings(value: Any, limit: int = 1 << 16) -> str:
    """The text of a record that cannot be trusted, to be searched for whole catalog ids: every string and
    key in it, each dict and list once (a binary plist can refer to one object from many places, or to
    itself), and the values of a key given twice."""
    out: list[str] = []
    seen: set[int] = set()
    stack = [value]
    while stack and len(out) < limit:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, (bytes, bytearray)):
            out.append(bytes(item).decode("latin-1"))
        elif isinstance(item, (list, dict)):
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, dict):
                stack.extend(getattr(item, "dropped", ()))
                for key, inner in item.items():
                    stack.extend((inner, key))
            else:
                stack.extend(item)
    return " ".join(s for s in out if decodable(s))


# --- the webhook --------------------------------------------------------------------------------------------


def _read_webhook(name: str, doc: Any) -> Iterator[Inventory]:
    label = label_of(name)
    events = doc if isinstance(doc, list) else [doc]
    read: set[str | None] = set()  # the devices whose app list this file holds
    failures: list[Inventory] = []  # answers with no list: only for devices the file holds no list of
    others = 0  # check-ins and answers to other commands
    bad = 0  # events that could not be read
    for number, event in enumerate(events, 1):
        where = f"{label} event #{number}" if isinstance(doc, list) else label
        ack = event.get("acknowledge_event") if isinstance(event, dict) else None
        if not isinstance(ack, dict):
            others += 1
            continue
        if isinstance(event, Repeats) or isinstance(ack, Repeats):
            repeated = [*getattr(event, "repeated", ()), *getattr(ack, "repeated", ())]
            bad += 1
            yield _event_failed(name, where, ack, "bad-records", f"gives {keys_text(repeated)} more than once, so "
                                f"part of it would be silently ignored: the event was edited or damaged")
            continue
        payload = ack.get("raw_payload")
        status = ack.get("status")
        if not isinstance(payload, str) or not payload.strip():
            if status in _FAILED_STATUS:
                inv = _response(name, where, {"Status": status}, ack)
                if inv is not None:
                    failures.append(inv)
                continue
            bad += 1
            yield _event_failed(name, where, ack, "bad-records", f"has no raw_payload ({_shown(payload)}), so the "
                                f"device's answer is not in it")
            continue
        text = payload.strip()
        if text.startswith(("<?xml", "<!DOCTYPE", "<plist")):
            data = text.encode("utf-8")  # a webhook logger that saved the plist itself
        else:
            try:
                data = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                bad += 1
                yield _event_failed(name, where, ack, "bad-records", "has a raw_payload that is not base64, so the "
                                    "device's answer cannot be read", evidence=payload)
                continue
        try:
            answer = _parse(data)
        except _Refused as refused:
            bad += 1
            inv = _refused(name, f"{where}: its raw_payload", refused, data)
            yield _with_device(inv, ack, name)
            continue
        inv = _response(name, where, answer, ack)
        if inv is None:
            others += 1
        elif inv.status == "failed" and inv.reason in ("mdm-error", "mdm-not-now", "no-inventory"):
            failures.append(inv)
        else:
            read.add(inv.device.serial)
            when = _created(event)
            yield inv if when is None else replace(inv, device=replace(inv.device, inventoried=when))
    unread = [f for f in failures if f.device.serial not in read]
    yield from unread
    if not read and not unread and not bad:
        evidence = Problems()
        for event in events:
            evidence.search(_strings(event))
        yield failed_inventory(name, "no-inventory", (
            f"{label} holds {others} MDM webhook event{'s' if others != 1 else ''}, none an answer to "
            f"InstalledApplicationList: no app list; send the command and save the webhook event of its answer"
        ), platform="ios", evidence=evidence)


def _created(event: dict[str, Any]) -> datetime | None:
    """When the MDM received the answer: the event's created_at, if it is a time that can be trusted."""
    value = event.get("created_at")
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return when if when <= datetime.now(UTC) + timedelta(days=1) else None


def _event_failed(name: str, where: str, ack: dict[str, Any], reason: str, why: str, *,
                  evidence: str | None = None) -> Inventory:
    problems = Problems()
    problems.add(f"{where}: {why}", evidence=evidence if evidence is not None else _strings(ack))
    inv = Inventory(device=DeviceInfo(platform="ios", serial=None, source=name), apps=(),
                    coverage=(Scope("records", read=False, reason=reason),), status="failed", reason=reason,
                    message=f"{where} {why}; save the webhook event again", problems=tuple(problems.kept),
                    problem_count=problems.count, residue=residue_of(problems))
    return _with_device(inv, ack, name)


def _with_device(inv: Inventory, ack: dict[str, Any], name: str) -> Inventory:
    udid = _text(ack, "udid") or _text(ack, "enrollment_id")
    if udid is None or not udid.isprintable():
        return inv
    return replace(inv, device=DeviceInfo(platform="ios", serial=udid, source=name, identity=_identity({}, ack)))


READER = FileReader(
    name="apple-mdm",
    description=("an Apple MDM InstalledApplicationList answer (XML or binary plist, or the NanoMDM/MicroMDM "
                 "webhook JSON that carries it)"),
    help="Apple MDM InstalledApplicationList plist or webhook JSON",
    head=_head,
    document=_is_webhook,
    shape="an MDM webhook event (acknowledge_event with raw_payload)",
    read=_read,
)
