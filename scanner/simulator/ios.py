"""Emulated iPhones behind an emulated usbmuxd, for the real pymobiledevice3 and libimobiledevice.

Usage:

    from scanner.simulator.ios import IOSSimulator
    from scanner.simulator.profile import DeviceProfile, AppProfile, Faults

    phone = DeviceProfile(platform="ios", serial="00008110-00125C963A91801E", name="Ana's iPhone",
                          apps=(AppProfile(id="com.tencent.xin", name="WeChat", team_id="88L2Q4487U"),))
    with IOSSimulator([phone]) as sim:        # usbmuxd on a free 127.0.0.1 port, threads of this process
        os.environ.update(sim.env)            # USBMUXD_SOCKET_ADDRESS=127.0.0.1:PORT (pymobiledevice3 and
        ...                                   # libimobiledevice both read it; some pymobiledevice3 paths
                                              # read *only* the env var, so always set it)
        sim.attach(other_profile)             # Listen clients get an Attached event
        sim.detach(other_profile.serial)      # Detached event; open connections to it are cut

Isolate HOME / XDG_DATA_HOME (and pass `pairing_records_cache_folder=`) in
tests: pymobiledevice3 also looks for pair records in its own cache folder.

What it serves (plist usbmuxd protocol only): ReadBUID, ListDevices, Listen
(Attached / Detached / Paired events), Connect (port in network byte order),
ReadPairRecord, SavePairRecord, DeletePairRecord, ListListeners. Connect to
62078 reaches the device's lockdownd (ios_lockdown.py), Connect to a port that
StartService handed out reaches installation_proxy (ios_apps.py: Lookup, Browse,
Uninstall), once.

Pairing faults (profile `faults.pairing`):
- "paired": usbmuxd holds a pair record the device trusts.
- "stale": usbmuxd holds a record the device no longer knows: StartSession
  answers InvalidHostID. A Pair request then succeeds (the person taps Trust).
- "not-paired": no record; Pair succeeds and the host's SavePairRecord stores it,
  so the next connection is paired.
- "pending": Pair answers PairingDialogResponsePending, forever.
- "denied": Pair answers UserDeniedPairing.
`locked` makes Pair and StartService answer PasswordProtected. `delay`,
`drop_after_apps` and `no_complete` act on lockdownd / installation_proxy;
`uninstall_prohibited`, `uninstall_drop`, `uninstall_garbage` and `uninstall_stall`
on its Uninstall.

Trust and usbmuxd's pair records belong to a UDID for the simulator's
lifetime: detaching and re-attaching a device does not forget its pairing.
"""

from __future__ import annotations

import logging
import plistlib
import shutil
import socket
import struct
import tempfile
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from scanner.simulator.ios_lockdown import (
    EmulatedDevice,
    Trust,
    device_values,
    serve_guarded,
)
from scanner.simulator.ios_pki import ServerContexts, host_identity, make_pair_record
from scanner.simulator.ios_wire import Link, read_mux, write_mux
from scanner.simulator.profile import DeviceProfile

__all__ = ["IOSSimulator"]

log = logging.getLogger(__name__)

# usbmuxd result codes
RESULT_OK, RESULT_BADCOMMAND, RESULT_BADDEV, RESULT_CONNREFUSED, RESULT_BADVERSION = 0, 1, 2, 3, 6
ENOENT = 2  # ReadPairRecord / DeletePairRecord without a record
PRODUCT_ID = 0x12A8
USB_SPEED = 480_000_000


class IOSSimulator:
    """A usbmuxd on 127.0.0.1 with emulated iOS devices behind it, all in threads of this process."""

    def __init__(self, devices: Iterable[DeviceProfile], *, port: int | None = None,
                 service_ssl: bool = False) -> None:
        """`service_ssl`: installation_proxy asks for TLS (EnableServiceSSL); off by default."""
        self._initial = list(devices)
        for profile in self._initial:
            _check_ios(profile)
        serials = [p.serial for p in self._initial]
        if len(set(serials)) != len(serials):
            raise ValueError("two devices share a UDID")
        self._port = port or 0
        self._service_ssl = service_ssl
        self.address = ""
        self.env: dict[str, str] = {}
        self.buid = str(uuid.uuid4()).upper()
        self.host_id = str(uuid.uuid4()).upper()  # the host that "paired earlier" with the paired devices
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._devices: dict[str, EmulatedDevice] = {}
        self._trust: dict[str, Trust] = {}
        self._records: dict[str, bytes] = {}  # usbmuxd's pair-record store, by UDID
        self._removed: dict[str, set[str]] = {}  # bundle ids uninstalled, by UDID: gone for good, like on a phone
        self._listeners: set[Link] = set()
        self._links: set[Link] = set()
        self._threads: set[threading.Thread] = set()
        self._next_id = 1
        self._server: socket.socket | None = None
        self._tmp: Path | None = None
        self._contexts: ServerContexts | None = None
        self._accept_thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stop.clear()
        self._tmp = Path(tempfile.mkdtemp(prefix="scanner-ios-sim-"))
        self._contexts = ServerContexts(self._tmp)
        host_identity()  # make the keys now, not inside the first client's timeout
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", self._port))
            server.listen(128)
        except OSError:
            server.close()
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        self._server = server
        port = server.getsockname()[1]
        self.address = f"127.0.0.1:{port}"
        self.env = {"USBMUXD_SOCKET_ADDRESS": self.address}
        for profile in self._initial:
            self.attach(profile)
        self._accept_thread = threading.Thread(target=self._accept, name=f"ios-sim-{self.address}-usbmuxd",
                                               daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Close the port and every connection, and wait for the threads. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stop.set()
        try:
            server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        server.close()
        with self._lock:
            links = list(self._links)
            devices = list(self._devices.values())
            self._devices.clear()
            self._listeners.clear()
        for device in devices:
            device.unplug()
        for link in links:
            link.abort()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def threads(self) -> list[threading.Thread]:
        """The simulator's live threads (for tests that check nothing is left running)."""
        with self._lock:
            live = [t for t in self._threads if t.is_alive()]
        if self._accept_thread is not None and self._accept_thread.is_alive():
            live.append(self._accept_thread)
        return live

    # -- devices -------------------------------------------------------------------------------

    def attach(self, device: DeviceProfile) -> None:
        """Plug a device in: it shows in ListDevices and Listen clients get an Attached event."""
        _check_ios(device)
        if self._contexts is None:
            raise RuntimeError("start() the simulator before attaching devices")
        with self._lock:
            if device.serial in self._devices:
                raise ValueError(f"{device.serial} is already attached")
            trust = self._trust.get(device.serial)
            if trust is None:
                trust = self._trust[device.serial] = self._seed_pairing(device)
            emulated = EmulatedDevice(device, self._next_id, trust, self._contexts, self._stop,
                                      service_ssl=self._service_ssl,
                                      removed=self._removed.setdefault(device.serial, set()))
            self._next_id += 1
            self._devices[device.serial] = emulated
            self._broadcast(_attached(emulated))

    def detach(self, udid: str) -> None:
        """Unplug a device: a Detached event, and every open connection to it is cut."""
        with self._lock:
            emulated = self._devices.pop(udid, None)
            if emulated is None:
                raise KeyError(f"{udid} is not attached")
            self._broadcast({"MessageType": "Detached", "DeviceID": emulated.device_id})
        emulated.unplug()

    def pair_record(self, udid: str) -> dict[str, Any] | None:
        """The record usbmuxd holds for `udid` (what ReadPairRecord answers), for tests."""
        with self._lock:
            data = self._records.get(udid)
        return None if data is None else plistlib.loads(data)

    def _seed_pairing(self, device: DeviceProfile) -> Trust:
        """The first time a UDID is seen: the record usbmuxd holds and the hosts the device trusts."""
        trust = Trust()
        pairing = device.faults.pairing
        if pairing in ("paired", "stale"):
            wifi = str(device_values(device)["WiFiAddress"])
            # "stale": a record from a host the device has since forgotten (Reset Location & Privacy).
            record = make_pair_record(self.buid, wifi, None if pairing == "stale" else self.host_id)
            self._records[device.serial] = record.plist()
            if pairing == "paired":
                trust.add(record.host_id, host_identity().device_cert)
        return trust

    def _broadcast(self, event: dict[str, Any]) -> None:
        for link in list(self._listeners):
            try:
                with link.write_lock:
                    write_mux(link.sock, 0, event)
            except OSError:
                self._listeners.discard(link)
                link.abort()

    # -- usbmuxd -------------------------------------------------------------------------------

    def _accept(self) -> None:
        server = self._server
        while server is not None and not self._stop.is_set():
            try:
                sock, _ = server.accept()
            except OSError:
                return
            link = Link(sock)
            thread = threading.Thread(target=self._client, args=(link,), name=f"ios-sim-{self.address}-client",
                                      daemon=True)
            with self._lock:
                if self._stop.is_set():
                    link.close()
                    return
                self._links.add(link)
                self._threads.add(thread)
            thread.start()

    def _client(self, link: Link) -> None:
        try:
            serve_guarded(lambda: self._serve_mux(link), "usbmuxd client")
        finally:
            link.close()
            with self._lock:
                self._links.discard(link)
                self._listeners.discard(link)
                self._threads.discard(threading.current_thread())

    def _serve_mux(self, link: Link) -> None:
        while not self._stop.is_set():
            packet = read_mux(link.sock)
            if packet is None:
                return
            version, message, tag, payload = packet
            if version != 1 or message != 8:
                # Binary protocol: not served; the plist probe is what both real clients send first.
                link.sock.sendall((20).to_bytes(4, "little") + (0).to_bytes(4, "little") + (1).to_bytes(4, "little")
                                  + tag.to_bytes(4, "little") + RESULT_BADVERSION.to_bytes(4, "little"))
                continue
            request = plistlib.loads(payload)
            kind = request.get("MessageType") if isinstance(request, dict) else None
            if kind == "Connect":
                self._connect(link, tag, request)
                return
            if kind == "Listen":
                self._listen(link, tag)
                return
            with link.write_lock:
                write_mux(link.sock, tag, self._answer(str(kind), request))

    def _answer(self, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        if kind == "ReadBUID":
            return {"BUID": self.buid}
        if kind == "ListDevices":
            with self._lock:
                return {"DeviceList": [_attached(d) for d in self._devices.values()]}
        if kind == "ListListeners":
            return {"ListenerList": []}
        udid = request.get("PairRecordID")
        if kind == "ReadPairRecord":
            with self._lock:
                data = self._records.get(str(udid))
            return _result(ENOENT) if data is None else {"PairRecordData": data}
        if kind == "SavePairRecord":
            data = request.get("PairRecordData")
            if not isinstance(udid, str) or not isinstance(data, bytes):
                return _result(RESULT_BADCOMMAND)
            with self._lock:
                self._records[udid] = data
                device = self._devices.get(udid)
                if device is not None:
                    self._broadcast({"MessageType": "Paired", "DeviceID": device.device_id})
            return _result(RESULT_OK)
        if kind == "DeletePairRecord":
            with self._lock:
                found = self._records.pop(str(udid), None) is not None
            return _result(RESULT_OK if found else ENOENT)
        return _result(RESULT_BADCOMMAND)

    def _listen(self, link: Link, tag: int) -> None:
        # A listener that stops reading must not block attach()/detach() for ever.
        link.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 5, 0))
        with self._lock:
            with link.write_lock:
                write_mux(link.sock, tag, _result(RESULT_OK))
                for device in self._devices.values():
                    write_mux(link.sock, 0, _attached(device))
            self._listeners.add(link)
        link.stall()  # events are written by attach()/detach(); this thread only waits for the close

    def _connect(self, link: Link, tag: int, request: dict[str, Any]) -> None:
        device_id = request.get("DeviceID")
        raw_port = request.get("PortNumber")
        port = socket.ntohs(raw_port) if isinstance(raw_port, int) and 0 <= raw_port < 65536 else -1
        with self._lock:
            device = next((d for d in self._devices.values() if d.device_id == device_id), None)
        if device is None:
            write_mux(link.sock, tag, _result(RESULT_BADDEV))
            return
        if not device.has_port(port) or not device.add_link(link):
            write_mux(link.sock, tag, _result(RESULT_CONNREFUSED))
            return
        try:
            write_mux(link.sock, tag, _result(RESULT_OK))
            device.serve(link, port)  # from here on the socket belongs to the device
        finally:
            device.drop_link(link)


def _check_ios(profile: DeviceProfile) -> None:
    if profile.platform != "ios":
        raise ValueError(f"{profile.serial} is an {profile.platform} device, not an iOS one")


def _result(number: int) -> dict[str, Any]:
    return {"MessageType": "Result", "Number": number}


def _attached(device: EmulatedDevice) -> dict[str, Any]:
    location = 0x01100000 + device.device_id * 0x1000
    return {
        "MessageType": "Attached",
        "DeviceID": device.device_id,
        "Properties": {
            "ConnectionSpeed": USB_SPEED,
            "ConnectionType": "USB",
            "DeviceID": device.device_id,
            "LocationID": location,
            "ProductID": PRODUCT_ID,
            "SerialNumber": device.udid,
            "USBSerialNumber": device.udid.replace("-", ""),
        },
    }
