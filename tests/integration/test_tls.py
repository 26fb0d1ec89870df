"""Initiator and acceptor over TLS and mutual TLS, with a throwaway CA made
in the test by the ``cryptography`` package (a dependency of the engine,
so never missing)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.integration.conftest import (
    Engines,
    FastBackoff,
    RecordingApp,
    acceptor,
    initiator,
    new_order,
    port_of,
    wait_until,
)

pytestmark = pytest.mark.integration

CLIENT = "FIX.4.4:CLIENT->BROKER"


@dataclasses.dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed neither


def _name(cn: str) -> Any:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def _write_cert(cert: Any, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _ca(cn: str) -> tuple[Any, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _leaf(cn: str, ca: Any, ca_key: ec.EllipticCurvePrivateKey, *, server: bool
          ) -> tuple[Any, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(
                   [ExtendedKeyUsageOID.SERVER_AUTH if server
                    else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca, ca_key = _ca("Test FIX CA")
    server, server_key = _leaf("broker.test", ca, ca_key, server=True)
    client, client_key = _leaf("CLIENT", ca, ca_key, server=False)
    other, _ = _ca("Some Other CA")
    return Pki(
        ca=_write_cert(ca, d / "ca.pem"),
        server_cert=_write_cert(server, d / "server.pem"),
        server_key=_write_key(server_key, d / "server.key"),
        client_cert=_write_cert(client, d / "client.pem"),
        client_key=_write_key(client_key, d / "client.key"),
        other_ca=_write_cert(other, d / "other-ca.pem"),
    )


def server_tls(pki: Pki, *, mutual: bool) -> dict[str, Any]:
    tls: dict[str, Any] = {"enabled": True, "certFile": str(pki.server_cert),
                           "keyFile": str(pki.server_key)}
    if mutual:
        tls.update(requireClientCert=True, caFile=str(pki.ca))
    return tls


def client_tls(pki: Pki, *, cert: bool, ca: Path | None = None) -> dict[str, Any]:
    tls: dict[str, Any] = {"enabled": True, "caFile": str(ca or pki.ca)}
    if cert:
        tls.update(certFile=str(pki.client_cert), keyFile=str(pki.client_key))
    return tls


async def exchange(engines: Engines, server: dict[str, Any], client: dict[str, Any]
                   ) -> tuple[RecordingApp, RecordingApp]:
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor(tls=server)])
    app = RecordingApp("client")
    ini = await engines.start("memory://", app, [initiator(port_of(acc), tls=client)])
    await ini.wait_logged_on(CLIENT, 5)
    for i in range(5):
        await ini.driver(CLIENT).send(new_order(f"tls-{i}"))
    await wait_until(lambda: len(app.ids("8")) == 5, 5, "the reports over TLS")
    conn = ini.driver(CLIENT)._conn
    assert conn is not None and conn.writer.get_extra_info("ssl_object") is not None
    return broker, app


async def test_tls(engines: Engines, pki: Pki) -> None:
    broker, _ = await exchange(engines, server_tls(pki, mutual=False),
                               client_tls(pki, cert=False))
    assert broker.ids("D") == [f"tls-{i}" for i in range(5)]


async def test_mutual_tls(engines: Engines, pki: Pki) -> None:
    broker, _ = await exchange(engines, server_tls(pki, mutual=True),
                               client_tls(pki, cert=True))
    assert broker.ids("D") == [f"tls-{i}" for i in range(5)]


async def test_client_without_certificate_is_refused(engines: Engines, pki: Pki,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor(tls=server_tls(pki, mutual=True))])
    app = RecordingApp("client")
    backoff = FastBackoff(0.02)
    ini = await engines.start("memory://", app,
                              [initiator(port_of(acc), tls=client_tls(pki, cert=False))],
                              backoff=backoff)
    await wait_until(lambda: backoff.calls >= 3, 5, "a few refused attempts")
    assert broker.logons == 0 and app.logons == 0
    assert not ini.driver(CLIENT).logged_on
    assert not acc.driver("FIX.4.4:BROKER->CLIENT").connected
    refusals = [r for r in caplog.records if r.name == "pyfixmsg_plus.transport"
                and "TLS handshake failed" in r.getMessage()]
    assert refusals and refusals[0].levelno == logging.WARNING
    assert "certificate" in refusals[0].getMessage()


async def test_wrong_ca_fails_the_handshake_with_a_clear_log(
        engines: Engines, pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor(tls=server_tls(pki, mutual=False))])
    app = RecordingApp("client")
    backoff = FastBackoff(0.02)
    ini = await engines.start("memory://", app, [initiator(
        port_of(acc), tls=client_tls(pki, cert=False, ca=pki.other_ca))], backoff=backoff)
    await wait_until(lambda: backoff.calls >= 2, 5, "a few failed handshakes")
    assert broker.logons == 0 and app.logons == 0
    assert ini.initiators[CLIENT].connections == 0
    failures = [r for r in caplog.records if r.name == "pyfixmsg_plus.transport"
                and "certificate verify failed" in r.getMessage()]
    assert failures, [r.getMessage() for r in caplog.records]
    assert failures[0].levelno >= logging.WARNING
    assert "TLS" in failures[0].getMessage()
    # the acceptor sees the initiator hang up in the middle of the handshake
    assert any("TLS handshake failed" in r.getMessage() for r in caplog.records
               if r.name == "pyfixmsg_plus.transport" and r.levelno == logging.WARNING)
