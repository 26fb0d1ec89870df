"""QuickFIX C++'s own answer to schedule questions (the ``quickfix`` binding).

    TZ=America/New_York python tests/interop/qfcpp_schedule.py < cases.json

Reads ``{"sessions": [{"StartTime": ..., ...}, ...], "queries": [...]}`` and
prints a JSON list with one boolean per query:

* ``[i, "in", t]``: ``Session.isSessionTime(t)`` of session ``i``;
* ``[i, "same", then, now]``: whether ``then`` and ``now`` are in the same
  session range (QuickFIX's ``checkSessionTime``/``isInSameRange``).

Each session gets its own ``[SESSION]`` section (the keys given, plus ids) in
one acceptor that is created and never started.  The binding does not expose
``isInSameRange``: the question is put to ``Session.next(now)``, which resets
the store when ``now`` is not in the range of the store's creation time.  The
creation time is set to ``then`` through the session's store interface
(``MessageStore.reset(then)``, which the session state forwards to its
store), and the answer is whether ``next(now)`` left it alone.  The binding
hands the store back as an untyped pointer; it is given a typed proxy by
writing the address into one (the pointer field of a SWIG object).

Times are epoch nanoseconds.  ``UseLocalTime=Y`` sessions follow the zone in
``TZ`` (set it before this process starts).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import json
import sys

import quickfix as fix  # type: ignore[import-not-found]

NS = 1_000_000_000
_JULIAN_EPOCH = 2_440_588  # Julian day number of 1970-01-01


class _App(fix.Application):  # type: ignore[misc]
    def onCreate(self, session_id: object) -> None:
        pass

    def onLogon(self, session_id: object) -> None:
        pass

    def onLogout(self, session_id: object) -> None:
        pass

    def toAdmin(self, message: object, session_id: object) -> None:
        pass

    def fromAdmin(self, message: object, session_id: object) -> None:
        pass

    def toApp(self, message: object, session_id: object) -> None:
        pass

    def fromApp(self, message: object, session_id: object) -> None:
        pass


def stamp(epoch_ns: int) -> object:
    sec, frac = divmod(epoch_ns, NS)
    t = dt.datetime.fromtimestamp(sec, dt.UTC)
    return fix.UtcTimeStamp(t.hour, t.minute, t.second, frac, t.day, t.month, t.year, 9)


def epoch_ns(stamp: object) -> int:
    s = stamp
    seconds = (s.getJulianDate() - _JULIAN_EPOCH) * 86400 + (  # type: ignore[attr-defined]
        s.getHour() * 3600 + s.getMinute() * 60 + s.getSecond()  # type: ignore[attr-defined]
    )
    return int(seconds * NS + s.getNanosecond())  # type: ignore[attr-defined]


def store_of(session: object) -> object:
    """A ``MessageStore`` proxy for the session's store (see the module doc)."""
    raw = session.getStore()  # type: ignore[attr-defined]
    proxy = fix.MemoryStore(fix.UtcTimeStamp())
    proxy.this.disown()
    # SwigPyObject: PyObject_HEAD, then the pointer.
    ctypes.c_void_p.from_address(id(proxy.this) + 16).value = int(raw)
    if int(proxy.this) != int(raw):
        raise RuntimeError("could not point a store proxy at the session's store")
    return proxy


def main() -> None:
    request = json.load(sys.stdin)
    lines = ["[DEFAULT]", "ConnectionType=acceptor", "SocketAcceptPort=59999",
             "BeginString=FIX.4.4", "SenderCompID=ORACLE", "UseDataDictionary=N"]
    for index, keys in enumerate(request["sessions"]):
        lines += ["[SESSION]", f"TargetCompID=T{index}"]
        lines += [f"{key}={value}" for key, value in keys.items()]
    settings = fix.SessionSettings()
    settings.setFromString("\n".join(lines) + "\n")
    app = _App()
    factory = fix.MemoryStoreFactory()
    acceptor = fix.SocketAcceptor(app, factory, settings)
    sessions = [
        fix.Session.lookupSession(fix.SessionID("FIX.4.4", "ORACLE", f"T{index}"))
        for index in range(len(request["sessions"]))
    ]
    stores = [store_of(session) for session in sessions]
    answers: list[bool] = []
    for query in request["queries"]:
        index, kind = query[0], query[1]
        session = sessions[index]
        if kind == "in":
            answers.append(bool(session.isSessionTime(stamp(query[2]))))
        else:
            then, now = query[2], query[3]
            store = stores[index]
            fix.MessageStore.reset(store, stamp(then))
            if epoch_ns(fix.MessageStore.getCreationTime(store)) != then:
                raise RuntimeError("the store's creation time did not take")
            session.next(stamp(now))
            answers.append(epoch_ns(fix.MessageStore.getCreationTime(store)) == then)
    json.dump(answers, sys.stdout)
    del acceptor


if __name__ == "__main__":
    main()
