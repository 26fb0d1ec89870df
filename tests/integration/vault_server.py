"""A real Vault for the Transit tests: the test environment's server
(``FIXPLUS_VAULT_ADDR`` / ``FIXPLUS_VAULT_TOKEN_FILE``, tests/env/35-vault.sh),
or a dev server started from the cached binary; each test gets a Transit
mount of its own, disabled afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.realparts import env_value, missing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cached_binary() -> Path | None:
    cache = Path(os.environ.get("FIXPLUS_CACHE", str(Path.home() / ".cache" / "pyfixmsg-plus")))
    found = sorted(cache.glob("vault/*/bin/vault"))
    return found[-1] if found else None


@contextlib.contextmanager
def vault_server(tmp: Path) -> Iterator[tuple[str, Path]]:
    """(address, token file) of a running Vault."""
    addr, token_file = env_value("FIXPLUS_VAULT_ADDR"), env_value("FIXPLUS_VAULT_TOKEN_FILE")
    if addr and token_file:
        yield addr, Path(token_file)
        return
    binary = _cached_binary()
    if binary is None:
        missing("Vault: FIXPLUS_VAULT_ADDR is not set and no vault binary is cached "
                "(tests/env/35-vault.sh)")
    assert binary is not None
    port, token = _free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [str(binary), "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
         f"-dev-root-token-id={token}", "-dev-no-store-token"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"HOME": str(tmp)})
    token_path = tmp / "vault-token"
    token_path.write_text(token)
    token_path.chmod(0o600)
    addr = f"http://127.0.0.1:{port}"
    try:
        import hvac

        deadline = time.monotonic() + 60
        while True:
            try:
                if hvac.Client(url=addr, token=token).sys.is_initialized():
                    break
            except Exception:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                missing(f"Vault: the dev server {binary} did not start")
            time.sleep(0.1)
        yield addr, token_path
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def transit_mount(addr: str, token_file: Path) -> Iterator[str]:
    """A Transit engine at a mount of its own, with keys ``fixplus``
    (aes256-gcm96) and ``fixplus-audit`` (ed25519)."""
    import hvac

    client = hvac.Client(url=addr, token=token_file.read_text().strip())
    mount = f"transit-{uuid.uuid4().hex[:10]}"
    client.sys.enable_secrets_engine("transit", path=mount)
    try:
        client.secrets.transit.create_key(name="fixplus", mount_point=mount)
        client.secrets.transit.create_key(name="fixplus-audit", key_type="ed25519",
                                          mount_point=mount)
        yield mount
    finally:
        client.sys.disable_secrets_engine(path=mount)
