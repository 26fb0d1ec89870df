"""The engine configuration a pod runs, and the ConfigMap that carries it.

:func:`engine_config` turns sessions and a store into the plain data of an
:class:`~pyfixmsg_plus.engine.config.EngineConfig` and validates it with
the engine's own :func:`~pyfixmsg_plus.engine.config.parse_config` (secret
references left unresolved), so the operator never writes a configuration
the engine rejects.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml
from pyfixmsg_plus.engine.config import Role, parse_config

from ..models import Encryption, MessageStoreSpec, PodSettings, SessionFields, StoreType
from . import secrets
from .common import CONFIG_HASH, Obj, Owner, PodLayout, digest, meta
from .secrets import RenderError, Wiring

#: SessionFields that are operator settings, not engine session settings.
_NOT_ENGINE = {"tls", "logon", "authentication"}


@dataclasses.dataclass(frozen=True)
class SessionInput:
    """One session to configure, with the keys its TLS Secret holds."""

    key: str
    fields: SessionFields
    tls_keys: frozenset[str] = frozenset()
    accept_port: int | None = None  # a FixCluster puts every session on its port
    where: str = "spec"  # the session in messages: spec, spec.sessions[0], FixSession 'x'


@dataclasses.dataclass(frozen=True)
class StoreInput:
    name: str
    spec: MessageStoreSpec


def session_settings(s: SessionInput, wiring: Wiring, layout: PodLayout) -> dict[str, Any]:
    data = s.fields.model_dump(mode="json", by_alias=True, exclude_none=True,
                               include=set(SessionFields.model_fields) - _NOT_ENGINE)
    if s.fields.role is Role.INITIATOR:
        data.pop("acceptPort", None)
    else:
        data["acceptHost"] = "0.0.0.0"
        if s.accept_port is not None:
            data["acceptPort"] = s.accept_port
    acceptor = s.fields.role is Role.ACCEPTOR
    tls = secrets.tls(wiring, s.fields.tls, s.tls_keys, acceptor, layout)
    if tls:
        data["tls"] = tls
    data.update(secrets.logon(wiring, s.key, s.fields.logon, layout))
    if acceptor:
        data["authentication"] = secrets.authentication(
            wiring, s.key, s.fields.authentication, s.where, layout)
    return data


def store_url(store: StoreInput | None, wiring: Wiring, layout: PodLayout) -> str:
    """The engine's store URL; credentials only as file or variable references."""
    if store is None:
        return f"sqlite:///{layout.data_dir}/fixplus.db"
    spec = store.spec
    password_file = secrets.store_password(wiring, spec.credentials, layout)
    query = f"?password_file={password_file}" if password_file else ""
    if spec.type is StoreType.SQLITE:
        return f"sqlite:///{layout.data_dir}/{store.name}.db"
    from_secret = (spec.credentials is not None and spec.credentials.secret_ref is not None
                   and spec.credentials.secret_ref.username_key)
    sep = "&" if query else "?"
    if spec.type is StoreType.POSTGRESQL:
        pg = spec.postgresql
        assert pg is not None  # CEL rule of the CRD
        user = "${FIXPLUS_STORE_USERNAME}" if from_secret else (pg.user or "")
        return (f"postgresql://{user}{'@' if user else ''}{pg.host}:{pg.port}/{pg.database}"
                f"{query}{sep}sslmode={pg.ssl_mode}")
    if spec.type is StoreType.MYSQL:
        my = spec.mysql
        assert my is not None  # CEL rule of the CRD
        user = "${FIXPLUS_STORE_USERNAME}" if from_secret else (my.user or "")
        tls = f"&ssl_verify={'true' if my.tls_verify else 'false'}" if my.tls else ""
        return (f"mysql://{user}{'@' if user else ''}{my.host}:{my.port}/{my.database}"
                f"{query}{sep}table_prefix={my.table_prefix}{tls}")
    if spec.type is StoreType.MONGODB:
        mg = spec.mongodb
        assert mg is not None  # CEL rule of the CRD
        user = "${FIXPLUS_STORE_USERNAME}" if from_secret else (mg.user or "")
        options = [f"tls={'true' if mg.tls else 'false'}"]
        if mg.auth_source:
            options.append(f"authSource={mg.auth_source}")
        if mg.replica_set:
            options.append(f"replicaSet={mg.replica_set}")
        return (f"mongodb://{user}{'@' if user else ''}{mg.host}:{mg.port}/{mg.database}"
                f"{query}{sep}{'&'.join(options)}")
    rd = spec.redis
    assert rd is not None
    scheme = "rediss" if rd.tls else "redis"
    return f"{scheme}://{rd.host}:{rd.port}/{rd.db}{query}"


#: The engine's metrics TLS Secret volume.
METRICS_TLS_VOLUME = "metrics-tls"


def metrics_settings(pod: PodSettings, wiring: Wiring, layout: PodLayout) -> dict[str, Any]:
    """The engine's ``metrics`` block.  In a pod it listens on every address
    (0.0.0.0, written out: the engine's own default is 127.0.0.1) so that
    the kubelet and Prometheus reach it; the TLS Secret is mounted and
    ``tokenReview`` uses the pod's service account (in-cluster defaults)."""
    m = pod.metrics
    out: dict[str, Any] = {"enabled": m.enabled, "host": "0.0.0.0", "port": m.port,
                           "path": m.path}
    if not m.enabled:
        return out
    if m.tls is not None:
        mount = f"{layout.secrets_dir}/{METRICS_TLS_VOLUME}"
        out["tls"] = {
            "certFile": wiring.add_secret_file(METRICS_TLS_VOLUME, m.tls.secret_name,
                                               "tls.crt", mount),
            "keyFile": wiring.add_secret_file(METRICS_TLS_VOLUME, m.tls.secret_name,
                                              "tls.key", mount),
        }
    if m.authorization == "tokenReview":
        out["authorization"] = "tokenReview"
        out["tokenReview"] = {"subjectAccessReview": m.subject_access_review}
    return out


def encryption_settings(e: Encryption, wiring: Wiring) -> dict[str, Any]:
    """The engine's Transit key provider, logging in with the pod's service
    account token (Vault's Kubernetes auth)."""
    if e.kms_key_ref is not None or not (e.vault_transit_key and e.vault_address
                                         and e.vault_role):
        raise RenderError("encryption needs vaultTransitKey, vaultAddress and vaultRole "
                          "(kmsKeyRef is not supported)")
    wiring.direct_vault = True
    return {"provider": "transit", "vault": {
        "address": e.vault_address, "kubernetesRole": e.vault_role,
        "mount": e.vault_transit_mount, "key": e.vault_transit_key,
        "signingKey": e.vault_signing_key}}


def engine_config(sessions: list[SessionInput], store: StoreInput | None, pod: PodSettings,
                  wiring: Wiring, layout: PodLayout) -> dict[str, Any]:
    """Plain engine configuration data, checked by the engine's own parser."""
    data: dict[str, Any] = {
        "store": store_url(store, wiring, layout),
        "sessions": [session_settings(s, wiring, layout) for s in sessions],
        "logging": {"level": pod.log_level, "format": "json"},
        "metrics": metrics_settings(pod, wiring, layout),
        "shutdownTimeout": 10.0,
    }
    if pod.busy_poll_us:
        data["busyPollUs"] = pod.busy_poll_us
    if store is not None and store.spec.retention is not None:
        data["retention"] = store.spec.retention.model_dump(mode="json", by_alias=True,
                                                            exclude_none=True)
    if store is not None and store.spec.encryption is not None:
        data["encryption"] = encryption_settings(store.spec.encryption, wiring)
    try:
        parse_config(data, source="the rendered engine configuration",
                     resolve_secrets=False)
    except Exception as exc:  # InvalidConfigError, one line per problem
        raise RenderError(str(exc)) from None
    return data


def config_text(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)


def config_map(owner: Owner, config: dict[str, Any]) -> Obj:
    """The ConfigMap with ``engine.yaml``; annotated with the hash the pods carry."""
    text = config_text(config)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(owner, f"{owner.child_name}-config", {CONFIG_HASH: config_hash(text)}),
        "data": {"engine.yaml": text},
    }


def config_hash(text: str) -> str:
    return digest(text)
