"""Data keys (DEKs) of an encrypted store and the records they seal.

Theory of operation.  A store's messages are sealed with AES-256-GCM under
data keys.  A data key is made by the key provider (a fresh random key and
the same key wrapped by the provider's KEK, :mod:`.keyprovider`); only the
wrapped form is written, as an entry of the ledger log ``keys``
(:mod:`.ledger`), whose id becomes the data key's id.  A rewrap (after a
KEK rotation) appends a new entry for the same data key; the newest entry
of a data key wins.

The active data key seals new records.  It is replaced by a new one

* after ``max_uses`` records (default 2**24, far below the 2**32 messages
  NIST allows one AES-GCM key),
* when the provider's newest KEK version changes (checked every
  ``check_interval`` seconds by the encrypted store),
* at every start of the engine (uses are counted in memory only).

Nonces: a random 4-byte prefix per data key and a counter, so no nonce
repeats under one key (each data key is made and used by one process).

A sealed record::

    MAGIC (4) | data key id (4) | seq (8) | session tag (8) | nonce (12) | ciphertext + tag

The associated data binds the record to its session, direction and
sequence number (and to its data key id): a record copied to another place
does not open.  The clear ``seq`` and ``session tag`` (8 bytes of SHA-256 of
the session key) are only there to say where a misplaced record came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..codec.safetext import safe_text
from .errors import PermanentStoreError
from .keyprovider import KeyProvider, WrappedKeyError, version_of
from .ledger import Ledger

log = logging.getLogger("pyfixmsg_plus.store.encryption")

__all__ = ["MAGIC", "IntegrityError", "KeyRing", "StoredKey"]

MAGIC = b"\x00FX1"
_HEADER = struct.Struct(">4sIQ8s12s")
DEFAULT_MAX_USES = 1 << 24
KEYS_LOG = "keys"


class IntegrityError(PermanentStoreError):
    """A stored record that does not open where it is read: altered, or
    copied from another session, direction or sequence number."""


@dataclass(frozen=True, slots=True)
class StoredKey:
    """The newest ledger entry of one data key."""

    dek_id: int
    wrapped: str
    entry_id: int

    @property
    def version(self) -> int:
        return version_of(self.wrapped)


def session_tag(session: str) -> bytes:
    return hashlib.sha256(session.encode("utf-8", "surrogateescape")).digest()[:8]


def _aad_prefix(session: str, direction: str) -> bytes:
    return b"fixplus record 1\x00%s\x00%s\x00" % (
        session.encode("utf-8", "surrogateescape"), direction.encode())


def _aad(session: str, direction: str, seq: int, dek_id: int) -> bytes:
    return _aad_prefix(session, direction) + b"%d\x00%d" % (seq, dek_id)


def parse_entry(entry_id: int, payload: bytes) -> StoredKey:
    try:
        d = json.loads(payload)
        return StoredKey(int(d["dek"]), str(d["wrapped"]), entry_id)
    except (ValueError, KeyError, TypeError):
        raise WrappedKeyError(f"keyring entry {entry_id} is malformed") from None


def newest_entries(rows: list[tuple[int, bytes]]) -> dict[int, StoredKey]:
    """data key id -> its newest entry, from ledger rows in id order."""
    keys: dict[int, StoredKey] = {}
    for entry_id, payload in rows:
        k = parse_entry(entry_id, payload)
        keys[k.dek_id] = k
    return keys


async def append_entry(ledger: Ledger, dek_id: int | None, wrapped: str) -> int:
    """Append a keyring entry (``dek_id`` None: a new data key, whose id is
    the entry's); returns the entry id."""
    while True:
        entry_id = await ledger.last_id(KEYS_LOG) + 1
        payload = json.dumps({"dek": entry_id if dek_id is None else dek_id,
                              "wrapped": wrapped}).encode()
        if await ledger.append(KEYS_LOG, entry_id, payload):
            return entry_id


class KeyRing:
    """The data keys of one store: seals with the active one, opens with any."""

    def __init__(self, provider: KeyProvider, ledger: Ledger,
                 max_uses: int = DEFAULT_MAX_USES) -> None:
        if not 1 <= max_uses <= 1 << 32:
            raise ValueError("max_uses must be within 1 .. 2**32")
        self.provider = provider
        self.ledger = ledger
        self.max_uses = max_uses
        self._stored: dict[int, StoredKey] = {}
        self._read_up_to = 0
        self._open: dict[int, AESGCM] = {}
        self._active: tuple[int, AESGCM, int] | None = None  # id, cipher, KEK version
        self._uses = 0
        self._nonce_prefix = b""
        #: uses after which the next data key is made in the background
        self._soft_limit = max_uses - min(1 << 16, max_uses // 4)
        self._preparing: asyncio.Task[None] | None = None
        #: (session, direction) -> (session tag, associated data prefix)
        self._tags: dict[tuple[str, str], tuple[bytes, bytes]] = {}
        self._lock = asyncio.Lock()

    @property
    def active_version(self) -> int | None:
        return None if self._active is None else self._active[2]

    @property
    def active_id(self) -> int | None:
        return None if self._active is None else self._active[0]

    async def _refresh(self) -> None:
        rows = await self.ledger.read(KEYS_LOG, after=self._read_up_to)
        for entry_id, payload in rows:
            k = parse_entry(entry_id, payload)
            self._stored[k.dek_id] = k
            self._open.pop(k.dek_id, None)
            self._read_up_to = entry_id

    async def _make_active(self) -> int:
        """(Under the lock.) Make, store and activate a new data key."""
        plain, wrapped = await self.provider.new_data_key()
        dek_id = await append_entry(self.ledger, None, wrapped)
        cipher = AESGCM(plain)
        self._active = (dek_id, cipher, version_of(wrapped))
        self._open[dek_id] = cipher
        self._uses = 0
        self._nonce_prefix = secrets.token_bytes(4)
        log.info("encryption: data key %d (KEK %s version %d) in use",
                 dek_id, self.provider.name, version_of(wrapped))
        return dek_id

    async def new_active(self) -> int:
        """Make a new data key the active one; returns its id."""
        async with self._lock:
            return await self._make_active()

    def needs_new_key(self, count: int = 1) -> bool:
        """Whether sealing ``count`` records must wait for a new data key."""
        return self._active is None or self._uses + count > self.max_uses

    async def ensure_active(self, count: int = 1) -> None:
        """Make sure ``count`` records can be sealed without a new data key."""
        if count > self.max_uses:
            raise ValueError("more records in one call than a data key may seal")
        if self.needs_new_key(count):
            async with self._lock:
                if self.needs_new_key(count):
                    await self._make_active()

    def prepare_next(self) -> None:
        """Past the soft limit, make the next data key in the background:
        sealing never waits for the key provider while the active key lasts
        (a session's writes keep their order)."""
        if self._uses >= self._soft_limit and self._preparing is None:
            self._preparing = asyncio.create_task(self._prepare(), name="fixplus-next-data-key")

    async def _prepare(self) -> None:
        try:
            async with self._lock:
                if self._uses >= self._soft_limit:
                    await self._make_active()
        except Exception as exc:
            log.warning("encryption: cannot make the next data key yet: %s", exc)
        finally:
            self._preparing = None

    def seal(self, session: str, direction: str, seq: int, data: bytes) -> bytes:
        """Encrypt one record (``ensure_active`` first)."""
        assert self._active is not None
        dek_id, cipher, _ = self._active
        self._uses += 1
        # A data key is made by this process and used by it alone: a counter
        # after a random prefix never repeats a nonce under one key.
        nonce = self._nonce_prefix + self._uses.to_bytes(8, "big")
        known = self._tags.get((session, direction))
        if known is None:
            if len(self._tags) >= 100_000:
                self._tags.clear()
            known = self._tags[(session, direction)] = (
                session_tag(session), _aad_prefix(session, direction))
        tag, aad = known
        header = _HEADER.pack(MAGIC, dek_id, seq, tag, nonce)
        return header + cipher.encrypt(nonce, data, aad + b"%d\x00%d" % (seq, dek_id))

    async def _cipher(self, dek_id: int) -> AESGCM:
        cipher = self._open.get(dek_id)
        if cipher is not None:
            return cipher
        if dek_id not in self._stored:
            await self._refresh()
        stored = self._stored.get(dek_id)
        if stored is None:
            raise IntegrityError(f"data key {dek_id} is not in the store's keyring")
        cipher = AESGCM(await self.provider.unwrap(stored.wrapped))
        self._open[dek_id] = cipher
        return cipher

    async def open(self, session: str, direction: str, seq: int, record: bytes) -> bytes:
        """Decrypt a record read at (session, direction, seq), or raise
        ``IntegrityError`` saying what is wrong and where."""
        where = f"{direction} record seq {seq} of session {_shown(session)}"
        if len(record) < _HEADER.size + 16 or not record.startswith(MAGIC):
            raise IntegrityError(f"{where} is not encrypted (a plain or foreign record): "
                                 "refused")
        _, dek_id, written_seq, tag, nonce = _HEADER.unpack_from(record)
        cipher = await self._cipher(dek_id)
        try:
            return cipher.decrypt(nonce, record[_HEADER.size:],
                                  _aad(session, direction, seq, dek_id))
        except InvalidTag:
            pass
        if tag != session_tag(session):
            raise IntegrityError(f"{where} fails its integrity check: it was written for "
                                 f"another session (seq {written_seq}); refused") from None
        if written_seq != seq:
            raise IntegrityError(f"{where} fails its integrity check: it was written for seq "
                                 f"{written_seq}, not seq {seq}; refused") from None
        raise IntegrityError(f"{where} fails its integrity check (altered); refused") from None

    async def stored_keys(self) -> dict[int, StoredKey]:
        await self._refresh()
        return dict(self._stored)

    async def close(self) -> None:
        task, self._preparing = self._preparing, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._open.clear()
        self._active = None


def _shown(session: str) -> str:
    return safe_text(session, limit=200)


def dek_id_of(record: bytes) -> int | None:
    """The data key id of a sealed record (None if not sealed)."""
    if len(record) < _HEADER.size or not record.startswith(MAGIC):
        return None
    return int(_HEADER.unpack_from(record)[1])
