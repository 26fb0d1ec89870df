"""End to end: the script runner against a toy acceptor on a real socket."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyfixmsg_plus.engine.codec import Framer, Garbled, Message, encode, parse
from pyfixmsg_plus.engine.scripttest import (
    FileResult,
    collect_files,
    find_fields_fmt,
    format_result,
    main,
    run_scripts,
)


class ToyAcceptor:
    """Logon/heartbeat/logout acceptor written with plain asyncio streams.

    ``mode``: ``"good"``; ``"stays"`` (never closes after Logout);
    ``"chatty"`` (sends a Heartbeat after its Logout before closing).
    """

    def __init__(self, mode: str = "good") -> None:
        self.mode = mode
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        framer = Framer()
        seq = 0
        peer = b"?"

        def reply(msg_type: str, *body: tuple[int, str | bytes]) -> None:
            nonlocal seq
            seq += 1
            now = datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]
            msg = Message.new("FIX.4.4", msg_type, body)
            msg.set(34, seq).set(49, "ISLD").set(52, now).set(56, peer)
            writer.write(encode(msg))

        try:
            while data := await reader.read(4096):
                for frame in framer.feed_and_drain(data):
                    if isinstance(frame, Garbled):
                        continue  # garbled input is ignored
                    msg = parse(frame)
                    peer = msg.get(49) or b"?"
                    kind = msg.msg_type
                    if kind == b"A":
                        reply("A", (98, "0"), (108, msg.get(108) or b"30"))
                    elif kind == b"1":
                        reply("0", (112, msg.get(112) or b""))
                    elif kind == b"5":
                        reply("5")
                        if self.mode == "chatty":
                            reply("0")
                        await writer.drain()
                        if self.mode == "stays":
                            await reader.read()  # until the client goes away
                        return
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def acceptor() -> AsyncIterator[tuple[ToyAcceptor, int]]:
    toy = ToyAcceptor()
    server = await asyncio.start_server(toy.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield toy, port


@pytest.fixture
def threaded_acceptor() -> Iterator[int]:
    """The toy acceptor on its own loop in a thread, for the sync ``main``."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        server = await asyncio.start_server(ToyAcceptor().handle, "127.0.0.1", 0)
        holder["server"] = server
        holder["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert ready.wait(5)
    port = holder["port"]
    assert isinstance(port, int)
    yield port
    server = holder["server"]
    assert isinstance(server, asyncio.Server)

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def soh(text: str) -> bytes:
    return text.replace("|", "\x01").encode()


GOOD = """\
# logon, a garbled test request that must be ignored, a good one, logout
iCONNECT
I8=FIX.4.4|35=A|34=1|49=TW|52=<TIME>|56=ISLD|98=0|108=30|
E8=FIX.4.4|9=61|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW|98=0|108=30|10=0|

# wrong checksum: ignored
I8=FIX.4.4|35=1|34=2|49=TW|52=<TIME>|56=ISLD|112=BAD|10=000|
# junk
I35=1|garbage|
I8=FIX.4.4|35=1|34=2|49=TW|52=<TIME+1>|56=ISLD|112=HELLO|
E8=FIX.4.4|9=59|35=0|34=2|49=ISLD|52=00000000-00:00:00.000|56=TW|112=HELLO|10=0|

# logout; this expectation has no 9 and no 10: both are computed
I8=FIX.4.4|35=5|34=3|49=TW|52=<TIME-1>|56=ISLD|
E8=FIX.4.4|35=5|34=3|49=ISLD|52=00000000-00:00:00.000|56=TW|
eDISCONNECT
"""

BAD = GOOD.replace("|56=TW|112=HELLO|10=0|", "|56=TW|112=WORLD|10=0|")

TWO_CONNECTIONS = """\
i1,CONNECT
I1,8=FIX.4.4|35=A|34=1|49=TW|52=<TIME>|56=ISLD|98=0|108=30|
E1,8=FIX.4.4|9=61|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW|98=0|108=30|10=0|
i2,CONNECT
I2,8=FIX.4.4|35=A|34=1|49=TX|52=<TIME>|56=ISLD|98=0|108=30|
E2,8=FIX.4.4|9=61|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TX|98=0|108=30|10=0|
I2,8=FIX.4.4|35=5|34=2|49=TX|52=<TIME>|56=ISLD|
E2,8=FIX.4.4|9=49|35=5|34=2|49=ISLD|52=00000000-00:00:00.000|56=TX|10=0|
e2,DISCONNECT
i1,DISCONNECT
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_bytes(text.replace("|", "\x01").encode())
    return path


async def test_passing_and_failing_scripts(
    tmp_path: Path, acceptor: tuple[ToyAcceptor, int]
) -> None:
    _, port = acceptor
    good = write(tmp_path, "good.def", GOOD)
    bad = write(tmp_path, "bad.def", BAD)
    seen: list[FileResult] = []
    report = await run_scripts(
        "127.0.0.1", port, [good, bad, good], fields_fmt=None, timeout=2, on_result=seen.append
    )
    assert [r.path for r in report.results] == [good, bad, good]
    assert [r.passed for r in report.results] == [True, False, True]
    assert seen == report.results
    assert report.summary() == "2 passed, 1 failed"
    failure = report.results[1].failure
    assert failure is not None
    assert failure.line_no == 11
    assert failure.reason == "value in field (112) should be (WORLD) but was (HELLO)"
    assert failure.expected is not None and b"112=WORLD" in failure.expected
    assert failure.received is not None and b"112=HELLO" in failure.received
    text = "\n".join(format_result(report.results[1]))
    assert text.startswith("FAIL ")
    assert "line 11: E8=FIX.4.4|9=59|" in text
    assert "expected 112=WORLD" in text and "received 112=HELLO" in text
    # The good file takes no time beyond the round trips.
    assert report.results[0].duration < 1.5


async def test_two_connections(tmp_path: Path, acceptor: tuple[ToyAcceptor, int]) -> None:
    toy, port = acceptor
    script = write(tmp_path, "two.def", TWO_CONNECTIONS)
    report = await run_scripts("127.0.0.1", port, [script], fields_fmt=None, timeout=2)
    assert report.ok, report.results[0].failure
    assert toy.connections == 2


async def test_acceptor_that_does_not_disconnect(
    tmp_path: Path, acceptor: tuple[ToyAcceptor, int]
) -> None:
    toy, port = acceptor
    toy.mode = "stays"
    script = write(tmp_path, "good.def", GOOD)
    report = await run_scripts("127.0.0.1", port, [script], fields_fmt=None, timeout=0.3)
    failure = report.results[0].failure
    assert failure is not None
    assert failure.line_no == 16
    assert failure.reason == "the acceptor did not close the connection within 0.3 s"


async def test_acceptor_that_sends_more_before_disconnecting(
    tmp_path: Path, acceptor: tuple[ToyAcceptor, int]
) -> None:
    toy, port = acceptor
    toy.mode = "chatty"
    script = write(tmp_path, "good.def", GOOD)
    report = await run_scripts("127.0.0.1", port, [script], fields_fmt=None, timeout=2)
    failure = report.results[0].failure
    assert failure is not None
    assert failure.line_no == 16
    assert failure.reason == "expected a disconnect, received data"
    assert failure.received is not None and b"\x0135=0\x01" in failure.received


async def test_expectation_times_out(tmp_path: Path, acceptor: tuple[ToyAcceptor, int]) -> None:
    _, port = acceptor
    script = write(
        tmp_path,
        "silent.def",
        "iCONNECT\nE8=FIX.4.4|9=5|35=0|10=0|\n",
    )
    report = await run_scripts("127.0.0.1", port, [script], fields_fmt=None, timeout=0.2)
    failure = report.results[0].failure
    assert failure is not None
    assert (failure.line_no, failure.reason) == (2, "no message received within 0.2 s")


async def test_connection_refused_and_syntax_error(tmp_path: Path) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    script = write(tmp_path, "a.def", "iCONNECT\n")
    broken = write(tmp_path, "b.def", "iCONNECT\nX\n")
    report = await run_scripts(
        "127.0.0.1", port, [script, broken], fields_fmt=None, timeout=1, connect_timeout=0.2
    )
    first, second = report.results
    assert first.failure is not None and first.failure.reason.startswith("cannot connect to")
    assert second.failure is not None
    assert (second.failure.line_no, second.failure.reason) == (2, "syntax error: unknown verb")


async def test_jobs_run_files_concurrently(
    tmp_path: Path, acceptor: tuple[ToyAcceptor, int]
) -> None:
    _, port = acceptor
    files = [
        write(
            tmp_path,
            f"g{i}.def",
            GOOD.replace("49=TW|", f"49=T{i}|").replace("56=TW|", f"56=T{i}|"),
        )
        for i in range(4)
    ]
    report = await run_scripts("127.0.0.1", port, files, fields_fmt=None, timeout=2, jobs=4)
    assert report.summary() == "4 passed, 0 failed"
    assert [r.path for r in report.results] == files


def test_main_prints_results_and_summary(
    tmp_path: Path, threaded_acceptor: int, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    write(suite, "1_good.def", GOOD)
    write(suite, "2_bad.def", BAD)
    write(suite, "3_skipped.def", BAD)
    argv = [str(suite), "--port", str(threaded_acceptor), "--timeout", "2"]
    code = main([*argv, "--filter", "[12]_*"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0].startswith("PASS ") and out[0].split()[1].endswith("1_good.def")
    assert out[1].startswith("FAIL ") and out[1].split()[1].endswith("2_bad.def")
    assert "    value in field (112) should be (WORLD) but was (HELLO)" in out
    assert out[-1] == "1 passed, 1 failed"

    code = main([*argv, "--filter", "1_*"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[-1] == "1 passed, 0 failed"

    code = main([*argv, "--filter", "nothing*"])
    assert code == 2
    assert capsys.readouterr().out.splitlines()[-1] == "0 passed, 0 failed"


def test_collect_files_and_fields_fmt(tmp_path: Path) -> None:
    (tmp_path / "fix44").mkdir()
    (tmp_path / "fix42").mkdir()
    a = write(tmp_path / "fix44", "b.def", "")
    b = write(tmp_path / "fix42", "a.def", "")
    (tmp_path / "fix44" / "notes.txt").write_text("")
    assert collect_files([tmp_path]) == [b, a]
    assert collect_files([tmp_path], ["b.*"]) == [a]
    assert collect_files([tmp_path], ["*/fix42/*"]) == [b]
    assert collect_files([a]) == [a]
    fmt = tmp_path / "fields.fmt"
    fmt.write_text("10=\\d{3}\n")
    assert find_fields_fmt([a]) == fmt
    assert find_fields_fmt([tmp_path]) == fmt


async def test_connection_stays_known_after_edisconnect(
    tmp_path: Path, acceptor: tuple[ToyAcceptor, int]
) -> None:
    _, port = acceptor
    closes = write(tmp_path, "closes.def", GOOD + "i1,DISCONNECT\n")
    sends = write(tmp_path, "sends.def", GOOD + "I8=FIX.4.4|35=0|34=4|49=TW|56=ISLD|\n")
    reconnects = write(tmp_path, "again.def", GOOD + GOOD)
    report = await run_scripts(
        "127.0.0.1", port, [closes, sends, reconnects], fields_fmt=None, timeout=2
    )
    assert [r.passed for r in report.results] == [True, False, True]
    failure = report.results[1].failure
    assert failure is not None
    assert failure.line_no == 17
    assert failure.reason == "cannot send: the acceptor has closed the connection"
