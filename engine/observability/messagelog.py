"""Message and event logs per session, and the screen log (docs/logs.md).

Theory of operation.  The session driver calls a :class:`SessionLog` at
three narrow points: a frame read (:meth:`SessionLog.incoming`), the bytes
written in one flush (:meth:`SessionLog.outgoing`), and session events.
Those calls only take the time and put a tuple on a queue: masking
credentials, filtering heartbeats, escaping, formatting, writing and
rotating files are done by one writer thread of the :class:`MessageLog`,
which drains the queue in batches and flushes each file once a batch.

The queue is bounded (``maxQueued``): when the writer falls that far
behind, entries are dropped, counted, and the count written as an event.

Trust.  A frame received while the session is not logged on is held back
(at most :data:`HELD_FRAMES` frames and :data:`HELD_BYTES` bytes) and
written only once the Logon is accepted; when the connection ends without
one, the event log says how many frames were not logged, nothing more.
Every message is written with its credentials masked
(:func:`~pyfixmsg_plus.engine.codec.credentials.mask_credentials`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Final, TextIO

from ..codec.credentials import mask_credentials
from ..config import MessageLogSettings, SessionSettings
from .logformat import (
    file_prefix,
    format_time,
    iso_time,
    msg_type_of,
    seq_num_of,
    wire_line,
    wire_text,
)
from .logs import one_line

__all__ = ["HELD_BYTES", "HELD_FRAMES", "MessageLog", "SessionLog"]

log = logging.getLogger("pyfixmsg_plus.engine.messagelog")

#: Frames (and bytes) held while a Logon is not yet accepted.
HELD_FRAMES: Final = 4
HELD_BYTES: Final = 65_536

_IN, _OUT, _EVENT = 0, 1, 2
_HEARTBEATS: Final = frozenset({"0", "1"})
_PRINTABLE: Final = re.compile(rb"[\x20-\x7e]*")
#: Seconds the writer lets entries gather after the first of a batch: one
#: wake-up and one flush per file for many entries, instead of one each.
BATCH_DELAY: Final = 0.01
_DAY_NS: Final = 86_400 * 10**9

_Item = tuple[int, "SessionLog", int, bytes | str] | None


class SessionLog:
    """What one session's driver calls (from the event loop's thread)."""

    __slots__ = ("_held", "_held_bytes", "_log", "_not_held", "key", "prefix", "session_id")

    def __init__(self, owner: MessageLog, session_id: str, prefix: str) -> None:
        self._log = owner
        self.session_id = session_id
        self.prefix = prefix
        self.key = prefix
        self._held: list[tuple[int, bytes]] = []
        self._held_bytes = 0
        self._not_held = 0  # frames before the Logon beyond the bounds: counted only

    def incoming(self, frame: bytes, trusted: bool) -> None:
        """A frame read; ``trusted`` when the session is logged on."""
        owner = self._log
        if trusted:
            if self._held or self._not_held:
                self.logged_on()
            owner.put(_IN, self, frame)
        elif len(self._held) < HELD_FRAMES and self._held_bytes + len(frame) <= HELD_BYTES:
            self._held.append((owner.clock(), frame))
            self._held_bytes += len(frame)
        else:
            self._not_held += 1

    def garbled(self, reason: str, trusted: bool) -> None:
        """A garbled frame: an event once logged on, else only counted."""
        if trusted:
            self.event(f"garbled message: {reason}")
        else:
            self._not_held += 1

    def outgoing(self, frames: list[bytes]) -> None:
        owner = self._log
        for frame in frames:
            owner.put(_OUT, self, frame)

    def event(self, text: str) -> None:
        self._log.put(_EVENT, self, text)

    def logged_on(self) -> None:
        """The Logon was accepted: the frames held so far are written."""
        if self._not_held:
            self.event(f"{self._not_held} message(s) received before the Logon not logged "
                       "(more than the log holds back)")
        for when, frame in self._held:
            self._log.put(_IN, self, frame, when)
        self._held.clear()
        self._held_bytes = 0
        self._not_held = 0

    def disconnected(self, reason: str) -> None:
        count = len(self._held) + self._not_held
        if count:
            self.event(f"{count} message(s) received before a Logon was accepted: not logged")
            self._held.clear()
            self._held_bytes = 0
            self._not_held = 0
        self.event(f"disconnected: {reason}" if reason else "disconnected")


@dataclasses.dataclass
class _File:
    path: Path
    stream: BinaryIO
    size: int
    day: int  #: days since the epoch (UTC) of the first line


class MessageLog:
    """The engine's message logs: one writer thread for every session."""

    def __init__(self, settings: MessageLogSettings, base: Path | None = None, *,
                 max_age_days: float | None = None, clock: Callable[[], int] = time.time_ns,
                 screen: TextIO | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.max_age_days = max_age_days
        self.folder = _resolve(settings.path, base)
        self.backup_folder = _resolve(settings.backup_path, base) or self.folder
        self._screen = screen
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._put = self._queue.put
        self._max_queued = settings.max_queued
        self._submitted = 0  # written by the loop's thread only
        self._written = 0  # written by the writer thread only
        self.dropped = 0
        self._reported_drops = 0
        self._files: dict[tuple[str, int], _File] = {}
        self._thread: threading.Thread | None = None
        self.errors = 0

    # -- the loop's side ---------------------------------------------------
    def session(self, settings: SessionSettings) -> SessionLog:
        prefix = file_prefix(settings.begin_string, settings.sender_comp_id,
                             settings.target_comp_id, settings.session_qualifier,
                             settings.sender_sub_id, settings.sender_location_id,
                             settings.target_sub_id, settings.target_location_id)
        return SessionLog(self, settings.session_id, prefix)

    def put(self, kind: int, session: SessionLog, payload: bytes | str,
            when: int | None = None) -> None:
        if self._submitted - self._written >= self._max_queued:
            self.dropped += 1
            return
        self._submitted += 1
        self._put((kind, session, self.clock() if when is None else when, payload))

    def start(self) -> None:
        for folder in {self.folder, self.backup_folder} - {None}:
            assert folder is not None
            folder.mkdir(parents=True, exist_ok=True, mode=0o750)
        self._thread = threading.Thread(target=self._run, name="fixplus-message-log",
                                        daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, close the files, stop the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    @property
    def backlog(self) -> int:
        return self._submitted - self._written

    # -- the writer thread -------------------------------------------------
    def _run(self) -> None:
        get = self._queue.get
        get_nowait = self._queue.get_nowait
        try:
            while True:
                item = get()
                if item is not None:
                    time.sleep(BATCH_DELAY)
                batch = [item]
                while len(batch) < 4096:
                    try:
                        batch.append(get_nowait())
                    except queue.Empty:
                        break
                stop = None in batch
                try:
                    self._write(batch)
                except Exception:  # a log failure must not stop the engine
                    self.errors += 1
                    log.exception("message log: cannot write")
                self._written += len(batch) - (1 if stop else 0)
                if stop:
                    return
        finally:
            for file in self._files.values():
                file.stream.close()
            self._files.clear()

    def _write(self, batch: list[_Item]) -> None:
        settings = self.settings
        touched: set[tuple[str, int]] = set()
        screen = settings.screen
        files = self._files
        rotating = settings.max_bytes is not None or settings.rotate_daily
        # The MsgType is looked for only when something depends on it.
        typed = settings.format == "json" or not settings.heartbeats or (
            (screen.incoming or screen.outgoing) and not screen.heartbeats)
        if self.dropped != self._reported_drops:
            lost = self.dropped - self._reported_drops
            self._reported_drops = self.dropped
            log.warning("message log: %d entries dropped (the writer fell %d behind)", lost,
                        settings.max_queued)
        for item in batch:
            if item is None:
                continue
            kind, session, when, payload = item
            if kind == _EVENT:
                assert isinstance(payload, str)
                text = one_line(payload, 2000)
                if self.folder is not None:
                    self._line(session, 1, when, self._event_line(session, when, text), touched)
                if screen.events:
                    self._show(f"<{format_time(when, 'millis')}, {session.session_id}, event> "
                               f"({text})")
                continue
            assert isinstance(payload, bytes)
            msg_type = msg_type_of(payload) if typed else ""
            heartbeat = msg_type in _HEARTBEATS
            data = _masked(payload)
            if self.folder is not None and (settings.heartbeats or not heartbeat):
                line = self._message_line(session, kind, when, data, msg_type)
                file = None if rotating else files.get((session.key, 0))
                if file is None:
                    self._line(session, 0, when, line, touched)
                else:  # the usual case: an open file, no rotation to check
                    file.stream.write(line + b"\n")
                    file.size += len(line) + 1
                    touched.add((session.key, 0))
            show = screen.incoming if kind == _IN else screen.outgoing
            if show and (screen.heartbeats or not heartbeat):
                direction = "incoming" if kind == _IN else "outgoing"
                self._show(f"<{format_time(when, 'millis')}, {session.session_id}, {direction}> "
                           f"({wire_text(data)})")
        for key in touched:
            self._files[key].stream.flush()
        if self._screen is not None or any((screen.incoming, screen.outgoing, screen.events)):
            (self._screen or sys.stdout).flush()

    def _show(self, line: str) -> None:
        print(line, file=self._screen or sys.stdout)

    def _message_line(self, session: SessionLog, kind: int, when: int, data: bytes,
                      msg_type: str) -> bytes:
        if self.settings.format == "json":
            return json.dumps({
                "time": iso_time(when), "session": session.session_id,
                "direction": "in" if kind == _IN else "out", "msgType": wire_text(
                    msg_type.encode("latin-1")), "seqNum": seq_num_of(data),
                "message": wire_text(data)}).encode("ascii")
        if b"|" in data or b"\\" in data:
            body = wire_line(data)
        else:
            body = data.replace(b"\x01", b"|")
            if _PRINTABLE.fullmatch(body) is None:
                body = wire_line(data)
        stamp = format_time(when, self.settings.timestamp_precision).encode("ascii")
        return b"%b %b %b" % (stamp, b"IN " if kind == _IN else b"OUT", body)

    def _event_line(self, session: SessionLog, when: int, text: str) -> bytes:
        if self.settings.format == "json":
            return json.dumps({"time": iso_time(when), "session": session.session_id,
                               "event": text}, ensure_ascii=True).encode("ascii")
        line = f"{format_time(when, self.settings.timestamp_precision)} {text}"
        return line.encode("ascii", "backslashreplace")

    def _line(self, session: SessionLog, which: int, when: int, line: bytes,
              touched: set[tuple[str, int]]) -> None:
        key = (session.key, which)
        file = self._files.get(key)
        size = len(line) + 1
        day = when // _DAY_NS
        if file is not None and self._due(file, size, day):
            file.stream.close()
            del self._files[key]
            self._rotate(file.path, session.prefix, which, when)
            file = None
        if file is None:
            file = self._open(session.prefix, which, day)
            if self._due(file, size, day) and file.size:
                file.stream.close()
                self._rotate(file.path, session.prefix, which, when)
                file = self._open(session.prefix, which, day)
            self._files[key] = file
        file.stream.write(line + b"\n")
        file.size += size
        touched.add(key)

    def _due(self, file: _File, size: int, day: int) -> bool:
        limit = self.settings.max_bytes
        if limit is not None and file.size and file.size + size > limit:
            return True
        return self.settings.rotate_daily and day != file.day

    def _open(self, prefix: str, which: int, day: int) -> _File:
        assert self.folder is not None
        path = self.folder / f"{prefix}.{'messages' if which == 0 else 'event'}.current.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        stream = os.fdopen(fd, "ab", buffering=1 << 16)
        stat = os.fstat(fd)
        first_day = int(stat.st_mtime_ns // _DAY_NS) if stat.st_size else day
        return _File(path, stream, stat.st_size, first_day)

    def _rotate(self, path: Path, prefix: str, which: int, when: int) -> None:
        folder = self.backup_folder
        assert folder is not None
        kind = "messages" if which == 0 else "event"
        stamp = format_time(when, "seconds").replace(":", "")
        target = folder / f"{prefix}.{kind}.{stamp}.log"
        number = 1
        while target.exists():
            target = folder / f"{prefix}.{kind}.{stamp}-{number}.log"
            number += 1
        os.replace(path, target)
        self._prune(folder, prefix, kind, when)

    def _prune(self, folder: Path, prefix: str, kind: str, now: int) -> None:
        rotated = sorted(p for p in folder.glob(f"{prefix}.{kind}.*.log")
                         if not p.name.endswith(".current.log"))
        excess = len(rotated) - self.settings.backups
        doomed = set(rotated[:excess]) if excess > 0 else set()
        if self.max_age_days is not None:
            cutoff = now - int(self.max_age_days * _DAY_NS)
            doomed.update(p for p in rotated if p.stat().st_mtime_ns < cutoff)
        for path in doomed:
            path.unlink(missing_ok=True)


def _masked(data: bytes) -> bytes:
    """``data`` with its credentials masked; the usual message (none of the
    tags, not a Logon) is passed by plain substring tests."""
    if (b"554=" in data or b"925=" in data or b"1402=" in data or b"1404=" in data
            or b"35=A\x01" in data):
        return mask_credentials(data)
    return data


def _resolve(path: str | None, base: Path | None) -> Path | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() or base is None else base / p
