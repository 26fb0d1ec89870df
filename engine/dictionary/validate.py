"""Validate a received message against its dictionaries.

``validate`` returns ``None`` or the :class:`~.reject.Reject` to send; it
never raises for a bad message.  The checks, and which one wins when several
apply, follow QuickFIX C++ 1.16 ``DataDictionary::validate``:

1. a header field after the body started, or a body field after the
   trailer started -> 14 "Tag specified out of required order"
   (ValidateFieldsOutOfOrder);
2. MsgType not defined in the (application) dictionary -> 11;
3. required fields, in ascending tag order: header, trailer, body, then
   each group entry (groups by ascending count tag) -> 1;
4. every field of the header, then the trailer, then the body, in the order
   QuickFIX sorts them (header 8, 9, 35 then ascending; trailer ascending
   with CheckSum last; body ascending; equal tags in wire order).  For each
   field: repeated -> 13; empty -> 4 (ValidateFieldsHaveValues); malformed
   for its type -> 6; not one of its enumerated values -> 5; tag not in the
   dictionary -> 0 (ValidateUserDefinedFields / AllowUnknownMsgFields
   decide which tags are looked up); body field not in this message type
   -> 2; NumInGroup not equal to the entries found -> 16.

Beyond QuickFIX C++ (which leaves group contents alone), a group's entries
are checked too, right after its count: an entry that does not start with
the delimiter -> 15, entry fields out of dictionary order -> 15
(ValidateUnorderedGroupFields), and each entry field's value (4, 6, 5).

Field order in step 4 is emulated without sorting: the walk is in wire
order and keeps the error with the lowest sort key, which is the one a
sorted walk meets first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from ..codec.message import Field, Message
from ..config.session import ValidationSettings
from .fixt import SessionDictionaries
from .groups import Group, parse_group
from .model import USER_MIN, Container, DataDictionary, FieldDef, MessageDef
from .reject import (
    INCORRECT_DATA_FORMAT_FOR_VALUE,
    INCORRECT_NUMINGROUP_COUNT,
    INVALID_MSGTYPE,
    INVALID_TAG_NUMBER,
    REPEATING_GROUP_FIELDS_OUT_OF_ORDER,
    REQUIRED_TAG_MISSING,
    TAG_APPEARS_MORE_THAN_ONCE,
    TAG_NOT_DEFINED_FOR_MESSAGE_TYPE,
    TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER,
    TAG_SPECIFIED_WITHOUT_A_VALUE,
    UNDEFINED_TAG,
    VALUE_IS_INCORRECT,
    Reject,
)

#: What :func:`validate` checks unless told otherwise: QuickFIX's defaults.
DEFAULT_OPTIONS: Final = ValidationSettings()

_HEADER_RANK: Final[Mapping[int, int]] = {8: -3, 9: -2, 35: -1}
_TRAILER_RANK: Final[Mapping[int, int]] = {10: 1 << 62}
_NO_RANK: Final[Mapping[int, int]] = {}
#: Computed by the encoder: not required of a message built locally.
_COMPUTED: Final = frozenset({9, 10})

Problem = tuple[int, int]  # (reason, ref tag)


def _bad_enum(value: bytes, enum: frozenset[bytes], multi: bool) -> bool:
    if not multi:
        return value not in enum
    return any(token not in enum for token in value.split(b" "))


def _value_error(value: bytes, fd: FieldDef | None, have_values: bool) -> int | None:
    """4, 6 or 5 for one value (the same checks the walk makes inline)."""
    if not value and have_values:
        return TAG_SPECIFIED_WITHOUT_A_VALUE
    if fd is not None:
        ok = fd.format_ok
        if ok is not None and not ok(value):
            return INCORRECT_DATA_FORMAT_FOR_VALUE
        if fd.enum is not None and _bad_enum(value, fd.enum, fd.multi):
            return VALUE_IS_INCORRECT
    return None


def _group_problem(
    group: Group, fields: Mapping[int, FieldDef], opts: ValidationSettings
) -> Problem | None:
    """Count, entry layout and entry values of one parsed group."""
    declared = group.declared_count
    if declared is not None and declared != len(group.entries):
        return INCORRECT_NUMINGROUP_COUNT, group.count_tag
    if group.missing_delimiter_tag is not None:
        return REPEATING_GROUP_FIELDS_OUT_OF_ORDER, group.missing_delimiter_tag
    if opts.validate_unordered_group_fields and group.unordered_tag is not None:
        return REPEATING_GROUP_FIELDS_OUT_OF_ORDER, group.unordered_tag
    have_values = opts.validate_fields_have_values
    for entry in group.entries:
        for node in entry:
            if isinstance(node, Group):
                tag = node.count_tag
                reason = _value_error(node.count, fields.get(tag), have_values)
                if reason is not None:
                    return reason, tag
                problem = _group_problem(node, fields, opts)
                if problem is not None:
                    return problem
            else:
                tag, value = node
                reason = _value_error(value, fields.get(tag), have_values)
                if reason is not None:
                    return reason, tag
    return None


class _Walk:
    """Result of walking one section: tags seen, groups found, first problem."""

    __slots__ = ("groups", "problem", "seen")

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.groups: list[Group] = []
        self.problem: Problem | None = None


_DEFAULT_APPL_VER_ID: Final = 1137


def _walk(
    items: Sequence[Field],
    container: Container,
    fields: Mapping[int, FieldDef],
    opts: ValidationSettings,
    rank: Mapping[int, int],
    message: MessageDef | None,
    non_body: frozenset[int],
) -> _Walk:
    """Step 4 for one section (``message`` is None for header and trailer)."""
    result = _Walk()
    seen = result.seen
    groups = container.groups
    have_values = opts.validate_fields_have_values
    check_user = opts.validate_user_defined_fields
    check_std = not opts.allow_unknown_msg_fields
    undefined_reason = UNDEFINED_TAG if opts.distinguish_undefined_tags else INVALID_TAG_NUMBER
    msg_tags = message.tags if message is not None else None
    best: Problem | None = None
    best_key = 0
    i = 0
    n = len(items)
    while i < n:
        tag, value = items[i]
        problem: Problem | None = None
        if tag in seen:
            problem = TAG_APPEARS_MORE_THAN_ONCE, tag
        else:
            seen.add(tag)
            fd = fields.get(tag)
            if not value and have_values:
                problem = TAG_SPECIFIED_WITHOUT_A_VALUE, tag
            elif fd is not None:
                ok = fd.format_ok
                if ok is not None and not ok(value):
                    problem = INCORRECT_DATA_FORMAT_FOR_VALUE, tag
                elif fd.enum is not None and _bad_enum(value, fd.enum, fd.multi):
                    problem = VALUE_IS_INCORRECT, tag
            if problem is not None:
                pass
            elif tag <= 0:
                problem = INVALID_TAG_NUMBER, tag
            elif check_user if tag >= USER_MIN else check_std:
                if fd is None:
                    problem = undefined_reason, tag
                elif msg_tags is not None and tag not in msg_tags and tag not in non_body:
                    problem = TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, tag
        gdef = groups.get(tag)
        if gdef is not None:
            group, i = parse_group(items, i, gdef)
            result.groups.append(group)
            if problem is None:
                problem = _group_problem(group, fields, opts)
        else:
            i += 1
        if problem is not None:
            key = rank.get(tag, tag)
            if best is None or key < best_key:
                best = problem
                best_key = key
    result.problem = best
    return result


def _missing(required: tuple[int, ...], present: set[int]) -> int | None:
    for tag in required:
        if tag not in present and tag not in _COMPUTED:
            return tag
    return None


def _missing_in_groups(groups: list[Group]) -> int | None:
    for group in sorted(groups, key=lambda g: g.count_tag):
        gdef = group.definition
        for entry in group.entries:
            nested: list[Group] = []
            if gdef.required:
                present = {node.count_tag if isinstance(node, Group) else node[0] for node in entry}
                missing = _missing(gdef.required, present)
                if missing is not None:
                    return missing
            nested = [node for node in entry if isinstance(node, Group)]
            if nested:
                missing = _missing_in_groups(nested)
                if missing is not None:
                    return missing
    return None


def validate_with(
    msg: Message,
    session_dd: DataDictionary,
    app_dd: DataDictionary,
    options: ValidationSettings = DEFAULT_OPTIONS,
) -> Reject | None:
    """Validate with an explicit (session, application) dictionary pair."""
    if not options.use_data_dictionary:
        return None
    msg_type = msg.msg_type
    if options.validate_fields_out_of_order:
        misplaced: int | None = getattr(msg, "misplaced_tag", None)
        if misplaced is not None:
            return Reject(TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, msg_type, misplaced)
    mdef = app_dd.messages.get(msg_type)
    if mdef is None:
        return Reject(INVALID_MSGTYPE, msg_type)

    sfields = session_dd.fields
    header = _walk(msg.header, session_dd.header, sfields, options, _HEADER_RANK, None, frozenset())
    trailer = _walk(
        msg.trailer, session_dd.trailer, sfields, options, _TRAILER_RANK, None, frozenset()
    )
    body_fields: Sequence[Field] = msg.body
    if msg_type == b"j" and session_dd.is_transport:
        # QuickFIX C++ writes DefaultApplVerID(1137) into the body of its
        # BusinessMessageRejects (a Logon field): take them as they are.
        body_fields = [f for f in body_fields if f[0] != _DEFAULT_APPL_VER_ID]
    body = _walk(
        body_fields, mdef, app_dd.fields, options, _NO_RANK, mdef, session_dd.non_body_tags
    )

    missing = _missing(session_dd.header.required, header.seen)
    if missing is None:
        missing = _missing(session_dd.trailer.required, trailer.seen)
    if missing is None:
        missing = _missing(mdef.required, body.seen)
    if missing is None and body.groups:
        missing = _missing_in_groups(body.groups)
    if missing is not None:
        return Reject(REQUIRED_TAG_MISSING, msg_type, missing)

    for walk in (header, trailer, body):
        if walk.problem is not None:
            reason, tag = walk.problem
            return Reject(reason, msg_type, tag)
    return None


def validate(
    msg: Message,
    dictionary: DataDictionary | SessionDictionaries,
    options: ValidationSettings = DEFAULT_OPTIONS,
) -> Reject | None:
    """None when ``msg`` is valid, else the session Reject to send.

    ``dictionary`` is one dictionary (FIX.4.x, or one made by
    :meth:`DataDictionary.combine`) or the :class:`SessionDictionaries` of a
    FIXT session.
    """
    if isinstance(dictionary, DataDictionary):
        return validate_with(msg, dictionary, dictionary, options)
    session_dd, app_dd = dictionary.for_message(msg)
    return validate_with(msg, session_dd, app_dd, options)


class Validator:
    """Dictionaries and options bound once; call it per message."""

    __slots__ = ("dictionaries", "options")

    def __init__(
        self,
        dictionaries: DataDictionary | SessionDictionaries,
        options: ValidationSettings = DEFAULT_OPTIONS,
    ) -> None:
        if isinstance(dictionaries, DataDictionary):
            dictionaries = SessionDictionaries(dictionaries)
        self.dictionaries = dictionaries
        self.options = options

    def __call__(self, msg: Message) -> Reject | None:
        session_dd, app_dd = self.dictionaries.for_message(msg)
        return validate_with(msg, session_dd, app_dd, self.options)

    validate = __call__
