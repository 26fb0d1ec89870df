"""FIX field value types: strict parsing, validation and formatting.

Every parser takes the raw ``bytes`` of a field and either returns a Python
value or raises :class:`FieldValueError`.  ``is_valid(type, raw)`` answers
the dictionary validator's question "is this value well formed for its
type?" without building the value.

Timestamps are formatted from integer nanoseconds since the Unix epoch (what
``time.time_ns()`` returns) or from an aware/naive-UTC ``datetime``, with
precision seconds, milliseconds, microseconds or nanoseconds.
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Final

from ..errors import FieldValueError


class FieldType(enum.Enum):
    """The value types named by QuickFIX-format data dictionaries."""

    INT = "INT"
    LENGTH = "LENGTH"
    NUMINGROUP = "NUMINGROUP"
    SEQNUM = "SEQNUM"
    TAGNUM = "TAGNUM"
    DAYOFMONTH = "DAYOFMONTH"
    FLOAT = "FLOAT"
    QTY = "QTY"
    PRICE = "PRICE"
    PRICEOFFSET = "PRICEOFFSET"
    AMT = "AMT"
    PERCENTAGE = "PERCENTAGE"
    CHAR = "CHAR"
    BOOLEAN = "BOOLEAN"
    STRING = "STRING"
    MULTIPLEVALUESTRING = "MULTIPLEVALUESTRING"
    MULTIPLESTRINGVALUE = "MULTIPLESTRINGVALUE"
    MULTIPLECHARVALUE = "MULTIPLECHARVALUE"
    COUNTRY = "COUNTRY"
    CURRENCY = "CURRENCY"
    EXCHANGE = "EXCHANGE"
    LANGUAGE = "LANGUAGE"
    MONTHYEAR = "MONTHYEAR"
    UTCTIMESTAMP = "UTCTIMESTAMP"
    UTCTIMEONLY = "UTCTIMEONLY"
    UTCDATE = "UTCDATE"
    UTCDATEONLY = "UTCDATEONLY"
    LOCALMKTDATE = "LOCALMKTDATE"
    LOCALMKTTIME = "LOCALMKTTIME"
    TZTIMEONLY = "TZTIMEONLY"
    TZTIMESTAMP = "TZTIMESTAMP"
    DATA = "DATA"
    XMLDATA = "XMLDATA"
    TIME = "TIME"  # FIX.4.0/4.1 name of UTCTIMESTAMP
    DATE = "DATE"  # FIX.4.0/4.1 date
    XID = "XID"
    XIDREF = "XIDREF"
    TENOR = "TENOR"
    PATTERN = "PATTERN"
    RESERVED100PLUS = "RESERVED100PLUS"
    RESERVED1000PLUS = "RESERVED1000PLUS"
    RESERVED4000PLUS = "RESERVED4000PLUS"

    @classmethod
    def from_name(cls, name: str) -> FieldType:
        """Map a dictionary's type name; unknown names are treated as STRING."""
        try:
            return cls(name.upper())
        except ValueError:
            return cls.STRING


class TimePrecision(enum.IntEnum):
    """Digits after the seconds in formatted times."""

    SECONDS = 0
    MILLIS = 3
    MICROS = 6
    NANOS = 9


# Enum members read through their class cost ~70 ns each on CPython 3.11
# (EnumType has a __getattr__, which slows every class attribute lookup):
# the per-message formatting compares with these module-level names.
_SECONDS: Final = TimePrecision.SECONDS
_MILLIS: Final = TimePrecision.MILLIS
_MICROS: Final = TimePrecision.MICROS


# -- regular expressions (bytes) ---------------------------------------------
_INT = re.compile(rb"-?[0-9]+")
_UINT = re.compile(rb"[0-9]+")
_FLOAT = re.compile(rb"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_FRAC = rb"(?:\.(?:[0-9]{3}|[0-9]{6}|[0-9]{9}))?"
_TIME = rb"([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)"
_DATE = rb"([0-9]{4})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"
_UTC_TIMESTAMP = re.compile(_DATE + rb"-" + _TIME + rb"(" + _FRAC + rb")")
_UTC_TIME_ONLY = re.compile(_TIME + rb"(" + _FRAC + rb")")
_DATE_ONLY = re.compile(_DATE)
_MONTH_YEAR = re.compile(
    rb"[0-9]{4}(?:0[1-9]|1[0-2])(?:(?:0[1-9]|[12][0-9]|3[01])|w[1-5])?"
)
_TZ = rb"(?:Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)"
_HM_OPT_S = rb"([01][0-9]|2[0-3]):[0-5][0-9](?::(?:[0-5][0-9]|60)" + _FRAC + rb")?"
_TZ_TIME_ONLY = re.compile(_HM_OPT_S + _TZ)
_TZ_TIMESTAMP = re.compile(_DATE + rb"-" + _HM_OPT_S + _TZ)
_TENOR = re.compile(rb"[DMWY][0-9]+")
_LOCAL_MKT_TIME = re.compile(_TIME)


# -- parsers ------------------------------------------------------------------
def parse_int(raw: bytes) -> int:
    if _INT.fullmatch(raw) is None:
        raise FieldValueError(f"not an integer: {raw[:40]!r}")
    try:
        return int(raw)
    except ValueError:  # more digits than Python's int() converts
        raise FieldValueError(f"integer of {len(raw)} digits is out of range") from None


def parse_uint(raw: bytes) -> int:
    if _UINT.fullmatch(raw) is None:
        raise FieldValueError(f"not a non-negative integer: {raw[:40]!r}")
    try:
        return int(raw)
    except ValueError:  # more digits than Python's int() converts
        raise FieldValueError(f"integer of {len(raw)} digits is out of range") from None


#: The largest sequence number the engine accepts or stores (MsgSeqNum,
#: NewSeqNo, BeginSeqNo, EndSeqNo, NextExpectedMsgSeqNum): a signed 32-bit
#: integer, as in the QuickFIX engines, so that every counterparty and every
#: store backend (Redis scripts count in doubles) holds it exactly.
MAX_SEQ_NUM: Final = 2**31 - 1
#: The largest HeartBtInt(108) a number may have before it is a nonsense
#: value (a day); the session may narrow the accepted range further.
MAX_HEART_BT_INT: Final = 86_400
# More digits than this can only be a value out of every range (leading
# zeros included): refused before int() is asked to convert them.
_MAX_DIGITS: Final = 20


def parse_bounded_uint(raw: bytes, maximum: int) -> int | None:
    """``raw`` as a non-negative integer ``<= maximum``, or None.

    None for anything else: empty, a sign, a non-digit, or a number above
    ``maximum`` (however many digits it has: int() is never asked to convert
    a 4,300-digit string, which raises ValueError in Python)."""
    if not raw.isdigit() or len(raw) > _MAX_DIGITS:
        return None
    value = int(raw)
    return value if value <= maximum else None


def parse_seq_num(raw: bytes) -> int | None:
    """A sequence number field (MsgSeqNum(34), NewSeqNo(36), BeginSeqNo(7),
    EndSeqNo(16), NextExpectedMsgSeqNum(789)): digits only, at most
    :data:`MAX_SEQ_NUM`; None otherwise.  Zero is returned as 0 (EndSeqNo 0
    means "no limit"); whether 0 is acceptable is the caller's rule."""
    if not raw.isdigit() or len(raw) > _MAX_DIGITS:
        return None
    value = int(raw)
    return value if value <= MAX_SEQ_NUM else None


def parse_decimal(raw: bytes) -> Decimal:
    """FIX float/price/qty/amount: optional '-', digits, optional '.'; no '+' or exponent."""
    if _FLOAT.fullmatch(raw) is None:
        raise FieldValueError(f"not a decimal number: {raw[:40]!r}")
    try:
        return Decimal(raw.decode("ascii"))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid input
        raise FieldValueError(f"not a decimal number: {raw[:40]!r}") from exc


def parse_char(raw: bytes) -> str:
    if len(raw) != 1:
        raise FieldValueError(f"not a single character: {raw[:40]!r}")
    return raw.decode("latin-1")


def parse_bool(raw: bytes) -> bool:
    if raw == b"Y":
        return True
    if raw == b"N":
        return False
    raise FieldValueError(f"not a boolean (Y/N): {raw[:40]!r}")


def _frac_to_ns(frac: bytes) -> int:
    if not frac:
        return 0
    digits = frac[1:]
    scale: int = 10 ** (9 - len(digits))
    return int(digits) * scale


def parse_utc_timestamp(raw: bytes) -> _dt.datetime:
    """YYYYMMDD-HH:MM:SS[.sss|.ssssss|.sssssssss] as an aware UTC datetime.

    Nanoseconds are truncated to microseconds (use :func:`parse_utc_timestamp_ns`
    to keep them); a leap second (60) becomes 59.999999.
    """
    ns = parse_utc_timestamp_ns(raw)
    return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


class _TimestampCache:
    """The epoch seconds of the last "YYYYMMDD-HH:MM:SS" parsed: received
    SendingTimes mostly share the second of the one before."""

    __slots__ = ("seconds", "text")

    def __init__(self) -> None:
        self.text = b""
        self.seconds = 0


_ts_cache = _TimestampCache()


def parse_utc_timestamp_ns(raw: bytes) -> int:
    """YYYYMMDD-HH:MM:SS[.fff...] as integer nanoseconds since the epoch."""
    cache = _ts_cache
    if len(raw) >= 17 and raw[:17] == cache.text:
        frac = raw[17:]
        n = len(frac)
        if n == 0:
            return cache.seconds * 1_000_000_000
        if n in (4, 7, 10) and frac[0] == 0x2E and frac[1:].isdigit():
            scale: int = 10 ** (10 - n)
            return cache.seconds * 1_000_000_000 + int(frac[1:]) * scale
    ns = _parse_utc_timestamp_ns(raw)
    if raw[15:17] != b"60":
        cache.text = raw[:17]
        cache.seconds = ns // 1_000_000_000
    return ns


def _parse_utc_timestamp_ns(raw: bytes) -> int:
    m = _UTC_TIMESTAMP.fullmatch(raw)
    if m is None:
        raise FieldValueError(f"not a UTCTimestamp: {raw[:40]!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac_ns = _frac_to_ns(m.group(7))
    leap = second == 60
    if leap:
        second, frac_ns = 59, 999_999_999
    try:
        date = _dt.date(year, month, day)
    except ValueError as exc:
        raise FieldValueError(f"not a UTCTimestamp (bad date): {raw[:40]!r}") from exc
    days = date.toordinal() - _EPOCH_ORDINAL
    secs = days * 86400 + hour * 3600 + minute * 60 + second
    return secs * 1_000_000_000 + frac_ns


def parse_utc_time_only(raw: bytes) -> _dt.time:
    m = _UTC_TIME_ONLY.fullmatch(raw)
    if m is None:
        raise FieldValueError(f"not a UTCTimeOnly: {raw[:40]!r}")
    hour, minute, second = (int(g) for g in m.groups()[:3])
    micro = _frac_to_ns(m.group(4)) // 1000
    if second == 60:
        second, micro = 59, 999_999
    return _dt.time(hour, minute, second, micro, tzinfo=_dt.UTC)


def parse_date(raw: bytes) -> _dt.date:
    """UTCDateOnly / LocalMktDate: YYYYMMDD."""
    m = _DATE_ONLY.fullmatch(raw)
    if m is None:
        raise FieldValueError(f"not a date (YYYYMMDD): {raw[:40]!r}")
    try:
        return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as exc:
        raise FieldValueError(f"not a valid date: {raw[:40]!r}") from exc


def parse_month_year(raw: bytes) -> str:
    """MonthYear: YYYYMM, YYYYMMDD or YYYYMMwN; returned as text."""
    if _MONTH_YEAR.fullmatch(raw) is None:
        raise FieldValueError(f"not a MonthYear: {raw[:40]!r}")
    return raw.decode("ascii")


def parse_multiple(raw: bytes) -> list[str]:
    """MultipleValueString / MultipleCharValue: space separated tokens."""
    if not raw or raw.startswith(b" ") or raw.endswith(b" ") or b"  " in raw:
        raise FieldValueError(f"not a space separated list: {raw[:40]!r}")
    return raw.decode("utf-8", "replace").split(" ")


# -- validation ---------------------------------------------------------------
def _ok_int(raw: bytes) -> bool:
    return _INT.fullmatch(raw) is not None


def _ok_uint(raw: bytes) -> bool:
    return _UINT.fullmatch(raw) is not None


def _ok_day_of_month(raw: bytes) -> bool:
    return len(raw) <= 2 and _UINT.fullmatch(raw) is not None and 1 <= int(raw) <= 31


def _ok_seq_num(raw: bytes) -> bool:
    return parse_seq_num(raw) is not None


def _ok_float(raw: bytes) -> bool:
    return _FLOAT.fullmatch(raw) is not None


def _ok_char(raw: bytes) -> bool:
    return len(raw) == 1 and raw != b" "


def _ok_bool(raw: bytes) -> bool:
    return raw in (b"Y", b"N")


def _ok_string(raw: bytes) -> bool:
    return len(raw) > 0


def _ok_multiple_char(raw: bytes) -> bool:
    return all(len(tok) == 1 for tok in raw.split(b" "))


def _ok_multiple(raw: bytes) -> bool:
    return not (raw.startswith(b" ") or raw.endswith(b" ") or b"  " in raw)


def _ok_date(raw: bytes) -> bool:
    try:
        parse_date(raw)
    except FieldValueError:
        return False
    return True


def _ok_utc_timestamp(raw: bytes) -> bool:
    try:
        parse_utc_timestamp_ns(raw)
    except FieldValueError:
        return False
    return True


def _matcher(rx: re.Pattern[bytes]) -> Callable[[bytes], bool]:
    def check(raw: bytes) -> bool:
        return rx.fullmatch(raw) is not None

    return check


def _ok_any(raw: bytes) -> bool:
    return True


_VALIDATORS: Final[dict[FieldType, Callable[[bytes], bool]]] = {
    FieldType.INT: _ok_int,
    FieldType.LENGTH: _ok_uint,
    FieldType.NUMINGROUP: _ok_uint,
    FieldType.SEQNUM: _ok_seq_num,
    FieldType.TAGNUM: _ok_uint,
    FieldType.DAYOFMONTH: _ok_day_of_month,
    FieldType.FLOAT: _ok_float,
    FieldType.QTY: _ok_float,
    FieldType.PRICE: _ok_float,
    FieldType.PRICEOFFSET: _ok_float,
    FieldType.AMT: _ok_float,
    FieldType.PERCENTAGE: _ok_float,
    FieldType.CHAR: _ok_char,
    FieldType.BOOLEAN: _ok_bool,
    FieldType.STRING: _ok_string,
    FieldType.MULTIPLEVALUESTRING: _ok_multiple,
    FieldType.MULTIPLESTRINGVALUE: _ok_multiple,
    FieldType.MULTIPLECHARVALUE: _ok_multiple_char,
    FieldType.COUNTRY: _ok_string,
    FieldType.CURRENCY: _ok_string,
    FieldType.EXCHANGE: _ok_string,
    FieldType.LANGUAGE: _ok_string,
    FieldType.MONTHYEAR: _matcher(_MONTH_YEAR),
    FieldType.UTCTIMESTAMP: _ok_utc_timestamp,
    FieldType.TIME: _ok_utc_timestamp,
    FieldType.UTCTIMEONLY: _matcher(_UTC_TIME_ONLY),
    FieldType.UTCDATE: _ok_date,
    FieldType.UTCDATEONLY: _ok_date,
    FieldType.LOCALMKTDATE: _ok_date,
    FieldType.DATE: _ok_date,
    FieldType.LOCALMKTTIME: _matcher(_LOCAL_MKT_TIME),
    FieldType.TZTIMEONLY: _matcher(_TZ_TIME_ONLY),
    FieldType.TZTIMESTAMP: _matcher(_TZ_TIMESTAMP),
    FieldType.DATA: _ok_any,
    FieldType.XMLDATA: _ok_any,
    FieldType.XID: _ok_string,
    FieldType.XIDREF: _ok_string,
    FieldType.TENOR: _matcher(_TENOR),
    FieldType.PATTERN: _ok_string,
    FieldType.RESERVED100PLUS: _ok_string,
    FieldType.RESERVED1000PLUS: _ok_string,
    FieldType.RESERVED4000PLUS: _ok_string,
}


def is_valid(field_type: FieldType, raw: bytes) -> bool:
    """True when ``raw`` is well formed for ``field_type``."""
    return _VALIDATORS[field_type](raw)


# -- formatting ---------------------------------------------------------------
_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()

class _SecondCache:
    """The "YYYYMMDD-HH:MM:SS" text of the last second formatted: a session
    formats one SendingTime per message, nearly always in the same second."""

    __slots__ = ("second", "text")

    def __init__(self) -> None:
        self.second = -1
        self.text = b""

    def __call__(self, secs: int) -> bytes:
        if secs != self.second:
            days, rem = divmod(secs, 86400)
            d = _dt.date.fromordinal(_EPOCH_ORDINAL + days)
            h, rem = divmod(rem, 3600)
            m, s = divmod(rem, 60)
            self.text = b"%04d%02d%02d-%02d:%02d:%02d" % (d.year, d.month, d.day, h, m, s)
            self.second = secs
        return self.text


_second_text = _SecondCache()


def format_utc_timestamp(
    when: int | _dt.datetime, precision: TimePrecision = TimePrecision.MILLIS
) -> bytes:
    """Format a UTCTimestamp from epoch nanoseconds or a datetime.

    A naive datetime is taken to be UTC.
    """
    if type(when) is int:
        ns = when
    elif isinstance(when, _dt.datetime):
        if when.tzinfo is not None:
            when = when.astimezone(_dt.UTC)
        else:
            when = when.replace(tzinfo=_dt.UTC)
        delta = when - _EPOCH
        ns = (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    else:
        ns = when
    secs, frac = divmod(ns, 1_000_000_000)
    cache = _second_text
    text = cache.text if secs == cache.second else cache(secs)
    if precision is _MILLIS:
        return b"%s.%03d" % (text, frac // 1_000_000)
    if precision is _SECONDS:
        return text
    if precision is _MICROS:
        return b"%s.%06d" % (text, frac // 1000)
    return b"%s.%09d" % (text, frac)


def format_utc_time_only(
    when: int | _dt.time, precision: TimePrecision = TimePrecision.MILLIS
) -> bytes:
    """Format a UTCTimeOnly from nanoseconds since midnight or a ``time``."""
    if isinstance(when, _dt.time):
        ns = (
            (when.hour * 3600 + when.minute * 60 + when.second) * 1_000_000_000
            + when.microsecond * 1000
        )
    else:
        ns = when % (86400 * 1_000_000_000)
    secs, frac = divmod(ns, 1_000_000_000)
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    text = b"%02d:%02d:%02d" % (h, m, s)
    if precision is TimePrecision.SECONDS:
        return text
    digits = int(precision)
    return b"%s.%0*d" % (text, digits, frac // 10 ** (9 - digits))


def format_date(when: _dt.date) -> bytes:
    return b"%04d%02d%02d" % (when.year, when.month, when.day)


def format_decimal(value: Decimal | int | float) -> bytes:
    """A FIX float: plain notation, never an exponent."""
    if isinstance(value, float):
        value = Decimal(repr(value))
    text = format(Decimal(value), "f")
    return text.encode("ascii")
