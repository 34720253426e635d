"""Recognising the format from the first lines of an input (the file
extension means nothing), and the input that holds only a tool's errors.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from scanner.connectors.files.common import failed_inventory, label_of
from scanner.connectors.files.readers import ACCEPTED_FORMATS, READERS
from scanner.connectors.files.source import HEAD_LINE_BYTES, InputLines
from scanner.connectors.grammars.pm import ADB_STATUS, PM_REFUSED
from scanner.connectors.interface import FileReader, HeadLine
from scanner.connectors.records import snippet
from scanner.model import Inventory

__all__ = ["InputRefused", "Sniffed", "sniff", "tool_error"]

_HEAD_LINES = 200  # lines looked at, at most, to recognise the format
_LINE_READERS = tuple(r for r in READERS if r.head is not None)
_COUNTED = tuple(r for r in _LINE_READERS if r.count is not None)
_BOM = b"\xef\xbb\xbf"

# What `pm`, `cmd` and the iOS tools print instead of a list when they fail.
_TOOL_ERROR = re.compile(
    r"^(?:error\b|exception\b|failure\b|java\.|caused by:|\s+at |\s*\.\.\. \d+ more|no device found)", re.IGNORECASE
)


class InputRefused(Exception):
    """The input as a whole cannot be read (not text, no format we read, empty); carries the failed Inventory
    that says why."""

    def __init__(self, inventory: Inventory) -> None:
        super().__init__(inventory.message)
        self.inventory = inventory


class Sniffed(NamedTuple):
    """What the head of an input says it is: "json" (a document for the JSON
    readers), "lines" (a format of lines: its reader and deciding line) or
    "tool-error" (nothing but a tool's errors, the first on `first_error`)."""

    kind: str
    reader: FileReader | None = None
    line: HeadLine | None = None
    first_error: int = 0


def sniff(name: str, src: InputLines) -> Sniffed:
    """Which format the input is, from its first lines. Lines before the
    deciding one that are blank, tool errors, a count line (`Total: N apps`),
    adb's own status lines or not UTF-8 are left for the parser to count;
    anything else there means the format is not one we read."""
    label = label_of(name)
    total: int | None = None
    counted: FileReader | None = None  # the reader whose count line was seen
    first_error = 0
    adb_status = False  # "* daemon started successfully": adb printed it before the listing
    undecodable = 0  # the first line that is not UTF-8 text
    while len(src.head) < _HEAD_LINES:
        raw = src.stream.readline(HEAD_LINE_BYTES)
        if not raw:
            break
        n = len(src.head) + 1
        if n == 1:
            if raw.startswith(_BOM):
                raw = raw[3:]
            elif raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
                src.head.append(raw)  # kept: the text is still searched for app ids
                raise InputRefused(failed_inventory(name, "not-text", (
                    f"{label} is UTF-16 text (what Windows PowerShell writes with '>'); save it as UTF-8, e.g. "
                    f"adb shell pm list packages -f -U | Out-File -Encoding utf8 apps.txt, and scan that file"
                )))
        src.head.append(raw)
        text = _decode_head(raw)
        if text is None or "\x00" in text:
            if n == 1 and (binary := _binary_head(raw)) is not None:
                return binary
            undecodable = undecodable or n
            continue
        text = text.rstrip("\r\n")
        if "\r" in text and not text.lstrip().startswith(("{", "[")):
            raise InputRefused(failed_inventory(name, "unknown-format", (
                f"{label} line {n}: lines end in a bare carriage return (an old Mac file?), so its records cannot "
                f"be told apart; convert it (tr '\\r' '\\n' < file > fixed.txt) and scan that"
            )))
        if not text.strip():
            continue
        # JSON, unless a line format claims the line: ios-deploy's status lines begin "[....] ".
        if text.startswith(("{", "[")) and not any(r.head(text) for r in _LINE_READERS):  # type: ignore[misc]
            return Sniffed("json")
        if counted is None and (found := _count(text)) is not None:
            counted, total = found
            continue
        if _TOOL_ERROR.match(text):
            first_error = first_error or n
            continue
        if ADB_STATUS.fullmatch(text.strip(" \t")):
            adb_status = True
            continue
        for reader in _LINE_READERS:  # the lines above are no format's head line: a reader never sees them
            if reader is counted or reader.head(text):
                return Sniffed("lines", reader, HeadLine(n - 1, text, total))
        if undecodable:
            raise InputRefused(_not_text(name, undecodable))
        raise InputRefused(failed_inventory(name, "unknown-format", (
            f"{label} line {n}: not a format scanner reads (it starts {snippet(text)}); give one of: "
            f"{ACCEPTED_FORMATS}"
        )))
    if counted is not None:
        return Sniffed("lines", counted, HeadLine(len(src.head), "", total))
    if first_error:
        return Sniffed("tool-error", first_error=first_error)
    if undecodable:
        raise InputRefused(_not_text(name, undecodable))
    if len(src.head) == _HEAD_LINES:  # 200 blank lines and more to come
        raise InputRefused(failed_inventory(name, "unknown-format", (
            f"{label}: the first {_HEAD_LINES} lines are blank; give one of: {ACCEPTED_FORMATS}"
        )))
    if adb_status:
        raise InputRefused(failed_inventory(name, "empty", (
            f"{label} holds only what adb prints when it starts its server ('* daemon started successfully'), no "
            f"app list; run the listing again (adb shell pm list packages -f -i -U > apps.txt) and scan that file"
        ), platform="android"))
    raise InputRefused(failed_inventory(name, "empty", f"{label} is empty; give one of: {ACCEPTED_FORMATS}"))


def _binary_head(raw: bytes) -> Sniffed | None:
    """A binary format is recognised by the bytes it begins with (a binary plist's "bplist00"): a first line
    that is not text is offered to the line readers' heads as Latin-1, in which every byte is one character."""
    text = raw.decode("latin-1")
    for reader in _LINE_READERS:
        if reader.head(text):  # type: ignore[misc]
            return Sniffed("lines", reader, HeadLine(0, text))
    return None


def _decode_head(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # A head line cut at HEAD_LINE_BYTES may end inside a character.
        if len(raw) == HEAD_LINE_BYTES and err.start >= len(raw) - 3 and err.reason == "unexpected end of data":
            return raw[: err.start].decode("utf-8")
        return None


def _count(text: str) -> tuple[FileReader, int] | None:
    """(the reader, the count) of a line that gives the number of apps in a list ("Total: 12 apps")."""
    for reader in _COUNTED:
        count = reader.count(text)  # type: ignore[misc]
        if count is not None:
            return reader, count
    return None


def _not_text(name: str, line: int) -> Inventory:
    return failed_inventory(name, "not-text", (
        f"{label_of(name)} line {line}: not UTF-8 text (a binary file?); give one of: {ACCEPTED_FORMATS}"
    ), problems=(f"line {line}: not valid UTF-8",))


def tool_error(name: str, src: InputLines, first_error: int) -> Inventory:
    """A file with no list, only what the exporting tool printed when it failed."""
    first = src.head[first_error - 1].decode("utf-8", "replace").strip()
    refused = PM_REFUSED.search(b"".join(src.head).decode("utf-8", "replace"))
    platform = "android" if refused or "java." in first else None
    if refused:
        return failed_inventory(name, "user-refused", (
            f"{label_of(name)}: the phone refused to list user {refused.group(1)} (a work profile, Secure Folder "
            f"or another user), so none of its apps were checked; that profile's apps cannot be listed over "
            f"adb on this phone: check them on the device or in the MDM's inventory"
        ), platform=platform, problems=(f"line {first_error}: {snippet(first, 120)}",))
    return failed_inventory(name, "tool-error", (
        f"{label_of(name)} holds no app list, only the error the exporting tool printed: line "
        f"{first_error}: {snippet(first, 120)}; fix that and export the list again"
    ), platform=platform, problems=(f"line {first_error}: {snippet(first, 120)}",))
