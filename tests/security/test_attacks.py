"""Attacks on a real ``fixplus run -c engine.yaml`` process over the FIX
wire (credentials at rest, mutual TLS, connection floods and the HTTP
endpoints are in ``test_attacks_perimeter.py``).

Each test starts the engine as the documentation configures it (an SQLite
store in the test's folder, metrics on a free port of 127.0.0.1, an acceptor
session authenticating Logon credentials against ``fixplus auth
hash-password``'s hash, dynamic sessions from a template limited to
127.0.0.1 and ``maxSessions``), attacks it over 127.0.0.1 as an
unauthenticated or authenticated peer, and checks what the attacker and the
operator can see: answers on the wire, the process's memory
(``/proc/PID/status``), ``/metrics``, the log and the store.

Every loop is bounded in count and time; every test stops what it started.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.security.attacks import (
    MIB,
    RSS_BOUND_KIB,
    gap_queue_attack,
    junk_flood,
    logon_works,
    no_traceback,
    trickle,
)
from tests.security.conftest import EngineFactory
from tests.security.engine_process import (
    BROKER,
    PASSWORD,
    SESSION,
    USERNAME,
    EngineProcess,
    dynamic_template,
    file_digests,
    parse_metrics,
    sqlite_content,
)
from tests.security.raw_fix import Closed, FixConn, encode, now_text, valid_logon

pytestmark = pytest.mark.integration


def resend_request(conn: FixConn) -> bytes:
    return conn.message("2", [(7, 1), (16, 0)])


# ---------------------------------------------------------------------------
# 1. Logons without or with wrong credentials; blocking after repeated refusals


def test_logon_without_right_credentials_gets_no_answer(start_engine: EngineFactory) -> None:
    engine = start_engine(limits={"failedLogonLimit": 4, "failedLogonWindow": 60,
                                  "failedLogonBlock": 1})
    attempts: list[dict[str, Any]] = [
        {},                                                   # no credentials
        {"username": USERNAME},                               # no password
        {"username": USERNAME, "password": PASSWORD + "x"},   # wrong password
    ]
    for kwargs in attempts:
        with FixConn(engine.port) as conn:
            # a ResendRequest right behind the Logon, in the same write
            conn.send_raw(conn.logon_message(**kwargs) + resend_request(conn))
            assert conn.closed_silently(), kwargs
    assert engine.metric("fixplus_logons_refused_total", reason="credentials") == 3
    # three refusals, one below failedLogonLimit: the right Logon works
    conn = logon_works(engine, tries=1)
    assert conn.logout().msg_type == "5"
    conn.close()
    # the fourth refusal blocks 127.0.0.1: even the right Logon is cut off
    with FixConn(engine.port) as conn:
        conn.logon(username="someone", password=PASSWORD)
        assert conn.closed_silently()
    with FixConn(engine.port) as conn:
        conn.logon(username=USERNAME, password=PASSWORD, reset=True)
        assert conn.closed_silently()
    assert engine.metric("fixplus_connections_refused_total", reason="throttled") >= 1
    assert engine.metric("fixplus_logons_refused_total", reason="credentials") == 4
    # once failedLogonBlock is over, the right Logon works again
    conn = logon_works(engine)
    conn.close()
    log = engine.log_text()
    assert "ResendRequest" not in log
    assert PASSWORD not in log
    assert re.search(r"WARNING .*127\.0\.0\.1: Logon refused for FIX\.4\.4:BROKER->CLIENT: "
                     r"(no Password|wrong Username or Password)", log), log[-2000:]
    no_traceback(engine)


# ---------------------------------------------------------------------------
# 2. A resetting Logon with a wrong password changes nothing in the store


def _store_state(engine: EngineProcess, db: Path) -> tuple[str, str, list[tuple[Any, ...]]]:
    return (engine.store_cli("show", SESSION), engine.store_cli("list", SESSION),
            sqlite_content(db))


def test_resetting_logon_with_wrong_password_changes_nothing(
        start_engine: EngineFactory) -> None:
    engine = start_engine()
    db = engine.dir / "store.db"
    # a first, valid session run: messages and sequence numbers in the store
    conn = valid_logon(engine.port, USERNAME, PASSWORD)
    for i in range(5):
        conn.send("D", [(11, f"first-{i}"), (55, "EUR/USD"), (54, 1), (60, "20260101-00:00:00"),
                        (38, 100), (40, 1)])
    conn.send("1", [(112, "probe")])
    conn.read_until("0")
    conn.logout()
    conn.close()
    next_target = conn.seq  # 1 Logon + 5 orders + TestRequest + Logout
    deadline = time.monotonic() + 10
    while ("sessions", SESSION, 4, next_target) not in [r[:4] for r in sqlite_content(db)]:
        assert time.monotonic() < deadline, sqlite_content(db)
        time.sleep(0.05)
    before = _store_state(engine, db)
    assert "stored messages:  3" in before[0], before[0]  # Logon, Heartbeat, Logout
    digests = file_digests(db)
    offset = len(engine.log_bytes())

    wrong = ["not-the-password", PASSWORD[:-1], PASSWORD + PASSWORD]
    for password in wrong:
        with FixConn(engine.port) as attacker:
            attacker.logon(username=USERNAME, password=password, reset=True)
            assert attacker.closed_silently()
    with FixConn(engine.port) as attacker:
        attacker.logon(reset=True)
        assert attacker.closed_silently()

    line = engine.wait_log("Logon refused", since=offset)
    assert "WARNING" in line and "127.0.0.1" in line and SESSION in line
    assert "wrong Username or Password" in line
    assert file_digests(db) == digests
    assert _store_state(engine, db) == before
    log = engine.log_text()
    for password in [*wrong, PASSWORD]:
        assert password not in log
    # nothing was reset: the next Logon goes on from the stored numbers
    conn = valid_logon(engine.port, USERNAME, PASSWORD, seq=next_target)
    assert conn.received[0].seq == 4
    conn.close()
    no_traceback(engine)


# ---------------------------------------------------------------------------
# 3. Memory before Logon


def test_junk_before_logon_keeps_memory_bounded(start_engine: EngineFactory) -> None:
    engine = start_engine()
    idle = engine.rss_kib()
    one = junk_flood(engine, connections=1)
    four = junk_flood(engine, connections=4)
    fix_like = junk_flood(engine, connections=4, prefix=b"8=FIX.4.4\x019=50000000\x0135=A\x01")
    assert engine.alive()
    for flood in (one, four, fix_like):
        assert sum(flood.sent) < 400 * MIB * len(flood.sent)  # cut off by the engine
        assert flood.peak_kib - idle < RSS_BOUND_KIB, (idle, flood)
    assert engine.rss_kib() - idle < RSS_BOUND_KIB
    conn = logon_works(engine)
    # after Logon: a BodyLength above maxMessageSize, and junk behind it
    with contextlib.suppress(OSError):
        conn.send_raw(b"8=FIX.4.4\x019=50000000\x0135=D\x01" + os.urandom(8 * MIB))
    conn.close()
    assert engine.alive()
    assert engine.peak_rss_kib() - idle < RSS_BOUND_KIB
    assert engine.metric("fixplus_logons_refused_total", reason="invalid_logon") >= 9
    logon_works(engine).close()
    no_traceback(engine)


@pytest.mark.parametrize("body_length", [2_000_000_000, 60_000])
def test_trickled_logon_with_huge_body_length_is_cut_off(
        start_engine: EngineFactory, body_length: int) -> None:
    engine = start_engine()
    idle = engine.rss_kib()
    sent, closed, peak = trickle(engine, body_length=body_length)
    assert closed, f"still open after {sent} bytes"
    assert peak - idle < RSS_BOUND_KIB
    assert engine.alive()
    logon_works(engine).close()
    no_traceback(engine)


# ---------------------------------------------------------------------------
# 4. Dynamic sessions


def _label_values(metrics: str) -> list[str]:
    return [v for _, labels, _ in parse_metrics(metrics) for v in labels.values()]


def test_dynamic_sessions_only_from_authenticated_logons(
        start_engine: EngineFactory, password_hash: str) -> None:
    engine = start_engine(dynamic=[dynamic_template(0, max_sessions=2)],
                          limits={"maxLogonBytes": 1 << 20})
    big = "C" * 100_000
    # a first message that is not a Logon
    with FixConn(engine.port, sender="NOTLOGON") as conn:
        conn.send("D", [(11, "x")])
        assert conn.closed_silently()
    # ids no session may be named after: 100 KB, 65 characters, a pattern
    for sender, target in ((big, BROKER), ("DYNBIG", big), ("D" * 65, BROKER),
                           ("DYN*", BROKER)):
        with FixConn(engine.port, sender=sender, target=target) as conn:
            conn.logon()
            assert conn.closed_silently()
    with FixConn(engine.port, sender="DYNSUB") as conn:
        conn.logon(extra=[(50, big)])
        assert conn.closed_silently()
    metrics = engine.metrics()
    assert "NOTLOGON" not in metrics and "CCCCCCCC" not in metrics and "DDDDDDDD" not in metrics
    assert max(len(v) for v in _label_values(metrics)) <= 64
    assert engine.metric("fixplus_logons_refused_total", reason="not_logon") == 1
    log = engine.log_text()
    assert "creating dynamic session" not in log
    assert max(len(line) for line in log.splitlines()) <= 1000
    assert "C" * 200 not in log
    sessions = engine.store_cli("sessions")
    assert "NOTLOGON" not in sessions and "CCCC" not in sessions and "DDDD" not in sessions
    assert not [row for row in sqlite_content(engine.dir / "store.db")
                if any(isinstance(v, str) and ("CCCC" in v or "NOTLOGON" in v) for v in row)]

    # maxSessions counts sessions that exist at once: one after the other,
    # more than maxSessions log on and off
    for i in range(5):
        conn = logon_works_as(engine, f"DYN{i}")
        assert conn.logout().msg_type == "5"
        conn.close()
        engine.wait_log(f"dynamic session FIX.4.4:BROKER->DYN{i} removed")
    # two at once, a third is refused until one goes
    first, second = logon_works_as(engine, "HOLD1"), logon_works_as(engine, "HOLD2")
    with FixConn(engine.port, sender="HOLD3") as conn:
        conn.logon()
        assert conn.closed_silently()
    assert engine.metric("fixplus_logons_refused_total", reason="limit") == 1
    first.logout()
    first.close()
    third = logon_works_as(engine, "HOLD3")
    for conn in (second, third):
        conn.close()
    no_traceback(engine)


def logon_works_as(engine: EngineProcess, sender: str, tries: int = 20) -> FixConn:
    for _ in range(tries):
        conn = FixConn(engine.port, sender=sender)
        conn.logon()
        try:
            if conn.read(5).msg_type == "A":
                return conn
        except Closed:
            pass
        conn.close()
        time.sleep(0.25)
    raise AssertionError(f"{sender} could not log on")


# ---------------------------------------------------------------------------
# 5. Squatting with HeartBtInt


def test_heartbeat_interval_out_of_range_is_refused_with_a_logout(
        start_engine: EngineFactory) -> None:
    engine = start_engine()
    for heartbeat in ("0", "100000", "99999999999999999999", "-5", "abc", "9" * 5000):
        # before authentication: no answer at all
        with FixConn(engine.port) as conn:
            conn.logon(username=USERNAME, password="wrong", heartbeat=heartbeat)
            assert conn.closed_silently()
        # after: a Logout saying why
        with FixConn(engine.port) as conn:
            conn.logon(username=USERNAME, password=PASSWORD, heartbeat=heartbeat)
            answers = conn.read_all(10)
        assert [m.msg_type for m in answers] == ["5"], (heartbeat[:20], answers)
        assert "HeartBtInt" in answers[0].text()
        assert engine.metric("fixplus_session_logged_on") == 0
    logon_works(engine).close()
    no_traceback(engine)


# ---------------------------------------------------------------------------
# 6. The queue above a sequence gap


def test_queue_above_a_gap_is_bounded(start_engine: EngineFactory) -> None:
    engine = start_engine(session_extra={"maxQueuedBytes": 32 * MIB})
    idle = engine.rss_kib()
    result = gap_queue_attack(engine)
    assert engine.alive()
    assert result.peak_kib - idle < RSS_BOUND_KIB, (idle, result.peak_kib)
    types = [m.msg_type for m in result.messages]
    assert types[:1] == ["2"], result.messages[:3]  # a ResendRequest for the gap
    logouts = [m for m in result.messages if m.msg_type == "5"]
    assert logouts and "too many messages queued" in logouts[0].text()
    assert result.written < 600
    engine.wait_log("too many messages queued")
    assert engine.metric("fixplus_queue_overflows_total", session=SESSION) == 1
    # nothing above the gap was accepted: the engine still expects 2
    show = engine.store_cli("show", SESSION)
    assert "next target seq:  2" in show, show
    assert "stored messages:  3" in show, show  # Logon, ResendRequest, Logout
    conn = logon_works(engine, seq=2)
    conn.close()
    no_traceback(engine)


# ---------------------------------------------------------------------------
# 7. MsgType junk after Logon [waits for the MsgType label bound]


def test_msg_type_junk_makes_no_metrics_series(start_engine: EngineFactory) -> None:
    engine = start_engine()
    conn = logon_works(engine)
    for i in range(120):
        conn.send(f"J{i:03d}Q", [(11, f"junk-{i}")])
    conn.send("1", [(112, "after junk")])
    conn.read_until("0", 10)
    conn.close()
    values = {labels["msg_type"] for name, labels, _ in parse_metrics(engine.metrics())
              if "msg_type" in labels}
    assert not {v for v in values if v.startswith("J")}, sorted(values)
    assert "other" in values
    assert len(values) <= 30
    no_traceback(engine)


# ---------------------------------------------------------------------------
# 8. Log forging [partly waits for wire text escaping in logs]

EVIL = "EVIL\r\nFORGED 2026-01-01 00:00:00,000 WARNING pyfixmsg_plus.engine all is well\x1b[2J"


def test_control_bytes_from_the_wire_never_reach_the_log_raw(
        start_engine: EngineFactory) -> None:
    engine = start_engine(dynamic=[dynamic_template(0)])
    # before Logon: CompIDs that name no session
    for sender, target in ((EVIL, BROKER), ("CLIENT", EVIL)):
        with FixConn(engine.port, sender=sender, target=target) as conn:
            conn.logon(username=USERNAME, password=PASSWORD)
            assert conn.closed_silently()
    # after Logon: Text in an application message, a Reject, a Logout
    conn = logon_works(engine)
    conn.send("D", [(11, "forge-1"), (55, "EUR/USD"), (54, 1), (60, "20260101-00:00:00"),
                    (38, 100), (40, 1), (58, EVIL)])
    conn.send("3", [(45, 1), (58, EVIL)])
    conn.send("5", [(58, EVIL)])
    conn.read_all(5)
    conn.close()
    # a CompID problem after Logon
    conn = logon_works(engine)
    conn.send_raw(_with_sender(conn, EVIL))
    conn.read_all(5)
    conn.close()
    engine.wait_log("logged out")
    log = engine.log_bytes()
    assert b"\x1b" not in log
    assert b"\r" not in log
    assert not [line for line in log.splitlines() if line.startswith(b"FORGED")], \
        [line[:200] for line in log.splitlines() if line.startswith(b"FORGED")]
    no_traceback(engine)


def _with_sender(conn: FixConn, sender: str) -> bytes:
    seq, conn.seq = conn.seq, conn.seq + 1
    return encode([(35, "D"), (49, sender), (56, BROKER), (34, seq), (52, now_text()),
                   (11, "forge-2")])


# ---------------------------------------------------------------------------
# 9. Numbers too large for their field [partly waits for the numeric bounds]


def _answers_after(conn: FixConn, attack: bytes) -> list[str]:
    """The MsgTypes the engine answers ``attack`` with, up to the Heartbeat
    that answers a TestRequest sent behind it (or the end of the connection)."""
    conn.send_raw(attack)
    with contextlib.suppress(OSError):
        conn.send("1", [(112, "still-there")])
    types = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            msg = conn.read(max(0.01, deadline - time.monotonic()))
        except (Closed, TimeoutError):
            break
        types.append(msg.msg_type)
        if msg.msg_type == "0" and msg.get(112) == b"still-there":
            break
    return types


@pytest.mark.parametrize("case", ["msgseqnum-4300", "msgseqnum-4301", "newseqno-2^63",
                                  "beginseqno-huge", "endseqno-5000-digits"])
def test_huge_numbers_get_a_reject_or_a_logout(start_engine: EngineFactory, case: str) -> None:
    engine = start_engine()
    conn = logon_works(engine)
    attack = {
        "msgseqnum-4300": lambda: conn.message("D", [(11, "n1")], seq=b"9" * 4300),
        "msgseqnum-4301": lambda: conn.message("D", [(11, "n2")], seq=b"9" * 4301),
        "newseqno-2^63": lambda: conn.message("4", [(123, "Y"), (36, 2**63 + 5)]),
        "beginseqno-huge": lambda: conn.message("2", [(7, 10**30), (16, 0)]),
        "endseqno-5000-digits": lambda: conn.message("2", [(7, 1), (16, "9" * 5000)]),
    }[case]()
    types = _answers_after(conn, attack)
    conn.close()
    assert "3" in types or "5" in types, types
    assert engine.alive()
    conn = logon_works(engine)
    conn.close()
    no_traceback(engine)


def test_logon_with_a_huge_msgseqnum_is_handled(start_engine: EngineFactory) -> None:
    engine = start_engine()
    for digits in (4300, 4301, 10_000):
        with FixConn(engine.port) as conn:
            conn.send_raw(conn.logon_message(username=USERNAME, password=PASSWORD,
                                             seq=b"9" * digits))
            types = [m.msg_type for m in conn.read_all(5)]
        assert set(types) <= {"5"}, types
    assert engine.alive()
    logon_works(engine).close()
    no_traceback(engine)
