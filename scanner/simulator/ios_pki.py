"""Keys, certificates and pair records for the emulated iOS devices.

Pairing certificates follow what lockdownd and its clients exchange (empty
subject and issuer, serial 1, SHA-256, RSA-2048): a host root CA, a host leaf
and a device leaf signed by the host root. RSA key generation is the slow part
(tens of milliseconds each), so the three keys are made once per process and
shared by every emulated device: a fleet of 25 starts as fast as one. Sharing
the device key is an emulator shortcut; no client checks it.
"""

from __future__ import annotations

import functools
import hashlib
import plistlib
import ssl
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

__all__ = ["HostIdentity", "PairRecord", "ServerContexts", "device_key", "device_public_key_pem", "host_identity",
           "make_pair_record", "matches_device_key"]


@functools.cache
def _key(role: str) -> RSAPrivateKey:
    """One RSA key per role per process (role only keys the cache)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pkcs8(key: RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _builder(public_key: RSAPublicKey) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    empty = x509.Name([])
    return (x509.CertificateBuilder().subject_name(empty).issuer_name(empty).public_key(public_key)
            .serial_number(1).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=3650)))


def _leaf(public_key: RSAPublicKey, root_key: RSAPrivateKey, *, ski: bool) -> x509.Certificate:
    builder = (_builder(public_key)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False),
                              critical=True))
    if ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    return builder.sign(root_key, hashes.SHA256())


def device_key() -> RSAPrivateKey:
    """The private key every emulated device uses for its TLS side of a session."""
    return _key("device")


def device_key_pem() -> bytes:
    return _pkcs8(device_key())


@functools.cache
def device_public_key_pem() -> bytes:
    """`DevicePublicKey` as lockdownd reports it: PKCS#1 "RSA PUBLIC KEY" PEM."""
    return device_key().public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)


def matches_device_key(certificate_pem: bytes) -> bool:
    """Whether a DeviceCertificate a host sent in Pair was made for this device's key.

    Looks for the key's modulus in the DER instead of parsing the certificate:
    libimobiledevice issues serial number 0, which cryptography is deprecating.
    """
    try:
        der = ssl.PEM_cert_to_DER_cert(certificate_pem.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return False
    modulus = device_key().public_key().public_numbers().n
    return modulus.to_bytes((modulus.bit_length() + 7) // 8, "big") in der


@dataclass(frozen=True)
class HostIdentity:
    """The certificates of the host that 'paired earlier' with the pre-trusted devices."""

    root_cert: bytes
    root_key: bytes
    host_cert: bytes
    host_key: bytes
    device_cert: bytes


@functools.cache
def host_identity() -> HostIdentity:
    root_key, host_key = _key("root"), _key("host")
    root = (_builder(root_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256()))
    host = _leaf(host_key.public_key(), root_key, ski=False)
    device = _leaf(device_key().public_key(), root_key, ski=True)
    return HostIdentity(_cert_pem(root), _pkcs8(root_key), _cert_pem(host), _pkcs8(host_key), _cert_pem(device))


@dataclass(frozen=True)
class PairRecord:
    """A host-side pair record; `plist()` is what usbmuxd hands out in ReadPairRecord."""

    host_id: str
    system_buid: str
    wifi_mac: str

    def fields(self) -> dict[str, object]:
        ident = host_identity()
        return {
            "DeviceCertificate": ident.device_cert,
            "EscrowBag": uuid.uuid5(uuid.NAMESPACE_OID, self.host_id).bytes * 2,
            "HostCertificate": ident.host_cert,
            "HostID": self.host_id,
            "HostPrivateKey": ident.host_key,
            "RootCertificate": ident.root_cert,
            "RootPrivateKey": ident.root_key,
            "SystemBUID": self.system_buid,
            "WiFiMACAddress": self.wifi_mac,
        }

    def plist(self) -> bytes:
        return plistlib.dumps(self.fields())


def make_pair_record(system_buid: str, wifi_mac: str, host_id: str | None = None) -> PairRecord:
    return PairRecord(host_id or str(uuid.uuid4()).upper(), system_buid, wifi_mac)


class ServerContexts:
    """The device side's TLS contexts, one per DeviceCertificate (the one from that host's pairing).

    The stdlib can only load a certificate chain from a file, so the PEM goes
    to `directory` (the simulator's temporary directory). No client
    certificate is requested: OpenSSL cannot chain pairing certificates, whose
    subject and issuer are both empty, and neither real client verifies the
    device either.
    """

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._contexts: dict[bytes, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def get(self, device_cert_pem: bytes) -> ssl.SSLContext:
        with self._lock:
            context = self._contexts.get(device_cert_pem)
            if context is None:
                path = self._dir / f"device-{hashlib.sha256(device_cert_pem).hexdigest()[:16]}.pem"
                path.write_bytes(device_cert_pem + b"\n" + device_key_pem())
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.verify_mode = ssl.CERT_NONE
                context.num_tickets = 0
                context.load_cert_chain(str(path))
                self._contexts[device_cert_pem] = context
            return context
