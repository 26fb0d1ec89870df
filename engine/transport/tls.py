"""TLS contexts for initiators and acceptors (mutual TLS included).

The contexts returned re-read their certificate, key, CA and CRL files when
these change (a Secret volume's ``..data`` swap, a renewal in place): new
handshakes use the new files, live connections go on
(:mod:`.reload`).
"""

from __future__ import annotations

import ssl

from ..config import TlsSettings
from ..errors import ConfigError
from .reload import reloading_context

_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def _load(ctx: ssl.SSLContext, tls: TlsSettings, what: str) -> None:
    try:
        if tls.cert_file:
            password = tls.key_password.get_secret_value() if tls.key_password else None
            ctx.load_cert_chain(tls.cert_file, tls.key_file, password=password)
        if tls.ca_file:
            ctx.load_verify_locations(tls.ca_file)
        if tls.ciphers:
            ctx.set_ciphers(tls.ciphers)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS settings for the {what}: {exc}") from exc


def _files(tls: TlsSettings) -> list[str | None]:
    return [tls.cert_file, tls.key_file, tls.ca_file, tls.crl_file]


def server_context(tls: TlsSettings) -> ssl.SSLContext | None:
    """The acceptor's context, or None when TLS is off."""
    if not tls.enabled:
        return None
    if not tls.cert_file:
        raise ConfigError("an acceptor with TLS needs tls.certFile (and tls.keyFile)")
    if tls.require_client_cert and not tls.ca_file:
        raise ConfigError("tls.requireClientCert needs tls.caFile to verify clients against")
    if tls.crl_file and not tls.require_client_cert:
        raise ConfigError("tls.crlFile checks client certificates: it needs "
                          "tls.requireClientCert")

    def build(kind: type[ssl.SSLContext]) -> ssl.SSLContext:
        ctx = kind(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = _VERSIONS[tls.min_version]
        _load(ctx, tls, "acceptor")
        if tls.require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
        if tls.crl_file:
            try:
                ctx.load_verify_locations(tls.crl_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"TLS settings for the acceptor: tls.crlFile: {exc}") from exc
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        return ctx

    return reloading_context(build, _files(tls), "acceptor")


def client_context(tls: TlsSettings) -> ssl.SSLContext | None:
    """The initiator's context, or None when TLS is off."""
    if not tls.enabled:
        return None

    def build(kind: type[ssl.SSLContext]) -> ssl.SSLContext:
        ctx = kind(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = _VERSIONS[tls.min_version]
        if tls.ca_file is None and tls.verify:
            ctx.load_default_certs()
        _load(ctx, tls, "initiator")
        if not tls.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    return reloading_context(build, _files(tls), "initiator")
