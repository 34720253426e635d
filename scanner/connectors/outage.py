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


def why(err: BaseException) -> str:
    """The first line of what went wrong, fit for a one-line note."""
    return safe((str(err).strip() or type(err).__name__).splitlines()[0], limit=200)


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
