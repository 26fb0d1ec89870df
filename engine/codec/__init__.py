"""FIX codec: framing, parsing, encoding and field value types.  No I/O, no clock."""

from .encoder import encode
from .framer import Frame, Framer, Garbled, checksum
from .message import Field, FieldValue, Message, to_bytes
from .parser import DecodedMessage, decode, parse, split_fields
from .values import FieldType, TimePrecision, format_utc_timestamp

__all__ = [
    "DecodedMessage",
    "Field",
    "FieldType",
    "FieldValue",
    "Frame",
    "Framer",
    "Garbled",
    "Message",
    "TimePrecision",
    "checksum",
    "decode",
    "encode",
    "format_utc_timestamp",
    "parse",
    "split_fields",
    "to_bytes",
]
