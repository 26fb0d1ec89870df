"""Types of the optional C accelerator (engine/codec/_speedups.c).

framer.py and parser.py hold the reference implementations; each function
here reproduces one of them exactly.
"""

from collections.abc import Collection, Mapping

def configure(
    header_tags: Collection[int],
    trailer_tags: Collection[int],
    data_length_tags: Mapping[int, int],
    error_class: type[Exception],
    message_class: type[object],
    /,
) -> None:
    """Hand over the codec's constants and classes; call before anything else.

    ``data_length_tags`` must be a ``dict``; all three are copied.
    ``message_class(header, body, trailer, raw, misplaced_tag)`` builds what
    :func:`decode` returns.
    """

def split_fields(frame: bytes, /) -> list[tuple[int, bytes]]:
    """``parser.split_fields`` (frame must be ``bytes``)."""

def decode(frame: bytes, /) -> object:
    """``parser.decode``: an instance of the configured message class, read index filled."""

def next_frame(
    buf: bytes | bytearray | memoryview, pos: int, max_message_size: int, /
) -> tuple[int, bytes, str | None] | None:
    """``Framer.next_frame`` over ``buf[pos:]``: None if more bytes are needed,
    else ``(new_pos, data, reason)``; reason is None for a verified frame."""

def checksum(data: bytes | bytearray | memoryview, /) -> int:
    """``framer.checksum``: byte sum modulo 256."""

def encode(
    begin: bytes,
    msg_type: bytes,
    header: list[tuple[int, bytes]],
    body: list[tuple[int, bytes]],
    trailer: list[tuple[int, bytes]],
    /,
) -> bytes | None:
    """``encoder.encode`` once BeginString and MsgType are known; None when
    the message holds anything but ``(int, bytes)`` pairs in plain lists
    (then the Python encoder does the work)."""
