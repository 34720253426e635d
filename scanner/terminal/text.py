"""Make untrusted strings safe to print on a terminal.

Everything a device or a file tells us (app ids, names, serials, models,
messages, problems) is attacker-controllable: a crafted package name can carry
ESC sequences that rewrite the screen, a carriage return that hides the text
before it, or a right-to-left override that makes `moc.evil` read as
`live.com`. The table and CSV writers pass every such string through `safe()`.

JSON and SARIF keep values intact instead; they are written with
`ensure_ascii=True`, which is terminal-safe by itself.
"""

from __future__ import annotations

import unicodedata

__all__ = ["LIMIT", "safe"]

LIMIT = 120  # characters of escaped text kept before truncating

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Unicode categories never printed raw: control (C0, DEL, C1), format
# (bidi controls, zero-width characters, BOM, ALM, tag characters...),
# line/paragraph separators, and lone surrogates (undecodable bytes).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _escape_char(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    if unicodedata.category(ch) not in _ESCAPED_CATEGORIES:
        return ch
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _is_plain(text: str) -> bool:
    # Fast path: printable ASCII needs no per-character work.
    return text.isascii() and text.isprintable()


def safe(value: object, limit: int | None = LIMIT) -> str:
    """`value` as one line of inert, visible text.

    Control characters become `\\n`, `\\r`, `\\t` or `\\xNN`; bidi controls and
    other invisible format characters become `\\u200e`-style escapes. When the
    escaped text is longer than `limit`, it is cut (never inside an escape)
    and `…(+N chars)` says how many characters of the original were left out.
    None gives "". Backslashes are left alone: this is for reading, not for
    round-tripping.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _is_plain(text):
        if limit is None or len(text) <= limit:
            return text
        return f"{text[:limit]}…(+{len(text) - limit} chars)"
    pieces: list[str] = []
    length = 0
    for index, ch in enumerate(text):
        piece = _escape_char(ch)
        if limit is not None and length + len(piece) > limit:
            return "".join(pieces) + f"…(+{len(text) - index} chars)"
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces)
