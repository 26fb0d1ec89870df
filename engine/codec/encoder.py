"""Message -> wire bytes.

BeginString(8), BodyLength(9) and MsgType(35) always come first, CheckSum(10)
last; BodyLength and CheckSum are computed here, whatever the message holds
for them.  Other header fields keep the order the message has them in
(:meth:`Message.set` keeps the header in the conventional ascending order).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

from ..errors import LocalProtocolError
from .message import Field, Message

_SKIP: Final = frozenset({8, 9, 35, 10})
# Pre-built "tag=" prefixes for the common tag range.
_PREFIX: Final[tuple[bytes, ...]] = tuple(b"%d=" % i for i in range(6000))


def _emit(out: list[bytes], fields: list[Field]) -> None:
    prefix = _PREFIX
    limit = len(prefix)
    for tag, value in fields:
        if tag in _SKIP:
            continue
        out.append(prefix[tag] if 0 <= tag < limit else b"%d=" % tag)
        out.append(value)
        out.append(b"\x01")


# The C accelerator (engine/codec/_speedups.c) encodes messages made of
# (int, bytes) pairs byte for byte as below; it returns None for anything
# else.  FIXPLUS_NO_SPEEDUPS=1 keeps to Python.
_c_encode: (
    Callable[[bytes, bytes, list[Field], list[Field], list[Field]], bytes | None] | None
) = None
if os.environ.get("FIXPLUS_NO_SPEEDUPS", "") in ("", "0"):
    try:
        from ._speedups import encode as _c_encode
    except ImportError:  # pragma: no cover - depends on the build
        _c_encode = None


def encode(msg: Message) -> bytes:
    """The wire form of ``msg`` with BodyLength and CheckSum computed."""
    header = msg.header
    begin: bytes | None
    msg_type: bytes | None
    if len(header) > 1 and header[0][0] == 8 and header[1][0] == 35:
        # The usual layout: no need to build the read index.
        begin, msg_type = header[0][1], header[1][1]
    else:
        begin = msg.get(8)
        msg_type = msg.get(35)
    if not begin:
        raise LocalProtocolError("cannot encode a message without BeginString(8)")
    if not msg_type:
        raise LocalProtocolError("cannot encode a message without MsgType(35)")
    if _c_encode is not None:
        data = _c_encode(begin, msg_type, msg.header, msg.body, msg.trailer)
        if data is not None:
            return data
    return _encode_py(begin, msg_type, msg)


def _encode_py(begin: bytes, msg_type: bytes, msg: Message) -> bytes:
    """The reference implementation of :func:`encode` (pure Python)."""
    out: list[bytes] = [b"35=", msg_type, b"\x01"]
    _emit(out, msg.header)
    _emit(out, msg.body)
    _emit(out, msg.trailer)
    body = b"".join(out)
    head = b"8=%s\x019=%d\x01" % (begin, len(body))
    data = head + body
    return data + b"10=%03d\x01" % (sum(data) & 0xFF)

