"""The message store: its URL, outages and retention."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import ConfigModel

StoreUrl = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:")]


class StoreFailureSettings(ConfigModel):
    """What happens while the message store cannot be written (docs/stores.md).

    Outgoing messages are always held (never written to the socket) until
    their sequence numbers are durable.  ``wait``: the application's
    ``send()`` waits for the store to come back, at most ``waitTimeout``
    seconds of outage, then fails with ``StoreUnavailableError``.  ``fail``:
    ``send()`` fails at once while the store is down.  Either way the engine
    retries the store with exponential backoff and resumes by itself.
    """

    mode: Literal["wait", "fail"] = "wait"
    #: Seconds of outage after which waiting sends fail (mode ``wait``).
    wait_timeout: float = Field(default=30.0, gt=0)
    #: First and longest delay (seconds) between attempts to reach the store.
    retry_initial_delay: float = Field(default=0.05, gt=0)
    retry_max_delay: float = Field(default=2.0, gt=0)


class RetentionSettings(ConfigModel):
    """Deleting old data from the message store (also ``fixplus store prune``)."""

    #: Delete stored messages sent more than this many days ago (None: keep).
    max_age_days: float | None = Field(default=None, gt=0)
    #: Delete whole sessions (state and messages) not updated for this many
    #: days; never a session this engine runs (None: keep).
    session_idle_days: float | None = Field(default=None, gt=0)
    #: Seconds between two prunes while the engine runs.
    interval: float = Field(default=3600.0, gt=0)


class VaultTransitSettings(ConfigModel):
    """Vault's Transit engine as the key provider (docs/security.md).

    Authentication: ``tokenFile`` (a file holding a Vault token, re-read at
    each login), or ``kubernetesRole`` (Vault's Kubernetes auth with the
    pod's service account token).
    """

    #: Vault's address, e.g. ``https://vault.vault.svc:8200``.
    address: str = Field(min_length=1, pattern=r"^https?://")
    #: CA bundle that signed Vault's certificate (None: the system's).
    ca_file: str | None = None
    token_file: str | None = None
    kubernetes_role: str | None = None
    kubernetes_auth_mount: str = "kubernetes"
    service_account_token_file: str = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    #: Transit mount path and the key that wraps data keys.
    mount: str = Field(default="transit", pattern=r"^[A-Za-z0-9_./-]+$")
    key: str = Field(default="fixplus", pattern=r"^[A-Za-z0-9_.-]+$")
    #: Transit key (ed25519) that signs the audit trail's head.
    signing_key: str = Field(default="fixplus-audit", pattern=r"^[A-Za-z0-9_.-]+$")


class EncryptionSettings(ConfigModel):
    """Encryption at rest of stored message bodies (docs/security.md)."""

    #: ``local``: a key file on this host (embedded default, development;
    #: no protection against a stolen disk that holds the file too).
    #: ``transit``: Vault Transit holds the key-encryption key.
    provider: Literal["local", "transit"] = "local"
    #: The local key file (``fixplus keys init-local PATH`` creates it).
    key_file: str | None = None
    vault: VaultTransitSettings | None = None
    #: Seconds between two checks for a new key version (rotation).
    check_interval: float = Field(default=60.0, gt=0)
    #: Records one data key seals before a new one is made (AES-GCM with
    #: one key must stay far below 2**32 messages).
    max_data_key_uses: int = Field(default=1 << 24, ge=1, le=1 << 30)

    @model_validator(mode="after")
    def _provider_settings(self) -> EncryptionSettings:
        if self.provider == "local" and not self.key_file:
            raise ValueError("provider local needs keyFile")
        if self.provider == "transit" and self.vault is None:
            raise ValueError("provider transit needs vault (address, key, authentication)")
        return self


class AuditSettings(ConfigModel):
    """The signed, hash-chained audit trail kept in the store (docs/security.md)."""

    enabled: bool = False
    #: Seconds between two signatures of the chain's head.
    sign_interval: float = Field(default=60.0, gt=0)
