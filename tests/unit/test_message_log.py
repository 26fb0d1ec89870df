"""The message log's lines, files, rotation, bounds and trust rules
(engine/observability/messagelog.py, logformat.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyfixmsg_plus.engine.cli.main import main
from pyfixmsg_plus.engine.codec import Message, encode
from pyfixmsg_plus.engine.config import MessageLogSettings, SessionSettings
from pyfixmsg_plus.engine.observability.logformat import (
    entry_from_line,
    file_prefix,
    format_time,
    log_files,
    parse_time,
    wire_bytes,
    wire_line,
    wire_text,
)
from pyfixmsg_plus.engine.observability.messagelog import HELD_FRAMES, MessageLog

T0 = 1_764_676_800 * 10**9  # 2025-12-02 12:00:00 UTC
DAY = 86_400 * 10**9


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def settings() -> SessionSettings:
    return SessionSettings.model_validate({
        "role": "initiator", "beginString": "FIX.4.4", "senderCompId": "EXEC",
        "targetCompId": "BANZAI", "connect": [{"host": "h", "port": 1}]})


def frame(msg_type: str, *fields: tuple[int, str], seq: int = 1) -> bytes:
    msg = Message.new("FIX.4.4", msg_type, [*fields])
    msg.set(49, "EXEC").set(56, "BANZAI").set(34, str(seq)).set(52, "20251202-12:00:00")
    return encode(msg)


def open_log(tmp_path: Path, screen: io.StringIO | None = None, **extra: object
             ) -> tuple[MessageLog, Clock]:
    clock = Clock()
    log = MessageLog(MessageLogSettings.model_validate({"path": str(tmp_path), **extra}),
                     clock=clock, screen=screen)
    log.start()
    return log, clock


@given(st.binary(max_size=200))
def test_wire_text_is_one_printable_line_that_reads_back(data: bytes) -> None:
    text = wire_text(data)
    assert all(0x20 <= ord(ch) <= 0x7e for ch in text)
    assert wire_bytes(text) == data


def test_wire_text_writes_soh_as_bar_and_escapes_a_bar_in_a_value() -> None:
    assert wire_text(b"8=FIX.4.4\x0158=a|b\\c\r\n\x01") == "8=FIX.4.4|58=a\\x7cb\\\\c\\x0d\\x0a|"


def test_file_prefix_is_quickfix_naming_and_a_safe_file_name() -> None:
    assert file_prefix("FIX.4.4", "EXEC", "BANZAI") == "FIX.4.4-EXEC-BANZAI"
    assert file_prefix("FIX.4.4", "A", "B", "q", "S") == "FIX.4.4-A_S-B-q"
    assert file_prefix("FIX.4.4", "../x", "B/C") == "FIX.4.4-.._x-B_C"


def test_times_format_and_parse() -> None:
    assert format_time(T0 + 123_456_789) == "20251202-12:00:00.123456"
    assert format_time(T0 + 123_456_789, "millis") == "20251202-12:00:00.123"
    assert format_time(T0, "seconds") == "20251202-12:00:00"
    assert parse_time("20251202-12:00:00.123456") == T0 + 123_456_000
    assert parse_time("2025-12-02T12:00:00Z") == T0
    assert parse_time("2025-12-02T13:00:00+01:00") == T0
    assert parse_time("2025-12-02") == T0 - 12 * 3600 * 10**9


def test_messages_and_events_go_to_quickfix_named_files(tmp_path: Path) -> None:
    log, _ = open_log(tmp_path)
    s = log.session(settings())
    s.incoming(frame("A", (98, "0"), (108, "30"), (554, "secret")), False)
    s.logged_on()
    s.event("logged on")
    s.outgoing([frame("D", (11, "o1")), frame("0")])
    log.close()
    messages = (tmp_path / "FIX.4.4-EXEC-BANZAI.messages.current.log").read_text().splitlines()
    events = (tmp_path / "FIX.4.4-EXEC-BANZAI.event.current.log").read_text().splitlines()
    assert [line.split(" ")[1] for line in messages] == ["IN", "OUT", "OUT"]
    assert "554=***|" in messages[0] and "secret" not in messages[0]
    assert events == ["20251202-12:00:00.000000 logged on"]
    entries = [entry_from_line(line, "p", "messages") for line in messages]
    assert [e.msg_type for e in entries if e] == ["A", "D", "0"]


def test_frames_before_the_logon_is_accepted_are_never_written(tmp_path: Path) -> None:
    log, _ = open_log(tmp_path)
    s = log.session(settings())
    for _ in range(HELD_FRAMES + 3):
        s.incoming(frame("A", (58, "evil\r\nline")), False)
    s.disconnected("")
    log.close()
    assert not (tmp_path / "FIX.4.4-EXEC-BANZAI.messages.current.log").exists()
    events = (tmp_path / "FIX.4.4-EXEC-BANZAI.event.current.log").read_text()
    assert f"{HELD_FRAMES + 3} message(s) received before a Logon was accepted" in events
    assert "evil" not in events


def test_held_frames_come_first_once_logged_on(tmp_path: Path) -> None:
    log, _ = open_log(tmp_path)
    s = log.session(settings())
    s.incoming(frame("A", seq=1), False)
    s.incoming(frame("D", seq=2), True)  # the session is on before the driver says so
    log.close()
    text = (tmp_path / "FIX.4.4-EXEC-BANZAI.messages.current.log").read_text()
    assert text.index("|35=A|") < text.index("|35=D|")


def test_json_lines(tmp_path: Path) -> None:
    log, _ = open_log(tmp_path, format="json")
    s = log.session(settings())
    s.outgoing([frame("D", (11, "o1"), seq=7)])
    s.event("disconnecting: bye\nforged")
    log.close()
    line = json.loads((tmp_path / "FIX.4.4-EXEC-BANZAI.messages.current.log").read_text())
    assert line["direction"] == "out" and line["msgType"] == "D" and line["seqNum"] == 7
    assert line["session"] == "FIX.4.4:EXEC->BANZAI"
    assert line["time"] == "2025-12-02T12:00:00.000000Z"
    event = (tmp_path / "FIX.4.4-EXEC-BANZAI.event.current.log").read_text()
    assert event.count("\n") == 1 and "bye\\\\nforged" in event


def test_rotation_by_size_keeps_the_configured_backups(tmp_path: Path) -> None:
    log, clock = open_log(tmp_path, maxBytes=4096, backups=2)
    s = log.session(settings())
    for n in range(200):
        clock.now = T0 + n * 10**9
        s.outgoing([frame("D", (11, f"order-{n:04}"), seq=n + 1)])
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    rotated = [n for n in names if ".messages." in n and "current" not in n]
    assert len(rotated) == 2
    assert all((tmp_path / n).stat().st_size <= 4096 for n in names)
    found = list(log_files([tmp_path]))
    assert found[-1][0].name.endswith("messages.current.log")  # oldest first, current last
    last = (tmp_path / "FIX.4.4-EXEC-BANZAI.messages.current.log").read_text()
    assert "order-0199" in last


def test_rotation_by_day(tmp_path: Path) -> None:
    log, clock = open_log(tmp_path, rotateDaily=True)
    s = log.session(settings())
    s.outgoing([frame("D", (11, "day1"))])
    clock.now = T0 + DAY
    s.outgoing([frame("D", (11, "day2"))])
    log.close()
    rotated = [p for p in tmp_path.iterdir() if p.name.startswith("FIX.4.4-EXEC-BANZAI.messages.2")]
    assert len(rotated) == 1 and "day1" in rotated[0].read_text()
    assert "day2" in (tmp_path / "FIX.4.4-EXEC-BANZAI.messages.current.log").read_text()


def test_screen_log_shows_only_what_is_asked(tmp_path: Path) -> None:
    screen = io.StringIO()
    log = MessageLog(MessageLogSettings.model_validate(
        {"screen": {"incoming": True, "events": True}}), clock=Clock(), screen=screen)
    log.start()
    s = log.session(settings())
    s.incoming(frame("D", (11, "in")), True)
    s.incoming(frame("0"), True)
    s.outgoing([frame("8", (11, "out"))])
    s.event("logged on")
    log.close()
    shown = screen.getvalue().splitlines()
    assert len(shown) == 2
    assert shown[0].startswith("<20251202-12:00:00.000, FIX.4.4:EXEC->BANZAI, incoming> (8=")
    assert shown[1].endswith("event> (logged on)")
    assert not list(tmp_path.iterdir())


def test_a_writer_that_falls_behind_drops_and_says_so(tmp_path: Path) -> None:
    log = MessageLog(MessageLogSettings.model_validate({"path": str(tmp_path), "maxQueued": 100}),
                     clock=Clock())
    s = log.session(settings())  # not started: nothing is written yet
    for _ in range(150):
        s.outgoing([frame("D")])
    assert log.dropped == 50 and log.backlog == 100
    log.start()
    log.close()
    assert len((tmp_path / "FIX.4.4-EXEC-BANZAI.messages.current.log").read_text().splitlines()
               ) == 100


@pytest.mark.parametrize("line", ["", "garbage", "2025 IN x", '{"time": 1}'])
def test_lines_that_are_not_entries(line: str) -> None:
    assert entry_from_line(line, "p", "messages") is None


def write_two_sessions(tmp_path: Path) -> None:
    log, clock = open_log(tmp_path)
    exec_side = log.session(settings())
    other = log.session(SessionSettings.model_validate({
        "role": "initiator", "beginString": "FIX.4.2", "senderCompId": "EXEC",
        "targetCompId": "OTHER", "connect": [{"host": "h", "port": 1}]}))
    exec_side.incoming(frame("D", (11, "a"), seq=1), True)
    clock.now += 10**9
    other.outgoing([frame("8", (11, "b"), seq=1)])
    clock.now += 10**9
    exec_side.outgoing([frame("8", (11, "a"), seq=1)])
    exec_side.event("logged out: bye")
    log.close()


def test_fixplus_log_merges_files_in_time_order_and_filters(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_two_sessions(tmp_path)
    assert main(["log", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] for line in out] == [
        ["FIX.4.4-EXEC-BANZAI", "in"], ["FIX.4.2-EXEC-OTHER", "out"],
        ["FIX.4.4-EXEC-BANZAI", "out"]]
    assert main(["log", str(tmp_path), "--session", "FIX.4.4:EXEC->BANZAI", "-d", "out"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "|35=8|" in out[0] and "BANZAI" in out[0]
    assert main(["log", str(tmp_path), "-t", "D"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert main(["log", str(tmp_path), "--since", "20251202-12:00:01",
                 "--until", "2025-12-02T12:00:02Z"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "OTHER" in out[0]
    assert main(["log", str(tmp_path), "--events"]) == 0
    assert capsys.readouterr().out.strip().endswith("event logged out: bye")
    assert main(["log", str(tmp_path / "missing")]) == 2


def test_rotated_files_older_than_retention_are_deleted(tmp_path: Path) -> None:
    import os

    old = tmp_path / "FIX.4.4-EXEC-BANZAI.messages.20251101-000000.log"
    recent = tmp_path / "FIX.4.4-EXEC-BANZAI.messages.20251201-000000.log"
    other = tmp_path / "FIX.4.4-EXEC-OTHER.messages.20251101-000000.log"
    for path, age_days in ((old, 31), (recent, 1), (other, 31)):
        path.write_text("x\n")
        when = (T0 - age_days * DAY) // 10**9
        os.utime(path, (when, when))
    clock = Clock()
    log = MessageLog(MessageLogSettings.model_validate({"path": str(tmp_path), "maxBytes": 4096}),
                     clock=clock, max_age_days=7)
    log.start()
    s = log.session(settings())
    for n in range(60):  # enough for one rotation
        s.outgoing([frame("D", (11, f"order-{n:04}"))])
    log.close()
    assert not old.exists()
    assert recent.exists()
    assert other.exists()  # another session's files are that session's business


def test_fixplus_log_reads_json_logs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, _ = open_log(tmp_path, format="json")
    s = log.session(settings())
    s.incoming(frame("D", (11, "j1")), True)
    s.outgoing([frame("8", (11, "j1"))])
    log.close()
    assert main(["log", str(tmp_path), "-d", "out"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith("20251202-12:00:00.000000 FIX.4.4:EXEC->BANZAI out ")
    assert "|35=8|" in out[0]


def test_garbled_frames_are_events_once_logged_on_and_counted_before(tmp_path: Path) -> None:
    log, _ = open_log(tmp_path)
    s = log.session(settings())
    s.garbled("CheckSum(10) is wrong", False)
    s.disconnected("")
    s.garbled("CheckSum(10) is wrong", True)
    log.close()
    events = (tmp_path / "FIX.4.4-EXEC-BANZAI.event.current.log").read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in events] == [
        "1 message(s) received before a Logon was accepted: not logged", "disconnected",
        "garbled message: CheckSum(10) is wrong"]


def test_the_log_lines_in_the_docs_are_what_the_log_reads_back() -> None:
    from pyfixmsg_plus.engine.codec import Framer, Garbled

    docs = (Path(__file__).resolve().parents[2] / "docs" / "logs.md").read_text()
    lines = [line for line in docs.splitlines() if " IN  8=" in line or " OUT 8=" in line]
    assert len(lines) >= 2
    for line in lines:
        entry = entry_from_line(line, "doc", "messages")
        assert entry is not None, line
        frames = Framer().feed_and_drain(entry.data)
        assert len(frames) == 1 and not isinstance(frames[0], Garbled), line


@given(st.binary(max_size=200))
def test_wire_line_is_wire_text_in_bytes(data: bytes) -> None:
    assert wire_line(data) == wire_text(data).encode("ascii")


def test_credentials_are_masked_in_every_message_type(tmp_path: Path) -> None:
    log, _ = open_log(tmp_path)
    s = log.session(settings())
    s.outgoing([frame("BE", (923, "1"), (553, "user"), (554, "pw-one"), (925, "pw-two")),
                b"8=FIX.4.4\x019=20\x0135=BE\x010554=pw-three\x0110=000\x01",
                frame("A", (98, "0"), (108, "30"), (95, "6"), (96, "token1"))])
    log.close()
    text = (tmp_path / "FIX.4.4-EXEC-BANZAI.messages.current.log").read_text()
    assert not any(secret in text for secret in ("pw-one", "pw-two", "pw-three", "token1"))
    assert text.count("***") == 4
