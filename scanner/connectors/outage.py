"""What every transport's tracker does when its transport goes away and comes back (`scanner watch`).

A transport that does not answer is retried every RETRY seconds and noted
once per outage; one that goes away after answering is noted every time.
Either way the watch engine is told (Plugs.answering) what happened and what
to do, so a session that ends while the outage lasts is never complete.
"""

from __future__ import annotations

from scanner.connectors.interface import Notify, Plugs
from scanner.terminal.text import safe

__all__ = ["RETRY", "Outage", "why"]

RETRY = 2.0  # seconds between attempts to reach a transport that is not there


# What went wrong, in the tool's words, by the class of the error (or a base of it): names, not imports, so
# that this module imports no device library. The library's own text ("Expected 5 bytes, got 0",
# pymobiledevice3's "Failed to connect to usbmuxd socket...") means nothing to the person reading the note.
_CLOSED = "the connection closed before the answer was complete"
_NOBODY = "nothing answers there"
_WORDS = {
    "ConnectionRefusedError": _NOBODY,
    "FileNotFoundError": f"{_NOBODY} (no such socket)",
    "ConnectionFailedToUsbmuxdError": _NOBODY,
    "AdbConnectionError": "the connection to it failed",
    "PermissionError": "permission denied",
    "TimeoutError": "no answer in time",
    "AdbTimeout": "no answer in time",
    "EOFError": _CLOSED,
    "IncompleteReadError": _CLOSED,
    "ConnectionResetError": _CLOSED,
    "ConnectionAbortedError": _CLOSED,
    "BrokenPipeError": _CLOSED,
    "ConnectionTerminatedError": _CLOSED,
    "MuxException": "an answer the scanner cannot read",
}


def why(err: BaseException) -> str:
    """What went wrong, in the tool's words, fit for a one-line note."""
    for cls in type(err).__mro__:
        words = _WORDS.get(cls.__name__)
        if words is not None:
            return words
    text = err.strerror if isinstance(err, OSError) and err.strerror else str(err).strip()
    return safe(text.splitlines()[0], limit=200) if text else "an unexpected error"


class Outage:
    """Whether one tracker's transport answers now, said to the person and recorded for the session."""

    def __init__(self, plugs: Plugs, notify: Notify, platform: str, transport: str, where: str) -> None:
        self.plugs, self.notify = plugs, notify
        self.platform, self.transport, self.where = platform, transport, where
        self.down = False

    def unreachable(self, note: str, record: str) -> None:
        """It could not be reached: noted once per outage (retries say nothing new)."""
        if not self.down:
            self._down(note, record)

    def lost(self, note: str, record: str) -> None:
        """It answered, then went away: always noted."""
        self._down(note, record)

    def answers(self, note: str) -> None:
        """It answers (again: then `note` is said)."""
        if self.down:
            self.notify(note)
            self.down = False
        self.plugs.answering(self.platform, self.transport, self.where, None)

    def _down(self, note: str, record: str) -> None:
        self.notify(note)
        self.down = True
        self.plugs.answering(self.platform, self.transport, self.where, record)
