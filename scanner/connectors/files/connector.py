"""Saved and exported app inventories: one parser per format, detected by content.

The formats are what an admin already has on disk, one reader each in
scanner.connectors.files.readers.READERS (`adb shell pm list packages` output,
`ideviceinstaller -l` output in its old and CSV forms, `pymobiledevice3 apps
list` JSON, a scanner JSON report saved with `--inventory`, a fleet CSV with a
`platform,device,app_id` header, ...). The file extension means nothing; the
first lines decide.

Nothing here raises for a bad file. Every problem becomes an Inventory whose
status says how far it can be trusted: a line that cannot be read is counted
and makes its device "partial", never dropped in silence, because a line that
was skipped could have been the prohibited app. Input is read as bytes and
each line decoded here, so invalid UTF-8 is reported with its line number
instead of aborting the whole file. Whitespace around a value is not part of
it. A control or format character (NUL padding after a crash, ESC, a bidi
mark, a line break) in any field of a pm or ideviceinstaller line or of a
fleet CSV row (but for a line break inside a quoted name) makes it a bad
line: those tools never print one, so such a line is damaged or forged.
A quote never closed, two records on one line, a header given twice, a JSON
key given twice, a last line without its line break and a saved report whose
fields contradict its "complete" are all bad records too: what was not read
whole is never reported complete. (Display values in JSON inputs are kept as
read: escaping them is the output formats' job.)

Evidence is never dropped: the text of every record that cannot be read, and
the whole of an input whose format is not recognised, is kept as its id-like
words (Inventory.residue), which the audit searches for whole catalog ids.

The fleet CSV can hold millions of rows, so it is streamed: one device's apps
at a time, one Inventory per contiguous run of rows of a device (the audit
merges runs of the same device).

The parsers live in scanner.connectors.files.readers, one module per format,
each registered in READERS; this module opens the input, asks which format it
is (detect.py) and hands it to that reader.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import BinaryIO

from scanner.connectors.files.common import error_text, evidence_of, failed_inventory, label_of, lean_reading
from scanner.connectors.files.detect import InputRefused, sniff, tool_error
from scanner.connectors.files.readers import ACCEPTED_FORMATS, INPUT_HELP, READERS
from scanner.connectors.files.source import InputLines
from scanner.connectors.files.zipped import MAX_WHOLE, is_zip, read_zip
from scanner.connectors.grammars.json_values import json_object, json_type
from scanner.connectors.records import MAX_PROBLEMS, Problems, keeping, residue_of
from scanner.model import App, Inventory, Scope

__all__ = ["ACCEPTED_FORMATS", "INPUT_HELP", "MAX_PROBLEMS", "FileConnector", "read_input"]

_DOCUMENT_READERS = tuple(r for r in READERS if r.document is not None)
# What JSON that no reader recognises is not, in the message about it: "a, b or c".
_shapes = [r.shape or r.description for r in _DOCUMENT_READERS]
_SHAPES = " or ".join([", ".join(_shapes[:-1]), _shapes[-1]] if len(_shapes) > 2 else _shapes)


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
            yield failed_inventory(name, "unreadable", "stdin is closed: nothing to read; give --input FILE instead")
            return
    if stream is not None:
        yield from _read(name, stream)
        return
    try:
        opened = open(name, "rb")  # noqa: SIM115 - closed by the with below, also when the caller stops early
    except OSError as err:
        yield failed_inventory(name, "unreadable", _open_error(name, err))
        return
    with opened:
        yield from _read(name, opened)


class FileConnector:
    """A saved or exported inventory file ("-" for stdin) as a Connector."""

    def __init__(self, name: str, stream: BinaryIO | None = None, *,
                 keep: Callable[[str], bool] | None = None, lean: Callable[[App], bool] | None = None) -> None:
        self.name = name
        self.stream = stream
        self.keep = keep  # which words of unreadable text could be catalog ids (Matcher.knows); None: all, capped
        self.lean = lean  # which apps to keep (Matcher.may_find: a report without --inventory); None: every app

    def inventories(self) -> Iterator[Inventory]:
        reading = read_input(self.name, self.stream)
        while True:
            # Only while the reader runs, never while the caller holds an inventory.
            with keeping(self.keep), lean_reading(self.lean):
                inventory = next(reading, None)
            if inventory is None:
                return
            yield inventory

    def __repr__(self) -> str:
        return f"FileConnector({self.name!r})"


# --- recognising the format, then reading it ----------------------------------------------------


def _read(name: str, stream: BinaryIO) -> Iterator[Inventory]:
    """A loose input: a ZIP's members, or one format of text."""
    try:
        stream, zipped = _zip_head(stream)
    except OSError as err:
        yield _unreadable(name, err)
        return
    if zipped:
        yield from read_zip(name, stream, _read_member)
        return
    yield from _read_text(name, stream)


def _read_member(name: str, stream: BinaryIO, size: int) -> Iterator[Inventory]:
    """A file in a ZIP (zipped.py checked it is no ZIP itself): read as a loose input would be, but a JSON
    document, read whole, is refused past MAX_WHOLE."""
    yield from _read_text(name, stream, size)


def _zip_head(stream: BinaryIO) -> tuple[BinaryIO, bool]:
    """(the stream to read, whether it begins as a ZIP does), looking at its first bytes without taking
    them: by peek() when the stream has it, else by seeking back; a stream with neither is wrapped in a
    buffer that has."""
    peek = getattr(stream, "peek", None)
    if peek is None:
        try:
            seekable = stream.seekable()
        except (AttributeError, ValueError):
            seekable = False
        if seekable:
            at = stream.tell()
            head = stream.read(4)
            stream.seek(at)
            return stream, is_zip(head)
        stream = io.BufferedReader(_Raw(stream))  # type: ignore[assignment]
        peek = stream.peek  # type: ignore[attr-defined]
    return stream, is_zip(peek(4)[:4])


class _Raw(io.RawIOBase):
    """A stream with only read() as a raw stream, for io.BufferedReader."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        data = self.stream.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


def _read_text(name: str, stream: BinaryIO, size: int | None = None) -> Iterator[Inventory]:
    """An input that is not a ZIP; `size`: what a ZIP member says it inflates to (None for a loose input)."""
    src = InputLines(stream)
    try:
        sniffed = sniff(name, src)
        src.complete_head()
    except InputRefused as refused:
        yield _searched(refused.inventory, src)
        return
    except OSError as err:
        yield _unreadable(name, err)
        return
    if sniffed.kind == "json":
        yield from _read_json(name, src, size)
    elif sniffed.reader is not None:
        yield from sniffed.reader.read(name, src, sniffed.line)
    else:  # only error messages from the tool that wrote the file
        yield _searched(tool_error(name, src, sniffed.first_error), src)


def _searched(inv: Inventory, src: InputLines) -> Inventory:
    """An input that could not be read as a list, with the id-like words of
    all its text kept for the matcher: a WeChat id in a file of unknown
    format is still found (as "recovered"), and the file is still failed."""
    evidence = evidence_of(src)
    if not evidence.evidence:
        return inv
    return replace(inv, residue=residue_of(evidence),
                   problems=(*inv.problems, *evidence.kept)[:MAX_PROBLEMS])


def _read_json(name: str, src: InputLines, size: int | None = None) -> Iterator[Inventory]:
    label = label_of(name)
    if size is not None and size > MAX_WHOLE:
        yield _searched(_too_large(name, size), src)
        return
    try:
        data = src.rest() if size is None else _whole(src)
    except OSError as err:
        yield _unreadable(name, err)
        return
    if size is not None and len(data) > MAX_WHOLE:  # a member that inflates past the size it declares
        yield _too_large(name, len(data))
        return
    tail: list[Inventory] = []  # the failed result for text after the last whole document: searched already
    for inv in _json_inventories(name, label, data, tail):
        if (inv.reason in _WHOLE_JSON_FAILURES and inv.device.source == name and inv.device.serial is None
                and not inv.residue):  # a device of the file that sent no list is no evidence about the others
            evidence = Problems()
            evidence.search(data)  # JSON that cannot be read is still searched for whole catalog ids
            inv = replace(inv, residue=residue_of(evidence))
        yield inv
    yield from tail


def _whole(src: InputLines) -> bytes:
    """The head and the rest of a ZIP member, but never more than MAX_WHOLE and a byte."""
    head = b"".join(src.head)
    return head + src.stream.read(max(0, MAX_WHOLE + 1 - len(head)))


def _too_large(name: str, size: int) -> Inventory:
    return failed_inventory(name, "too-large", (
        f"{label_of(name)}: a JSON document of {size >> 20} MiB, more than the {MAX_WHOLE >> 20} MiB scanner reads "
        f"whole from a ZIP; unzip it and scan the file itself"
    ))


# Reasons a JSON input as a whole could not be read: its text is searched. (A device of a saved report that
# failed when it was scanned is not: the report's other devices are no evidence about it.)
_WHOLE_JSON_FAILURES = frozenset({"bad-json", "unknown-format", "unsupported-schema", "no-inventory"})


def _json_inventories(name: str, label: str, data: bytes, tail: list[Inventory]) -> Iterator[Inventory]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        yield failed_inventory(name, "bad-json", (
            f"{label} line {line}: not valid UTF-8, so the JSON cannot be read; export or save it again"
        ), problems=(f"line {line}: not valid UTF-8",))
        return
    docs: list[object] = []
    rest: Inventory | None = None  # the failed result for what follows the last whole document
    decoder = json.JSONDecoder(object_pairs_hook=json_object)
    at = _space(text, 0)
    while at < len(text):
        try:
            doc, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as err:
            if not docs:
                yield failed_inventory(name, "bad-json", (
                    f"{label} line {err.lineno} column {err.colno}: not valid JSON ({err.msg}); the file was cut "
                    f"short or edited: export or save it again"
                ), problems=(f"line {err.lineno}: {err.msg}",))
                return
            rest = _bad_rest(name, label, text, at, len(docs) + 1, err)
            break
        except (ValueError, RecursionError) as err:  # a number too long for int(), nesting too deep
            if not docs:
                yield failed_inventory(name, "bad-json",
                                       f"{label}: JSON scanner will not read ({err}); export or save it again")
                return
            rest = _bad_rest(name, label, text, at, len(docs) + 1, err)
            break
        if docs and not isinstance(doc, (dict, list)):
            # A page is an object or an array: a bare value after one (`Infinity`, `"x"`, `1`) is damaged text.
            rest = _bad_rest(name, label, text, at, len(docs) + 1,
                             ValueError("a bare JSON value after a whole document, where only a page can follow"))
            break
        docs.append(doc)
        at = _space(text, end)
    # Several documents one after another (`curl ... >> pages.json`): the readers are handed them as a JSON
    # array, the shape a set of pages saved with jq -s has.
    read = _document(name, label, docs[0] if len(docs) == 1 else docs)
    if rest is None:
        yield from read
        return
    # A device of a whole document may go on in the damaged text after it (a device on two pages): never complete.
    for inv in read:
        yield _went_on(inv, label) if inv.status != "failed" else inv
    tail.append(rest)


def _went_on(inv: Inventory, label: str) -> Inventory:
    """A device read from a whole document that damaged text follows: never complete, also when the only other
    gap is one --accept-scope accepts (the MDM's view), since the text may hold more of it."""
    who = f", device {inv.device.serial}" if inv.device.serial else ""
    if inv.status == "partial":
        return replace(inv, coverage=(*inv.coverage, Scope("records", read=False,
                                                           reason="the JSON after the last whole document")))
    return replace(
        inv, status="partial" if inv.apps else "failed", reason="bad-json",
        coverage=(*inv.coverage, Scope("records", read=False, reason="the JSON after the last whole document")),
        message=(f"{label}{who}: read from a whole JSON document, but the text after the last whole document is "
                 f"damaged and may hold more of this device; save the pages again and rescan"))


_SPACE = re.compile(r"[ \t\n\r]*")  # what JSON allows between tokens, and so between documents


def _space(text: str, at: int) -> int:
    return _SPACE.match(text, at).end()  # type: ignore[union-attr]


def _bad_rest(name: str, label: str, text: str, at: int, number: int, err: ValueError | RecursionError) -> Inventory:
    """The failed result for what follows the last whole JSON document of several, its text searched."""
    line = text.count("\n", 0, at) + 1
    if isinstance(err, json.JSONDecodeError):
        where, why = f"line {err.lineno} column {err.colno}", err.msg
    else:
        where, why = f"line {line}", str(err)
    evidence = Problems()
    evidence.search(text[at:])
    return failed_inventory(name, "bad-json", (
        f"{label} {where}: document {number}, which begins on line {line}, is not valid JSON ({why}); the "
        f"{'whole document before it was' if number == 2 else f'{number - 1} whole documents before it were'} "
        f"read, and nothing after it: the file was cut short or edited: save the pages again"
    ), problems=(f"{where}: document {number}: {why}",), evidence=evidence)


def _document(name: str, label: str, doc: object) -> Iterator[Inventory]:
    for reader in _DOCUMENT_READERS:
        if reader.document(doc):  # type: ignore[misc]
            yield from reader.read(name, doc)
            return
    yield failed_inventory(name, "unknown-format", (
        f"{label} holds JSON that is {json_type(doc)}, not {_SHAPES}; give one of: {ACCEPTED_FORMATS}"
    ))


def _open_error(name: str, err: OSError) -> str:
    if isinstance(err, IsADirectoryError):
        return f"{name} is a folder; give the inventory file inside it (e.g. {name}/apps.txt)"
    if isinstance(err, FileNotFoundError):
        return f"{name} does not exist; check the path (an export is a .txt, .csv or .json file you saved)"
    if isinstance(err, PermissionError):
        return f"cannot open {name}: permission denied; make it readable for this user or copy it"
    return f"cannot open {name}: {error_text(err)}; check the path and that it is a readable file"


def _unreadable(name: str, err: OSError) -> Inventory:
    """An input that was opened but could not be read."""
    return failed_inventory(
        name, "unreadable", f"cannot read {label_of(name)}: {error_text(err)}; check the file or device it is on"
    )
