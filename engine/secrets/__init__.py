"""Secrets: Vault references and dynamic credentials, files reloaded on change.

* :mod:`.refs`: ``${VAULT:<mount>/<path>#<field>}`` references;
* :mod:`.vault`: a synchronous client on hvac (login, KV, leases);
* :mod:`.resolve`: references resolved while the configuration loads;
* :mod:`.keeper`: token and lease renewal, credential rotation (asyncio);
* :mod:`.storecreds`: the message store opened with Vault credentials.

The ``vault:`` settings are in :mod:`..config.vault`; files re-read when
they change (TLS contexts, password files) in :mod:`..transport.reload`.

Importing this package imports nothing else: hvac is loaded only when Vault
is used.
"""
