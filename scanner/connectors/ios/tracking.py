"""Following usbmuxd's plug events for `scanner watch`: its `Listen` service, through pymobiledevice3.

pymobiledevice3's mux connection keeps the device list up to date from the
Attached/Detached events. A UDID seen on USB or Wi-Fi is one device; it is
scanned when it first appears. A usbmuxd that is not there (not started
yet, restarting) is retried every RETRY seconds and noted once per outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from pymobiledevice3 import usbmux

from scanner.connectors.interface import Notify, Plugs, Stopping
from scanner.connectors.ios.usbmux import Usbmux
from scanner.connectors.outage import RETRY, Outage, why
from scanner.terminal.text import safe

__all__ = ["RETRY", "track"]



def track(mux: Usbmux, plugs: Plugs, stop: Stopping, *, notify: Notify) -> None:
    """Follow usbmuxd at `mux`'s address until `stop`, telling `plugs` what comes and goes.

    An event loop of its own in the calling thread; `stop` cancels it from a watcher thread, so a tracker
    waiting on usbmuxd ends at once.
    """
    loop = asyncio.new_event_loop()
    ended = threading.Event()
    try:
        task = loop.create_task(_follow(mux, plugs, stop, notify))

        def cancel_on_stop() -> None:
            while not stop.wait(0.5):
                if ended.is_set():
                    return
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(task.cancel)

        threading.Thread(target=cancel_on_stop, name="watch-usbmux-stop", daemon=True).start()
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    finally:
        ended.set()
        loop.close()


async def _follow(mux: Usbmux, plugs: Plugs, stop: Stopping, notify: Notify) -> None:
    if mux.address_error is not None:
        notify(f"usbmuxd address: {mux.address_error}")
        plugs.answering("ios", "usbmux", mux.given or "", f"usbmuxd address: {mux.address_error}")
        return
    address, where = mux.address, mux.where
    outage = Outage(plugs, notify, "ios", "usbmux", where)
    while not stop.is_set():
        try:
            connection = await usbmux.create_mux(usbmux_address=address)
        except Exception as err:  # noqa: BLE001 - ConnectionFailedToUsbmuxdError, OSError, a garbled answer
            outage.unreachable(
                f"usbmuxd is not reachable at {where} ({why(err)}); iPhones will be scanned once it is (Linux: "
                f"`systemctl start usbmuxd`), retrying every {RETRY:.0f} s",
                f"usbmuxd was not reachable at {where} ({why(err)}), so iPhones and iPads attached then were not "
                f"seen; start it (Linux: systemctl start usbmuxd), or watch only Android devices on purpose with "
                f"--platform android")
            await asyncio.sleep(RETRY)
            continue
        try:
            await connection.listen()
            outage.answers(f"usbmuxd at {where} answers again")
            known: set[str] = set()
            while not stop.is_set():
                now = {d.serial for d in connection.devices if isinstance(d.serial, str) and d.serial}
                plugs.attached("ios", {("ios", udid) for udid in now})
                for udid in sorted(now - known):
                    plugs.scan("ios", udid, "attached")
                for udid in sorted(known - now):
                    notify(f"ios {safe(udid, limit=200)}: unplugged")
                known = now
                await connection.receive_device_state_update()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - usbmuxd went away or answered garbage: reconnect
            if not stop.is_set():
                outage.lost(
                    f"lost usbmuxd at {where} ({why(err)}); retrying every {RETRY:.0f} s",
                    f"usbmuxd at {where} went away ({why(err)}), so iPhones and iPads attached since were not "
                    f"seen; start it again and rescan")
                await asyncio.sleep(RETRY)
        finally:
            await connection.close()

