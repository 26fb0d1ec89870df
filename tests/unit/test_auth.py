"""Counterparty authentication: settings, password hashes, the Authenticator."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.config import AuthenticationSettings, EngineConfig, parse_config
from pyfixmsg_plus.engine.errors import ConfigError
from pyfixmsg_plus.engine.transport.auth import (
    Authenticator,
    PasswordHashError,
    Peer,
    hash_password,
    parse_password_hash,
    verify_password,
)


def auth(**data: Any) -> AuthenticationSettings:
    return AuthenticationSettings.model_validate(data)


def logon(username: str | None = None, password: str | None = None,
          extra: list[tuple[int, str]] | None = None) -> Message:
    body: list[tuple[int, Any]] = [(98, "0"), (108, "30")]
    if username is not None:
        body.append((553, username))
    if password is not None:
        body.append((554, password))
    return Message.new("FIX.4.4", "A", body + list(extra or []))


# -- settings --------------------------------------------------------------------
@pytest.mark.parametrize(("data", "message"), [
    ({"mode": "none", "username": "u"}, "mode none takes no other setting"),
    ({"username": "u"}, "a username alone authenticates nobody"),
    ({}, "needs at least one method"),
    ({"password": "a", "passwordHash": "scrypt$1$1$1$AAAA$AAAA"}, "not both"),
    ({"passwordHash": "plain"}, "made by `fixplus auth hash-password`"),
    ({"allowedAddresses": ["10.0.0.0/8", "example.com"]}, "'example.com' is not an IP"),
    ({"certificate": {}}, "needs subject or dnsNames"),
])
def test_bad_authentication_settings(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        auth(**data)


def _acceptor(**extra: Any) -> dict[str, Any]:
    return {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "B",
            "targetCompId": "C", "acceptPort": 9000, **extra}


def test_acceptor_without_authentication_is_refused_at_load() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"sessions": [_acceptor()],
                      "dynamicSessions": [{"session": _acceptor(targetCompId="*")}]},
                     source="x.yaml")
    text = str(exc.value)
    assert "acceptor session without authentication" in text
    assert "sessions[0] (FIX.4.4:B->C)" in text
    assert "dynamicSessions[0].session (FIX.4.4:B->*)" in text
    assert "authentication: {mode: none}" in text


def test_explicit_none_and_initiators_load() -> None:
    config = EngineConfig.model_validate({"sessions": [
        _acceptor(authentication={"mode": "none"}),
        {"role": "initiator", "beginString": "FIX.4.4", "senderCompId": "C",
         "targetCompId": "B", "connect": [{"host": "h", "port": 1}]}]})
    assert config.sessions[0].authentication == auth(mode="none")
    assert config.sessions[1].authentication is None


def test_password_hash_is_a_secret_in_dumps_and_errors() -> None:
    hashed = hash_password("pw", log2_n=4)
    config = EngineConfig.model_validate(
        {"sessions": [_acceptor(authentication={"username": "u", "passwordHash": hashed})]})
    assert hashed not in repr(config)
    assert hashed not in str(config.model_dump())


# -- password hashes -----------------------------------------------------------------
def test_hash_and_verify() -> None:
    hashed = hash_password("correct horse", log2_n=4)
    assert hashed.startswith("scrypt$4$8$1$")
    assert verify_password(b"correct horse", hashed)
    assert not verify_password(b"correct horsf", hashed)
    assert hash_password("correct horse", log2_n=4) != hashed  # salted


@pytest.mark.parametrize("text", [
    "scrypt$4$8$1$AAAA", "md5$4$8$1$AAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
    "scrypt$x$8$1$AAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
    "scrypt$30$8$1$AAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",  # too costly
    "scrypt$4$8$1$AA$AAAAAAAAAAAAAAAAAAAAAA",  # salt too short
    "scrypt$4$8$1$!!!!$AAAAAAAAAAAAAAAAAAAAAA",
])
def test_unreadable_hashes_are_refused(text: str) -> None:
    with pytest.raises(PasswordHashError):
        parse_password_hash(text)


# -- the Authenticator --------------------------------------------------------------------
async def test_mode_none_accepts_anyone() -> None:
    verdict = await Authenticator().check(auth(mode="none"), logon(), Peer(None))
    assert verdict.ok


async def test_credentials_with_a_hash() -> None:
    a = Authenticator()
    settings = auth(username="client", passwordHash=hash_password("s3cret", log2_n=4))
    peer = Peer("127.0.0.1")
    assert (await a.check(settings, logon("client", "s3cret"), peer)).ok
    for msg in (logon("client", "bad-pw"), logon("other", "s3cret"), logon("client"),
                logon(None, "s3cret"), logon("client", "x" * 2000)):
        verdict = await a.check(settings, msg, peer)
        assert not verdict.ok and verdict.reason == "credentials"
        assert "s3cret" not in verdict.detail and "bad-pw" not in verdict.detail


async def test_credentials_with_a_plain_secret() -> None:
    a = Authenticator()
    settings = auth(password="s3cret")
    assert (await a.check(settings, logon(None, "s3cret"), Peer(None))).ok
    assert not (await a.check(settings, logon(None, "s3cre"), Peer(None))).ok


@pytest.mark.parametrize(("address", "ok"), [
    ("10.1.2.3", True), ("192.0.2.7", True), ("::ffff:10.9.9.9", True), ("::1", True),
    ("10.2.0.1", False), ("192.0.2.8", False), (None, False), ("not-an-ip", False),
])
async def test_source_addresses(address: str | None, ok: bool) -> None:
    settings = auth(allowedAddresses=["10.1.0.0/16", "10.9.0.0/16", "192.0.2.7", "::1"])
    verdict = await Authenticator().check(settings, logon(), Peer(address))
    assert verdict.ok is ok
    if not ok:
        assert verdict.reason == "address"


def _certificate(cn: str, names: list[str]) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example")])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)))
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


async def test_client_certificate_identity() -> None:
    a = Authenticator()
    by_subject = auth(certificate={"subject": "O=Example,CN=client1"})
    by_name = auth(certificate={"dnsNames": ["client1.example", "c1.example"]})
    good = _certificate("client1", ["c1.example"])
    other = _certificate("client2", ["client2.example"])
    assert (await a.check(by_subject, logon(), Peer("127.0.0.1", good))).ok
    assert (await a.check(by_name, logon(), Peer("127.0.0.1", good))).ok
    for settings in (by_subject, by_name):
        for cert in (other, None, b"junk"):
            verdict = await a.check(settings, logon(), Peer("127.0.0.1", cert))
            assert not verdict.ok and verdict.reason == "certificate"


async def test_every_configured_method_must_pass() -> None:
    a = Authenticator()
    settings = auth(password="pw", allowedAddresses=["127.0.0.1"])
    assert (await a.check(settings, logon(None, "pw"), Peer("127.0.0.1"))).ok
    assert (await a.check(settings, logon(None, "pw"), Peer("127.0.0.2"))).reason == "address"
    assert (await a.check(settings, logon(None, "no"), Peer("127.0.0.1"))).reason == "credentials"
