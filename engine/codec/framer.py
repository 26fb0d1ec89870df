"""Incremental FIX framing: a byte stream in, whole frames out.

Theory of operation
-------------------
Bytes arrive in arbitrary chunks.  The framer keeps them in a buffer and
cuts frames the way FIX engines do:

1. find ``8=FIX`` at the buffer start or right after an SOH; anything before
   it is junk and is reported as garbled;
2. BeginString must be the first field, BodyLength(9) the second (digits
   only) and MsgType(35) the third;
3. from the end of the BodyLength field, skip BodyLength bytes and look for
   the CheckSum field ``<SOH>10=`` at or after that point; the frame ends at
   the SOH that closes the CheckSum;
4. the frame is good when CheckSum sits exactly where BodyLength says, is
   three digits and equals the byte sum modulo 256.

A frame that fails step 2 is reported as garbled and the framer
resynchronises on the next ``8=FIX``.  A frame that fails step 4 is reported
as garbled as a whole (steps 3 and 4 are what QuickFIX-family engines do, so
a BodyLength that is too large swallows the message behind it exactly as it
would there).  The framer never raises on input and never returns a frame
whose checksum is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

_SOH: Final = 0x01
_BEGIN: Final = b"8=FIX"
_RESYNC: Final = b"\x018=FIX"
_TRAILER: Final = b"\x0110="
_DEFAULT_MAX: Final = 1 << 20


class Garbled:
    """A frame (or junk) that must not be processed; ``reason`` says why."""

    __slots__ = ("data", "reason")

    def __init__(self, data: bytes, reason: str) -> None:
        self.data = data
        self.reason = reason

    def __repr__(self) -> str:
        return f"Garbled({self.reason!r}, {self.data[:60]!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Garbled)
            and self.data == other.data
            and self.reason == other.reason
        )

    __hash__ = None  # type: ignore[assignment]


Frame = bytes | Garbled

#: The C accelerator's frame cutter (``_speedups.next_frame``), or None when
#: the extension is not built or FIXPLUS_NO_SPEEDUPS is set: then
#: ``Framer._next_frame_py`` (the reference) does the work.
_cut: Callable[[bytearray, int, int], tuple[int, bytes, str | None] | None] | None = None
if os.environ.get("FIXPLUS_NO_SPEEDUPS", "") in ("", "0"):
    try:
        from ._speedups import next_frame as _cut
    except ImportError:  # pragma: no cover - depends on the build
        _cut = None


def checksum(data: bytes | bytearray | memoryview) -> int:
    """The FIX CheckSum of ``data``: byte sum modulo 256."""
    return sum(data) & 0xFF


class Framer:
    """Cuts a byte stream into FIX frames.  Feed bytes, then drain frames."""

    __slots__ = ("_buf", "_pos", "max_message_size")

    def __init__(self, max_message_size: int = _DEFAULT_MAX) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.max_message_size = max_message_size

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf) - self._pos

    def take_buffered(self) -> bytes:
        """Remove and return the bytes not yet cut into frames (to hand a
        connection over to another framer)."""
        rest = bytes(self._buf[self._pos :])
        self._buf = bytearray()
        self._pos = 0
        return rest

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        buf = self._buf
        if self._pos and self._pos >= len(buf) // 2:
            del buf[: self._pos]
            self._pos = 0
        buf += data

    def feed_and_drain(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Feed ``data`` and return every frame now complete."""
        self.feed(data)
        out: list[Frame] = []
        while (frame := self.next_frame()) is not None:
            out.append(frame)
        return out

    def _skip_to(self, start: int, reason: str, end: int | None = None) -> Garbled:
        """Drop ``[pos, end)`` (default: up to the next BeginString after
        ``start``), returning it as garbled."""
        buf = self._buf
        if end is None:
            nxt = buf.find(_RESYNC, start + 1)
            end = len(buf) if nxt < 0 else nxt + 1
        data = bytes(buf[self._pos : end])
        self._pos = end
        return Garbled(data, reason)

    def next_frame(self) -> Frame | None:
        """The next complete frame, a Garbled chunk, or None if more bytes are needed."""
        if _cut is None:
            return self._next_frame_py()
        cut = _cut(self._buf, self._pos, self.max_message_size)
        if cut is None:
            return None
        self._pos, data, reason = cut
        return data if reason is None else Garbled(data, reason)

    def _next_frame_py(self) -> Frame | None:
        """The reference implementation of :meth:`next_frame` (pure Python)."""
        buf = self._buf
        pos = self._pos
        size = len(buf)
        if size - pos < 2:
            return None
        # 1. find BeginString.
        if buf.startswith(_BEGIN, pos):
            start = pos
        else:
            if size - pos < len(_BEGIN) and _BEGIN.startswith(buf[pos:size]):
                return None
            nxt = buf.find(_RESYNC, pos)
            if nxt >= 0:
                return self._skip_to(pos, "bytes before BeginString", end=nxt + 1)
            # Keep a tail that may be the start of "<SOH>8=FIX".
            keep_from = max(pos, size - (len(_RESYNC) - 1))
            if keep_from > pos:
                return self._skip_to(pos, "bytes before BeginString", end=keep_from)
            return None
        # 2. BeginString, BodyLength, MsgType.
        soh1 = buf.find(b"\x01", start)
        if soh1 < 0:
            if size - start > 64:
                return self._skip_to(start, "BeginString not terminated")
            return None
        if size - soh1 < 4:
            return None
        if buf[soh1 + 1] != 0x39 or buf[soh1 + 2] != 0x3D:  # "9="
            return self._skip_to(start, "BodyLength(9) is not the second field")
        soh2 = buf.find(b"\x01", soh1 + 3)
        if soh2 < 0:
            if size - soh1 > 16:
                return self._skip_to(start, "BodyLength(9) not terminated")
            return None
        length_text = bytes(buf[soh1 + 3 : soh2])
        if not length_text.isdigit() or len(length_text) > 9:
            return self._skip_to(start, "BodyLength(9) is not a number")
        body_length = int(length_text)
        if body_length > self.max_message_size:
            return self._skip_to(start, "BodyLength(9) exceeds the maximum message size")
        # 3. find CheckSum at or after the declared end of the body.
        body_start = soh2 + 1
        body_end = body_start + body_length
        if size < body_end:
            return None
        trailer = buf.find(_TRAILER, body_end - 1)
        if trailer < 0:
            if size - start > self.max_message_size + 64:
                return self._skip_to(start, "no CheckSum(10) within the maximum message size")
            return None
        end = buf.find(b"\x01", trailer + 4)
        if end < 0:
            if size - trailer > 8:
                return self._skip_to(start, "CheckSum(10) not terminated")
            return None
        end += 1
        # 4. verify.
        frame = bytes(buf[start:end])
        self._pos = end
        if not frame.startswith(b"35=", body_start - start):
            return Garbled(frame, "MsgType(35) is not the third field")
        if trailer != body_end - 1:
            return Garbled(frame, "BodyLength(9) does not match the message length")
        cs_text = frame[trailer - start + 4 : -1]
        if len(cs_text) != 3 or not cs_text.isdigit():
            return Garbled(frame, "CheckSum(10) is not three digits")
        if sum(memoryview(frame)[: trailer - start + 1]) & 0xFF != int(cs_text):
            return Garbled(frame, "CheckSum(10) is wrong")
        return frame
