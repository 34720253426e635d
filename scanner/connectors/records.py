"""What every reader of app records shares, live or from a file: the problems
counted on the way, the id-like words kept from what could not be read, the
check of an app id, and the excerpts quoted in messages.

The file readers (scanner.connectors.files) and the live readers
(scanner.connectors.android, scanner.connectors.ios) both build on these, so a
damaged record is counted, quoted and searched for prohibited ids the same way
wherever it was read.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from scanner.model import MAX_PROBLEMS

__all__ = [
    "MAX_EVIDENCE", "MAX_ID", "MAX_PROBLEMS", "BadRecord", "Problems", "clean_id", "decodable", "id_tokens",
    "keeping", "residue_of", "snippet",
]

MAX_EVIDENCE = 1 << 18  # distinct id-like tokens kept from the unreadable text of one inventory

# A run of the characters an app id is made of (letters, digits, "_", "-", "."): an app id inside text
# that could not be parsed is one whole such run, never part of one. "com.tencent.mm-y" is not WeChat.
# Two dots in a row are no part of an id either, so they end a token.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_TOKEN_BYTES = re.compile(rb"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")


def id_tokens(text: str | bytes) -> Iterator[str]:
    """The whole tokens of `text` that could be an app id: dot-separated
    labels, at least two of them (every package name and bundle id has a
    dot). A dot at either end is punctuation, not part of the id."""
    if isinstance(text, bytes):  # bytes that are not UTF-8: ids are ASCII, so any other byte is a delimiter
        tokens: Iterator[str] = (t.decode("ascii") for t in _TOKEN_BYTES.findall(text))
    else:
        tokens = iter(_TOKEN.findall(text))
    for token in tokens:
        if "." in token and len(token) <= 255:
            yield token


_wanted = threading.local()  # .keep: which tokens are worth keeping, while a reader runs (see keeping())


@contextmanager
def keeping(keep: Callable[[str], bool] | None) -> Iterator[None]:
    """While the block runs in this thread, Problems keep only the tokens
    `keep` says could be catalog ids, and so never need a cap: a prohibited
    id after a million distinct words of garbage is still kept. The caller
    (the file connector, given the matcher's `knows`) knows the catalog; the
    readers do not need to."""
    previous = getattr(_wanted, "keep", None)
    _wanted.keep = keep
    try:
        yield
    finally:
        _wanted.keep = previous


class Problems:
    """Problems of one inventory: all counted, the first MAX_PROBLEMS kept as
    text, and the id-like tokens of every record that could not be read.

    Evidence is never dropped: the text of a line that cannot be parsed is
    kept as its tokens (`evidence`), which the matcher searches for whole
    catalog identifiers. A prohibited app on a damaged line is still found.
    """

    __slots__ = ("kept", "count", "evidence", "evidence_overflow", "_keep")

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.count = 0
        self.evidence: dict[str, None] = {}  # insertion-ordered set of tokens, as written
        self.evidence_overflow = 0  # tokens not kept once MAX_EVIDENCE was reached
        self._keep: Callable[[str], bool] | None = getattr(_wanted, "keep", None)

    def add(self, text: str, count: int = 1, *, evidence: str | bytes | None = None) -> None:
        """Count a problem; `evidence` is the raw text of what could not be read."""
        self.count += count
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(text)
        if evidence:
            self.search(evidence)

    def search(self, text: str | bytes) -> None:
        """Keep the id-like tokens of text that could not be read."""
        kept = self.evidence
        keep = self._keep
        for token in id_tokens(text):
            if keep is not None:  # only what could be a catalog id: no cap needed
                if token not in kept and keep(token):
                    kept[token] = None
            elif token not in kept:
                if len(kept) >= MAX_EVIDENCE:
                    self.evidence_overflow += 1
                    continue
                kept[token] = None


class BadRecord(ValueError):
    """One record (row, JSON object) that cannot become an App; the text says why."""


def residue_of(problems: Problems) -> tuple[str, ...]:
    """The tokens of what could not be read, for the matcher to search; a
    note among the problems if there was more than could be kept."""
    if problems.evidence_overflow:
        problems.kept.append(f"{problems.evidence_overflow} more id-like words in the unreadable text were not "
                             f"searched for prohibited apps (more than {len(problems.evidence)} distinct ones)")
        problems.evidence_overflow = 0
    return tuple(problems.evidence)


def snippet(text: str, width: int = 60) -> str:
    """A short quoted excerpt for a problem line; repr() escapes control and bidi characters."""
    return repr(text if len(text) <= width else text[:width] + "…")


def decodable(cell: str) -> bool:
    """False for a cell holding the surrogate escapes of bytes that were not UTF-8."""
    try:
        cell.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_id(value: str, what: str, *, dotted: bool = False) -> tuple[str, str | None]:
    """(the id without surrounding whitespace, why it is not an id or None).
    A package name or bundle id never holds whitespace or a control, format
    or other non-printable character (NUL, ESC, bidi marks, line breaks);
    one that does is a damaged or forged record, not an app to match.
    `dotted`: the id must have two labels at least, as every iOS bundle id
    that ideviceinstaller lists has (com.apple.mobilesafari); a one-word id
    there is another format's line read in the wrong columns ("android" of
    `android,A1,com.tencent.mm`)."""
    app_id = value.strip()
    if not app_id:
        return app_id, f"empty {what}"
    if not app_id.isprintable() or " " in app_id:  # the only printable whitespace is " "
        return app_id, (f"{what} {snippet(app_id)} holds whitespace or a control character, so it is not a "
                        f"real package name or bundle id")
    if len(app_id) > MAX_ID:
        return app_id, (f"{what} {snippet(app_id)} is {len(app_id)} characters long, longer than any real package "
                        f"name or bundle id (at most {MAX_ID}): the line is damaged or forged")
    if not _ID_GRAMMAR.match(app_id):
        return app_id, (f"{what} {snippet(app_id)} is not a package name or bundle id (letters, digits, '_' "
                        f"and '-' in dot-separated labels): was something else pasted into this column?")
    if dotted and "." not in app_id:
        return app_id, (f"{what} {snippet(app_id)} has no dot, and every bundle id has (com.apple.mobilesafari): "
                        f"was another list pasted in?")
    return app_id, None


MAX_ID = 255  # an Android package name is a folder name (/data/data/<package>), and so at most 255 bytes

# Android package names and iOS bundle ids: labels of letters, digits, "_"
# and "-", joined by dots. One label is allowed: the framework is "android".
_ID_GRAMMAR = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\Z")
