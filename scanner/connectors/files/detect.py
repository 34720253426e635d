"""Recognising the format from the first lines of an input (the file
extension means nothing), and the input that holds only a tool's errors.
"""

from __future__ import annotations

import re

from scanner.connectors.files.common import ACCEPTED_FORMATS, failure, label_of, snippet
from scanner.connectors.files.csv_rows import header_cells
from scanner.connectors.files.readers.ideviceinstaller import TOTAL_LINE
from scanner.connectors.files.readers.pm import ADB_STATUS, PM_REFUSED
from scanner.connectors.files.source import Source
from scanner.model import Inventory

__all__ = ["HEAD_LINE_BYTES", "Failed", "sniff", "tool_error"]

_HEAD_LINES = 200  # lines looked at, at most, to recognise the format
HEAD_LINE_BYTES = 1 << 16  # of each of them: enough to recognise any format
_BOM = b"\xef\xbb\xbf"

# What `pm`, `cmd` and the iOS tools print instead of a list when they fail.
_TOOL_ERROR = re.compile(
    r"^(?:error\b|exception\b|failure\b|java\.|caused by:|\s+at |\s*\.\.\. \d+ more|no device found)", re.I
)
# The start of an old-form `ideviceinstaller -l` line: `<bundle id> - `.
_IDEVICE_SNIFF = re.compile(r"^[A-Za-z0-9][\w-]*(?:\.[\w-]+)+ - ")


class Failed(Exception):
    """The whole input failed; carries the Inventory that says why."""

    def __init__(self, inventory: Inventory) -> None:
        super().__init__(inventory.message)
        self.inventory = inventory


def sniff(name: str, src: Source) -> tuple[str, int, int | None, int]:
    """(kind, index of the deciding head line, a `Total: N apps` count, line
    of the first tool error). Lines before the deciding one that are blank,
    tool errors, a Total header, adb's own status lines or not UTF-8 are left
    for the parser to count; anything else there means the format is not one
    we read."""
    label = label_of(name)
    total: int | None = None
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
                raise Failed(failure(name, "not-text", (
                    f"{label} is UTF-16 text (what Windows PowerShell writes with '>'); save it as UTF-8, e.g. "
                    f"adb shell pm list packages -f -U | Out-File -Encoding utf8 apps.txt, and scan that file"
                )))
        src.head.append(raw)
        text = _decode_head(raw)
        if text is None or "\x00" in text:
            undecodable = undecodable or n
            continue
        text = text.rstrip("\r\n")
        if "\r" in text and not text.lstrip().startswith(("{", "[")):
            raise Failed(failure(name, "unknown-format", (
                f"{label} line {n}: lines end in a bare carriage return (an old Mac file?), so its records cannot "
                f"be told apart; convert it (tr '\\r' '\\n' < file > fixed.txt) and scan that"
            )))
        if not text.strip():
            continue
        i = n - 1
        if text.startswith(("{", "[")):
            return "json", i, None, 0
        if text.startswith("package:"):
            return "pm", i, None, 0
        if text.startswith("CFBundle") and "CFBundleIdentifier" in text:
            return "idevice-csv", i, total, 0
        match = TOTAL_LINE.match(text)
        if match and total is None:
            total = int(match.group(1))
            continue
        if _TOOL_ERROR.match(text):
            first_error = first_error or n
            continue
        if ADB_STATUS.fullmatch(text.strip(" \t")):
            adb_status = True
            continue
        if total is not None or _IDEVICE_SNIFF.match(text):
            return "idevice-list", i, total, 0
        if _is_csv_header(text):
            return "csv", i, None, 0
        if undecodable:
            raise Failed(_not_text(name, undecodable))
        raise Failed(failure(name, "unknown-format", (
            f"{label} line {n}: not a format scanner reads (it starts {snippet(text)}); give one of: "
            f"{ACCEPTED_FORMATS}"
        )))
    if total is not None:
        return "idevice-list", len(src.head), total, 0
    if first_error:
        return "tool-error", len(src.head), None, first_error
    if undecodable:
        raise Failed(_not_text(name, undecodable))
    if len(src.head) == _HEAD_LINES:  # 200 blank lines and more to come
        raise Failed(failure(name, "unknown-format", (
            f"{label}: the first {_HEAD_LINES} lines are blank; give one of: {ACCEPTED_FORMATS}"
        )))
    if adb_status:
        raise Failed(failure(name, "empty", (
            f"{label} holds only what adb prints when it starts its server ('* daemon started successfully'), no "
            f"app list; run the listing again (adb shell pm list packages -f -i -U > apps.txt) and scan that file"
        ), platform="android"))
    raise Failed(failure(name, "empty", f"{label} is empty; give one of: {ACCEPTED_FORMATS}"))


def _decode_head(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # A head line cut at HEAD_LINE_BYTES may end inside a character.
        if len(raw) == HEAD_LINE_BYTES and err.start >= len(raw) - 3 and err.reason == "unexpected end of data":
            return raw[: err.start].decode("utf-8")
        return None


def _is_csv_header(text: str) -> bool:
    names = {c.lower() for c in header_cells(text.encode("utf-8"))}
    return {"platform", "device", "app_id"} <= names


def _not_text(name: str, line: int) -> Inventory:
    return failure(name, "not-text", (
        f"{label_of(name)} line {line}: not UTF-8 text (a binary file?); give one of: {ACCEPTED_FORMATS}"
    ), problems=(f"line {line}: not valid UTF-8",))


def tool_error(name: str, src: Source, first_error: int) -> Inventory:
    """A file with no list, only what the exporting tool printed when it failed."""
    first = src.head[first_error - 1].decode("utf-8", "replace").strip()
    refused = PM_REFUSED.search(b"".join(src.head).decode("utf-8", "replace"))
    platform = "android" if refused or "java." in first else None
    if refused:
        return failure(name, "user-refused", (
            f"{label_of(name)}: the phone refused to list user {refused.group(1)} (a work profile, Secure Folder "
            f"or another user), so none of its apps were checked; that profile's apps cannot be listed over "
            f"adb on this phone: check them on the device or in the MDM's inventory"
        ), platform=platform, problems=(f"line {first_error}: {snippet(first, 120)}",))
    return failure(name, "tool-error", (
        f"{label_of(name)} holds no app list, only the error the exporting tool printed: line "
        f"{first_error}: {snippet(first, 120)}; fix that and export the list again"
    ), platform=platform, problems=(f"line {first_error}: {snippet(first, 120)}",))
