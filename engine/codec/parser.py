"""Frame bytes -> :class:`Message`.

``decode`` takes one frame cut by the :class:`~.framer.Framer` (BeginString,
BodyLength, MsgType and CheckSum already verified) and splits it into
header, body and trailer.  It is strict about syntax only:

* every field is ``tag=value<SOH>`` with a tag of digits (a leading '-' is
  kept so that the validator can reject it as an invalid tag number);
* a raw-data field that follows its length field (95/96, 93/89, ...) is read
  by length, so it may contain SOH and '=';
* a field that breaks these rules makes the frame garbled
  (:class:`GarbledMessageError`), because nothing after it can be trusted.

Semantics (unknown tags, empty values, out-of-order fields) are left to the
validator; the first header field found after the body started (or any
field after the trailer started) is remembered in ``misplaced_tag``.

``parse`` is the convenience that frames and decodes one complete message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import cast

from ..errors import GarbledMessageError
from .framer import Framer, Garbled
from .message import Field, Message
from .tags import DATA_LENGTH_TAGS, HEADER_TAGS, TRAILER_TAGS


class DecodedMessage(Message):
    """A message as received: also remembers the first out-of-order tag, its
    frame ``raw``, and whether it is ``clean``: every tag above 0 and every
    value non-empty (what the session's basic checks look for).  ``raw`` is
    None and ``clean`` False once the message was changed (every change goes
    through :meth:`touch`)."""

    __slots__ = ("clean", "misplaced_tag", "raw")

    def __init__(
        self,
        header: list[Field],
        body: list[Field],
        trailer: list[Field],
        raw: bytes,
        misplaced_tag: int | None,
        clean: bool = False,
    ) -> None:
        super().__init__(header, body, trailer)
        self.raw: bytes | None = raw
        self.misplaced_tag = misplaced_tag
        self.clean = clean

    def touch(self) -> None:
        super().touch()
        self.raw = None
        self.clean = False


def _tag(text: bytes, frame: bytes) -> int:
    if text.isdigit():
        return int(text)
    if text[:1] == b"-" and text[1:].isdigit():
        return int(text)
    raise GarbledMessageError(f"field tag {text[:20]!r} is not a number in {frame[:60]!r}")


def _too_long(exc: ValueError) -> GarbledMessageError:
    # int() refuses more than 4,300 digits (sys.set_int_max_str_digits): a
    # tag or a data length that long makes the frame garbled like any other
    # unreadable field, for both implementations.
    return GarbledMessageError(f"a number in the frame is too long ({str(exc)[:80]})")


def split_fields(frame: bytes) -> list[Field]:
    """Every ``(tag, value)`` of a frame in wire order.  Raises GarbledMessageError."""
    try:
        if _c_split_fields is not None and type(frame) is bytes:
            return _c_split_fields(frame)
        return _split_fields_py(frame)
    except GarbledMessageError:
        raise
    except ValueError as exc:
        raise _too_long(exc) from None


def _split_fields_py(frame: bytes) -> list[Field]:
    """The reference implementation of :func:`split_fields` (pure Python)."""
    if frame[-1:] != b"\x01":
        raise GarbledMessageError("frame does not end with SOH")
    parts = frame.split(b"\x01")
    parts.pop()  # the empty piece after the final SOH
    fields: list[Field] = []
    append = fields.append
    data_tags = DATA_LENGTH_TAGS
    i = 0
    n = len(parts)
    while i < n:
        tag_text, sep, value = parts[i].partition(b"=")
        if not sep:
            raise GarbledMessageError(f"field without '=' in {frame[:60]!r}")
        tag = _tag(tag_text, frame)
        append((tag, value))
        i += 1
        if tag in data_tags and value.isdigit() and i < n:
            # The data field is read by length: re-join the pieces that an
            # embedded SOH split apart until the declared length is reached.
            want = int(value)
            data_tag_text, sep2, data = parts[i].partition(b"=")
            if sep2 and data_tag_text == b"%d" % data_tags[tag] and len(data) < want:
                j = i + 1
                while len(data) < want and j < n:
                    data = data + b"\x01" + parts[j]
                    j += 1
                if len(data) == want:
                    append((data_tags[tag], data))
                    i = j
    return fields


def decode(frame: bytes) -> DecodedMessage:
    """Split a verified frame into header, body and trailer.  Raises
    GarbledMessageError, and nothing else, whatever the frame holds."""
    try:
        if _c_decode is not None and type(frame) is bytes:
            return _c_decode(frame)
        return _decode_py(frame)
    except GarbledMessageError:
        raise
    except ValueError as exc:
        raise _too_long(exc) from None


def _decode_py(frame: bytes) -> DecodedMessage:
    """The reference implementation of :func:`decode` (pure Python)."""
    header: list[Field] = []
    body: list[Field] = []
    trailer: list[Field] = []
    in_body = in_trailer = False
    misplaced: int | None = None
    header_tags = HEADER_TAGS
    trailer_tags = TRAILER_TAGS
    clean = True
    for field in _split_fields_py(frame):
        tag = field[0]
        if clean and (tag <= 0 or not field[1]):
            clean = False
        if in_trailer:
            if tag not in trailer_tags and misplaced is None:
                misplaced = tag
            trailer.append(field)
        elif tag in header_tags:
            if in_body and misplaced is None:
                misplaced = tag
            header.append(field)
        elif tag in trailer_tags:
            in_trailer = True
            trailer.append(field)
        else:
            in_body = True
            body.append(field)
    return DecodedMessage(header, body, trailer, frame, misplaced, clean)


# The C accelerator (engine/codec/_speedups.c) does the same work as
# _split_fields_py and _decode_py when it is built, unless FIXPLUS_NO_SPEEDUPS
# is set.  It gets the tag sets and classes from here, not its own copies.
_c_split_fields: Callable[[bytes], list[Field]] | None = None
_c_decode: Callable[[bytes], DecodedMessage] | None = None
if os.environ.get("FIXPLUS_NO_SPEEDUPS", "") in ("", "0"):
    try:
        from . import _speedups
    except ImportError:  # pragma: no cover - depends on the build
        pass
    else:
        _speedups.configure(
            HEADER_TAGS, TRAILER_TAGS, DATA_LENGTH_TAGS, GarbledMessageError, DecodedMessage
        )
        _c_split_fields = _speedups.split_fields
        _c_decode = cast(Callable[[bytes], DecodedMessage], _speedups.decode)


def parse(data: bytes) -> DecodedMessage:
    """Frame, verify and decode exactly one message.

    Raises :class:`GarbledMessageError` when ``data`` is not one good frame.
    """
    framer = Framer(max_message_size=max(len(data), 1))
    framer.feed(data)
    frame = framer.next_frame()
    if frame is None:
        raise GarbledMessageError("incomplete message")
    if isinstance(frame, Garbled):
        raise GarbledMessageError(frame.reason)
    if framer.buffered:
        raise GarbledMessageError("bytes after the end of the message")
    return decode(frame)
