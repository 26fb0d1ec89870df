"""Dynamic sessions: acceptor sessions made from a template when an
unlisted counterparty logs on."""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import Field, model_validator

from .base import ConfigModel
from .session import Role, SessionSettings

#: Characters a CompID, SubID or LocationID from the wire may use when it
#: names a session that does not exist yet (dynamic sessions) or reaches a
#: log line: letters, digits and ``. _ - @ +``, 1 to 64 of them.
WIRE_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}\Z")


#: Identifier fields of a dynamic session template that may be glob patterns.
TEMPLATE_PATTERN_FIELDS = (
    "sender_comp_id",
    "target_comp_id",
    "sender_sub_id",
    "sender_location_id",
    "target_sub_id",
    "target_location_id",
)


def _glob(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


class DynamicSessionTemplate(ConfigModel):
    """An acceptor session created when an unlisted counterparty logs on.

    The identifier fields of ``session`` (``senderCompId``, ``targetCompId``
    and the sub and location ids) may be glob patterns: ``*`` matches any
    text, ``?`` one character.  Ids are seen from our side: ``targetCompId``
    is the counterparty, i.e. the SenderCompID(49) of its Logon.  A Logon
    that arrives on ``session.acceptPort``, matches no configured session
    and matches the template creates a session from it.
    """

    session: SessionSettings
    #: At most this many sessions from the template at once (None: no limit).
    max_sessions: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> DynamicSessionTemplate:
        if self.session.role is not Role.ACCEPTOR:
            raise ValueError("a dynamic session template must have role: acceptor")
        return self

    def matches(
        self,
        begin_string: str,
        sender_comp_id: str,
        target_comp_id: str,
        **other_ids: str | None,
    ) -> bool:
        """Whether a Logon with these ids (our side's view) fits the template.

        ``other_ids`` are the optional ``sender_sub_id``, ``target_sub_id``,
        ``sender_location_id``, ``target_location_id``; a template field left
        unset accepts any value.
        """
        if begin_string != self.session.begin_string:
            return False
        ids: dict[str, str | None] = {
            "sender_comp_id": sender_comp_id,
            "target_comp_id": target_comp_id,
            **other_ids,
        }
        for name, value in ids.items():
            if name not in TEMPLATE_PATTERN_FIELDS:
                raise TypeError(f"unknown session id field {name!r}")
            pattern = getattr(self.session, name)
            if pattern is None:
                continue
            if value is None or not _glob(pattern).match(value):
                return False
        return True

    def instantiate(
        self, sender_comp_id: str, target_comp_id: str, **other_ids: str | None
    ) -> SessionSettings:
        """The concrete session for a matching Logon (patterns replaced by the ids)."""
        if not self.matches(self.session.begin_string, sender_comp_id, target_comp_id, **other_ids):
            raise ValueError("the ids do not match this template")
        update: dict[str, Any] = {
            "sender_comp_id": sender_comp_id,
            "target_comp_id": target_comp_id,
        }
        update.update({k: v for k, v in other_ids.items() if v is not None})
        return self.session.model_copy(update=update)
