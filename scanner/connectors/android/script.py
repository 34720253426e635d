"""Several device commands in one shell round trip, and their answers split back apart, strictly.

A round trip to a phone costs far more than the commands in it, so the
connector sends one shell command string holding many commands:

    getprop 2>&1; echo ::scanner:NONCE:0:rc:$?; pm list users 2>&1; echo ::scanner:NONCE:1:rc:$?

Each command's output ends with a sentinel line carrying its exit status.
The nonce is random per round trip, and package names, props and user names
are what a device prints, so a sentinel cannot be forged by an app name
that happens to look like one. `split()` is strict: every sentinel must come
exactly once, in order, and nothing may follow the last one. An answer cut
anywhere therefore fails loudly instead of looking like a short list.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

__all__ = ["BadAnswer", "Script", "Section"]


class BadAnswer(Exception):
    """The answer does not have the shape the script asked for (cut short, reordered, or with trailing text)."""


@dataclass(frozen=True)
class Section:
    """One command's answer: its lines (undecoded, line ends removed) and exit status."""

    key: str
    command: str
    rc: int
    lines: tuple[bytes, ...]

    def text(self) -> str:
        """The whole answer as one string, for messages (decoded leniently)."""
        return "\n".join(line.decode("utf-8", "replace") for line in self.lines).strip()


# A sentinel line's end: its nonce, the command's index and exit status, then the line end (or the output's).
_SENTINEL = re.compile(rb"::scanner:([0-9a-f]{16}):(\d{1,4}):rc:(\d{1,3})(?:\r?\n|\r?\Z)")


class Script:
    """Commands to run in one shell invocation, each followed by its sentinel."""

    def __init__(self, commands: list[tuple[str, str]], nonce: str | None = None) -> None:
        self.commands = commands
        self.nonce = nonce or secrets.token_hex(8)
        if not re.fullmatch(r"[0-9a-f]{16}", self.nonce):
            raise ValueError("a nonce is 16 lower-case hex digits")
        self._nonce = self.nonce.encode()

    def command_line(self) -> str:
        """The shell command string. stderr is folded into each command's own section (`2>&1`), so an
        error message lands next to the exit status it explains. `$?` ends a word, as in adbutils' own
        `echo X4EXIT:$?`: the plainest form any sh expands."""
        return "; ".join(
            f"{command} 2>&1; echo ::scanner:{self.nonce}:{i}:rc:$?" for i, (_, command) in enumerate(self.commands)
        )

    def split(self, stdout: bytes) -> dict[str, Section]:
        """Sections by key; raises BadAnswer unless every command's sentinel came, in order, and ended the output."""
        sections: dict[str, Section] = {}
        pos = 0
        expected = 0
        for m in _SENTINEL.finditer(stdout):
            if m.group(1) != self._nonce:
                continue  # not ours (text that only looks like a sentinel): part of the command's output
            index, rc = int(m.group(2)), int(m.group(3))
            if expected >= len(self.commands):
                raise BadAnswer(f"unexpected text after the last command's end: {_excerpt(stdout[pos:m.end()])}")
            if index != expected:
                raise BadAnswer(
                    f"command {index} ended where command {expected} was expected: the answer is out of order"
                )
            key, command = self.commands[index]
            sections[key] = Section(key, command, rc, _lines(stdout[pos:m.start()]))
            pos = m.end()
            expected += 1
        if expected < len(self.commands):
            key, command = self.commands[expected]
            got = f"; it ended inside {command!r}" if stdout[pos:].strip() else ""
            raise BadAnswer(f"the answer stopped after {expected} of {len(self.commands)} commands{got}")
        if stdout[pos:]:
            raise BadAnswer(f"unexpected text after the last command's end: {_excerpt(stdout[pos:])}")
        return sections


def _lines(text: bytes) -> tuple[bytes, ...]:
    """Lines without their ends. A last line without a newline is kept: the sentinel followed it directly."""
    if not text:
        return ()
    if text.endswith(b"\n"):
        text = text[:-1]
    lines = text.split(b"\n")
    if b"\r" in text:  # a PTY's CRLF (before Android 7)
        lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    return tuple(lines)


def _excerpt(line: bytes, width: int = 60) -> str:
    text = line.decode("utf-8", "replace")
    return repr(text if len(text) <= width else text[:width] + "…")
