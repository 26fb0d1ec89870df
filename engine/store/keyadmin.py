"""Key administration: which KEK versions the stored data needs, and the
online, resumable rewrap of stored data keys (``fixplus keys``)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable

from .admin import MessageQuery, admin_of
from .encrypted import EncryptedMessageStore
from .keyring import KEYS_LOG, StoredKey, append_entry, dek_id_of, newest_entries


@dataclasses.dataclass(frozen=True, slots=True)
class KeyStatus:
    latest_version: int
    #: KEK version -> data keys whose newest wrapping uses it
    keys_by_version: dict[int, int]
    #: KEK version -> stored records sealed by data keys wrapped with it
    #: (None when the records were not scanned)
    records_by_version: dict[int, int] | None

    @property
    def needed_versions(self) -> list[int]:
        """The KEK versions without which some stored data would not read."""
        if self.records_by_version is not None:
            return sorted(v for v, n in self.records_by_version.items() if n)
        return sorted(self.keys_by_version)


async def _stored(store: EncryptedMessageStore) -> dict[int, StoredKey]:
    return newest_entries(await store.ring.ledger.read(KEYS_LOG))


async def key_status(store: EncryptedMessageStore, scan: bool = True) -> KeyStatus:
    keys = await _stored(store)
    by_version = Counter(k.version for k in keys.values())
    records: dict[int, int] | None = None
    if scan:
        inner = admin_of(store.inner)
        per_key: Counter[int | None] = Counter()
        for info in await inner.sessions():
            for m in await inner.query(info.key, MessageQuery()):
                per_key[dek_id_of(m.data)] += 1
        records = Counter()
        for dek_id, n in per_key.items():
            if dek_id is not None and dek_id in keys:
                records[keys[dek_id].version] += n
    return KeyStatus(await store.ring.provider.latest_version(), dict(by_version),
                     None if records is None else dict(records))


async def rewrap(store: EncryptedMessageStore, batch: int = 100,
                 progress: Callable[[int, int], None] | None = None) -> int:
    """Rewrap every stored data key not wrapped by the newest KEK version;
    returns how many.  Each rewrapped key is a new ledger entry, so an
    interrupted run resumes where it stopped and a running engine keeps
    reading."""
    provider = store.ring.provider
    latest = await provider.latest_version()
    todo = sorted((k for k in (await _stored(store)).values() if k.version < latest),
                  key=lambda k: k.dek_id)
    done = 0
    for i in range(0, len(todo), max(1, batch)):
        for k in todo[i:i + batch]:
            await append_entry(store.ring.ledger, k.dek_id, await provider.rewrap(k.wrapped))
            done += 1
        if progress is not None:
            progress(done, len(todo))
    return done
