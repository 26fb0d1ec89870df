"""mask_credentials: the stored copy of a message carries no secret."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pyfixmsg_plus.engine.codec import Message, encode, parse
from pyfixmsg_plus.engine.codec.credentials import MASK, has_credentials, mask_credentials


def _logon(*extra: tuple[int, bytes | str | int]) -> bytes:
    return encode(Message.new("FIX.4.4", "A", [(98, 0), (108, 30), *extra]))


def test_password_and_new_password_are_masked_and_the_message_stays_valid() -> None:
    data = _logon((553, "alice"), (554, "s3cret"), (925, "n3w-secret"))
    masked = mask_credentials(data)
    assert b"s3cret" not in masked and b"n3w-secret" not in masked
    msg = parse(masked)  # BodyLength and CheckSum are right
    assert msg.get(553) == b"alice"  # Username is not a secret
    assert msg.get(554) == MASK and msg.get(925) == MASK
    assert [tag for tag, _ in msg.fields()] == [tag for tag, _ in parse(data).fields()]


def test_data_fields_keep_their_lengths_right() -> None:
    data = _logon((95, 7), (96, b"to\x01k=en"), (1401, 4), (1402, b"\x00\x01\x02\x03"))
    msg = parse(mask_credentials(data))
    assert (msg.get(95), msg.get(96)) == (b"3", MASK)
    assert (msg.get(1401), msg.get(1402)) == (b"3", MASK)


def test_raw_data_outside_a_logon_is_application_data() -> None:
    data = encode(Message.new("FIX.4.4", "B", [(148, "news"), (95, 3), (96, "abc")]))
    assert not has_credentials(data)
    assert mask_credentials(data) is data


def test_nothing_to_mask_returns_the_same_bytes() -> None:
    data = _logon((553, "alice"))
    assert mask_credentials(data) is data
    heartbeat = encode(Message.new("FIX.4.4", "0"))
    assert mask_credentials(heartbeat) is heartbeat


def test_bytes_that_are_not_a_message_are_masked_field_by_field() -> None:
    junk = b"garbage\x01554=pw\x01925=other\x01"
    assert mask_credentials(junk) == b"garbage\x01554=***\x01925=***\x01"
    assert mask_credentials(b"554=pw\x01x") == b"554=***\x01x"


def test_a_tag_written_with_leading_zeros_is_masked_too() -> None:
    body = b"35=A\x0198=0\x01108=30\x010554=s3cret\x01"
    data = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    data += b"10=%03d\x01" % (sum(data) & 0xFF)
    assert parse(data).get(554) == b"s3cret"
    masked = mask_credentials(data)
    assert b"s3cret" not in masked and parse(masked).get(554) == MASK


@given(st.binary(min_size=1, max_size=40).filter(lambda b: b"\x01" not in b))
def test_any_password_value_is_gone(secret: bytes) -> None:
    data = _logon((553, "u"), (554, secret))
    masked = mask_credentials(data)
    assert parse(masked).get(554) == MASK
    if secret not in _logon((553, "u"), (554, MASK)):  # (a secret like "*" is in the mask)
        assert secret not in masked
