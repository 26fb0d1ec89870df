"""Wire text made safe for a log line.

Every value that came from the wire (CompIDs, Text(58), reasons quoting a
frame) is hostile until a Logon is authenticated: it may hold CR/LF that
forge a second log line, terminal escape sequences, bidirectional overrides
or simply 100 KB.  :func:`safe_text` renders such a value as one short line
of printable text that a reader can still recognise.
"""

from __future__ import annotations

import re
from typing import Final

#: Characters that never need an escape: printable ASCII except the backslash
#: (escaped itself, so that ``\\x01`` in the output always means byte 0x01).
_PLAIN: Final = re.compile(r"[\x20-\x5b\x5d-\x7e]*")
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(ch: str, from_bytes: bool) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    if ch.isprintable():
        return ch
    code = ord(ch)
    if from_bytes and 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe_text(value: bytes | bytearray | memoryview | str, limit: int = 64) -> str:
    """``value`` as one line of printable text, at most about ``limit`` characters.

    Control characters, other non-printable characters (format characters
    such as U+202E included) and the backslash are escaped (``\\n``,
    ``\\x01``, ``\\u202e``, ``\\\\``); bytes that are not UTF-8 appear as
    ``\\xNN``.  A longer value is cut after ``limit`` characters of output
    and ends in ``...(N bytes)`` with its full length in bytes.  The result
    is also safe inside JSON (the JSON encoder escapes nothing further that
    matters) and never contains a line break.
    """
    if isinstance(value, str):
        text = value
        size = -1
    else:
        raw = bytes(value)
        size = len(raw)
        text = raw.decode("utf-8", "surrogateescape")
    if len(text) <= limit and _PLAIN.fullmatch(text) is not None:
        return text
    out: list[str] = []
    used = 0
    cut = False
    for ch in text:
        piece = _escape(ch, size >= 0) if _PLAIN.fullmatch(ch) is None else ch
        if used + len(piece) > limit:
            cut = True
            break
        out.append(piece)
        used += len(piece)
    if cut:
        total = size if size >= 0 else len(text.encode("utf-8", "surrogatepass"))
        out.append(f"...({total} bytes)")
    return "".join(out)
