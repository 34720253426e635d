"""tls_context: one SSLContext per distinct host certificate, key and protocol range, never one for another's."""

from __future__ import annotations

import ssl
import warnings

import pytest

from scanner.connectors.ios.session import tls_context
from scanner.simulator.ios_pki import host_identity


def _record(cert: bytes, key: bytes) -> dict[str, object]:
    return {"HostCertificate": cert, "HostPrivateKey": key, "HostID": "ignored"}


def test_the_same_host_identity_shares_one_context() -> None:
    ident = host_identity()
    a = tls_context(_record(bytes(ident.host_cert), bytes(ident.host_key)))
    b = tls_context(_record(bytes(ident.host_cert), bytes(ident.host_key)))  # equal bytes, other objects
    assert a is b
    assert a.verify_mode == ssl.CERT_NONE and a.minimum_version == ssl.TLSVersion.TLSv1_2


def test_another_identity_or_protocol_range_gets_its_own() -> None:
    ident = host_identity()
    host = tls_context(_record(ident.host_cert, ident.host_key))
    root = tls_context(_record(ident.root_cert, ident.root_key))  # another valid certificate and key
    with warnings.catch_warnings():  # SSLv3/TLS 1.0 are deprecated in ssl; legacy iOS (before 5) needs them
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = tls_context(_record(ident.host_cert, ident.host_key), legacy=True)
    assert host is not root and host is not legacy and root is not legacy
    assert legacy.maximum_version == ssl.TLSVersion.TLSv1


def test_a_key_that_is_not_the_certificates_fails_every_time() -> None:
    ident = host_identity()
    bad = _record(ident.host_cert, ident.root_key)  # the certificate's key is another one
    for _ in range(2):  # a failure is not remembered as a context
        with pytest.raises(ssl.SSLError):
            tls_context(bad)
    assert isinstance(tls_context(_record(ident.host_cert, ident.host_key)), ssl.SSLContext)


def test_a_record_without_its_host_certificate_is_still_an_error() -> None:
    with pytest.raises(KeyError):
        tls_context({"HostPrivateKey": host_identity().host_key})
