"""A tracker's outages (scanner.connectors.outage): said once per outage, always recorded for the session."""

from __future__ import annotations

from scanner.connectors.outage import Outage, why


class Recorder:
    def __init__(self) -> None:
        self.answers: list[tuple[str, str, str, str | None]] = []

    def answering(self, platform: str, transport: str, where: str, message: str | None) -> None:
        self.answers.append((platform, transport, where, message))


def test_an_outage_is_noted_once_and_recorded_until_the_transport_answers_again():
    plugs, notes = Recorder(), []
    outage = Outage(plugs, notes.append, "android", "adb", "127.0.0.1:5037")
    outage.answers("answers again")  # up from the start: nothing to say, recorded as answering
    outage.unreachable("down", "down: start it")
    outage.unreachable("down", "down: start it")  # a retry says nothing new
    outage.answers("answers again")
    outage.lost("lost it", "went away: start it again")
    outage.lost("lost it", "went away: start it again")  # each loss after answering is news
    assert notes == ["down", "answers again", "lost it", "lost it"]
    assert [m for *_, m in plugs.answers] == [None, "down: start it", None, "went away: start it again",
                                              "went away: start it again"]
    assert {a[:3] for a in plugs.answers} == {("android", "adb", "127.0.0.1:5037")}


def test_why_is_one_escaped_line():
    assert why(OSError("refused\nsecond line")) == "refused"
    assert why(ValueError()) == "an unexpected error"  # issue 15: the tool's words, never a class name
    assert "\x1b" not in why(OSError("\x1b[2Jhostile"))


class ConnectionFailedToUsbmuxdError(ConnectionError):
    """Named as pymobiledevice3 names it: why() goes by the name, importing no device library."""


def test_why_says_it_in_the_tools_words_never_the_librarys():
    assert why(EOFError("Expected 5 bytes, got 0")) == "the connection closed before the answer was complete"
    assert why(ConnectionFailedToUsbmuxdError("Failed to connect to usbmuxd socket. Make sure it's running.")) \
        == "nothing answers there"
    assert why(ConnectionRefusedError(111, "Connection refused")) == "nothing answers there"
    assert why(PermissionError(13, "Permission denied")) == "permission denied"
    assert why(TimeoutError()) == "no answer in time"
    assert why(OSError(28, "No space left on device")) == "No space left on device"
