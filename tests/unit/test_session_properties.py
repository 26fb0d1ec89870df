"""Property tests of the session state machine.

1. Every (State, Event) pair, as h2's ``test_state_machines`` does: put a
   session into the state through real inputs, fire the event with plausible
   arguments, and check the outcome against ``TRANSITIONS``: a listed pair
   ends in one of its declared states (or where it was) and does what its
   event's oracle says (``ORACLES``: a send is numbered and persisted, a due
   timer acts and an early one does not, a resend covers its range, ...);
   an unlisted remote event disconnects without delivering; an unlisted
   local event raises ``LocalProtocolError`` and changes nothing.
2. A stateful test driving two wired sessions with random application
   sends, drops, duplicates, time, logouts and reconnects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pyfixmsg_plus.engine.codec import Message, decode
from pyfixmsg_plus.engine.errors import LocalProtocolError
from pyfixmsg_plus.engine.session import TRANSITIONS, Event, State
from pyfixmsg_plus.engine.session import effects as fx

from .session_harness import NS, Pair, Solo
from .session_harness import settings as session_settings

ROLES = ("acceptor", "initiator")


def new_solo(role: str, **kw: Any) -> Solo:
    sender, target = ("BROKER", "CLIENT") if role == "acceptor" else ("CLIENT", "BROKER")
    s = Solo(session_settings(role, sender, target, **kw))
    s.authorize = False
    return s


def reach(role: str, state: State) -> Solo | None:
    """A session of ``role`` brought into ``state`` through real inputs."""
    s = new_solo(role)
    sess = s.session
    initiator = role == "initiator"
    if state is State.DISCONNECTED:
        pass
    elif state is State.CONNECTING:
        if not initiator:
            return None
        sess.start_connect(s.now)
    elif state is State.RECONNECTING:
        if not initiator:
            return None
        sess.start_connect(s.now)
        sess.connect_failed(s.now)
    elif state is State.AWAITING_LOGON:
        if initiator:
            return None
        s.connect()
    elif state is State.LOGON_SENT:
        if not initiator:
            return None
        s.connect()
    else:
        s.connect()
        s.feed(s.logon_msg())
        assert sess.state is State.LOGON_RECEIVED
        if state is not State.LOGON_RECEIVED:
            sess.logon_authorized(s.now)
            s.run()
            s.send()
            s.feed(s.msg("0"))
            if state is State.LOGOUT_SENT:
                sess.logout(s.now)
                s.run()
    assert sess.state is state
    s.run()
    return s


def fire(s: Solo, event: Event, data: st.DataObject) -> Any:
    """Fire ``event`` with drawn arguments; returns what an oracle needs
    (the MsgSeqNum of a send, the time of a timer, the range of a resend,
    the message received)."""
    sess = s.session
    now = s.now
    if event is Event.START_CONNECT:
        sess.start_connect(now)
    elif event is Event.CONNECTED:
        sess.connected(now)
    elif event is Event.CONNECT_FAILED:
        sess.connect_failed(now)
    elif event is Event.LOGON_AUTHORIZED:
        sess.logon_authorized(now)
    elif event is Event.LOGON_REFUSED:
        sess.logon_refused(data.draw(st.sampled_from(["", "bad password"])), now)
    elif event is Event.SEND:
        return sess.send_app(Message.new(sess.settings.begin_string, "D", [(11, "x")]), now)
    elif event is Event.LOGOUT:
        sess.logout(now, data.draw(st.sampled_from(["", "bye"])))
    elif event is Event.TIMER:
        when = now + data.draw(st.integers(0, 100)) * NS
        sess.on_timer(when)
        return when
    elif event is Event.RESEND_LOADED:
        end = sess.next_sender - 1  # a LoadResend never reaches beyond what was sent
        begin = data.draw(st.integers(1, max(1, end)))
        stored = [(q, m if not m.is_admin() else None)
                  for q, m in sorted(s.stored.items()) if begin <= q <= end]
        sess.resend_loaded(begin, end, stored, now)
        return begin, end
    elif event is Event.CLOSED:
        sess.closed(now)
    elif event is Event.GARBLED:
        sess.receive_garbled("bad checksum", now)
    else:
        seq = max(0, sess.next_target + data.draw(st.integers(-2, 2)))
        header = [(43, "Y"), (122, "20200101-00:00:00")] if data.draw(st.booleans()) else []
        if event is Event.LOGON:
            body = [(141, "Y")] if data.draw(st.booleans()) else []
            msg = s.logon_msg(body=body, seq=seq, header=header)
        elif event is Event.LOGOUT_MSG:
            msg = s.msg("5", seq=seq, header=header)
        else:
            mt, body = data.draw(st.sampled_from([
                ("0", []), ("1", [(112, "T")]), ("D", [(11, "o")]), ("2", [(7, 1), (16, 0)]),
                ("4", [(36, 9), (123, "Y")]), ("4", [(36, 1)]), ("3", [(45, 1)])]))
            msg = s.msg(mt, body, seq=seq, header=header)
        sess.receive(msg, now)
        return msg
    return None


#: States a role never is in: an acceptor does not connect out, an initiator
#: does not wait for a Logon it did not ask for.
UNREACHABLE = {("acceptor", State.CONNECTING), ("acceptor", State.RECONNECTING),
               ("acceptor", State.LOGON_SENT), ("initiator", State.AWAITING_LOGON)}
PAIRS = [(role, state, event) for role in ROLES for state in State for event in Event
         if (role, state) not in UNREACHABLE]


def test_unreachable_states_are_unreachable() -> None:
    for role, state in UNREACHABLE:
        assert reach(role, state) is None


@pytest.mark.parametrize(("role", "state", "event"), PAIRS,
                         ids=[f"{r}-{s.value}-{e.value}" for r, s, e in PAIRS])
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_every_state_event_pair(role: str, state: State, event: Event,
                                data: st.DataObject) -> None:
    s = reach(role, state)
    assert s is not None, (role, state)
    sess = s.session
    entry = TRANSITIONS.get((state, event))
    before = Before(state, sess.next_sender, sess.next_target, sess.next_deadline(), s.now)
    if entry is None and not event.remote:
        with pytest.raises(LocalProtocolError):
            fire(s, event, data)
        assert sess.state is state
        assert sess.peek_effects() == [], "a refused local event must change nothing"
        assert (sess.next_sender, sess.next_target) == (before.next_sender, before.next_target)
        return
    fired = fire(s, event, data)
    after = sess.state
    out = sess.peek_effects()
    context = (role, state, event, after, out)
    if entry is None:
        # A remote event the table does not list: a protocol error.
        assert not after.connected, context
        assert any(isinstance(e, fx.Disconnect) for e in out), context
        assert not any(isinstance(e, fx.Deliver) for e in out), context
        s.run()
        return
    _, targets = entry
    assert after is state or after in targets, context
    check_common(before, after, out, event, context)
    ORACLES[event](before, s, fired, out, context)
    s.run()  # the effects are carried out without tripping the harness's checks


class Before(NamedTuple):
    state: State
    next_sender: int
    next_target: int
    deadline: int | None
    now: int


def _sends(out: list[fx.Effect], *, write: bool | None = None) -> list[fx.Send]:
    return [e for e in out if isinstance(e, fx.Send) and (write is None or e.write is write)]


def _types(sends: list[fx.Send]) -> list[bytes]:
    return [e.msg.msg_type for e in sends]


def check_common(before: Before, after: State, out: list[fx.Effect], event: Event,
                 context: Any) -> None:
    """What holds for every listed pair, whatever the event."""
    disconnects = [e for e in out if isinstance(e, fx.Disconnect)]
    if before.state.connected and not after.connected and event is not Event.CLOSED:
        assert disconnects, ("went down without closing the connection", context)
    if disconnects or event is Event.CLOSED:
        assert not after.connected, ("asked to disconnect but still connected", context)
    if not before.state.connected:
        # Nothing reaches a wire that is not there.
        assert not _sends(out, write=True) or after.connected, context
    persisted = [e.seq for e in _sends(out) if e.persist]
    if persisted and not any(isinstance(e, fx.ResetStore) for e in out):
        assert persisted == list(range(before.next_sender, before.next_sender + len(persisted))), (
            "persisted sequence numbers are not the next ones", context)


Oracle = Callable[[Before, Solo, Any, list[fx.Effect], Any], None]


def _start_connect(before: Before, s: Solo, fired: Any, out: list[fx.Effect], ctx: Any) -> None:
    assert s.session.state is State.CONNECTING and out == [], ctx


def _connected(before: Before, s: Solo, fired: Any, out: list[fx.Effect], ctx: Any) -> None:
    if before.state is State.CONNECTING:  # the initiator logs on at once
        assert s.session.state is State.LOGON_SENT, ctx
        assert _types(_sends(out, write=True)) == [b"A"], ctx
    else:  # an accepted connection waits for the counterparty's Logon
        assert s.session.state is State.AWAITING_LOGON and _sends(out) == [], ctx


def _connect_failed(before: Before, s: Solo, fired: Any, out: list[fx.Effect], ctx: Any) -> None:
    assert s.session.state is State.RECONNECTING and out == [], ctx


def _authorized(before: Before, s: Solo, fired: Any, out: list[fx.Effect], ctx: Any) -> None:
    assert s.session.state is State.ACTIVE, ctx
    assert any(isinstance(e, fx.LoggedOn) for e in out), ctx
    answers = [e for e in _sends(out, write=True) if e.msg.msg_type == b"A"]
    assert len(answers) == (0 if s.session.initiator else 1), ctx  # the acceptor answers


def _refused(before: Before, s: Solo, fired: Any, out: list[fx.Effect], ctx: Any) -> None:
    assert not s.session.state.connected, ctx
    assert _types(_sends(out, write=True)) == [b"5"], ctx  # a Logout says why
    assert not any(isinstance(e, fx.LoggedOn) for e in out), ctx


def _send(before: Before, s: Solo, seq: Any, out: list[fx.Effect], ctx: Any) -> None:
    sess = s.session
    assert sess.state is before.state, ctx
    assert seq == before.next_sender and sess.next_sender == seq + 1, ctx
    (sent,) = _sends(out)
    assert sent.persist and sent.seq == seq and sent.msg.msg_type == b"D", ctx
    # Written at once only when logged on; otherwise kept for the resend
    # the counterparty will ask for.
    assert sent.write is (before.state in (State.ACTIVE, State.LOGOUT_SENT)), ctx


def _logout(before: Before, s: Solo, fired: Any, out: list[fx.Effect], ctx: Any) -> None:
    state = s.session.state
    if before.state is State.ACTIVE:
        assert state is State.LOGOUT_SENT, ctx
        assert _types(_sends(out, write=True)) == [b"5"], ctx
    elif before.state.connected and before.state is not State.LOGOUT_SENT:
        assert not state.connected, ctx  # before the logon completed: just hang up
    else:  # already logging out, or not connected: nothing to do
        assert state is before.state and out == [], ctx


def _timer(before: Before, s: Solo, when: Any, out: list[fx.Effect], ctx: Any) -> None:
    acted = bool(out) or s.session.state is not before.state
    if before.deadline is None or when < before.deadline:
        # Nothing is due: a timer firing early (or with nothing armed) is harmless.
        assert not acted, ("a timer acted before its deadline", before.deadline, when, ctx)
    else:
        assert acted, ("a due timer did nothing", before.deadline, when, ctx)


def _resend_loaded(before: Before, s: Solo, fired: Any, out: list[fx.Effect], ctx: Any) -> None:
    begin, end = fired
    assert s.session.state is before.state, ctx
    covered: list[int] = []
    for e in _sends(out):
        assert not e.persist and e.msg.get(43) == b"Y", ("a resend is PossDup", ctx)
        if e.msg.msg_type == b"4":
            covered += range(e.seq, int(e.msg.get(36) or b"0"))
        else:
            covered.append(e.seq)
    assert covered == list(range(begin, end + 1)), ("the resend covers the range", ctx)


def _closed(before: Before, s: Solo, fired: Any, out: list[fx.Effect], ctx: Any) -> None:
    if before.state.connected or before.state is State.CONNECTING:
        assert s.session.state is (State.RECONNECTING if s.session.initiator
                                   else State.DISCONNECTED), ctx
        assert not _sends(out), ctx
    else:
        assert s.session.state is before.state and out == [], ctx


def _received(before: Before, s: Solo, msg: Any, out: list[fx.Effect], ctx: Any) -> None:
    # Whatever arrives leaves a trace (a state change, an answer, a delivery,
    # a sequence number moved, a log line or a disconnect), except what FIX
    # says to ignore: a PossDup copy of a message already received, and a
    # SequenceReset to the number expected anyway.
    assert isinstance(msg, Message)
    if not out and s.session.state is before.state:
        seq = int(msg.get(34) or b"0")
        duplicate = msg.get(43) == b"Y" and seq < before.next_target
        no_op_reset = (msg.msg_type == b"4"
                       and int(msg.get(36) or b"0") == before.next_target)
        assert duplicate or no_op_reset, ("a received message left no trace", ctx)
    if not before.state.connected:
        assert not any(isinstance(e, fx.Deliver) for e in out), ctx


def _garbled(before: Before, s: Solo, fired: Any, out: list[fx.Effect], ctx: Any) -> None:
    if before.state in (State.AWAITING_LOGON, State.LOGON_SENT):
        assert not s.session.state.connected, ctx  # garbage instead of a Logon
    else:
        assert s.session.state is before.state, ctx
        assert [type(e) for e in out] == [fx.Log], ctx  # counted, logged, ignored


def _message_before_logon(before: Before, s: Solo, fired: Any, out: list[fx.Effect],
                          ctx: Any) -> None:
    _received(before, s, fired, out, ctx)
    if before.state is State.AWAITING_LOGON:  # the first message must be a Logon
        assert not s.session.state.connected and not _sends(out), ctx
        assert not any(isinstance(e, fx.Deliver) for e in out), ctx


ORACLES: dict[Event, Oracle] = {
    Event.START_CONNECT: _start_connect,
    Event.CONNECTED: _connected,
    Event.CONNECT_FAILED: _connect_failed,
    Event.LOGON_AUTHORIZED: _authorized,
    Event.LOGON_REFUSED: _refused,
    Event.SEND: _send,
    Event.LOGOUT: _logout,
    Event.TIMER: _timer,
    Event.RESEND_LOADED: _resend_loaded,
    Event.CLOSED: _closed,
    Event.LOGON: _received,
    Event.LOGOUT_MSG: _message_before_logon,
    Event.MESSAGE: _message_before_logon,
    Event.GARBLED: _garbled,
}


def test_every_event_has_an_oracle() -> None:
    assert set(ORACLES) == set(Event)


# ---------------------------------------------------------------------------
# two wired sessions
# ---------------------------------------------------------------------------
class TwoSessions(RuleBasedStateMachine):
    """Random traffic between an initiator and an acceptor, with losses,
    duplicates, time passing, logouts and reconnects."""

    def __init__(self) -> None:
        super().__init__()
        self.p = Pair()
        self.p.connect()
        self.sent: dict[str, list[str]] = {"ini": [], "acc": []}
        self.losses: set[tuple[str, int]] = set()
        self.counter = 0
        self.seen: dict[str, set[bytes]] = {"ini": set(), "acc": set()}
        self.p.ini.on_app = lambda m: self._check_new("ini", m)
        self.p.acc.on_app = lambda m: self._check_new("acc", m)
        self.p.drop = self._drop

    def _name(self, side: Any) -> str:
        return "ini" if side is self.p.ini else "acc"

    def _check_new(self, name: str, msg: Message) -> None:
        oid = msg.get(11)
        assert oid is not None
        if oid in self.seen[name]:
            assert msg.get(43) == b"Y", f"{oid!r} delivered twice without PossDup"
        self.seen[name].add(oid)

    def _drop(self, side: Any, msg: Message) -> bool:
        # Only application messages get lost while connected: TCP loses no
        # bytes, and a lost session message (a ResendRequest nobody answers)
        # would stall a FIX session by design.  Whole flights are lost by ``cut``.
        key = (self._name(side), int(msg.get(34) or b"0"))
        if key in self.losses and msg.msg_type == b"D":
            self.losses.discard(key)
            return True
        return False

    @rule(who=st.sampled_from(["ini", "acc"]))
    def send(self, who: str) -> None:
        side = self.p.ini if who == "ini" else self.p.acc
        self.counter += 1
        oid = f"{who}{self.counter}"
        if side.session.state in (State.DISCONNECTED, State.RECONNECTING, State.CONNECTING,
                                  State.ACTIVE):
            self.p.send(side, "D", [(11, oid)])
            self.sent[who].append(oid)

    @rule(who=st.sampled_from(["ini", "acc"]), ahead=st.integers(0, 3))
    def lose_next(self, who: str, ahead: int) -> None:
        side = self.p.ini if who == "ini" else self.p.acc
        self.losses.add((who, side.session.next_sender + ahead))

    @rule(who=st.sampled_from(["ini", "acc"]))
    def duplicate_last(self, who: str) -> None:
        side = self.p.ini if who == "ini" else self.p.acc
        peer = self.p.other(side)
        if self.p.connected and side.wire and peer.session.state is State.ACTIVE:
            peer.inbox.append(side.wire[-1])
            self.p.pump()

    @rule(seconds=st.sampled_from([1, 10, 31, 40, 75]))
    def advance(self, seconds: int) -> None:
        self.p.advance(seconds)

    @rule(who=st.sampled_from(["ini", "acc"]))
    def logout(self, who: str) -> None:
        side = self.p.ini if who == "ini" else self.p.acc
        if side.session.state is State.ACTIVE:
            side.session.logout(self.p.now)
            self.p.pump()

    @rule()
    def cut(self) -> None:
        if self.p.connected:
            self.p.ini.inbox.clear()  # in flight, lost
            self.p.acc.inbox.clear()
            self.p._carry_out(self.p.ini, fx.Disconnect(reason="cut"))
            self.p.ini.session.closed(self.p.now, "cut")
            self.p.pump()

    @precondition(lambda self: not self.p.connected or not self.p.logged_on())
    @rule()
    def reconnect(self) -> None:
        self.resync()

    def resync(self) -> None:
        p = self.p
        self.losses.clear()
        if p.connected and not p.logged_on():
            p.advance(15)  # let a pending logon or logout finish or time out
        if not p.logged_on():
            if p.connected:
                p.ini.session.closed(p.now, "reset")
                p.acc.session.closed(p.now, "reset")
                p.connected = False
                p.pump()
            p.connect()
        assert p.logged_on()
        # Two heartbeat rounds reveal any trailing gap and close it.
        p.advance(31)
        p.advance(31)

    @invariant()
    def persisted_sequence_numbers_agree(self) -> None:
        for side in (self.p.ini, self.p.acc):
            assert side.next_sender == side.session.next_sender
            assert side.next_target == side.session.next_target

    def teardown(self) -> None:
        self.resync()
        p = self.p
        assert p.logged_on()
        assert p.ini.session.next_target == p.acc.session.next_sender
        assert p.acc.session.next_target == p.ini.session.next_sender
        assert not p.ini.session.queue and not p.acc.session.queue
        for name, receiver in (("ini", p.acc), ("acc", p.ini)):
            got = {m.get(11) for m in receiver.delivered if m.msg_type == b"D"}
            missing = [oid for oid in self.sent[name] if oid.encode() not in got]
            assert not missing, f"never delivered from {name}: {missing}"
        # What each side wrote decodes, and fresh (non-PossDup) numbers never repeat.
        for side in (p.ini, p.acc):
            fresh = [decode(d) for d in side.wire]
            nums = [int(m.get(34) or b"0") for m in fresh
                    if m.get(43) is None and not (m.msg_type == b"A" and m.get(141) == b"Y")]
            assert nums == sorted(nums) and len(nums) == len(set(nums)), nums


TwoSessions.TestCase.settings = settings(max_examples=80, stateful_step_count=30,
                                         deadline=None)
test_two_sessions = TwoSessions.TestCase


# -- basic_problems: the quick look at the received bytes ---------------------

_TAG_TEXT = st.one_of(st.integers(1, 9999).map(str), st.sampled_from(["0", "00", "01", "-1", "-40"]))
_VALUE = st.one_of(st.just(b""), st.binary(min_size=1, max_size=6).filter(
    lambda b: b"\x01" not in b), st.sampled_from([b"=", b"0", b"-", b"=0"]))


@given(st.lists(st.tuples(_TAG_TEXT, _VALUE), max_size=8), st.booleans())
@settings(max_examples=400, deadline=None)
def test_basic_problems_reads_received_bytes_like_the_field_lists(
        fields: list[tuple[str, bytes]], have_values: bool) -> None:
    from pyfixmsg_plus.engine.session.validation import basic_problems

    body = b"".join(b"%s=%s\x01" % (tag.encode(), value) for tag, value in fields)
    head = b"35=D\x0134=2\x0149=A\x0152=20260101-00:00:00\x0156=B\x01"
    frame = b"8=FIX.4.4\x019=%d\x01" % len(head + body) + head + body
    frame += b"10=%03d\x01" % (sum(frame) % 256)
    received = decode(frame)
    plain = Message(list(received.header), list(received.body), list(received.trailer))
    assert basic_problems(received, have_values) == basic_problems(plain, have_values)


# -- the in-order fast path decides exactly like the full path ---------------

def _effects(outbox: list[fx.Effect]) -> list[Any]:
    from pyfixmsg_plus.engine.codec import encode

    out: list[Any] = []
    for e in outbox:
        if isinstance(e, fx.Send | fx.Deliver):
            out.append((type(e).__name__, encode(e.msg)))
        else:
            out.append(repr(e) if not isinstance(e, fx.SetTarget) else ("SetTarget", e.next_target))
    return out


@given(
    msg_type=st.sampled_from(["D", "8", "j", "0", "1", "2", "3", "4"]),
    seq_shift=st.sampled_from([0, 0, 0, 1, 5, -1]),
    sending_shift_s=st.sampled_from([0, 0, 60, 121, -121]),
    header=st.sampled_from([[], [(49, "WRONG")], [(56, "WRONG")], [(43, "Y")],
                            [(43, "Y"), (122, "20200101-00:00:00")]]),
    extra=st.sampled_from([[], [(58, "")], [(0, "x")], [(-3, "x")], [(58, "hello")]]),
    omit=st.sampled_from([(), (52,), (34,), (49,)]),
    gap_first=st.booleans(),
    validation=st.fixed_dictionaries({
        "check_latency": st.booleans(),
        "max_latency": st.sampled_from([1, 61, 120, 3600]),
        "check_comp_id": st.booleans(),
        "validate_fields_have_values": st.booleans(),
    }),
)
@settings(max_examples=400, deadline=None)
def test_in_order_fast_path_matches_the_full_path(
        msg_type: str, seq_shift: int, sending_shift_s: int, header: list[tuple[int, Any]],
        extra: list[tuple[int, Any]], omit: tuple[int, ...], gap_first: bool,
        validation: dict[str, Any]) -> None:
    """Varied settings: a rule the full path applies under some setting and
    the fast path ignores (or the other way round) shows up as a difference."""
    _compare_paths(msg_type, seq_shift, sending_shift_s, header, extra, omit, gap_first,
                   validation)


@pytest.mark.parametrize("check_latency", [True, False])
@pytest.mark.parametrize("max_latency", [1, 61, 120])
@pytest.mark.parametrize("check_comp_id", [True, False])
@pytest.mark.parametrize("sending_shift_s", [0, 60, 121, -121])
@pytest.mark.parametrize("header", [[], [(49, "WRONG")], [(43, "Y")]])
def test_in_order_fast_path_matches_the_full_path_for_every_setting(
        check_latency: bool, max_latency: int, check_comp_id: bool, sending_shift_s: int,
        header: list[tuple[int, Any]]) -> None:
    """The same comparison over the whole grid of the settings the checks
    read, for an in-order order: every combination, not a sample."""
    _compare_paths("D", 0, sending_shift_s, header, [], (), False, {
        "check_latency": check_latency, "max_latency": max_latency,
        "check_comp_id": check_comp_id})


def _compare_paths(msg_type: str, seq_shift: int, sending_shift_s: int,
                   header: list[tuple[int, Any]], extra: list[tuple[int, Any]],
                   omit: tuple[int, ...], gap_first: bool, validation: dict[str, Any]) -> None:
    from pyfixmsg_plus.engine.codec import encode

    sides = []
    for fast in (True, False):
        s = Solo(session_settings("acceptor", "BROKER", "CLIENT", validation=validation))
        s.logon()
        if gap_first:  # a gap being filled: the fast path must stand aside
            s.feed(s.msg("D", [(11, "after-gap")], seq=s.peer_seq + 3))
        if not fast:
            s.session._accept_in_order = lambda msg, now: False  # type: ignore[method-assign]
        sides.append(s)
    wires = []
    for s in sides:
        body = [(11, "x"), (55, "SYM"), *extra] if msg_type in ("D", "8", "j") else list(extra)
        m = s.msg(msg_type, body, seq=s.peer_seq + seq_shift, header=header,
                  sending_time=s.now + sending_shift_s * NS, omit=omit)
        wires.append(encode(m))
    assert wires[0] == wires[1]
    outs = []
    for s, wire in zip(sides, wires, strict=True):
        s.run()
        s.session.receive(decode(wire), s.now)
        ses = s.session
        outs.append((_effects(ses.take_effects()), ses.state, ses.next_target,
                     ses.last_received, ses.test_requests, ses.resend_range, sorted(ses.queue)))
    assert outs[0] == outs[1]


def test_an_in_order_application_message_takes_the_fast_path() -> None:
    s = Solo(session_settings("acceptor", "BROKER", "CLIENT"))
    s.logon()
    taken: list[bool] = []
    real = s.session._accept_in_order

    def spy(msg: Message, now: int) -> bool:
        taken.append(real(msg, now))
        return taken[-1]

    s.session._accept_in_order = spy  # type: ignore[method-assign]
    s.feed(s.msg("D", [(11, "a")]))
    s.feed(s.msg("D", [(11, "b")], seq=s.peer_seq + 2))  # a gap: the full path
    assert taken == [True, False]
    assert [m.get(11) for m in s.delivered] == [b"a"]
