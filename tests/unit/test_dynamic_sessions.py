"""Dynamic-session templates: the pattern rules (one implementation, used by
the configuration and the acceptor's routing) and the session a Logon gets."""

from __future__ import annotations

from typing import Any

import pytest
from pyfixmsg_plus.engine.codec import Message
from pyfixmsg_plus.engine.config import DynamicSessionTemplate, parse_config
from pyfixmsg_plus.engine.config.dynamic import compile_pattern
from pyfixmsg_plus.engine.errors import ConfigError
from pyfixmsg_plus.engine.runtime.dynamic import Templates, logon_ids


def template(**session: Any) -> DynamicSessionTemplate:
    fields = {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "BROKER",
              "targetCompId": "*", "acceptPort": 9880, **session}
    return DynamicSessionTemplate.model_validate({"session": fields})


def logon(**tags: str) -> Message:
    """A Logon from the counterparty: tags by number, e.g. ``t49="CLIENT"``."""
    msg = Message.new("FIX.4.4", "A")
    for key, value in {"t49": "CLIENT", "t56": "BROKER", **tags}.items():
        msg.set(int(key[1:]), value)
    return msg


@pytest.mark.parametrize(("pattern", "yes", "no"), [
    ("CLIENT_*", ["CLIENT_", "CLIENT_7", "CLIENT_7.A"], ["CLIENT", "XCLIENT_7", "client_7"]),
    ("*", ["A", "A.B-C@D+E"], []),
    ("C?", ["C1", "CX"], ["C", "C12"]),
    ("A??Z", ["A12Z"], ["A1Z", "A123Z"]),
    ("DESK[123]", ["DESK1", "DESK3"], ["DESK4", "DESK", "DESK12"]),
    ("DESK[0-9][a-c]", ["DESK0a", "DESK9c"], ["DESK9d", "DESKxa"]),
    ("DESK[!0-9]", ["DESKA", "DESK-"], ["DESK5", "DESK"]),
    ("A.B", ["A.B"], ["AxB"]),  # a dot is literal, not "any character"
    ("A+B", ["A+B"], ["AAB", "AB"]),
    ("\\*", ["*"], ["A", ""]),
    ("A\\?", ["A?"], ["AB"]),
    ("\\[x]", ["[x]"], ["x"]),
    ("A\\\\B", ["A\\B"], ["AB"]),
    ("[*?]", ["*", "?"], ["A"]),  # inside a set, * and ? are literal
    ("[\\]x]", ["]", "x"], ["\\"]),
])
def test_each_wildcard(pattern: str, yes: list[str], no: list[str]) -> None:
    compiled = compile_pattern(pattern)
    for text in yes:
        assert compiled.match(text), (pattern, text)
    for text in no:
        assert not compiled.match(text), (pattern, text)


@pytest.mark.parametrize(("pattern", "problem"), [
    ("DESK[12", "not closed"),
    ("DESK[]", "empty set"),
    ("DESK\\", "lone backslash"),
    ("DESK[9-0]", "backwards"),
])
def test_a_malformed_pattern_is_refused_when_the_configuration_loads(
        pattern: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"dynamicSessions\[0\].*targetSubId.*{problem}"):
        parse_config({"dynamicSessions": [{"session": {
            "role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "B",
            "targetCompId": "*", "targetSubId": pattern, "acceptPort": 1,
            "authentication": {"mode": "none"}}}]})


def test_the_issue_example_has_one_answer() -> None:
    """``A.?[x]*``: ``[x]`` is a set of one character, so ``A.1x`` fits and
    ``A.1[x]`` does not (and could not log on anyway: ``[`` is not a wire id
    character)."""
    t = template(targetCompId="A.?[x]*")
    assert t.matches("FIX.4.4", "BROKER", "A.1x")
    assert t.matches("FIX.4.4", "BROKER", "A.1xyz")
    assert not t.matches("FIX.4.4", "BROKER", "A.1[x]")
    assert not t.matches("FIX.4.4", "BROKER", "AZ1x")
    assert logon_ids(logon(t49="A.1[x]")) is None


def test_sub_and_location_id_patterns_are_matched() -> None:
    t = template(targetSubId="DESK?", targetLocationId="[A-Z][A-Z]", senderSubId="FX*")
    ids = {"target_sub_id": "DESK1", "target_location_id": "NY", "sender_sub_id": "FXSPOT"}
    assert t.matches("FIX.4.4", "BROKER", "C", **ids)
    assert not t.matches("FIX.4.4", "BROKER", "C", **{**ids, "target_sub_id": "DESK12"})
    assert not t.matches("FIX.4.4", "BROKER", "C", **{**ids, "target_location_id": "N1"})
    assert not t.matches("FIX.4.4", "BROKER", "C", **{**ids, "sender_sub_id": "EQ"})
    # a pattern set in the template needs the Logon to carry the id
    assert not t.matches("FIX.4.4", "BROKER", "C", **{**ids, "target_sub_id": None})
    # an id field the template leaves unset accepts anything, nothing included
    assert t.matches("FIX.4.4", "BROKER", "C", **ids, sender_location_id="LDN")


def test_the_new_session_takes_the_peers_actual_ids() -> None:
    t = template(senderCompId="BROKER*", targetSubId="DESK?", targetLocationId="*",
                 senderLocationId="[A-Z]*")
    session = t.instantiate("BROKER2", "CLIENT_9", target_sub_id="DESK4",
                            target_location_id="NY", sender_location_id="LDN")
    assert (session.sender_comp_id, session.target_comp_id) == ("BROKER2", "CLIENT_9")
    assert session.target_sub_id == "DESK4"
    assert session.target_location_id == "NY"
    assert session.sender_location_id == "LDN"
    assert session.sender_sub_id is None  # unset in the template, absent from the Logon
    assert session.session_id == "FIX.4.4:BROKER2->CLIENT_9"


def test_the_acceptor_routes_through_the_same_rules() -> None:
    """From a Logon message to the settings of the session it would create:
    sub and location ids come from the Logon (its SenderSubID(50) is our
    TargetSubID), never a pattern copied from the template."""
    templates = Templates()
    templates.add(template(targetCompId="CLIENT_?", targetSubId="DESK[0-9]",
                           targetLocationId="*"))
    templates.add(template(targetCompId="*"))
    msg = logon(t49="CLIENT_7", t50="DESK3", t142="NY", t57="ORDERS")
    found = templates.find(9880, msg)
    assert found is not None
    slot, settings = found
    assert slot.template.session.target_sub_id == "DESK[0-9]"
    assert (settings.target_comp_id, settings.target_sub_id) == ("CLIENT_7", "DESK3")
    assert settings.target_location_id == "NY"
    assert settings.sender_sub_id == "ORDERS"
    assert settings.sender_comp_id == "BROKER"
    # SubID outside the set: the first template does not fit, the second does
    other = templates.find(9880, logon(t49="CLIENT_7", t50="DESKX", t142="NY"))
    assert other is not None and other[0].template.session.target_sub_id is None
    assert other[1].target_sub_id == "DESKX"
    assert templates.find(9881, msg) is None  # another port has no templates


def test_a_logon_with_an_id_that_is_not_plain_text_fits_no_template() -> None:
    templates = Templates()
    templates.add(template(targetCompId="*", targetSubId="*"))
    assert templates.find(9880, logon(t50="DESK 1")) is None
    assert templates.find(9880, logon(t49="../etc")) is None
    assert templates.find(9880, logon(t50="DESK1")) is not None
    without_sender = Message.new("FIX.4.4", "A")
    without_sender.set(56, "BROKER")
    assert templates.find(9880, without_sender) is None
