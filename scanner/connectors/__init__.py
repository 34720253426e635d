"""Everything that reads devices or files into Inventories (the shapes are in interface.py).

TRANSPORTS registers the device transports: a new one is a package here
plus one entry. `scan`, `devices`, `watch` and the library pick it up
through scanner.live. Each entry is loaded only when used, so `scanner
--help` imports no device library. File readers are registered in
scanner.connectors.files.readers.READERS.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.connectors.interface import TransportFactory

__all__ = ["TRANSPORTS", "TransportEntry", "transport_entry"]


@dataclass(frozen=True)
class TransportEntry:
    """One registered device transport."""

    platform: str  # the --platform value, and model.DeviceInfo.platform of what it reads
    name: str  # what the transport is called in reports and messages: "adb", "usbmux"
    label: str  # how a person names the platform: "Android"
    devices: str  # how the help names its devices: "Android devices"
    selector: str  # the option that picks one of its devices: "--serial"
    factory: str  # "module:function" building it (see interface.DeviceTransport)

    def load(self) -> TransportFactory:
        module, _, function = self.factory.partition(":")
        return getattr(importlib.import_module(module), function)


TRANSPORTS: tuple[TransportEntry, ...] = (
    TransportEntry("android", "adb", "Android", "Android devices", "--serial", "scanner.connectors.android:open_transport"),
    TransportEntry("ios", "usbmux", "iOS", "iPhones and iPads", "--udid", "scanner.connectors.ios:open_transport"),
)


def transport_entry(platform: str) -> TransportEntry:
    """The registered transport of `platform`; KeyError for one not registered."""
    for entry in TRANSPORTS:
        if entry.platform == platform:
            return entry
    raise KeyError(platform)
