"""The scan's own lockdownd client, on pymobiledevice3's lower layers: usbmuxd, pair records, its exceptions.

Why not pymobiledevice3's LockdownClient for a scan: importing
pymobiledevice3.lockdown (through service_connection and utils) loads
questionary, prompt_toolkit, rich, pygments and cryptography, about 0.2 s
of every scan, for prompts, progress bars and pairing a scan never uses; and
each of its connections first lists every device again (`select_device`),
then probes the protocol on a connection of its own, so one iPhone costs
three ListDevices and about a dozen usbmuxd connections, and a fleet pays
the square of its size. Here the device found at discovery is used as it is:
one usbmuxd connection asks for the pair record and then becomes the lockdownd
tunnel, one more becomes the installation_proxy tunnel, and TCP sockets get
TCP_NODELAY (lockdownd's TLS records otherwise wait out a delayed ACK, ~40 ms).

The protocol is lockdownd's as pymobiledevice3 speaks it, request for
request (QueryType, GetValue, StartSession and TLS, GetValue, StartService),
with its replies turned into the same pymobiledevice3 exceptions, so
scanner.connectors.ios.errors explains both alike. Pairing (`scanner pair`)
keeps using pymobiledevice3's LockdownClient: it is the one path that needs
what this client leaves out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import plistlib
import socket
import ssl
import struct
import tempfile
import xml.parsers.expat
from pathlib import Path
from typing import Any

from pymobiledevice3 import usbmux
from pymobiledevice3.exceptions import (
    ConnectionTerminatedError,
    GetProhibitedError,
    IncorrectModeError,
    InvalidConnectionError,
    InvalidHostIDError,
    InvalidServiceError,
    LockdownError,
    MCProtectedError,
    MissingValueError,
    MuxException,
    NotPairedError,
    PairingDialogResponsePendingError,
    PairingError,
    PasscodeRequiredError,
    PasswordRequiredError,
    ProtocolError,
    PyMobileDevice3Exception,
    SessionActiveError,
    SetProhibitedError,
    StartServiceError,
    UserDeniedPairingError,
)
from pymobiledevice3.pair_records import (
    create_pairing_records_cache_folder,
    generate_host_id,
    get_itunes_pairing_record,
    get_local_pairing_record,
)

from scanner.connectors.ios.plist import loads as fast_loads

__all__ = ["LOCKDOWN_PORT", "SYSTEM_BUID", "Lockdown", "PlistStream", "mux_socket", "parse_plist"]

LOCKDOWN_PORT = 62078
SYSTEM_BUID = "30142955-444094379208051516"  # pymobiledevice3's, for a usbmuxd that cannot tell its own
MAX_FRAME = 128 * 1024 * 1024  # pymobiledevice3's bound on one message
TLS_TIMEOUT = 10.0
CLOSE_TIMEOUT = 1.0
RESTORED = "com.apple.mobile.restored"

#: lockdownd's Error codes as pymobiledevice3 raises them (LockdownClient._verify_request_response).
ERRORS: dict[str, type[PyMobileDevice3Exception]] = {
    "PasswordProtected": PasswordRequiredError,
    "PairingDialogResponsePending": PairingDialogResponsePendingError,
    "UserDeniedPairing": UserDeniedPairingError,
    "InvalidHostID": InvalidHostIDError,
    "GetProhibited": GetProhibitedError,
    "SetProhibited": SetProhibitedError,
    "MissingValue": MissingValueError,
    "InvalidService": InvalidServiceError,
    "InvalidConnection": InvalidConnectionError,
    "MCProtected": MCProtectedError,
    "PasscodeRequired": PasscodeRequiredError,
    "SessionActive": SessionActiveError,
}


def parse_plist(payload: bytes) -> Any:
    """One service message, exactly as pymobiledevice3 reads it (service_connection.parse_plist): a second try
    without control characters when expat rejects it, ProtocolError when it is no plist at all."""
    try:
        return fast_loads(payload)
    except xml.parsers.expat.ExpatError:
        payload = bytes([b for b in payload if b >= 0x20 or b in (0x09, 0x0A, 0x0D)])
        try:
            return fast_loads(payload)
        except plistlib.InvalidFileException as e:
            raise ProtocolError(f"The device sent a reply that is not a valid plist: {payload[:100].hex()}") from e
    except plistlib.InvalidFileException as e:
        raise ProtocolError(f"The device sent a reply that is not a valid plist: {payload[:100].hex()}") from e


async def mux_socket(address: str | None) -> socket.socket:
    """A new usbmuxd connection (pymobiledevice3's), with TCP_NODELAY when usbmuxd is reached over TCP."""
    sock = await usbmux.MuxConnection.create_usbmux_socket(usbmux_address=address)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def tls_context(record: dict[str, Any], *, legacy: bool = False) -> ssl.SSLContext:
    """The client TLS context lockdownd and its services expect, with the pair record's host certificate
    (pymobiledevice3's create_ssl_context); `legacy` for iOS before 5 (SSLv3 to TLS 1.0).

    Pair records made by one host often carry the same host certificate and key (every iPhone the emulator
    serves does): a context is made once per distinct certificate, key and protocol range, not once per
    device. It holds only those (no verification, no session reuse: a client context caches no sessions),
    so two devices with the same host identity share nothing else through it."""
    return _tls_context(bytes(record["HostCertificate"]), bytes(record["HostPrivateKey"]), legacy)


@functools.lru_cache(maxsize=32)
def _tls_context(certificate: bytes, key: bytes, legacy: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if legacy:
        context.minimum_version, context.maximum_version = ssl.TLSVersion.SSLv3, ssl.TLSVersion.TLSv1
    else:
        context.minimum_version, context.maximum_version = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    context.set_ciphers("ALL:!aNULL:!eNULL:@SECLEVEL=0" if ssl.OPENSSL_VERSION.lower().startswith("openssl")
                        else "ALL:!aNULL:!eNULL")
    context.options |= 0x4  # OP_LEGACY_SERVER_CONNECT (legacy iOS devices)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # load_cert_chain reads files only: the key lives on disk for the instant it is loaded, mode 0600.
    fd, name = tempfile.mkstemp(prefix="scanner-lockdown-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(certificate + b"\n" + key)
        context.load_cert_chain(name)
    finally:
        os.unlink(name)
    return context


class PlistStream:
    """Length-prefixed XML plists over one stream (a lockdownd or service connection)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._closed = False

    @classmethod
    async def open(cls, sock: socket.socket, context: ssl.SSLContext | None = None) -> PlistStream:
        """Own `sock` (a usbmuxd connection now forwarding to the device), TLS from the first byte with `context`."""
        try:
            sock.setblocking(False)
            tls = {"ssl": context, "server_hostname": "", "ssl_handshake_timeout": TLS_TIMEOUT} if context else {}
            try:
                reader, writer = await asyncio.open_connection(sock=sock, **tls)
            except OSError as e:
                raise ConnectionTerminatedError() from e
        except BaseException:
            sock.close()
            raise
        return cls(reader, writer)

    async def send_plist(self, message: dict[str, Any]) -> None:
        payload = plistlib.dumps(message)
        if self._closed:
            raise ConnectionTerminatedError()
        try:
            self.writer.write(struct.pack(">L", len(payload)) + payload)
            await self.writer.drain()
        except OSError as e:
            raise ConnectionTerminatedError() from e

    async def _read(self, size: int) -> bytes:
        if self._closed:
            raise ConnectionTerminatedError()
        try:
            return await self.reader.readexactly(size)
        except (asyncio.IncompleteReadError, OSError) as e:
            raise ConnectionTerminatedError() from e

    async def recv_plist(self) -> Any:
        (size,) = struct.unpack(">L", await self._read(4))
        if size > MAX_FRAME:
            raise ProtocolError(f"The device sent a {size}-byte message, over the {MAX_FRAME}-byte limit.")
        return parse_plist(await self._read(size))

    async def start_tls(self, context: ssl.SSLContext) -> None:
        try:
            await asyncio.wait_for(self.writer.start_tls(context, server_hostname="",
                                                         ssl_handshake_timeout=TLS_TIMEOUT), TLS_TIMEOUT)
        except (TimeoutError, OSError) as e:
            raise ConnectionTerminatedError() from e

    async def close(self) -> None:
        """Close, waiting at most CLOSE_TIMEOUT for the peer (pymobiledevice3's close_stream_writer)."""
        self._closed = True
        with contextlib.suppress(Exception):
            self.writer.close()
        with contextlib.suppress(Exception):
            try:
                await asyncio.wait_for(self.writer.wait_closed(), CLOSE_TIMEOUT)
            except TimeoutError:
                self.writer.transport.abort()


class Lockdown:
    """lockdownd of one device found at discovery; never pairs.

    `paired`, `pair_record` and `all_values` mean what they mean on
    pymobiledevice3's LockdownClient. `mux_class` is the usbmuxd protocol
    discovery found (pymobiledevice3's PlistMuxConnection, or its binary one).
    """

    def __init__(self, device: usbmux.MuxDevice, address: str | None, mux_class: type[usbmux.MuxConnection],
                 records: Path, label: str) -> None:
        self.device = device
        self.address = address
        self.mux_class = mux_class
        self.records = records
        self.label = label
        self.identifier = device.serial
        self.paired = False
        self.pair_record: dict[str, Any] | None = None
        self.all_values: dict[str, Any] = {}
        self.stream: PlistStream | None = None
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self._reconnecting = False

    @property
    def product_version(self) -> str:
        return self.all_values.get("ProductVersion") or "1.0"

    # -- usbmuxd --------------------------------------------------------------------------------

    async def _tunnel(self, port: int, *, read_record: bool = False) -> socket.socket:
        """A usbmuxd connection forwarding to `port` of the device; with `read_record`, it first asks usbmuxd for
        the pair record (ReadPairRecord), as pymobiledevice3 does on a connection of its own."""
        mux = self.mux_class(await mux_socket(self.address))
        try:
            if read_record and isinstance(mux, usbmux.PlistMuxConnection):
                try:
                    self.pair_record = await mux.get_pair_record(self.identifier)
                except NotPairedError:
                    pass
                except MuxException:  # ignored, as pymobiledevice3 does; this connection is spent
                    await mux.close()
                    mux = self.mux_class(await mux_socket(self.address))
            return await mux.connect(self.device, port)
        except BaseException:
            await mux.close()
            raise

    async def _system_buid(self) -> str:
        """usbmuxd's BUID (pymobiledevice3 asks for it on every lockdown client; needed only for a record without
        a SystemBUID)."""
        mux = self.mux_class(await mux_socket(self.address))
        try:
            return await mux.get_buid() if isinstance(mux, usbmux.PlistMuxConnection) else SYSTEM_BUID
        finally:
            await mux.close()

    # -- lockdownd ------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Reach lockdownd, read its values, and start a TLS session if a pair record is accepted."""
        create_pairing_records_cache_folder(self.records)  # as pymobiledevice3 does
        self.stream = await PlistStream.open(await self._tunnel(LOCKDOWN_PORT, read_record=True))
        if (await self.request("QueryType")).get("Type", "") != "com.apple.mobile.lockdown":
            raise IncorrectModeError()
        await self.get_values()
        await self.start_session()

    async def get_values(self) -> None:
        """All of lockdownd's values; like pymobiledevice3, a reply without a dictionary of them is not
        used (it fails there on None.get)."""
        result = await self.request("GetValue")
        value = result.get("Value") if result else None
        if not isinstance(value, dict):
            raise AttributeError(f"lockdownd's GetValue held no values ({type(value).__name__})")  # noqa: TRY004 - as pymobiledevice3 fails
        self.all_values = value

    async def start_session(self) -> None:
        """pymobiledevice3's validate_pairing, less its reconnects: `paired` if the device accepts the record."""
        if self.pair_record is None:
            self.pair_record = await self._file_record()
        if self.pair_record is None:
            return
        from packaging.version import Version  # as pymobiledevice3 compares them

        watch = self.all_values.get("DeviceClass") == "Watch"
        if Version(self.product_version) < Version("7.0") and not watch:
            try:
                await self.request("ValidatePair", {"PairRecord": self.pair_record})
            except PairingError:
                return
        host_id = self.pair_record.get("HostID") or generate_host_id()
        buid = self.pair_record.get("SystemBUID") or await self._system_buid()
        try:
            session = await self.request("StartSession", {"HostID": host_id, "SystemBUID": buid})
        except (InvalidHostIDError, InvalidConnectionError):
            return  # no such pairing on the device
        if session.get("EnableSessionSSL"):
            legacy = Version(self.product_version) < Version("5.0") and not watch
            try:
                assert self.stream is not None
                await self.stream.start_tls(self.context(legacy=legacy))
            except (ssl.SSLZeroReturnError, ConnectionTerminatedError):
                self.pair_record = None  # held, but removed on the device (pymobiledevice3 forgets it too)
                return
        self.paired = True
        await self.get_values()

    async def _file_record(self) -> dict[str, Any] | None:
        """The pair record from the files pymobiledevice3 looks in after usbmuxd: iTunes', then its own folder."""
        return get_itunes_pairing_record(self.identifier) or get_local_pairing_record(self.identifier, self.records)

    def context(self, *, legacy: bool = False) -> ssl.SSLContext:
        if self.pair_record is None:
            raise NotPairedError()
        if legacy not in self._contexts:  # one per device: the session's and the service's TLS
            self._contexts[legacy] = tls_context(self.pair_record, legacy=legacy)
        return self._contexts[legacy]

    async def request(self, name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """One lockdownd request; a dropped connection or an ended session is re-established once
        (pymobiledevice3's LockdownClient._request)."""
        message = {"Label": self.label, "Request": name, **(options or {})}
        try:
            response = await self._exchange(message)
        except ConnectionTerminatedError:
            if self._reconnecting:
                raise
            await self._reestablish()
            response = await self._exchange(message)
        try:
            return self._verify(name, response)
        except (InvalidConnectionError, LockdownError) as e:
            if not (isinstance(e, InvalidConnectionError) or e.error == "SessionInactive") or self._reconnecting:
                raise
            await self._reestablish()
            return self._verify(name, await self._exchange(message))

    async def _exchange(self, message: dict[str, Any]) -> Any:
        if self.stream is None:
            raise ConnectionTerminatedError()
        await self.stream.send_plist(message)
        return await self.stream.recv_plist()

    async def _reestablish(self) -> None:
        await self.close()
        self.paired = False
        self.stream = await PlistStream.open(await self._tunnel(LOCKDOWN_PORT))
        if self.pair_record is not None:
            self._reconnecting = True
            try:
                await self.start_session()
            finally:
                self._reconnecting = False

    def _verify(self, name: str, response: Any) -> dict[str, Any]:
        if response.get("Request") != name:
            if response.get("Type") == RESTORED:
                raise IncorrectModeError(f"Incorrect mode returned. Got: {response}")
            raise LockdownError(f"Incorrect response returned. Got: {response}", self.identifier, self.product_version)
        error = response.get("Error")
        if error is not None:
            if error == "MCChallengeRequired":
                return response
            kind = ERRORS.get(error, LockdownError)
            message = f"lockdownd failed {name}: {error}" if kind is LockdownError else (kind.describe() or error)
            if issubclass(kind, LockdownError):
                raise kind(message, self.identifier, self.product_version, error=error)
            raise kind(message)
        if response.get("Result") == "Failure":
            raise LockdownError("", self.identifier, self.product_version)
        return response

    async def start_service(self, name: str) -> PlistStream:
        """Start a service and connect to it through usbmuxd on the device found at discovery."""
        if not self.paired:
            raise NotPairedError()
        response = await self.request("StartService", {"Service": name})
        if not response or response.get("Error"):
            if response.get("Error", "") == "PasswordProtected":
                raise PasswordRequiredError("The device is protected with a passcode. Unlock it and try again.")
            raise StartServiceError(name, response.get("Error", ""))
        context = self.context() if response.get("EnableServiceSSL", False) else None
        return await PlistStream.open(await self._tunnel(response["Port"]), context)

    async def close(self) -> None:
        if self.stream is not None:
            await self.stream.close()
