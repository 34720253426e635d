"""A whole emulated fleet: the Android and iOS simulators of one profile, run together.

`scanner simulate`, `scanner demo`, the fleet benchmark and the tests all
start devices the same way through this class:

    with Fleet(load_profile(default_profile_path()).devices) as fleet:
        fleet.env            # {"ANDROID_ADB_SERVER_PORT": ..., "USBMUXD_SOCKET_ADDRESS": ...}
        fleet.detach("SIMPIXEL7A"); fleet.attach("SIMPIXEL7A")   # unplug, plug back in
        fleet.authorize("R5CT123")  # an unauthorized phone's prompt accepted

A transport is started only for a platform the profile has devices of. The
Android side (a real adb server process) and the iOS side (threads) start
side by side, since the adb server is the slow one. `stop()` stops both and
is safe to call from a signal handler's aftermath or twice.
"""

from __future__ import annotations

import threading
from typing import Iterable, Self

from scanner.simulator.profile import DeviceProfile

__all__ = ["Fleet"]


class Fleet:
    """The devices of a profile behind an emulated adb server and usbmuxd on 127.0.0.1."""

    def __init__(self, devices: Iterable[DeviceProfile], *, adb_port: int | None = None,
                 usbmuxd_port: int | None = None, every_transport: bool = False) -> None:
        self.profiles: dict[str, DeviceProfile] = {}
        for device in devices:
            if device.serial in self.profiles:
                raise ValueError(f"two devices share the serial {device.serial!r}")
            self.profiles[device.serial] = device
        self._adb_port = adb_port
        self._usbmuxd_port = usbmuxd_port
        # Serve an adb server and a usbmuxd even for a platform without devices: a scan pointed at the fleet
        # then asks only emulated transports, never the real port 5037 or /var/run/usbmuxd of this machine.
        self._every_transport = every_transport
        self.android = None  # AndroidSimulator, once started
        self.ios = None  # IOSSimulator, once started
        self.attached: set[str] = set()
        self._lock = threading.Lock()

    @property
    def platforms(self) -> list[str]:
        return [p for p in ("android", "ios") if any(d.platform == p for d in self.profiles.values())]

    def start(self) -> Self:
        from scanner.simulator.android import AndroidSimulator
        from scanner.simulator.ios import IOSSimulator

        android = [d for d in self.profiles.values() if d.platform == "android"]
        ios = [d for d in self.profiles.values() if d.platform == "ios"]
        failure: list[BaseException] = []

        def start_android() -> None:
            try:
                self.android = AndroidSimulator(android, adb_port=self._adb_port).start()
            except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(err)

        worker = None
        try:
            if android or self._every_transport:
                worker = threading.Thread(target=start_android, name="fleet-android-start", daemon=True)
                worker.start()
            if ios or self._every_transport:
                self.ios = IOSSimulator(ios, port=self._usbmuxd_port).start()
            if worker is not None:
                worker.join()
            if failure:
                raise failure[0]
        except BaseException:
            if worker is not None:
                worker.join()
            self.stop()
            raise
        self.attached = set(self.profiles)
        return self

    def stop(self) -> None:
        """Stop both simulators (the adb server by its PID). Idempotent."""
        android, self.android = self.android, None
        ios, self.ios = self.ios, None
        try:
            if ios is not None:
                ios.stop()
        finally:
            if android is not None:
                android.stop()
        self.attached = set()

    def check(self) -> None:
        """Raise SimulatorError unless the adb server runs and answers: nobody is told `ready` for a dead one."""
        if self.android is not None:
            self.android.check()

    def exited(self) -> str | None:
        """Why the fleet can no longer serve (its adb server died), or None; cheap enough to poll."""
        return self.android.exited() if self.android is not None else None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def env(self) -> dict[str, str]:
        """What a client needs in its environment to see the fleet."""
        env: dict[str, str] = {}
        if self.android is not None:
            env.update(self.android.env)
        if self.ios is not None:
            env.update(self.ios.env)
        return env

    @property
    def adb_server(self) -> str | None:
        return f"127.0.0.1:{self.android.adb_port}" if self.android is not None else None

    @property
    def usbmuxd(self) -> str | None:
        return self.ios.address if self.ios is not None else None

    @property
    def pids(self) -> list[int]:
        """Processes the fleet started (the adb server)."""
        return list(self.android.pids) if self.android is not None else []

    def attach(self, serial: str) -> None:
        """Plug a device of the profile back in (Android: ro.serialno; iOS: UDID)."""
        with self._lock:
            device = self._known(serial)
            if serial in self.attached:
                raise ValueError(f"{serial} is already attached")
            self._simulator(device).attach(device)
            self.attached.add(serial)

    def detach(self, serial: str) -> None:
        """Unplug a device: adb sees it go, usbmuxd sends Detached."""
        with self._lock:
            device = self._known(serial)
            if serial not in self.attached:
                raise ValueError(f"{serial} is not attached")
            self._simulator(device).detach(serial)
            self.attached.discard(serial)

    def authorize(self, serial: str) -> None:
        """Accept an unauthorized Android phone's "Allow USB debugging?" prompt."""
        with self._lock:
            device = self._known(serial)
            if device.platform != "android" or serial not in self.attached:
                raise ValueError(f"{serial} is not an attached Android device")
            self._simulator(device).authorize(serial)

    def _known(self, serial: str) -> DeviceProfile:
        if serial not in self.profiles:
            raise KeyError(f"no device {serial!r} in the profile (known: {', '.join(sorted(self.profiles))})")
        return self.profiles[serial]

    def _simulator(self, device: DeviceProfile):
        simulator = self.android if device.platform == "android" else self.ios
        if simulator is None:
            raise RuntimeError("the fleet is not running")
        return simulator
