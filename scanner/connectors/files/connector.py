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

import json
import sys
from dataclasses import replace
from typing import BinaryIO, Callable, Iterator

from scanner.connectors.files.common import error_text, evidence_of, failed_inventory, label_of
from scanner.connectors.files.detect import InputRefused, sniff, tool_error
from scanner.connectors.files.readers import ACCEPTED_FORMATS, INPUT_HELP, READERS
from scanner.connectors.files.source import InputLines
from scanner.connectors.grammars.json_values import json_object, json_type
from scanner.connectors.records import MAX_PROBLEMS, Problems, keeping, residue_of
from scanner.model import Inventory

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
                 keep: Callable[[str], bool] | None = None) -> None:
        self.name = name
        self.stream = stream
        self.keep = keep  # which words of unreadable text could be catalog ids (Matcher.knows); None: all, capped

    def inventories(self) -> Iterator[Inventory]:
        reading = read_input(self.name, self.stream)
        while True:
            with keeping(self.keep):  # only while the reader runs, never while the caller holds an inventory
                inventory = next(reading, None)
            if inventory is None:
                return
            yield inventory

    def __repr__(self) -> str:
        return f"FileConnector({self.name!r})"


# --- recognising the format, then reading it ----------------------------------------------------


def _read(name: str, stream: BinaryIO) -> Iterator[Inventory]:
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
        yield from _read_json(name, src)
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


def _read_json(name: str, src: InputLines) -> Iterator[Inventory]:
    label = label_of(name)
    try:
        data = src.rest()
    except OSError as err:
        yield _unreadable(name, err)
        return
    for inv in _json_inventories(name, label, data):
        if inv.reason in _WHOLE_JSON_FAILURES and inv.device.source == name and not inv.residue:
            evidence = Problems()
            evidence.search(data)  # JSON that cannot be read is still searched for whole catalog ids
            inv = replace(inv, residue=residue_of(evidence))
        yield inv


# Reasons a JSON input as a whole could not be read: its text is searched. (A device of a saved report that
# failed when it was scanned is not: the report's other devices are no evidence about it.)
_WHOLE_JSON_FAILURES = frozenset({"bad-json", "unknown-format", "unsupported-schema", "no-inventory"})


def _json_inventories(name: str, label: str, data: bytes) -> Iterator[Inventory]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        yield failed_inventory(name, "bad-json", (
            f"{label} line {line}: not valid UTF-8, so the JSON cannot be read; export or save it again"
        ), problems=(f"line {line}: not valid UTF-8",))
        return
    try:
        doc = json.loads(text, object_pairs_hook=json_object)
    except json.JSONDecodeError as err:
        yield failed_inventory(name, "bad-json", (
            f"{label} line {err.lineno} column {err.colno}: not valid JSON ({err.msg}); the file was cut short "
            f"or edited: export or save it again"
        ), problems=(f"line {err.lineno}: {err.msg}",))
        return
    except (ValueError, RecursionError) as err:  # a number too long for int(), nesting too deep
        yield failed_inventory(name, "bad-json",
                               f"{label}: JSON scanner will not read ({err}); export or save it again")
        return
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
