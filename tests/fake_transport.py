"""A device transport registered the way a real one is (scanner.connectors.TRANSPORTS), for the tests
that show a transport is one package plus one registry entry: no adb, no usbmuxd, devices from a list."""

from __future__ import annotations

from dataclasses import dataclass, field

from scanner.connectors import TransportEntry
from scanner.connectors.interface import Attached
from scanner.model import App, DeviceInfo, Inventory, Scope, Transport

ENTRY = TransportEntry("fake", "fakemux", "Fake", "fake devices", "--fake-id", "fake_transport:open_transport")

#: What the next transport built answers: its devices' ids and apps; None: it does not answer.
FLEET: dict[str, tuple[str, ...]] | None = {}
BUILT: list[FakeTransport] = []
#: Devices the tracker lists but never asks to read.
OFFLINE: set[str] = set()


@dataclass
class FakeTransport:
    address: str | None
    select: tuple[str, ...]
    required: bool
    may_start: bool
    fleet: dict[str, tuple[str, ...]] | None
    platform: str = "fake"
    name: str = "fakemux"
    asked: Transport | None = None
    tracked: list = field(default_factory=list)

    def _ask(self) -> dict[str, tuple[str, ...]]:
        answered = self.fleet is not None
        self.asked = Transport("fake", self.name, self.address, answered,
                               None if answered else "fakemux did not answer; start it")
        return {k: v for k, v in (self.fleet or {}).items() if not self.select or k in self.select}

    def devices(self) -> list[Attached]:
        return [Attached("fake", serial, "ready") for serial in self._ask()]

    def inventories(self):
        for serial, apps in self._ask().items():
            yield Inventory(DeviceInfo("fake", serial, source=self.name, transport=serial),
                            tuple(App("android", a) for a in apps), (Scope("apps", True, apps=len(apps)),))

    def explain_state(self, state: str) -> tuple[str, str]:
        return "not-ready", f"fakemux saw it {state}: replug it"

    def unread(self, serial: str, reason: str, message: str) -> Inventory:
        return Inventory(DeviceInfo("fake", serial, source=self.name, transport=serial), (),
                         (Scope("apps", read=False, reason=reason),), status="failed", reason=reason, message=message)

    def track(self, plugs, stop) -> None:
        fleet = self._ask()
        plugs.answering("fake", self.name, self.address or "", None if self.asked.answered else self.asked.message)
        plugs.attached("fake", {("fake", s) for s in fleet})
        for serial in fleet:
            plugs.seen(("fake", serial), "device")
            if serial in OFFLINE:
                continue  # seen, never readable: watch must count it as never read
            plugs.scan("fake", serial, "attached")
        stop.wait()


def open_transport(address=None, *, select=(), timeout=60.0, notify=None, progress=None, required=False,
                   may_start=True) -> FakeTransport:
    transport = FakeTransport(address, tuple(select), required, may_start, None if FLEET is None else dict(FLEET))
    BUILT.append(transport)
    return transport
