"""The audit trail's chain and signed heads (engine/store/audit.py) on a
memory ledger with the local key file provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.store.audit import (
    AUDIT_LOG,
    HEAD_LOG,
    AuditTrail,
    append_record,
    read_records,
    sign_head,
    verify,
)
from pyfixmsg_plus.engine.store.keyprovider import LocalKeyFile, create_key_file
from pyfixmsg_plus.engine.store.ledger import MemoryLedger


@pytest.fixture
def provider(tmp_path: Path) -> LocalKeyFile:
    create_key_file(tmp_path / "kek")
    return LocalKeyFile(tmp_path / "kek")


async def _filled(provider: LocalKeyFile, n: int = 10, signed: bool = True) -> MemoryLedger:
    ledger = MemoryLedger()
    for i in range(1, n + 1):
        await append_record(ledger, "logon.accepted", {"peer": f"10.0.0.{i}:5000",
                                                       "session": "FIX.4.4:A->B"})
    if signed:
        assert await sign_head(ledger, provider) == n
    return ledger


async def test_an_intact_chain_verifies(provider: LocalKeyFile) -> None:
    ledger = await _filled(provider)
    assert await verify(ledger, provider) == ([], 10, 10)
    assert await sign_head(ledger, provider) is None  # nothing new to sign


async def test_an_edited_record_is_named(provider: LocalKeyFile) -> None:
    ledger = await _filled(provider)
    entries = ledger.logs[AUDIT_LOG]
    entries[5] = entries[5].replace(b"10.0.0.5", b"10.6.6.6")
    problems, _, _ = await verify(ledger, provider)
    assert problems[0].record == 5 and "altered" in str(problems[0])


async def test_a_deleted_record_is_named(provider: LocalKeyFile) -> None:
    ledger = await _filled(provider)
    del ledger.logs[AUDIT_LOG][4]
    problems, _, _ = await verify(ledger, provider)
    assert problems[0].record == 4 and "missing" in str(problems[0])


async def test_truncating_the_newest_records_is_caught_by_the_signed_head(
        provider: LocalKeyFile) -> None:
    ledger = await _filled(provider)
    for i in (8, 9, 10):
        del ledger.logs[AUDIT_LOG][i]
    problems, records, signed = await verify(ledger, provider)
    assert records == 7 and signed == 10 and problems[0].record == 8
    assert "chain ends at 7" in str(problems[0])


async def test_the_newest_record_edited_is_caught_by_the_head(provider: LocalKeyFile) -> None:
    ledger = await _filled(provider)
    entries = ledger.logs[AUDIT_LOG]
    entries[10] = entries[10].replace(b"10.0.0.10", b"10.0.0.99")
    problems, _, _ = await verify(ledger, provider)
    assert [p.record for p in problems] == [10]


async def test_a_forged_head_is_refused(provider: LocalKeyFile) -> None:
    ledger = await _filled(provider)
    for i in (9, 10):
        del ledger.logs[AUDIT_LOG][i]
    head = json.loads(ledger.logs[HEAD_LOG][1])
    head["n"], head["hash"] = 8, "0" * 64
    ledger.logs[HEAD_LOG][1] = json.dumps(head).encode()
    problems, _, _ = await verify(ledger, provider)
    assert any("bad signature" in str(p) for p in problems)


async def test_the_trail_writes_in_order_escapes_and_signs_on_close(
        provider: LocalKeyFile) -> None:
    ledger = MemoryLedger()
    trail = AuditTrail(ledger, provider, sign_interval=3600)
    trail.start()
    trail.event("config.loaded", sha256="ab" * 32)
    trail.event("logon.refused", peer="10.1.1.1:4000", reason="bad_password",
                session="FIX.4.4:EVIL\n2026 INFO forged->X")
    await trail.close()
    records = await read_records(ledger)
    assert [r.kind for r in records] == ["config.loaded", "logon.refused"]
    assert "\n" not in records[1].data["session"]
    assert [r.kind for r in await read_records(ledger, "logon")] == ["logon.refused"]
    assert await verify(ledger, provider) == ([], 2, 2)


async def test_two_writers_keep_one_chain(provider: LocalKeyFile) -> None:
    import asyncio

    ledger = MemoryLedger()
    await asyncio.gather(*(append_record(ledger, "store.set", {"i": i}) for i in range(20)))
    assert await verify(ledger, None) == ([], 20, 0)


async def test_refused_logons_are_bounded_per_minute(provider: LocalKeyFile,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from pyfixmsg_plus.engine.store import audit

    clock = [1000.0]
    monkeypatch.setattr(audit.time, "monotonic", lambda: clock[0])
    ledger = MemoryLedger()
    trail = AuditTrail(ledger, provider, sign_interval=3600)
    trail.start()
    for i in range(100):
        trail.event("logon.refused", peer=f"10.0.{i}.1", reason="unknown_session")
    trail.event("logon.accepted", peer="10.9.9.9", session="FIX.4.4:A->B")
    clock[0] += 61
    trail.event("logon.refused", peer="10.1.1.1", reason="bad_password")
    await trail.close()
    kinds = [r.kind for r in await read_records(ledger)]
    assert kinds.count("logon.refused") == audit.MAX_UNAUTHENTICATED_PER_MINUTE + 1
    assert "logon.accepted" in kinds
    suppressed = [r for r in await read_records(ledger) if r.kind == "logon.refused.suppressed"]
    assert [r.data["events"] for r in suppressed] == [100 - audit.MAX_UNAUTHENTICATED_PER_MINUTE]
