"""lockdownd of one emulated iOS device, and the services it starts.

What a real client sees (pymobiledevice3, libimobiledevice): QueryType,
GetValue (a public subset before a session, everything inside one), Pair with
the real pairing errors, StartSession with in-band TLS on the same socket,
StopSession back to plaintext, StartService handing out a one-shot port that
the client reaches through usbmuxd Connect.

Which host the device trusts lives in `Trust`, which outlives an unplug: a
re-attached device still trusts the hosts it trusted before.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import secrets
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scanner.simulator.ios_apps import (
    SERVICE_NAME,
    AppCatalog,
    serve_installation_proxy,
)
from scanner.simulator.ios_pki import (
    ServerContexts,
    device_public_key_pem,
    matches_device_key,
)
from scanner.simulator.ios_wire import Link, read_plist, write_plist
from scanner.simulator.profile import DeviceProfile

__all__ = ["LOCKDOWN_PORT", "EmulatedDevice", "Trust", "device_values"]

log = logging.getLogger(__name__)

LOCKDOWN_PORT = 62078
DEFAULT_PRODUCT_TYPE = "iPhone15,2"
DEFAULT_VERSION = "17.5.1"
DEFAULT_BUILDS = {"15": "19H384", "16": "20H343", "17": "21F90", "18": "22F76", "26": "23A341"}  # by major version
_HARDWARE = {  # ProductType -> (HardwareModel, HardwarePlatform); others get a neutral pair
    "iPhone15,2": ("D73AP", "t8120"), "iPhone15,3": ("D74AP", "t8120"), "iPhone14,5": ("D17AP", "t8110"),
    "iPhone14,7": ("D27AP", "t8110"), "iPhone13,2": ("D53gAP", "t8101"), "iPhone12,1": ("N104AP", "t8030"),
    "iPhone16,1": ("D83AP", "t8130"), "iPhone16,2": ("D84AP", "t8130"), "iPad13,4": ("J517AP", "t8103"),
}
#: Readable before a session (emulator choice, modelled on what an untrusted device shows).
PUBLIC_KEYS = ("BuildVersion", "DeviceClass", "DeviceColor", "DeviceName", "DevicePublicKey", "HardwareModel",
               "HostAttached", "ProductName", "ProductType", "ProductVersion", "ProtocolVersion", "UniqueChipID",
               "UniqueDeviceID", "WiFiAddress")


def _hexdigest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _mac(udid: str, kind: str) -> str:
    h = _hexdigest(kind, udid)
    return ":".join(h[i:i + 2] for i in range(0, 12, 2))


def device_values(profile: DeviceProfile) -> dict[str, Any]:
    """Every lockdownd value (default domain) of the device, from its profile."""
    udid = profile.serial
    product_type = profile.product_type or DEFAULT_PRODUCT_TYPE
    model, platform = _HARDWARE.get(product_type, ("N/A", "N/A"))
    digits = udid.replace("-", "")
    try:
        ecid = int(digits[8:], 16) if len(digits) == 24 else int(_hexdigest("ecid", udid)[:13], 16)
    except ValueError:
        ecid = int(_hexdigest("ecid", udid)[:13], 16)
    device_class = next((c for c in ("iPhone", "iPad", "iPod", "Watch") if product_type.startswith(c)), "iPhone")
    version = profile.os_version or DEFAULT_VERSION
    serial = profile.hardware_serial or ("F" + _hexdigest("serial", udid)[:11].upper())
    return {
        "ActivationState": "Activated",
        "BasebandVersion": "2.60.01",
        "BluetoothAddress": _mac(udid, "bt"),
        "BuildVersion": profile.build_version or DEFAULT_BUILDS.get(version.split(".")[0], "21F90"),
        "CPUArchitecture": "arm64e",
        "DeviceClass": device_class,
        "DeviceColor": "1",
        "DeviceName": profile.name or device_class,
        "DevicePublicKey": device_public_key_pem(),
        "EthernetAddress": _mac(udid, "eth"),
        "FirmwareVersion": "iBoot-10151.122.1",
        "HardwareModel": model,
        "HardwarePlatform": platform,
        "HostAttached": True,
        "ModelNumber": "MQ0T3",
        "PasswordProtected": profile.faults.locked,
        "ProductName": "iPhone OS",
        "ProductType": product_type,
        "ProductVersion": version,
        "ProtocolVersion": "2",
        "RegionInfo": "LL/A",
        "SerialNumber": serial,
        "TimeZone": "America/New_York",
        "TrustedHostAttached": True,
        "UniqueChipID": ecid,
        "UniqueDeviceID": udid,
        "WiFiAddress": _mac(udid, "wifi"),
    }


_DOMAINS: dict[str, dict[str, Any]] = {
    "com.apple.disk_usage": {"TotalDiskCapacity": 128_000_000_000, "TotalDataCapacity": 110_000_000_000,
                             "TotalDataAvailable": 41_000_000_000, "AmountDataAvailable": 41_000_000_000},
    "com.apple.mobile.battery": {"BatteryCurrentCapacity": 87, "BatteryIsCharging": True},
    "com.apple.international": {"Language": "en", "Locale": "en_US"},
}


@dataclass
class Trust:
    """The hosts a device trusts: HostID -> the DeviceCertificate that host made when it paired."""

    hosts: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def certificate(self, host_id: str) -> bytes | None:
        with self.lock:
            return self.hosts.get(host_id)

    def add(self, host_id: str, device_cert: bytes) -> None:
        with self.lock:
            self.hosts[host_id] = device_cert

    def remove(self, host_id: str) -> None:
        with self.lock:
            self.hosts.pop(host_id, None)


class EmulatedDevice:
    """One attached device: its lockdownd, its started services, its open connections."""

    _ports = itertools.count()  # shared, so that ports look like a real device's ephemeral ones

    def __init__(self, profile: DeviceProfile, device_id: int, trust: Trust, contexts: ServerContexts,
                 stop: threading.Event, *, service_ssl: bool = False, removed: set[str] | None = None) -> None:
        self.profile = profile
        self.device_id = device_id
        self.udid = profile.serial
        self.values = device_values(profile)
        self.catalog = AppCatalog(profile, removed)
        self.trust = trust
        self._contexts = contexts
        self._stop = stop
        self._service_ssl = service_ssl
        self._services: dict[int, tuple[str, str]] = {}  # port -> (service, host id); one Connect each
        self._lock = threading.Lock()
        self.links: set[Link] = set()
        self.detached = False

    # -- helpers -------------------------------------------------------------------------------

    def pause(self) -> None:
        """The device's `delay` fault: wait before answering (cut short when the simulator stops)."""
        if self.profile.faults.delay > 0:
            self._stop.wait(self.profile.faults.delay)

    def add_link(self, link: Link) -> bool:
        with self._lock:
            if self.detached:
                return False
            self.links.add(link)
            return True

    def drop_link(self, link: Link) -> None:
        with self._lock:
            self.links.discard(link)

    def unplug(self) -> None:
        """Every connection to the device dies, as when the cable is pulled."""
        with self._lock:
            self.detached = True
            links = list(self.links)
            self._services.clear()
        for link in links:
            link.abort()

    def has_port(self, port: int) -> bool:
        with self._lock:
            return port == LOCKDOWN_PORT or port in self._services

    def _start_tls(self, link: Link, host_id: str) -> None:
        cert = self.trust.certificate(host_id)
        if cert is None:
            raise ConnectionError(f"no pairing for host {host_id}")
        tls = self._contexts.get(cert).wrap_socket(link.sock, server_side=True, do_handshake_on_connect=False)
        link.sock = tls  # before the handshake, so that abort() can reach a client that never sends one
        tls.do_handshake()

    # -- connections ---------------------------------------------------------------------------

    def serve(self, link: Link, port: int) -> None:
        """Serve a usbmuxd Connect to `port` (already answered with Result 0) until it ends."""
        if port == LOCKDOWN_PORT:
            self._serve_lockdown(link)
            return
        with self._lock:
            started = self._services.pop(port, None)
        if started is None:
            return
        service, host_id = started
        if self._service_ssl:
            self._start_tls(link, host_id)
        if service == SERVICE_NAME:
            serve_installation_proxy(link, self.catalog, self.profile, self.pause)

    def _serve_lockdown(self, link: Link) -> None:
        session: str | None = None  # HostID of the running session
        while True:
            request = read_plist(link.sock)
            if request is None:
                return
            name = request.get("Request")
            self.pause()
            if name == "StartSession":
                reply = self._start_session(request, session)
                write_plist(link.sock, reply)
                if "SessionID" in reply:
                    session = str(request["HostID"])
                    self._start_tls(link, session)
            elif name == "StopSession":
                write_plist(link.sock, {"Request": "StopSession", "Result": "Success"})
                if session is not None and isinstance(link.sock, ssl.SSLSocket):
                    # libimobiledevice sends close_notify and goes on in plaintext on the same socket.
                    link.sock = link.sock.unwrap()
                session = None
            elif name == "Goodbye":
                write_plist(link.sock, {"Request": "Goodbye", "Result": "Success"})
                return
            else:
                write_plist(link.sock, self._answer(str(name), request, session))

    # -- requests ------------------------------------------------------------------------------

    def _answer(self, name: str, request: dict[str, Any], session: str | None) -> dict[str, Any]:
        if name == "QueryType":
            return {"Request": name, "Type": "com.apple.mobile.lockdown"}
        if name == "GetValue":
            return self._get_value(request, session)
        if name == "SetValue" or name == "RemoveValue":
            return {"Request": name, "Error": "SetProhibited" if name == "SetValue" else "RemoveProhibited"}
        if name == "Pair":
            return self._pair(request)
        if name == "ValidatePair":
            host = (request.get("PairRecord") or {}).get("HostID")
            if isinstance(host, str) and self.trust.certificate(host) is not None:
                return {"Request": name}
            return {"Request": name, "Error": "InvalidHostID"}
        if name == "Unpair":
            host = (request.get("PairRecord") or {}).get("HostID")
            if isinstance(host, str):
                self.trust.remove(host)
            return {"Request": name}
        if name == "StartService":
            return self._start_service(request, session)
        return {"Request": name, "Error": "InvalidRequest"}

    def _get_value(self, request: dict[str, Any], session: str | None) -> dict[str, Any]:
        key, domain = request.get("Key"), request.get("Domain")
        reply: dict[str, Any] = {"Request": "GetValue"}
        if key is not None:
            reply["Key"] = key
        if domain is not None:
            reply["Domain"] = domain
            if session is None:
                return {**reply, "Error": "GetProhibited"}
            values = _DOMAINS.get(str(domain))
            if values is None:
                return reply if key is None else {**reply, "Error": "MissingValue"}
        else:
            values = self.values if session is not None else {k: self.values[k] for k in PUBLIC_KEYS}
        if key is None:
            return {**reply, "Value": dict(values)}
        if key in values:
            return {**reply, "Value": values[key]}
        if session is None and domain is None and key in self.values:
            return {**reply, "Error": "GetProhibited"}
        return {**reply, "Error": "MissingValue"}

    def _pair(self, request: dict[str, Any]) -> dict[str, Any]:
        record = request.get("PairRecord")
        faults = self.profile.faults
        if not isinstance(record, dict) or not all(
                k in record for k in ("HostID", "DeviceCertificate", "HostCertificate", "RootCertificate")):
            return {"Request": "Pair", "Error": "InvalidPairRecord"}
        if faults.locked:
            return {"Request": "Pair", "Error": "PasswordProtected"}  # the Trust dialog needs an unlocked screen
        if faults.pairing == "pending":
            return {"Request": "Pair", "Error": "PairingDialogResponsePending"}
        if faults.pairing == "denied":
            return {"Request": "Pair", "Error": "UserDeniedPairing"}
        device_cert = record["DeviceCertificate"]
        if not isinstance(device_cert, bytes) or not matches_device_key(device_cert):
            return {"Request": "Pair", "Error": "InvalidPairRecord"}
        # The person taps Trust (and enters the passcode, if any): the host is trusted from now on.
        self.trust.add(str(record["HostID"]), device_cert)
        return {"Request": "Pair", "EscrowBag": secrets.token_bytes(48)}

    def _start_session(self, request: dict[str, Any], session: str | None) -> dict[str, Any]:
        if session is not None:
            return {"Request": "StartSession", "Error": "SessionActive"}
        host = request.get("HostID")
        if not isinstance(host, str) or self.trust.certificate(host) is None:
            return {"Request": "StartSession", "Error": "InvalidHostID"}
        return {"Request": "StartSession", "SessionID": str(uuid.uuid4()).upper(), "EnableSessionSSL": True}

    def _start_service(self, request: dict[str, Any], session: str | None) -> dict[str, Any]:
        service = request.get("Service")
        reply: dict[str, Any] = {"Request": "StartService", "Service": service}
        if session is None:
            return {**reply, "Error": "SessionInactive"}
        if self.profile.faults.locked:
            return {**reply, "Error": "PasswordProtected"}
        if service != SERVICE_NAME:
            return {**reply, "Error": "InvalidService"}
        port = 49152 + next(self._ports) % 16000
        with self._lock:
            self._services[port] = (service, session)
        reply["Port"] = port
        if self._service_ssl:
            reply["EnableServiceSSL"] = True
        return reply


def serve_guarded(action: Callable[[], None], what: str) -> None:
    """Run a connection handler; a client that goes away is normal, anything else is logged."""
    try:
        action()
    except (OSError, ConnectionError, ssl.SSLError, ValueError) as err:
        log.debug("%s ended: %s", what, err)
    except Exception:  # a bug in the emulator must not kill the thread silently
        log.exception("%s failed", what)
