"""Dynamic sessions at run time: which template a Logon fits.

Theory of operation: the acceptor routes a Logon to a configured session by
a dictionary lookup first; only a Logon that names none comes here.
:func:`logon_ids` reads the six ids of the Logon as our side sees them (its
SenderCompID(49) is our TargetCompID) and refuses the Logon when any id it
carries is not plain text (:data:`~..config.WIRE_ID_PATTERN`): an id from
the wire becomes a session id, a store key and a metrics label.
:meth:`Templates.find` then tries the templates of the port in their
configured order; the first that matches gives the new session's settings
(:meth:`~..config.DynamicSessionTemplate.matches` and ``instantiate``, the
one implementation of the pattern rules).  Nothing is created here: the
engine creates the session only once the Logon is authenticated, and
counts the sessions of each template in its :class:`TemplateSlot`.
"""

from __future__ import annotations

import dataclasses

from ..codec import Message
from ..codec import tags as t
from ..config import WIRE_ID_PATTERN, DynamicSessionTemplate, SessionSettings

#: (settings field, tag in the counterparty's Logon) for the ids of a
#: session seen from our side: our SenderCompID is its TargetCompID, ...
LOGON_IDS = (
    ("sender_comp_id", t.TARGET_COMP_ID), ("target_comp_id", t.SENDER_COMP_ID),
    ("sender_sub_id", t.TARGET_SUB_ID), ("target_sub_id", t.SENDER_SUB_ID),
    ("sender_location_id", t.TARGET_LOCATION_ID), ("target_location_id", t.SENDER_LOCATION_ID),
)


@dataclasses.dataclass
class TemplateSlot:
    """A template, and how many sessions made from it exist now (their
    connections and those being authenticated into them)."""

    template: DynamicSessionTemplate
    live: int = 0


def logon_ids(logon: Message) -> dict[str, str | None] | None:
    """The session ids a Logon carries (our side's view), None for an id
    that is not plain text or a Logon without both CompIDs."""
    ids: dict[str, str | None] = {}
    for name, tag in LOGON_IDS:
        raw = logon.get(tag)
        if raw is None:
            ids[name] = None
            continue
        text = raw.decode("ascii", "replace")
        if not WIRE_ID_PATTERN.match(text):
            return None
        ids[name] = text
    if ids["sender_comp_id"] is None or ids["target_comp_id"] is None:
        return None
    return ids


class Templates:
    """The dynamic-session templates of every acceptor port."""

    def __init__(self) -> None:
        self._by_port: dict[int, list[TemplateSlot]] = {}

    def add(self, template: DynamicSessionTemplate) -> None:
        port = template.session.accept_port
        assert port is not None  # checked by SessionSettings
        self._by_port.setdefault(port, []).append(TemplateSlot(template))

    def find(self, port: int, logon: Message) -> tuple[TemplateSlot, SessionSettings] | None:
        """The first template of ``port`` the Logon fits, with the settings
        of the session it would create (nothing is created)."""
        slots = self._by_port.get(port)
        if not slots:
            return None
        ids = logon_ids(logon)
        if ids is None:
            return None
        begin = logon.get_str(t.BEGIN_STRING) or ""
        sender, target = ids.pop("sender_comp_id"), ids.pop("target_comp_id")
        assert sender is not None and target is not None
        for slot in slots:
            if slot.template.matches(begin, sender, target, **ids):
                return slot, slot.template.instantiate(sender, target, **ids)
        return None
