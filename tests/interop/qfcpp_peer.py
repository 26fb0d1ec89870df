"""A QuickFIX C++ acceptor or initiator (the ``quickfix`` binding from PyPI).

    python tests/interop/qfcpp_peer.py SETTINGS.cfg

Speaks the same line protocol as the QuickFIX/J ``InteropPeer``
(tests/interop/qfj/src/main/java/interop/InteropPeer.java): commands on
standard input (``send BEGIN COUNT PREFIX``, ``seq BEGIN``, ``logout BEGIN``,
``quit``), one event per line on standard output (``READY``, ``LOGON B``,
``LOGOUT B``, ``ORDER B ID POSSDUP``, ``ER B ID POSSDUP``, ``SENT B N``,
``SEQ B NEXTSENDER NEXTTARGET``, ``REJECT B TYPE TEXT``, ``STOPPED``).

``ConnectionType`` chooses the role; ``SocketUseSSL=Y`` (our own key, read
here) picks QuickFIX's SSL acceptor or initiator, which needs a build with
HAVE_SSL (tests/env/31-quickfix-cpp.sh builds one).  As an acceptor it
answers each NewOrderSingle with one ExecutionReport (new).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import sys
import threading
import time

import quickfix as fix  # type: ignore[import-not-found]

_lock = threading.Lock()
_sessions: dict[str, object] = {}
_ids = itertools.count(1)
_run = f"{int(time.time() * 1000):x}"  # ExecIDs stay unique across restarts


def say(*words: object) -> None:
    with _lock:
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()


def _begin(sid: object) -> str:
    return str(sid.getBeginString().getString())  # type: ignore[attr-defined]


def _flag(msg: object) -> str:
    header = msg.getHeader()  # type: ignore[attr-defined]
    return "Y" if header.isSetField(43) and header.getField(43) == "Y" else "N"


def _text(msg: object) -> str:
    return str(msg.getField(58)) if msg.isSetField(58) else ""  # type: ignore[attr-defined]


class App(fix.Application):  # type: ignore[misc]
    def onCreate(self, sid: object) -> None:
        _sessions[_begin(sid)] = sid

    def onLogon(self, sid: object) -> None:
        say("LOGON", _begin(sid))

    def onLogout(self, sid: object) -> None:
        say("LOGOUT", _begin(sid))

    def toAdmin(self, msg: object, sid: object) -> None:
        return None

    def fromAdmin(self, msg: object, sid: object) -> None:
        if msg.getHeader().getField(35) == "3":  # type: ignore[attr-defined]
            say("REJECT", _begin(sid), "3", _text(msg))

    def toApp(self, msg: object, sid: object) -> None:
        return None

    def fromApp(self, msg: object, sid: object) -> None:
        kind = msg.getHeader().getField(35)  # type: ignore[attr-defined]
        begin = _begin(sid)
        if kind == "D":
            say("ORDER", begin, msg.getField(11), _flag(msg))  # type: ignore[attr-defined]
            answer(msg, sid)
        elif kind == "8":
            say("ER", begin, msg.getField(11), _flag(msg))  # type: ignore[attr-defined]
        elif kind == "j":
            say("REJECT", begin, "j", _text(msg))
        else:
            say("APP", begin, kind)


def _message(msg_type: str, fields: list[tuple[int, str]]) -> object:
    m = fix.Message()
    m.getHeader().setField(fix.MsgType(msg_type))
    for tag, value in fields:
        m.setField(fix.StringField(tag, value))
    return m


def answer(order: object, sid: object) -> None:
    n = next(_ids)
    get = order.getField  # type: ignore[attr-defined]
    qty = get(38) if order.isSetField(38) else "0"  # type: ignore[attr-defined]
    fields = [(37, f"O{_run}-{n}"), (17, f"E{_run}-{n}")]
    if _begin(sid) == "FIX.4.2":
        fields.append((20, "0"))
    fields += [(150, "0"), (39, "0"), (11, get(11)), (55, get(55)), (54, get(54)),
               (38, qty), (151, qty), (14, "0"), (6, "0")]
    fix.Session.sendToTarget(_message("8", fields), sid)


def order(cl_ord_id: str) -> object:
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]
    return _message("D", [(11, cl_ord_id), (21, "1"), (55, "EUR/USD"), (54, "1"), (60, now),
                          (38, "100"), (40, "2"), (44, "10.5")])


def command(line: str) -> None:
    words = line.split()
    sid = _sessions.get(words[1]) if len(words) > 1 else None
    if words[0] in ("send", "seq", "logout", "logon") and sid is None:
        say("ERROR no session for", words[1:2])
        return
    if words[0] == "send":
        count, prefix = int(words[2]), words[3]
        for i in range(count):
            fix.Session.sendToTarget(order(f"{prefix}-{i}"), sid)
        say("SENT", words[1], count)
    elif words[0] == "seq":
        session = fix.Session.lookupSession(sid)
        say("SEQ", words[1], session.getExpectedSenderNum(), session.getExpectedTargetNum())
    elif words[0] == "logout":
        fix.Session.lookupSession(sid).logout("bye")
    elif words[0] == "logon":
        fix.Session.lookupSession(sid).logon()
    else:
        say("ERROR unknown command", words[0])


def main(path: str) -> None:
    settings = fix.SessionSettings(path)
    defaults = settings.get()
    initiator = defaults.getString("ConnectionType") == "initiator"
    ssl = defaults.has("SocketUseSSL") and defaults.getString("SocketUseSSL") == "Y"
    app = App()
    store = fix.FileStoreFactory(settings)
    logs = fix.FileLogFactory(settings)
    if initiator:
        kind = fix.SSLSocketInitiator if ssl else fix.SocketInitiator
    else:
        kind = fix.SSLSocketAcceptor if ssl else fix.SocketAcceptor
    connector = kind(app, store, settings, logs)
    connector.start()
    say("READY")
    for line in sys.stdin:
        line = line.strip()
        if line == "quit":
            break
        if line:
            try:
                command(line)
            except Exception as exc:
                say("ERROR", repr(exc))
    connector.stop()
    say("STOPPED")
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
