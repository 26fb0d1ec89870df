"""The acceptance-test acceptor: the configuration and application that the
QuickFIX acceptance definitions expect (see ``docs/script-test.md``).

One port, SenderCompID ``ISLD``, ResetOnLogon, one session per FIX version
with its dictionary, plus ``TW`` and ``NO_CHECK_FIELDS_HAVE_VALUES`` on
FIX.4.4.  The application echoes NewOrderSingle (except a PossResend whose
ClOrdID this session has seen since its last logon) and SecurityDefinition,
and rejects every other application message as unsupported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..application import Application, SessionHandle, UnsupportedMessageType
from ..codec import Message
from ..codec import tags as t
from ..config import EngineConfig, SessionSettings
from ..dictionary import DataDictionary, SessionDictionaries, canonical_message, load

#: (BeginString, TargetCompID, dictionary, DefaultApplVerID)
ACCEPTANCE_SESSIONS: list[tuple[str, str, str, str | None]] = [
    ("FIX.4.0", "TW40", "FIX40.xml", None),
    ("FIX.4.1", "TW41", "FIX41.xml", None),
    ("FIX.4.2", "TW42", "FIX42.xml", None),
    ("FIX.4.3", "TW43", "FIX43.xml", None),
    ("FIX.4.4", "TW44", "FIX44.xml", None),
    ("FIXT.1.1", "TW50", "FIX50.xml", "FIX.5.0"),
    ("FIXT.1.1", "TW50SP1", "FIX50SP1.xml", "FIX.5.0SP1"),
    ("FIXT.1.1", "TW50SP2", "FIX50SP2.xml", "FIX.5.0SP2"),
    ("FIX.4.4", "TW", "FIX44.xml", None),
    ("FIX.4.4", "NO_CHECK_FIELDS_HAVE_VALUES", "FIX44.xml", None),
]

# Header fields the echo must not copy: the session sets its own.
_NOT_ECHOED = frozenset({8, 9, 34, 35, 43, 49, 52, 56, 122, 10})


def acceptance_config(port: int, spec_dir: Path, host: str = "127.0.0.1",
                      store: str = "memory://") -> EngineConfig:
    sessions: list[dict[str, Any]] = []
    for begin, target, dictionary, appl in ACCEPTANCE_SESSIONS:
        validation: dict[str, Any] = {}
        if begin == "FIXT.1.1":
            validation["transport_data_dictionary"] = str(spec_dir / "FIXT11.xml")
            validation["app_data_dictionary"] = [str(spec_dir / dictionary)]
        else:
            validation["data_dictionary"] = str(spec_dir / dictionary)
        if target == "NO_CHECK_FIELDS_HAVE_VALUES":
            validation["validate_fields_have_values"] = False
        session: dict[str, Any] = {
            "role": "acceptor",
            "begin_string": begin,
            "sender_comp_id": "ISLD",
            "target_comp_id": target,
            "accept_port": port,
            "accept_host": host,
            "reset_on_logon": True,
            "validation": validation,
            # The acceptance definitions log on with CompIDs only, as
            # QuickFIX's own test acceptor expects.
            "authentication": {"mode": "none"},
        }
        if appl:
            session["default_appl_ver_id"] = appl
            # The definitions come from QuickFIX C++, which writes
            # DefaultApplVerID(1137) into a BusinessMessageReject.
            session["business_reject_appl_ver_id"] = "body"
        sessions.append(session)
    # The definitions run in parallel from one address and many of them
    # are refused on purpose: no blocking after refused Logons here.
    limits = {"maxUnauthenticatedPerSource": 1024, "maxUnauthenticated": 1024,
              "acceptRate": 100000, "acceptBurst": 100000,
              "failedLogonLimit": 1_000_000}
    return EngineConfig.model_validate({"store": store, "sessions": sessions,
                                        "limits": limits})


class AcceptanceApplication(Application):
    """Echo orders and security definitions; everything else is unsupported."""

    def __init__(self, settings: SessionSettings) -> None:
        v = settings.validation
        self.dictionary: DataDictionary | SessionDictionaries | None = None
        if v.data_dictionary:
            self.dictionary = load(v.data_dictionary)
        elif v.transport_data_dictionary and v.app_data_dictionary:
            self.dictionary = SessionDictionaries(
                load(v.transport_data_dictionary), [load(p) for p in v.app_data_dictionary],
                settings.default_appl_ver_id)
        self.seen: set[bytes] = set()

    async def on_logout(self, session: SessionHandle) -> None:
        self.seen.clear()

    async def on_logon(self, session: SessionHandle) -> None:
        self.seen.clear()

    async def from_app(self, msg: Message, session: SessionHandle) -> None:
        mt = msg.msg_type
        if mt == b"D":
            cl_ord_id = msg.get(11) or b""
            if msg.get(t.POSS_RESEND) == b"Y" and cl_ord_id in self.seen:
                return
            self.seen.add(cl_ord_id)
        elif mt != b"d":
            raise UnsupportedMessageType()
        await session.send(self.echo(msg))

    def echo(self, msg: Message) -> Message:
        source = canonical_message(msg, self.dictionary) if self.dictionary else msg
        reply = Message([(t.BEGIN_STRING, msg.begin_string), (t.MSG_TYPE, msg.msg_type)])
        for tag, value in source.header:
            if tag not in _NOT_ECHOED:
                reply.set(tag, value)
        reply.body = list(source.body)
        return reply
