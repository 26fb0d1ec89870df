"""Field value types: strict parsing and formatting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyfixmsg_plus.engine.codec import values as v
from pyfixmsg_plus.engine.codec.values import FieldType, TimePrecision
from pyfixmsg_plus.engine.errors import FieldValueError


def test_int() -> None:
    assert v.parse_int(b"-12") == -12
    for bad in (b"+1", b"1.0", b"", b" 1", b"1_0", b"0x1"):
        with pytest.raises(FieldValueError):
            v.parse_int(bad)


def test_decimal() -> None:
    assert v.parse_decimal(b"002000.00") == Decimal("2000.00")
    assert v.parse_decimal(b"-.5") == Decimal("-0.5")
    assert v.parse_decimal(b"10.") == Decimal("10")
    for bad in (b"+200.00", b"1e5", b"", b".", b"-", b"1.2.3", b"NaN", b"Infinity"):
        with pytest.raises(FieldValueError):
            v.parse_decimal(bad)


def test_char_bool_multiple() -> None:
    assert v.parse_char(b"1") == "1"
    with pytest.raises(FieldValueError):
        v.parse_char(b"12")
    assert v.parse_bool(b"Y") is True and v.parse_bool(b"N") is False
    with pytest.raises(FieldValueError):
        v.parse_bool(b"y")
    assert v.parse_multiple(b"A B C") == ["A", "B", "C"]
    with pytest.raises(FieldValueError):
        v.parse_multiple(b"A  B")


@pytest.mark.parametrize(
    ("raw", "ns"),
    [
        (b"19700101-00:00:00", 0),
        (b"19700101-00:00:01.5", None),
        (b"19700101-00:00:01.500", 1_500_000_000),
        (b"19700101-00:00:01.000001", 1_000_001_000),
        (b"19700101-00:00:01.000000001", 1_000_000_001),
        (b"20261121-05:40:04.615", 1_795_239_604_615_000_000),
    ],
)
def test_utc_timestamp(raw: bytes, ns: int | None) -> None:
    if ns is None:
        with pytest.raises(FieldValueError):
            v.parse_utc_timestamp_ns(raw)
    else:
        assert v.parse_utc_timestamp_ns(raw) == ns


@pytest.mark.parametrize("bad", [b"20261321-00:00:00", b"20260230-00:00:00", b"20261121 05:40:04",
                                 b"20261121-24:00:00", b"20261121-05:60:00", b"2026112-05:40:04"])
def test_utc_timestamp_rejects(bad: bytes) -> None:
    assert not v.is_valid(FieldType.UTCTIMESTAMP, bad)


def test_leap_second_accepted() -> None:
    assert v.is_valid(FieldType.UTCTIMESTAMP, b"20161231-23:59:60")
    assert v.parse_utc_time_only(b"23:59:60").second == 59


def test_timestamp_datetime() -> None:
    assert v.parse_utc_timestamp(b"20261121-05:40:04.615") == dt.datetime(
        2026, 11, 21, 5, 40, 4, 615000, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(
    ("precision", "text"),
    [
        (TimePrecision.SECONDS, b"20261121-05:40:04"),
        (TimePrecision.MILLIS, b"20261121-05:40:04.615"),
        (TimePrecision.MICROS, b"20261121-05:40:04.615123"),
        (TimePrecision.NANOS, b"20261121-05:40:04.615123456"),
    ],
)
def test_format_precisions(precision: TimePrecision, text: bytes) -> None:
    ns = 1_795_239_604_615_123_456
    assert v.format_utc_timestamp(ns, precision) == text


def test_format_from_datetime() -> None:
    when = dt.datetime(2026, 11, 21, 5, 40, 4, 615000, tzinfo=dt.UTC)
    assert v.format_utc_timestamp(when) == b"20261121-05:40:04.615"
    naive = dt.datetime(2026, 11, 21, 5, 40, 4)
    assert v.format_utc_timestamp(naive, TimePrecision.SECONDS) == b"20261121-05:40:04"


@given(st.integers(min_value=0, max_value=253_402_300_799 * 10**9), st.sampled_from(list(TimePrecision)))
def test_timestamp_round_trip(ns: int, precision: TimePrecision) -> None:
    text = v.format_utc_timestamp(ns, precision)
    scale = 10 ** (9 - int(precision))
    assert v.parse_utc_timestamp_ns(text) == ns // scale * scale


def test_time_only_and_dates() -> None:
    assert v.format_utc_time_only(dt.time(1, 2, 3, 4000), TimePrecision.MICROS) == b"01:02:03.004000"
    assert v.format_utc_time_only(3_723_000_000_000, TimePrecision.SECONDS) == b"01:02:03"
    assert v.parse_date(b"20240229") == dt.date(2024, 2, 29)
    with pytest.raises(FieldValueError):
        v.parse_date(b"20230229")
    assert v.format_date(dt.date(2026, 1, 2)) == b"20260102"


@pytest.mark.parametrize(
    ("ftype", "good", "bad"),
    [
        (FieldType.MONTHYEAR, [b"202611", b"20261121", b"202611w2"], [b"2026", b"202613", b"202611w6"]),
        (FieldType.TZTIMEONLY, [b"07:39Z", b"02:39-05", b"15:39:00+08:00"], [b"07:39", b"25:00Z"]),
        (FieldType.TZTIMESTAMP, [b"20060901-07:39Z", b"20060901-02:39:00.123-05"], [b"20060901"]),
        (FieldType.DAYOFMONTH, [b"1", b"31"], [b"0", b"32", b"x"]),
        (FieldType.LENGTH, [b"0", b"12"], [b"-1", b""]),
        (FieldType.MULTIPLECHARVALUE, [b"A B"], [b"AB C"]),
        (FieldType.CHAR, [b"A"], [b"", b"AB", b" "]),
        (FieldType.STRING, [b"x"], [b""]),
        (FieldType.DATA, [b"\x01any"], []),
        (FieldType.TENOR, [b"M3", b"Y10"], [b"3M"]),
    ],
)
def test_is_valid(ftype: FieldType, good: list[bytes], bad: list[bytes]) -> None:
    for raw in good:
        assert v.is_valid(ftype, raw), raw
    for raw in bad:
        assert not v.is_valid(ftype, raw), raw


def test_type_names_from_dictionary() -> None:
    assert FieldType.from_name("price") is FieldType.PRICE
    assert FieldType.from_name("SOMETHINGNEW") is FieldType.STRING


def test_format_decimal() -> None:
    assert v.format_decimal(Decimal("1E+2")) == b"100"
    assert v.format_decimal(10.5) == b"10.5"
    assert v.format_decimal(3) == b"3"


def test_timestamp_cache_never_changes_answers() -> None:
    assert v.parse_utc_timestamp_ns(b"20261121-05:40:04.615") == 1_795_239_604_615_000_000
    assert v.parse_utc_timestamp_ns(b"20261121-05:40:04.001") == 1_795_239_604_001_000_000
    assert v.parse_utc_timestamp_ns(b"20261121-05:40:04") == 1_795_239_604_000_000_000
    for bad in (b"", b"20261121-05:40:04.", b"20261121-05:40:04.1x3", b"20261121-05:40:04x"):
        with pytest.raises(FieldValueError):
            v.parse_utc_timestamp_ns(bad)
