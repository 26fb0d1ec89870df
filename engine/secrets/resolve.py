"""Resolve ``${VAULT:…}`` references while a configuration is loaded.

:func:`vault_lookup` gives :mod:`..config` a function from the text inside
``${VAULT:…}`` to the field's value.  It logs in on the first reference only
(a configuration without one never contacts Vault) and reads each secret
once per load.  Vault unreachable at start is a :class:`ConfigError` naming
the reference and the address.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..config.references import install_vault_resolver
from ..config.vault import VaultSettings
from ..errors import ConfigError
from .refs import parse_ref

if TYPE_CHECKING:
    from .vault import VaultClient


def install() -> None:
    """Let configurations take ``${VAULT:…}`` references (hvac is imported
    at the first one)."""
    install_vault_resolver(vault_lookup)


def vault_lookup(raw: Any, environ: Mapping[str, str]) -> Callable[[str], str]:
    """A resolver for the configuration data ``raw`` (its ``vault`` section)."""
    client: VaultClient | None = None
    values: dict[str, str] = {}

    def lookup(text: str) -> str:
        nonlocal client
        ref = parse_ref(text)
        key = str(ref)
        if key in values:
            return values[key]
        if client is None:
            # no vault section: VAULT_ADDR and VAULT_TOKEN, like Vault's own CLI
            section = raw.get("vault") if isinstance(raw, dict) else None
            try:
                settings = VaultSettings.model_validate(section or {})
            except ValidationError:
                raise ConfigError(f"{ref}: the vault section is not valid (see its errors)"
                                  ) from None
            from .vault import VaultClient  # noqa: PLC0415 - hvac only when Vault is used

            client = VaultClient(settings, environ)
        try:
            values[key] = client.read_field(ref)
        except ConfigError as exc:  # a login failure does not name the reference yet
            if key in str(exc):
                raise
            raise ConfigError(f"{key}: {exc}") from None
        return values[key]

    return lookup
