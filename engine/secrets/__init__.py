"""Secrets: Vault references and dynamic credentials, files reloaded on change.

* :mod:`.settings`: the ``vault:`` settings (pydantic only; config imports it);
* :mod:`.refs`: ``${VAULT:<mount>/<path>#<field>}`` references;
* :mod:`.vault`: a synchronous client on hvac (login, KV, leases);
* :mod:`.resolve`: references resolved while the configuration loads;
* :mod:`.keeper`: token and lease renewal, credential rotation (asyncio);
* :mod:`.storecreds`: the message store opened with Vault credentials;
* :mod:`.reload`: TLS contexts and secret files re-read when they change.

Importing this package imports nothing else: hvac is loaded only when Vault
is used.
"""
