"""iPhones and iPads through usbmuxd: pymobiledevice3 -> usbmuxd -> lockdownd -> installation_proxy.

A scan is read-only and never waits on a person: lockdown is opened with
autopair off, so an untrusted device is reported `not-paired` instead of
popping up the Trust dialog, and every device is bounded by `timeout` as a
whole. `pair()` (scanner.connectors.ios.pairing) is the one code path that
may pair, and only when the user runs `scanner pair`.

The usbmuxd address and the pymobiledevice3 calls on it are in
scanner.connectors.ios.usbmux; `track()` follows usbmuxd's plug events for
`scanner watch` (scanner.connectors.ios.tracking).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from pymobiledevice3 import usbmux

from scanner.connectors.interface import Attached, Notify, Plugs, Progress, Removal, ScannerError, Stopping
from scanner.connectors.ios import pairing, tracking
from scanner.connectors.ios.apps import SCOPE, SERVICE, build_inventory, read_lookup
from scanner.connectors.ios.errors import Explanation, explain_error, not_found
from scanner.connectors.ios.usbmux import PLATFORM, SOURCE, Usbmux, Visit, close_quietly, same_udid
from scanner.model import DeviceInfo, Inventory, Scope, Transport

__all__ = ["IOSConnector"]


class IOSConnector:
    """The apps of every attached iPhone/iPad, one Lookup each, all devices at once on one event loop."""

    name = SOURCE
    platform = PLATFORM

    def __init__(self, address: str | None = None, *, udids: Sequence[str] = (), timeout: float = 60.0,
                 notify: Notify | None = None, progress: Progress | None = None, required: bool = False) -> None:
        self.udids = tuple(dict.fromkeys(udids))
        self.timeout = timeout
        self.required = required or bool(self.udids)
        self._notify = notify
        self._progress = progress
        self._mux = Usbmux(address, timeout, pairing.pair_record_folder)
        #: usbmuxd as this connector asked it for its devices, and whether it answered (None until asked):
        #: one that did not may hide attached iPhones, so the report is then never complete.
        self.asked: Transport | None = None

    # -- public --------------------------------------------------------------------------------

    def devices(self) -> list[Attached]:
        """Every attached device (or each selected UDID) and whether it is ready to scan.

        usbmuxd unreachable: ScannerError with what to do when this platform was
        asked for (`required`) or usbmuxd is there but broken (`Explanation.reached`),
        otherwise a note through `notify` and no devices.
        """
        return asyncio.run(self._devices())

    def inventories(self) -> Iterator[Inventory]:
        """One Inventory per device, yielded as each finishes.

        One event loop in the calling thread, driven between yields (asyncio.Runner:
        asyncio.run's set-up and clean-up, but resumable), with a task per device.
        Closing the generator early cancels the devices still being read and
        closes their connections.
        """
        handoff: asyncio.Queue[Inventory | None] = asyncio.Queue()
        ready: deque[Inventory] = deque()

        async def next_one() -> bool:
            # The task runner.run() makes returns a bool, not the Inventory: in the main thread the Runner looks
            # up its SIGINT handler (a partial holding this task) through signal.getsignal, which formats the
            # task's repr, and with it the repr of every app in the result (~3 ms an iPhone).
            item = await handoff.get()
            if item is not None:
                ready.append(item)
            return item is not None

        with asyncio.Runner() as runner:
            producer = runner.get_loop().create_task(self._produce(handoff.put_nowait))
            while runner.run(next_one()):
                yield ready.popleft()
            runner.run(_finish(producer))  # a bug in the producer is raised here, not lost

    def pair(self, udid: str | None, *, timeout: float | None = None) -> Attached:
        """Pair this computer with one iPhone (`scanner pair`), waiting at most `timeout` seconds (default: this
        connector's) for Trust to be tapped; see scanner.connectors.ios.pairing.pair."""
        return pairing.pair(self._mux.given, udid, timeout=self.timeout if timeout is None else timeout,
                            notify=self._notify)

    def remove(self, serial: str, app_id: str, *, user: int | None = None,
               timeout: float | None = None) -> Removal:
        """Remove one app from the iPhone `serial` (its UDID) within `timeout` seconds (default: this
        connector's): scanner.connectors.ios.remove, loaded only here, so that no scan reaches it."""
        if user is not None:
            raise ValueError(f"iOS has no Android users: remove() was given user {user}")
        from scanner.connectors.ios.remove import remove_app  # here: only `scanner remove` loads it

        return asyncio.run(remove_app(self._mux, serial, app_id, self.timeout if timeout is None else timeout))

    # -- `scanner watch` -----------------------------------------------------------------------

    def track(self, plugs: Plugs, stop: Stopping) -> None:
        """Follow usbmuxd's `Listen` until `stop` (scanner.connectors.ios.tracking)."""
        tracking.track(self._mux, plugs, stop, notify=self._note)

    def explain_state(self, state: str) -> tuple[str, str]:
        """(reason, what to do) for a state the tracker saw a device in (Plugs.seen). usbmuxd lists only devices
        that can be asked, so its tracker names none but "being read"; any other is not one a scan reads."""
        return "not-ready", f"usbmuxd reports the device as {state!r}, not ready to be read: reconnect it and run again"

    def unread(self, serial: str, reason: str, message: str) -> Inventory:
        """The failed Inventory of a device the tracker saw (by its UDID) that was never read."""
        return _failed_inventory(Visit(serial).device(), Explanation(reason, message))

    # -- scan ----------------------------------------------------------------------------------

    async def _produce(self, emit: Callable[[Inventory | None], None]) -> None:
        try:
            found = await self._discover()
            if isinstance(found, Explanation):
                if self.required or found.reached:
                    emit(_failed_inventory(DeviceInfo(platform=PLATFORM, serial=None, source=SOURCE), found))
                return
            targets, missing = self._select(found)
            for udid in missing:
                self._report(udid, "failed", None)
                emit(_failed_inventory(Visit(udid).device(), not_found(udid)))
            for device in targets:
                self._report(device.serial, "waiting", None)
            tasks = [asyncio.create_task(self._scan(device)) for device in targets]
            for next_done in asyncio.as_completed(tasks):
                emit(await next_done)
        finally:
            emit(None)

    async def _scan(self, device: usbmux.MuxDevice) -> Inventory:
        udid = device.serial
        visit = Visit(udid)
        entries: dict[str, Any] = {}
        failure: Explanation | None = None
        try:
            async with asyncio.timeout(self.timeout):
                client = await self._mux.session(visit, device)
                try:
                    self._name(visit)  # lockdown's values are known now, trusted or not
                    await self._mux.check_trust(client, visit)
                    self._report(udid, "reading", None)
                    visit.stage = "starting installation_proxy"
                    service = await client.start_service(SERVICE)
                    try:
                        visit.stage = "reading the app list"
                        await read_lookup(service, entries)
                    finally:
                        await close_quietly(service)
                finally:
                    await close_quietly(client)
        except Exception as err:  # noqa: BLE001 - every failure becomes this device's status, never "clean"
            failure = explain_error(err, udid, stage=visit.stage, timeout=self.timeout, where=self._mux.where)
        inventory = build_inventory(visit.device(), entries, failure)
        self._report(udid, "done" if inventory.status == "complete" else "failed", len(inventory.apps))
        return inventory

    # -- devices -------------------------------------------------------------------------------

    async def _devices(self) -> list[Attached]:
        found = await self._discover()
        if isinstance(found, Explanation):
            if self.required or found.reached:
                raise ScannerError(found.message)
            return []
        targets, missing = self._select(found)
        ready = await asyncio.gather(*(self._check(device) for device in targets))
        return [*ready, *(Attached(PLATFORM, udid, "not-found", message=not_found(udid).message) for udid in missing)]

    async def _check(self, device: usbmux.MuxDevice) -> Attached:
        udid = device.serial
        visit = Visit(udid)
        try:
            async with asyncio.timeout(self.timeout):
                await self._mux.probe(visit, device)
        except Exception as err:  # noqa: BLE001 - reported as the device's state
            why = explain_error(err, udid, stage=visit.stage, timeout=self.timeout, where=self._mux.where)
            return visit.attached(why.reason, why.message)
        return visit.attached("ready", None)

    # -- helpers -------------------------------------------------------------------------------

    async def _discover(self) -> list[usbmux.MuxDevice] | Explanation:
        """The attached devices, recorded in `asked`; usbmuxd not there and iOS not asked for by name: a note
        that says how to leave iOS out on purpose, since attached iPhones may be missing."""
        found = await self._mux.discover()
        if not isinstance(found, Explanation):
            self.asked = Transport(PLATFORM, SOURCE, self._mux.where, True)
            return found
        if not (self.required or found.reached):
            found = replace(found, message=f"{found.message}; iPhones and iPads attached here may be missing from "
                                           f"this report (to scan only Android devices, on purpose, use "
                                           f"--platform android)")
            self._note(found.message)
        self.asked = Transport(PLATFORM, SOURCE, self._mux.where, False, found.message)
        return found

    def _select(self, found: list[usbmux.MuxDevice]) -> tuple[list[usbmux.MuxDevice], list[str]]:
        """(devices to read, selected UDIDs not attached); every device when none was selected."""
        if not self.udids:
            return found, []
        targets, missing = [], []
        for udid in self.udids:
            device = next((d for d in found if same_udid(d.serial, udid)), None)
            if device is None:
                missing.append(udid)
            elif device not in targets:
                targets.append(device)
        return targets, missing

    def _report(self, udid: str, state: str, apps: int | None) -> None:
        if self._progress is not None:
            self._progress(PLATFORM, udid, state, apps)

    def _name(self, visit: Visit) -> None:
        """Tell a display that can show it (ProgressDisplay.name) who the iPhone is: its model beside the UDID,
        as its report names it, so that the progress line and the report name one device."""
        name = getattr(self._progress, "name", None)
        model = visit.device().model
        if callable(name) and model:
            name(PLATFORM, visit.udid, f"{model} {visit.udid}")

    def _note(self, message: str) -> None:
        if self._notify is not None:
            self._notify(message)


def _failed_inventory(device: DeviceInfo, why: Explanation) -> Inventory:
    return Inventory(device=device, apps=(), coverage=(Scope(SCOPE, read=False, reason=why.reason),),
                     status="failed", reason=why.reason, message=why.message)


async def _finish(task: asyncio.Task) -> None:
    await task
