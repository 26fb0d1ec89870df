"""Settings of the secret manager (the ``vault:`` section of the engine configuration).

This module depends on pydantic only: :mod:`..config` imports it, and the
operator imports the configuration.

.. code-block:: yaml

    vault:
      address: https://vault.example:8200
      caFile: /etc/vault/ca.crt
      auth:
        method: kubernetes        # token | kubernetes | approle
        role: fixplus
      databaseCredentials:
        path: database/creds/fixstore
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

#: The projected service-account token of a pod.
SERVICE_ACCOUNT_TOKEN: str = "/var/run/secrets/kubernetes.io/serviceaccount/token"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel,
        coerce_numbers_to_str=True,
    )


class VaultAuthSettings(_Model):
    """How the engine logs in to Vault.

    * ``token``: a token read from ``tokenFile``, or else from the
      environment variable ``tokenEnv`` (default ``VAULT_TOKEN``);
    * ``kubernetes``: the pod's service-account token (``tokenFile``, read
      again before every login: projected tokens expire) exchanged for a
      Vault token of ``role`` at the auth mount ``mount``;
    * ``approle``: ``roleId`` and a secret id from ``secretIdFile`` (or the
      environment variable ``secretIdEnv``) at the auth mount ``mount``.
    """

    method: Literal["token", "kubernetes", "approle"] = "token"
    token_file: str | None = None
    token_env: str = Field(default="VAULT_TOKEN", min_length=1)
    role: str | None = None
    role_id: str | None = None
    secret_id_file: str | None = None
    secret_id_env: str | None = None
    #: The auth method's mount path (default: ``kubernetes`` or ``approle``).
    mount: str | None = None

    @model_validator(mode="after")
    def _check(self) -> VaultAuthSettings:
        if self.method == "kubernetes" and not self.role:
            raise ValueError("vault.auth: method kubernetes needs role")
        if self.method == "approle":
            if not self.role_id:
                raise ValueError("vault.auth: method approle needs roleId")
            if not self.secret_id_file and not self.secret_id_env:
                raise ValueError("vault.auth: method approle needs secretIdFile or secretIdEnv")
        return self

    @property
    def kubernetes_token_file(self) -> str:
        return self.token_file or SERVICE_ACCOUNT_TOKEN

    @property
    def mount_path(self) -> str:
        return self.mount or ("kubernetes" if self.method == "kubernetes" else "approle")


class DatabaseCredentialsSettings(_Model):
    """Dynamic credentials of the PostgreSQL store from Vault's database
    secrets engine: the store URL then carries no user or password."""

    #: The credentials endpoint, ``<mount>/creds/<role>``.
    path: str = Field(min_length=1, pattern=r"^[^/\s]+(/[^/\s]+)*/creds/[^/\s]+$")
    #: A lease is renewed when this fraction of its TTL has passed.
    #: Once a renewal is granted less than the full TTL (the lease's maximum
    #: TTL is near), new credentials are fetched and swapped in.
    renew_fraction: float = Field(default=2 / 3, gt=0, lt=1)


class VaultSettings(_Model):
    """Where Vault is, how to log in, and what to take from it."""

    #: ``https://vault:8200``; default: the environment variable ``VAULT_ADDR``.
    address: str | None = None
    #: CA certificates to verify Vault's certificate (default: the system's).
    ca_file: str | None = None
    namespace: str | None = None
    auth: VaultAuthSettings = Field(default_factory=VaultAuthSettings)
    #: Seconds one request to Vault may take.
    timeout: float = Field(default=10.0, gt=0)
    #: A renewable token is renewed when this fraction of its TTL has passed.
    token_renew_fraction: float = Field(default=2 / 3, gt=0, lt=1)
    #: Retries while Vault cannot be reached: first and largest delay (seconds).
    retry_initial_delay: float = Field(default=1.0, gt=0)
    retry_max_delay: float = Field(default=30.0, gt=0)
    database_credentials: DatabaseCredentialsSettings | None = None
