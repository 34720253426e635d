"""Colour for the words this program writes itself (verdicts, severities), on a terminal that wants it.

Never on untrusted text: a device's strings went through `safe()` and are printed as they are, so a name
cannot borrow our colours to pass for a verdict. None at all when `NO_COLOR` is set (any non-empty value,
https://no-color.org), with `--no-color`, on TERM=dumb, or when the output is not a terminal.
"""

from __future__ import annotations

import os
from typing import TextIO

__all__ = ["Painter", "color_wanted"]

_RED, _YELLOW, _GREEN, _BOLD, _RESET = "\x1b[31m", "\x1b[33m", "\x1b[32m", "\x1b[1m", "\x1b[0m"
_COLOUR = {
    "prohibited": _RED,
    "failed": _RED,
    "findings": _RED,
    "findings-incomplete": _RED,
    "review": _YELLOW,
    "partial": _YELLOW,
    "incomplete": _YELLOW,
    "complete": _GREEN,
    "clean": _GREEN,
    "ready": _GREEN,
}


def color_wanted(stream: TextIO | None, *, disabled: bool = False) -> bool:
    """Whether to colour what is written to `stream`: a terminal, and nobody said no."""
    if disabled or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb" or stream is None:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class Painter:
    """Colours our own words (never untrusted text) when colour is on."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def word(self, word: str, key: str | None = None) -> str:
        """`word` in the colour of `key` (default: the word itself, lower-cased: FAILED is failed's colour)."""
        code = _COLOUR.get(key or word.lower())
        return f"{code}{word}{_RESET}" if self.color and code else word

    def bold(self, text: str) -> str:
        return f"{_BOLD}{text}{_RESET}" if self.color else text
