"""What every file parser shares: the Inventory for what was read, the failed
one for an input that cannot be, and the wording of labels in messages. (The
check of an app id and the excerpts quoted in messages, which the live
readers share too, are in scanner.connectors.records.)
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Callable, Iterator

from scanner.connectors.files.source import InputLines
from scanner.connectors.grammars.json_values import Repeats, json_type, keys_text, strings_in
from scanner.connectors.records import BadRecord, Problems, residue_of
from scanner.model import APP_STATES, NOT_CHECKED, PLATFORMS, App, DeviceInfo, Inventory, Scope

__all__ = [
    "KNOWN_PLATFORMS", "KNOWN_STATES", "error_text", "evidence_of", "failed_inventory", "header_refused",
    "json_apps", "json_record", "label_of", "lean", "lean_reading", "make_inventory", "value_evidence",
]

KNOWN_PLATFORMS = {p: p for p in PLATFORMS}
KNOWN_STATES = frozenset(APP_STATES)

_lean = threading.local()  # .wants: which apps a lean read keeps, while a reader runs (see lean_reading())


class lean_reading:  # noqa: N801 - a context manager used as a function is named as one
    """While the block runs in this thread, the readers that read large files (the fleet CSV, Intune's
    reports) keep of each device only the apps `wants` says a finding may rest on, and count the others
    (Inventory.app_count): a report without --inventory needs no more. The caller (the file connector, given
    the matcher's `may_find`) knows the catalog; the readers do not. (A class, not @contextmanager: it is
    entered for every inventory a file yields, and this costs a third.)"""

    __slots__ = ("previous", "wants")

    def __init__(self, wants: Callable[[App], bool] | None) -> None:
        self.wants = wants

    def __enter__(self) -> None:
        self.previous = getattr(_lean, "wants", None)
        _lean.wants = self.wants

    def __exit__(self, *exc: object) -> None:
        _lean.wants = self.previous


def lean() -> Callable[[App], bool] | None:
    """The apps a lean read keeps (lean_reading), or None: keep every app."""
    return getattr(_lean, "wants", None)


def make_inventory(
    name: str,
    device: DeviceInfo,
    apps: list[App],
    problems: Problems,
    src: InputLines | None,
    *,
    scopes: tuple[Scope, ...] = (),
    reason: str | None = None,
    message: str | None = None,
    unit: str = "lines",
    reason_bad: str = "bad-lines",
    what: str | None = None,
    count: int | None = None,
) -> Inventory:
    """The Inventory for what was read. Complete only when nothing was left
    unread; partial when some apps were read; failed when none were.
    `count`: the apps read, of a lean read whose `apps` are only those kept
    (lean_reading)."""
    label = label_of(name) + (f", {what}" if what else "")
    coverage = [Scope("records", read=True, apps=len(apps) if count is None else count), *scopes]
    cut = bool(src is not None and src.unterminated and src.error is None)
    if cut:
        # pm and ideviceinstaller end every line they print: a last line without one may have been cut
        # ("package:com.tencent.m" of com.tencent.mm), and what followed it is lost.
        n = src.unterminated
        problems.add(f"line {n}: the last line does not end with a line break, so the file may have been cut "
                     f"inside it")
        coverage.append(Scope("records", read=False, reason=f"the file may be cut short at line {n}"))
        if reason is None:
            reason = "truncated"
            message = (f"{label}: the last line (line {n}) does not end with a line break, so the file may have "
                       f"been cut short there and the apps after it were not checked; export or copy the list "
                       f"again and rescan")
    if src is not None and src.error is not None:
        problems.add(f"line {src.error_line}: {error_text(src.error)}")
        coverage.append(Scope("records", read=False, reason=f"reading stopped at line {src.error_line}"))
        reason = "read-error"
        message = (f"{label}: reading stopped at line {src.error_line} ({error_text(src.error)}); the apps after it "
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
    elif problems.count > cut:
        coverage.append(Scope("records", read=False, reason=f"{problems.count - cut} {unit} could not be read"))
    if not apps and all(s.read for s in coverage):
        # A phone always has apps: a list with none is an empty or cut export, never a clean device.
        coverage.append(Scope("records", read=False, reason="no apps listed"))
        reason = "empty"
        message = (f"{label} lists no apps at all, and a phone always has some: the export is empty or was cut "
                   f"short; export the list again and rescan")
    if all(s.read for s in coverage):
        status, reason, message = "complete", None, None
    else:
        status = "partial" if apps else "failed"
    return Inventory(
        device=device, apps=tuple(apps), coverage=tuple(coverage), status=status, reason=reason, message=message,
        problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems), app_count=count,
    )


def not_a_phone(device: DeviceInfo, where: str, kind: str, rows: int, problems: Problems | None = None) -> Inventory:
    """A device an export lists that is no phone or tablet (`kind`: "a Windows computer", "a Mac"): failed,
    not-checked, its `rows` app rows counted; `where` names it for a person ("fleet.csv, device 'X'")."""
    problems = problems if problems is not None else Problems()
    return Inventory(
        device=device, apps=(), coverage=(Scope("apps", read=False, reason=kind, apps=rows),), status="failed",
        reason=NOT_CHECKED, message=(f"{where}: {kind}, and scanner checks phones and tablets: its {rows} app "
                                     f"{'row was' if rows == 1 else 'rows were'} not checked"),
        problems=tuple(problems.kept), problem_count=problems.count, residue=residue_of(problems))


def failed_inventory(
    name: str, reason: str, message: str, *, platform: str | None = None, problems: tuple[str, ...] = (),
    evidence: Problems | None = None,
) -> Inventory:
    """An input none of which could be read; `evidence` holds the tokens of
    its text, which the matcher still searches for whole catalog ids."""
    return Inventory(
        device=DeviceInfo(platform=platform, serial=None, source=name),
        apps=(),
        coverage=(Scope("records", read=False, reason=reason),),
        status="failed",
        reason=reason,
        message=message,
        problems=problems,
        problem_count=len(problems),
        residue=residue_of(evidence) if evidence is not None else (),
    )


def header_refused(name: str, src: InputLines, at: int, why: str, advice: str, *,
                   platform: str | None = None) -> Inventory:
    """A file whose header line (head line `at`) cannot be trusted: none of its records is read, it is
    failed, and all its text is kept as evidence for the matcher."""
    message = f"{label_of(name)} line {at + 1}: {why}; none of its records were read: {advice}, and rescan"
    return failed_inventory(name, "bad-header", message, platform=platform, problems=(f"line {at + 1}: {why}",),
                            evidence=evidence_of(src))


def label_of(name: str) -> str:
    return "stdin" if name == "-" else name


def error_text(err: OSError) -> str:
    return (err.strerror or str(err) or type(err).__name__).lower()


_CHUNK = 1 << 20
_ID_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


def _utf16_without_bom(head: bytes) -> str | None:
    """ "utf-16-le" or "utf-16-be" for text that is mostly ASCII letters each with a NUL beside it (UTF-16
    saved without a byte-order mark), else None."""
    sample = head[: 1 << 16]
    pairs = len(sample) // 2
    if pairs < 8:
        return None
    if sample[1::2].count(0) > 0.4 * pairs and sample[0::2].count(0) < 0.1 * pairs:
        return "utf-16-le"
    if sample[0::2].count(0) > 0.4 * pairs and sample[1::2].count(0) < 0.1 * pairs:
        return "utf-16-be"
    return None


def evidence_of(src: InputLines) -> Problems:
    """The id-like words of all the text of an input that cannot be read as
    a list (its head and the rest of the stream), for the matcher to search.

    Read in chunks, so a large file of unknown format costs no more memory
    than its distinct id-like words; UTF-16 text is decoded first, since its
    ids are spelled with a NUL after every letter."""
    evidence = Problems()
    head = b"".join(src.head)
    encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else _utf16_without_bom(head)
    decoder = codecs.getincrementaldecoder(encoding)("replace") if encoding else None
    pending = b""  # the end of the last chunk: an id may go on in the next one
    chunk = head
    try:
        while chunk:
            if decoder is not None:
                evidence.search(decoder.decode(chunk))
            else:
                data = pending + chunk
                cut = len(data)
                while cut and data[cut - 1] in _ID_BYTES:
                    cut -= 1
                if cut == 0 and len(data) > 4096:  # one endless run of id characters: no id is that long
                    cut = len(data)
                evidence.search(data[:cut])
                if data.count(0) > len(data) // 8:  # UTF-16 the detector missed (much CJK text): its ASCII ids
                    evidence.search(data[:cut].replace(b"\x00", b""))
                pending = data[cut:]
            chunk = src.stream.read(_CHUNK)
    except OSError as err:
        evidence.kept.append(f"reading stopped ({error_text(err)}), so the rest was not searched")
    if pending:
        evidence.search(pending)
    if decoder is not None:
        evidence.search(decoder.decode(b"", final=True))
    return evidence


def value_evidence(value: object) -> Problems:
    """The strings of a JSON value that cannot be read, as evidence for the matcher (its ids still searched)."""
    evidence = Problems()
    evidence.search(" ".join(strings_in(value)))
    return evidence


def json_apps(listed: object, key: str, at: str, problems: Problems, read: Callable[[object], App]) -> list[App]:
    """The apps of a JSON device record's list `listed` (its key `key`, for messages), each read by `read`, which
    raises BadRecord for one it cannot trust: that one is counted in `problems` with its strings kept as evidence
    (its ids are still searched), and the others are read."""
    if not isinstance(listed, list):
        problems.add(f"{at}{key} is {json_type(listed)}, not a list", evidence=" ".join(strings_in(listed)))
        return []
    apps: list[App] = []
    for i, record in enumerate(listed, 1):
        try:
            apps.append(read(record))
        except BadRecord as err:
            problems.add(f"{at}app #{i}: {err}", evidence=" ".join(strings_in(record)))
    return apps


def json_record(name: str, where: str, at: str, record: object, *, platform: str,
                advice: str) -> Inventory | Problems:
    """The start of reading one device record of a JSON export: a failed Inventory when it is not an object
    (its strings still searched), else the Problems to count its faults in, holding already a key given twice
    (the record was edited or damaged; the dropped values are kept as evidence)."""
    if not isinstance(record, dict):
        evidence = value_evidence(record)
        return failed_inventory(name, "bad-records", f"{where} is {json_type(record)}, not an object; {advice}",
                                platform=platform, evidence=evidence)
    problems = Problems()
    if isinstance(record, Repeats):
        problems.add(f"{at or 'the device '}gives {keys_text(record.repeated)} more than once, so the record was "
                     f"edited or damaged", evidence=" ".join(strings_in([v for k, v in record.pairs
                                                                          if k in record.repeated])))
    return problems


def unowned(name: str, orphans: Problems, src: InputLines | None, *, runs: int, what: str, header: str,
            where: str, empty_hint: str, damaged_hint: str, status: str, reason: str) -> Iterator[Inventory]:
    """The result of the lines of a device-per-row export that belong to no device, once its devices are out.

    The lines that could not be read (`orphans`), a read error, a cut last line: one failed Inventory (or
    `status`, partial where the devices read are still worth something) that names them, since they could
    belong to any device; an export with a header and no rows at all: failed, empty. Nothing when every
    line belonged to a device (`runs` devices were read and nothing was left over).
    """
    if src is not None and src.error is not None:
        orphans.add(f"line {src.error_line}: reading stopped ({src.error})")
    elif src is not None and src.unterminated:
        orphans.add(f"line {src.unterminated}: the last line does not end with a line break, so the file may "
                    f"have been cut inside it")
    if not orphans.count and runs:
        return
    label = label_of(name)
    device = DeviceInfo(platform=None, serial=None, source=name)
    if not orphans.count:
        yield Inventory(device=device, apps=(), coverage=(Scope("records", read=False, reason="no rows"),),
                        status="failed", reason="empty",
                        message=f"{label} has {header} but no rows: no device to check; {empty_hint}")
        return
    yield Inventory(
        device=device, apps=(),
        coverage=(Scope("records", read=False, reason=f"{orphans.count} {what} could not be read"),),
        status=status, reason=reason,
        message=(f"{label}: {orphans.count} {what} could not be read ({orphans.kept[0]}) and could belong "
                 f"to any device in {where}, so treat every device in it as possibly incomplete; {damaged_hint}"),
        problems=tuple(orphans.kept), problem_count=orphans.count, residue=residue_of(orphans))

