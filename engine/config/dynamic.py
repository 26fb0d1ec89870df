"""Dynamic sessions: acceptor sessions made from a template when an
unlisted counterparty logs on.

The id fields of a template are patterns; this module holds the one
implementation of their rules (:func:`compile_pattern`), which both the
configuration checks and the acceptor's routing use
(:meth:`DynamicSessionTemplate.matches` and :meth:`~DynamicSessionTemplate.instantiate`).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

from pydantic import Field, model_validator

from .base import ConfigModel
from .session import Role, SessionSettings

#: Characters a CompID, SubID or LocationID from the wire may use when it
#: names a session that does not exist yet (dynamic sessions) or reaches a
#: log line: letters, digits and ``. _ - @ +``, 1 to 64 of them.
WIRE_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}\Z")

#: Identifier fields of a dynamic session template that may be patterns.
TEMPLATE_PATTERN_FIELDS = (
    "sender_comp_id",
    "target_comp_id",
    "sender_sub_id",
    "sender_location_id",
    "target_sub_id",
    "target_location_id",
)


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression of a template id pattern (whole-id match).

    ``*`` matches any text (empty too), ``?`` exactly one character,
    ``[abc]`` one of the characters listed, ``[a-z]`` one in the range,
    ``[!abc]`` one character not listed; a backslash makes the next
    character literal (``\\*``, ``\\?``, ``\\[``, ``\\\\``).  Anything else
    matches itself.  Raises ValueError for an unterminated ``[``, an empty
    set ``[]`` or a pattern ending in a lone backslash.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 == len(pattern):
                raise ValueError(f"pattern {pattern!r} ends with a lone backslash")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            end, text = _char_set(pattern, i)
            out.append(text)
            i = end
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _char_set(pattern: str, start: int) -> tuple[int, str]:
    """``[...]`` at ``start``: the index after it and its regular expression."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] == "!"
    if negate:
        i += 1
    items: list[str] = []
    while i < len(pattern) and pattern[i] != "]":
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            c = pattern[i + 1]
            i += 1
        if i + 2 < len(pattern) and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            low, high = c, pattern[i + 2]
            if low > high:
                raise ValueError(f"pattern {pattern!r}: range {low}-{high} is backwards")
            items.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
            continue
        items.append(re.escape(c))
        i += 1
    if i >= len(pattern):
        raise ValueError(f"pattern {pattern!r}: [ at position {start} is not closed by ]")
    if not items:
        raise ValueError(f"pattern {pattern!r}: empty set [] at position {start}")
    return i + 1, "[" + ("^" if negate else "") + "".join(items) + "]"


class DynamicSessionTemplate(ConfigModel):
    """An acceptor session created when an unlisted counterparty logs on.

    The identifier fields of ``session`` (``senderCompId``, ``targetCompId``
    and the sub and location ids) are patterns (:func:`compile_pattern`:
    ``*``, ``?``, ``[...]``, ``\\`` escapes).  Ids are seen from our side:
    ``targetCompId`` is the counterparty, i.e. the SenderCompID(49) of its
    Logon.  A Logon that arrives on ``session.acceptPort``, matches no
    configured session and matches the template creates a session from it,
    with the Logon's own ids in place of the patterns.
    """

    session: SessionSettings
    #: At most this many sessions from the template at once (None: no limit).
    max_sessions: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> DynamicSessionTemplate:
        if self.session.role is not Role.ACCEPTOR:
            raise ValueError("a dynamic session template must have role: acceptor")
        for name in TEMPLATE_PATTERN_FIELDS:
            pattern = getattr(self.session, name)
            if pattern is not None:
                try:
                    compile_pattern(pattern)
                except ValueError as exc:
                    alias = SessionSettings.model_fields[name].alias or name
                    raise ValueError(f"session.{alias}: {exc}") from None
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
        ``sender_location_id``, ``target_location_id``.  A template field
        left unset accepts any value, none included; a field set needs the
        Logon to carry a value that matches it.
        """
        if begin_string != self.session.begin_string:
            return False
        ids: dict[str, str | None] = {
            "sender_comp_id": sender_comp_id,
            "target_comp_id": target_comp_id,
            **other_ids,
        }
        for name in ids:
            if name not in TEMPLATE_PATTERN_FIELDS:
                raise TypeError(f"unknown session id field {name!r}")
        for name in TEMPLATE_PATTERN_FIELDS:
            pattern = getattr(self.session, name)
            if pattern is None:
                continue
            value = ids.get(name)
            if value is None or not compile_pattern(pattern).match(value):
                return False
        return True

    def instantiate(
        self, sender_comp_id: str, target_comp_id: str, **other_ids: str | None
    ) -> SessionSettings:
        """The concrete session for a matching Logon: every id field takes
        the Logon's value (a pattern never reaches a session); an id the
        Logon does not carry stays unset."""
        if not self.matches(self.session.begin_string, sender_comp_id, target_comp_id, **other_ids):
            raise ValueError("the ids do not match this template")
        update: dict[str, Any] = dict.fromkeys(TEMPLATE_PATTERN_FIELDS)
        update.update(other_ids)
        update["sender_comp_id"] = sender_comp_id
        update["target_comp_id"] = target_comp_id
        return self.session.model_copy(update=update)
