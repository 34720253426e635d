"""Attached devices: which transports to use, opening them, listing and scanning their devices.

The one home of live set-up, shared by `scan`, `devices`, `demo`, `watch` and
the library (scanner.scan_devices). The transports themselves are plug-ins
registered in scanner.connectors.TRANSPORTS; nothing here names one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping, Sequence

from scanner import connectors
from scanner.audit import crashed, guarded, run
from scanner.connectors import transport_entry
from scanner.connectors.interface import (
    Attached,
    Connector,
    DeviceTransport,
    Notify,
    Progress,
    ScannerError,
)
from scanner.matcher import Matcher
from scanner.model import Inventory, Report, by_device

__all__ = ["UsageError", "list_devices", "open_transports", "pick_platforms", "scan", "side_by_side"]


class UsageError(ScannerError):
    """Devices asked for in a way that cannot be used: nothing is scanned (exit 2)."""


def pick_platforms(platform: str | None, select: Mapping[str, Sequence[str]]) -> dict[str, bool]:
    """Which transports to use, and whether each was asked for by name.

    `platform` is the --platform value (None or "all": every registered one);
    `select` the devices picked per platform ({"android": serials, "ios":
    udids}). A platform asked for by name (--platform, or a selector such as
    --serial) that cannot be reached is a failed target; one only scanned by
    default is a note, so an admin with no iPhones and no usbmuxd still gets a
    clean exit.
    """
    if any(not value.strip() for values in select.values() for value in values):
        selectors = " and ".join(e.selector for e in connectors.TRANSPORTS)
        raise UsageError(f"{selectors} need a value; `scanner devices` lists the attached devices")
    for entry in connectors.TRANSPORTS:
        if select.get(entry.platform) and platform not in (None, "all", entry.platform):
            other = transport_entry(platform) if platform is not None else entry
            raise UsageError(f"{entry.selector} selects {entry.devices}; it cannot be used with --platform "
                             f"{platform} (use {other.selector})")
    if platform not in (None, "all"):
        transport_entry(platform)  # KeyError for a platform nobody registered
        return {platform: True}
    if platform is None and any(select.values()):
        return {e.platform: True for e in connectors.TRANSPORTS if select.get(e.platform)}
    return {e.platform: bool(select.get(e.platform)) for e in connectors.TRANSPORTS}


def open_transports(platforms: Mapping[str, bool], *, select: Mapping[str, Sequence[str]] | None = None,
                    addresses: Mapping[str, str | None] | None = None, timeout: float, notify: Notify | None = None,
                    progress: Progress | None = None, may_start: bool = True) -> list[DeviceTransport]:
    """One transport per chosen platform, in registry order; `platforms[p]` says whether p was asked for by name.

    Raises ScannerError for an address that cannot be used (--adb-server nohost).
    """
    select = select or {}
    addresses = addresses or {}
    return [
        entry.load()(addresses.get(entry.platform), select=tuple(select.get(entry.platform, ())), timeout=timeout,
                     notify=notify, progress=progress, required=platforms[entry.platform], may_start=may_start)
        for entry in connectors.TRANSPORTS if entry.platform in platforms
    ]


_DONE = object()


def side_by_side(connectors: list[Connector]) -> Iterator[Inventory]:
    """Every connector in a thread of its own, inventories handed over as they come.

    Live transports wait on devices: the Android threads and the iOS event loop
    must run at the same time, or one slow phone would hold up every iPhone.
    """
    handoff: queue.Queue = queue.Queue()
    threads = []
    for connector in connectors:
        def pump(c: Connector = connector) -> None:
            try:
                for inv in guarded(c):
                    handoff.put(inv)
            except BaseException as err:  # noqa: BLE001 - e.g. a CancelledError: the source still shows, failed
                handoff.put(crashed(getattr(c, "name", type(c).__name__), err))
            finally:
                handoff.put(_DONE)

        thread = threading.Thread(target=pump, name=f"scan-{getattr(connector, 'name', '?')}", daemon=True)
        thread.start()
        threads.append(thread)
    running = len(threads)
    while running:
        item = handoff.get()
        if item is _DONE:
            running -= 1
        else:
            yield item
    for thread in threads:
        thread.join()


def scan(transports: Sequence[Connector], matcher: Matcher, *, inventory: bool = False,
         fail_on: str = "prohibited") -> Report:
    """Read every transport's devices side by side; results sorted by platform, serial and transport (devices
    finish in no particular order). A transport that did not answer makes the report incomplete."""
    return run(transports, matcher, inventory=inventory, fail_on=fail_on, read=side_by_side, order=by_device)


def list_devices(transports: Sequence[DeviceTransport]) -> tuple[list[Attached], list[str]]:
    """Every device the transports see, all transports at once, sorted by platform and serial; and the problems
    of the transports that could not be asked.

    A transport raises ScannerError when its failure must be reported (the
    platform was asked for, or its transport answered but was broken);
    otherwise it says so with its notify callback and records it in `asked`,
    and it is a problem all the same: devices attached there may be unseen,
    so the list is not the whole answer (exit 4), as `scan` is not. Daemon
    threads, so that Ctrl-C ends the command at once instead of waiting for a
    slow device.
    """
    answers: queue.Queue = queue.Queue()

    def ask(index: int, transport: DeviceTransport) -> None:
        try:
            found = list(transport.devices())
            asked = getattr(transport, "asked", None)
            answers.put((index, found, asked.message if asked is not None and not asked.answered else None))
        except ScannerError as err:
            answers.put((index, [], str(err)))
        except Exception as err:  # noqa: BLE001 - reported as a problem, never as "no device"
            answers.put((index, [], f"{transport.name}: internal error: {type(err).__name__}: {err}; please report this"))

    for index, transport in enumerate(transports):
        threading.Thread(target=ask, args=(index, transport), daemon=True).start()
    results = sorted((answers.get() for _ in transports), key=lambda answer: answer[0])
    found = sorted((d for _, devices, _ in results for d in devices), key=lambda d: (d.platform, d.serial))
    problems = [problem for _, _, problem in results if problem]
    return found, problems
