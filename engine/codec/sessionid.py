"""SessionID: the identity of a session as a value.

A :class:`SessionID` *is* its text (a ``str`` subclass), the form QuickFIX
prints: ``FIX.4.4:EXEC->BANZAI``, with ``:QUALIFIER`` when the session has
one.  It also has the parts as attributes, compares and hashes as its text,
and parses back from it.

The shell reads ``>`` as a redirect, so every command that takes a session
id also accepts ``FIX.4.4:EXEC/BANZAI`` (a slash in place of ``->``), which
needs no quoting; :meth:`SessionID.parse` takes both.
"""

from __future__ import annotations

__all__ = ["SessionID"]

_ARROW = "->"
_SLASH = "/"


class SessionID(str):
    """``BEGINSTRING:SENDER->TARGET[:QUALIFIER]`` with its parts as attributes."""

    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    qualifier: str

    def __new__(cls, begin_string: str, sender_comp_id: str, target_comp_id: str,
                qualifier: str = "") -> SessionID:
        for name, part in (("BeginString", begin_string), ("SenderCompID", sender_comp_id),
                           ("TargetCompID", target_comp_id)):
            if not part:
                raise ValueError(f"a SessionID needs a {name}")
        text = f"{begin_string}:{sender_comp_id}{_ARROW}{target_comp_id}"
        if qualifier:
            text += f":{qualifier}"
        self = super().__new__(cls, text)
        self.begin_string = begin_string
        self.sender_comp_id = sender_comp_id
        self.target_comp_id = target_comp_id
        self.qualifier = qualifier
        return self

    @classmethod
    def parse(cls, text: str) -> SessionID:
        """``FIX.4.4:EXEC->BANZAI``, ``FIX.4.4:EXEC/BANZAI`` (no shell quoting
        needed), either with ``:QUALIFIER``; raises ValueError."""
        begin, sep, rest = text.partition(":")
        if not sep or not begin:
            raise ValueError(f"session id {text!r}: use BEGINSTRING:SENDER->TARGET "
                             "or BEGINSTRING:SENDER/TARGET")
        arrow = _ARROW if _ARROW in rest else _SLASH
        sender, sep, rest = rest.partition(arrow)
        if not sep:
            raise ValueError(f"session id {text!r}: no '->' or '/' between the CompIDs")
        target, _, qualifier = rest.partition(":")
        return cls(begin, sender, target, qualifier)

    def reverse(self) -> SessionID:
        """The counterparty's view of this session (CompIDs swapped)."""
        return SessionID(self.begin_string, self.target_comp_id, self.sender_comp_id,
                         self.qualifier)

    @property
    def shell_form(self) -> str:
        """The text with ``/`` in place of ``->``: typed in a shell as is."""
        return str.replace(self, _ARROW, _SLASH, 1)

    def __repr__(self) -> str:
        return f"SessionID({str.__repr__(self)})"

    def __reduce__(self) -> tuple[type[SessionID], tuple[str, str, str, str]]:
        return (SessionID, (self.begin_string, self.sender_comp_id, self.target_comp_id,
                            self.qualifier))
