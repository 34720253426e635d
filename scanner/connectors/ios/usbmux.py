"""usbmuxd and lockdownd as the scan, pairing and watch's tracker reach them, on one usbmuxd address.

usbmuxd address: the `address` argument, else $USBMUXD_SOCKET_ADDRESS, else
the OS default (/var/run/usbmuxd). "HOST:PORT" is TCP, anything else a unix
socket path; libusbmuxd's "UNIX:/path" spelling is accepted too. Every
pymobiledevice3 call made here is given the address explicitly (all of them
honour it); only pairing also needs the environment (scanner.connectors.ios.pairing).

lockdownd is opened with autopair off: a device that does not trust this
computer is reported (NotTrusted) instead of showing the Trust dialog.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymobiledevice3 import usbmux
from pymobiledevice3.exceptions import MuxException, PyMobileDevice3Exception
from pymobiledevice3.osu.os_utils import get_os_utils
from pymobiledevice3.pair_records import get_preferred_pair_record

from scanner.connectors.interface import Attached
from scanner.connectors.ios.apps import SERVICE
from scanner.connectors.ios.errors import (
    DamagedPairRecord,
    Explanation,
    NotTrusted,
    damaged_pair_record,
    usbmuxd_garbled,
    usbmuxd_unavailable,
)
from scanner.connectors.ios.session import Lockdown
from scanner.model import DeviceInfo

if TYPE_CHECKING:  # pymobiledevice3.lockdown costs ~0.2 s to import (questionary, rich, ...): pairing only
    from pymobiledevice3.lockdown import UsbmuxLockdownClient

__all__ = ["ENV_ADDRESS", "LABEL", "PLATFORM", "SOURCE", "Usbmux", "Visit", "address_label", "close_quietly",
           "resolve_address", "same_udid"]

ENV_ADDRESS = "USBMUXD_SOCKET_ADDRESS"
PLATFORM = "ios"
SOURCE = "usbmux"
LABEL = "scanner"  # the Label lockdownd sees in every request


def resolve_address(address: str | None) -> str | None:
    """The usbmuxd address to pass to pymobiledevice3, or None for the OS default.

    Raises ValueError for a value pymobiledevice3 would misread (it splits on
    ":" and takes the rest as a port, so an IPv6 literal or "host:" breaks it).
    """
    value = address or os.environ.get(ENV_ADDRESS) or None
    if value is None:
        return None
    if value[:5].upper() == "UNIX:":
        value = value[5:]
    if ":" in value:
        host, _, port = value.rpartition(":")
        if not host or ":" in host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"the usbmuxd address {value!r} is neither HOST:PORT nor a socket path")
    return value


def address_label(address: str | None) -> str:
    """A resolved usbmuxd address as messages name it: the OS default spelled out for None."""
    if address is not None:
        return address
    default = get_os_utils().usbmux_address[0]
    return default if isinstance(default, str) else f"{default[0]}:{default[1]}"


def same_udid(a: str, b: str) -> bool:
    return a.replace("-", "").lower() == b.replace("-", "").lower()


async def close_quietly(thing: Any) -> None:
    """Close a lockdown client or service connection; a close that fails must not hide why we closed it."""
    with contextlib.suppress(Exception):
        await thing.close()


@dataclass
class Visit:
    """What is known about one device while it is being read: for the messages and the result."""

    udid: str
    stage: str = "connecting"
    values: dict[str, Any] = field(default_factory=dict)

    def _value(self, key: str) -> str | None:
        value = self.values.get(key)
        return str(value) if value is not None else None

    def device(self) -> DeviceInfo:
        return DeviceInfo(platform=PLATFORM, serial=self.udid, model=self._value("ProductType"),
                          os_version=self._value("ProductVersion"), name=self._value("DeviceName"), source=SOURCE)

    def attached(self, state: str, message: str | None) -> Attached:
        return Attached(platform=PLATFORM, serial=self.udid, state=state, model=self._value("ProductType"),
                        name=self._value("DeviceName"), os_version=self._value("ProductVersion"), message=message)


class Usbmux:
    """The pymobiledevice3 calls both the connector and pairing make, on one usbmuxd address.

    `records` gives the pair-record folder lockdown looks in, worked out on
    every call (scanner.connectors.ios.pairing.pair_record_folder).
    """

    def __init__(self, address: str | None, timeout: float, records: Callable[[], Path]) -> None:
        self.given = address  # as the caller gave it (None: the environment's or the OS default)
        self.address_error: ValueError | None = None
        try:
            self.address = resolve_address(address)
        except ValueError as err:
            self.address, self.address_error = None, err
        self.where = (address or os.environ.get(ENV_ADDRESS)) if self.address_error else address_label(self.address)
        self.timeout = timeout
        self.records = records
        #: the usbmuxd protocol discovery found (pymobiledevice3's plist or binary connection), so that later
        #: connections skip its probe
        self.mux_class: type[usbmux.MuxConnection] = usbmux.PlistMuxConnection

    async def discover(self) -> list[usbmux.MuxDevice] | Explanation:
        """The attached devices, one per UDID (USB preferred over Wi-Fi), or why usbmuxd cannot be asked."""
        if self.address_error is not None:
            return usbmuxd_unavailable(self.where, self.address_error)
        try:
            async with asyncio.timeout(self.timeout):  # pymobiledevice3's list_devices, keeping the protocol
                mux = await usbmux.create_mux(usbmux_address=self.address)
                try:
                    await mux.get_device_list(0.1)
                    found = mux.devices
                finally:
                    await mux.close()
                self.mux_class = type(mux)
        except (MuxException, OSError, TimeoutError) as err:
            return usbmuxd_unavailable(self.where, err)
        except Exception as err:  # noqa: BLE001 - an answer pymobiledevice3 could not parse (KeyError, plistlib...)
            return usbmuxd_garbled(self.where, err)
        if bad := next((d for d in found if not isinstance(d.serial, str) or not d.serial), None):
            return usbmuxd_garbled(self.where, ValueError(f"a device listed with the UDID {bad.serial!r}"))
        unique: dict[str, usbmux.MuxDevice] = {}
        for device in found:
            key = device.serial.replace("-", "").lower()
            if key not in unique or (device.is_usb and not unique[key].is_usb):
                unique[key] = device
        return list(unique.values())

    async def session(self, visit: Visit, device: usbmux.MuxDevice) -> Lockdown:
        """lockdownd of a device found by discover(), with a session if this computer is trusted; never pairs.
        The scan's lean client (scanner.connectors.ios.session)."""
        visit.stage = "connecting"
        client = Lockdown(device, self.address, self.mux_class, self.records(), LABEL)
        try:
            await client.connect()
        except BaseException as err:
            await close_quietly(client)
            if isinstance(err, (PyMobileDevice3Exception, TimeoutError)) or not isinstance(err, Exception):
                raise
            damaged = damaged_pair_record(self.records(), visit.udid)  # a damaged record fails the read of it
            if damaged is None:
                raise
            raise DamagedPairRecord(damaged) from None
        visit.values = dict(client.all_values or {})
        return client

    async def lockdown(self, visit: Visit) -> UsbmuxLockdownClient:
        """pymobiledevice3's lockdown client of one device, with a session if this computer is trusted; never
        pairs. For `scanner pair`, which needs its pair(); a scan uses session()."""
        from pymobiledevice3.lockdown import create_using_usbmux

        visit.stage = "connecting"
        try:
            client = await create_using_usbmux(
                serial=visit.udid, label=LABEL, autopair=False, usbmux_address=self.address,
                pairing_records_cache_folder=self.records(),
            )
        except (PyMobileDevice3Exception, TimeoutError):
            raise
        except Exception:  # pymobiledevice3 reads our pair record first and fails on a damaged one
            damaged = damaged_pair_record(self.records(), visit.udid)
            if damaged is None:
                raise
            raise DamagedPairRecord(damaged) from None
        visit.values = dict(client.all_values or {})
        return client

    async def check_trust(self, client: Lockdown | UsbmuxLockdownClient, visit: Visit) -> None:
        """Raise NotTrusted unless the session started, telling "no record" from "record rejected".

        pymobiledevice3 swallows the device's InvalidHostID (and a TLS refusal)
        inside validate_pairing and only leaves paired=False; a record that is
        still held somewhere is one the device no longer accepts.
        """
        if client.paired:
            return
        visit.stage = "looking for a pair record"
        record = client.pair_record or await get_preferred_pair_record(
            visit.udid, self.records(), usbmux_address=self.address)
        raise NotTrusted("pair-record-invalid" if record else "not-paired")

    async def probe(self, visit: Visit, device: usbmux.MuxDevice) -> None:
        """Everything a scan needs short of the Lookup: trust, and installation_proxy starting (not locked)."""
        client = await self.session(visit, device)
        try:
            await self.check_trust(client, visit)
            visit.stage = "starting installation_proxy"
            await close_quietly(await client.start_service(SERVICE))
        finally:
            await close_quietly(client)
