"""The acceptor's certificate rotated twice under a live mutual-TLS session,
the way a Kubernetes Secret volume changes (a new folder, the ``..data``
symlink swapped): every new connection sees the new certificate, the live
session goes on without a reconnect."""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from tests.integration.conftest import (
    Engines,
    RecordingApp,
    acceptor,
    initiator,
    new_order,
    port_of,
    wait_until,
)
from tests.security.pki import Issued, Pki

pytestmark = pytest.mark.integration

CLIENT = "FIX.4.4:CLIENT->BROKER"
BROKER = "FIX.4.4:BROKER->CLIENT"


def secret_volume(root: Path, version: str, files: dict[str, Path]) -> None:
    """Publish ``files`` as a Secret volume update: folder, then ``..data`` swap."""
    folder = root / f"..{version}"
    folder.mkdir()
    for name, source in files.items():
        (folder / name).write_bytes(source.read_bytes())
    tmp = root / "..data_tmp"
    tmp.symlink_to(folder.name)
    os.replace(tmp, root / "..data")
    for name in files:
        if not (root / name).is_symlink():
            (root / name).symlink_to(f"..data/{name}")


async def presented_serial(port: int, pki: Pki, client: Issued) -> int:
    """Handshake a new connection; the serial of the certificate the acceptor shows."""
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=pki.client_context(client), server_hostname="localhost")
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return int(x509.load_der_x509_certificate(der).serial_number)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_certificate_rotated_twice_under_a_live_mutual_tls_session(
        engines: Engines, tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    servers = [pki.issue(f"server{i}", "broker.test", server=True) for i in range(3)]
    client = pki.issue("client", "CLIENT")
    volume = tmp_path / "secret"
    volume.mkdir()

    def publish(i: int) -> None:
        secret_volume(volume, f"v{i}", {"tls.crt": servers[i].cert, "tls.key": servers[i].key,
                                        "ca.crt": pki.ca})

    publish(0)
    broker = RecordingApp("broker", broker=True)
    acc = await engines.start("memory://", broker, [acceptor(tls={
        "enabled": True, "certFile": str(volume / "tls.crt"), "keyFile": str(volume / "tls.key"),
        "caFile": str(volume / "ca.crt"), "requireClientCert": True})])
    port = port_of(acc)
    app = RecordingApp("client")
    ini = await engines.start("memory://", app, [initiator(port, tls={
        "enabled": True, "caFile": str(pki.ca), "certFile": str(client.cert),
        "keyFile": str(client.key)})])
    await ini.wait_logged_on(CLIENT, 10)
    live = ini.driver(CLIENT)._conn
    assert await presented_serial(port, pki, client) == servers[0].serial

    sent = [0]

    async def orders(n: int, what: str) -> None:
        for _ in range(n):
            await ini.driver(CLIENT).send(new_order(f"order-{sent[0]}"))
            sent[0] += 1
        await wait_until(lambda: len(app.ids("8")) == sent[0], 10, what)

    for rotation in (1, 2):
        await orders(5, "the reports")
        publish(rotation)
        # a new connection sees the new certificate at once ...
        assert await presented_serial(port, pki, client) == servers[rotation].serial
        # ... and the live session goes on over its first connection
        await orders(1, "a report after the rotation")
        assert ini.driver(CLIENT)._conn is live

    assert broker.ids("D") == [f"order-{i}" for i in range(sent[0])]
    assert app.logons == 1 and broker.logons == 1
    assert ini.initiators[CLIENT].connections == 1
    assert acc.driver(BROKER).logged_on and ini.driver(CLIENT).logged_on


async def test_a_broken_update_keeps_the_previous_certificate(
        engines: Engines, tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    good = pki.issue("good", "broker.test", server=True)
    other = pki.issue("other", "broker.test", server=True)
    client = pki.issue("client", "CLIENT")
    volume = tmp_path / "secret"
    volume.mkdir()
    secret_volume(volume, "v1", {"tls.crt": good.cert, "tls.key": good.key})
    acc = await engines.start("memory://", RecordingApp("broker", broker=True), [acceptor(tls={
        "enabled": True, "certFile": str(volume / "tls.crt"),
        "keyFile": str(volume / "tls.key")})])
    port = port_of(acc)
    # a certificate with the wrong key: not loadable, the good pair stays
    secret_volume(volume, "v2", {"tls.crt": other.cert, "tls.key": good.key})
    assert await presented_serial(port, pki, client) == good.serial
    secret_volume(volume, "v3", {"tls.crt": other.cert, "tls.key": other.key})
    assert await presented_serial(port, pki, client) == other.serial


def test_reloading_context_is_an_ssl_context(tmp_path: Path) -> None:
    from pyfixmsg_plus.engine.config import TlsSettings
    from pyfixmsg_plus.engine.transport.tls import client_context, server_context

    pki = Pki(tmp_path / "pki")
    server = pki.issue("server", "broker.test", server=True)
    ctx = server_context(TlsSettings(enabled=True, cert_file=str(server.cert),
                                     key_file=str(server.key)))
    assert isinstance(ctx, ssl.SSLContext)
    assert isinstance(client_context(TlsSettings(enabled=True, ca_file=str(pki.ca))),
                      ssl.SSLContext)
