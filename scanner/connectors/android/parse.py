"""What a phone's shell prints, turned into props, users and package listings. No I/O.

Every line is either understood or counted as a problem with its excerpt:
nothing a device prints is dropped unseen. The `pm list packages` line
grammar is the one the offline input parser uses (scanner.connectors.files.readers.pm),
so a saved listing and a live one are read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from scanner.connectors.grammars.pm import PM_REFUSED, pm_line  # the shared grammar of a pm line
from scanner.connectors.records import MAX_ID, clean_id, snippet

__all__ = [
    "Entry", "Listing", "User", "parse_listing", "parse_names", "parse_props", "parse_users", "refusal",
    "rejected_option",
]

_PROP = re.compile(r"\[(?P<key>[^\]]*)\]: \[(?P<value>.*)\]\Z", re.S)
_PROP_OPEN = re.compile(r"\[(?P<key>[^\]]*)\]: \[(?P<value>.*)\Z", re.S)
# `\tUserInfo{10:Work profile:1030} running`; a name may hold ":", the flags are hex.
_USER = re.compile(r"\s*UserInfo\{(?P<id>\d{1,10}):(?P<name>.*):(?P<flags>[0-9a-fA-F]{1,8})\}(?: running)?\s*\Z")
_UNKNOWN_OPTION = re.compile(r"Unknown option:? (?P<option>-\S+)")
# The common line, as real pm prints it: printable-ASCII path, a package name of the id grammar (clean_id's),
# digits, and no second "package:" (two lines run together; counted before, not with a lookahead, which
# would cost the regex engine memory per character). A listing made only of such lines is read in
# one pass (re.M); any other line sends the whole
# listing through the line-by-line path below, which says what is wrong with each odd line.
_FAST_LINES = re.compile(
    r"^package:(?:(/[!-~]*)=)?([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)(?: versionCode:(\d{1,19}))?"
    r"(?:  installer=([!-~]+))?(?: uid:(\d{1,10}))?$",
    re.M,
)


@dataclass(frozen=True)
class User:
    id: int
    name: str

    @property
    def label(self) -> str:
        return f"user {self.id} ({self.name})" if self.name else f"user {self.id}"


class Entry(NamedTuple):
    """One package line: the fields pm printed (None for those not asked for or not printed)."""

    path: str | None
    code: str | None
    installer: str | None
    uid: int | None


@dataclass
class Listing:
    entries: dict[str, Entry] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # one per line not understood
    evidence: list[bytes] = field(default_factory=list)  # those lines as the phone sent them, to be searched


def _decode(line: bytes) -> str | None:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return None


def parse_props(lines: tuple[bytes, ...]) -> tuple[dict[str, str], list[str]]:
    """`getprop` output: `[key]: [value]` lines; a value with line breaks continues on the next lines."""
    props: dict[str, str] = {}
    problems: list[str] = []
    pending: tuple[str, str] | None = None
    for n, raw in enumerate(lines, 1):
        text = raw.decode("utf-8", "backslashreplace")
        if pending is not None:
            key, value = pending
            if text.endswith("]"):
                props[key] = value + "\n" + text[:-1]
                pending = None
            else:
                pending = (key, value + "\n" + text)
            continue
        m = _PROP.match(text)
        if m:
            props[m["key"]] = m["value"]
            continue
        m = _PROP_OPEN.match(text)
        if m:
            pending = (m["key"], m["value"])
            continue
        if text.strip():
            problems.append(f"getprop line {n}: expected '[name]: [value]', got {snippet(text)}")
    if pending is not None:
        problems.append(f"getprop: the value of {pending[0]!r} never ends")
    return props, problems


def parse_users(lines: tuple[bytes, ...]) -> tuple[list[User], list[str]]:
    """`pm list users`: a `Users:` header, then one `UserInfo{id:name:flags}` line per user."""
    users: list[User] = []
    problems: list[str] = []
    seen: set[int] = set()
    for n, raw in enumerate(lines, 1):
        text = _decode(raw)
        if text is None:
            problems.append(f"pm list users line {n}: not valid UTF-8")
            continue
        if not text.strip() or (n == 1 and text.strip() == "Users:"):
            continue
        m = _USER.match(text)
        if m is None:
            problems.append(f"pm list users line {n}: expected 'UserInfo{{id:name:flags}}', got {snippet(text)}")
            continue
        uid = int(m["id"])
        if uid not in seen:
            seen.add(uid)
            users.append(User(uid, m["name"]))
    return users, problems


def parse_listing(lines: tuple[bytes, ...], what: str) -> Listing:
    """`pm list packages` lines of one command (`what` names it in problems)."""
    listing = Listing()
    blob = b"\n".join(lines)
    if blob.isascii() and blob.count(b"package:") == len(lines):  # no line holds a second one (lines joined)
        found = _FAST_LINES.findall(blob.decode("ascii"))
        if len(found) == len(lines) and all(len(f[1]) <= MAX_ID for f in found):  # every line a plain package line
            entries = listing.entries
            for path, pkg, code, installer, uid in found:
                if pkg not in entries:
                    entries[pkg] = Entry(path or None, code or None, None if installer in ("", "null") else installer,
                                         int(uid) if uid else None)
            return listing
    for n, raw in enumerate(lines, 1):
        text = _decode(raw)
        if text is None:
            listing.problems.append(f"{what} line {n}: not valid UTF-8")
            listing.evidence.append(raw)
            continue
        if not text.strip():
            continue
        m = pm_line(text)
        if m is None:
            listing.problems.append(f"{what} line {n}: expected 'package:<name>', got {snippet(text)}")
            listing.evidence.append(raw)
            continue
        path, pkg, code, installer, uid = m.group("path", "pkg", "code", "installer", "uid")
        pkg, why = clean_id(pkg, "package")
        if why:
            listing.problems.append(f"{what} line {n}: {why}")
            listing.evidence.append(raw)
            continue
        listing.entries.setdefault(pkg, Entry(
            path, code, None if installer in (None, "null") else installer, int(uid) if uid else None,
        ))
    return listing


_NAME_LINES = re.compile(r"^package:([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)$", re.M)


def parse_names(lines: tuple[bytes, ...], what: str) -> tuple[set[str], list[str], list[bytes]]:
    """A names-only `pm list packages` (no -f/-i/-U): the names, one problem
    per line not understood, and those lines as sent."""
    blob = b"\n".join(lines)
    if blob.isascii():
        names = _NAME_LINES.findall(blob.decode("ascii"))
        if len(names) == len(lines):
            return set(names), [], []
    listing = parse_listing(lines, what)  # the full grammar, with its explanations
    return set(listing.entries), listing.problems, listing.evidence


def refusal(text: str) -> str | None:
    """What pm said when the shell may not read that user (a managed work profile, another user), or None.

    Android 11+ prints "Exception occurred while executing 'list':" and then
    "java.lang.SecurityException: <why>" and a stack trace; older ones
    "Security exception: <why>". Only the <why> is kept.
    """
    if not (PM_REFUSED.search(text) or "SecurityException" in text or "Security exception" in text):
        return None
    for line in text.splitlines():
        for marker in ("SecurityException: ", "Security exception: "):
            if marker in line:
                return line.split(marker, 1)[1].strip() or line.strip()
    return text.strip().splitlines()[0]


def rejected_option(text: str) -> str | None:
    """The option an old pm rejected (`Error: Unknown option: -U`), or None."""
    m = _UNKNOWN_OPTION.search(text)
    return m["option"] if m else None
