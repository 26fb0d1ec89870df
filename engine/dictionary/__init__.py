"""FIX data dictionaries: loading QuickFIX-format XML and validating messages.

>>> dd = load("spec/FIX44.xml")                      # cached per process
>>> reject = validate(parse(data), dd)              # None, or the Reject to send
>>> st = structure(msg, dd)                          # repeating groups nested

For FIXT.1.1 sessions use ``SessionDictionaries(load("FIXT11.xml"),
[load("FIX50SP2.xml")])`` (or ``DataDictionary.combine``) in place of ``dd``.
"""

from . import reject as reasons
from .fixt import SessionDictionaries
from .groups import (
    Entry,
    Group,
    Node,
    StructuredMessage,
    canonical_fields,
    canonical_message,
    flatten,
    parse_group,
    structure,
    structure_fields,
)
from .loader import clear_cache, load, loads
from .model import (
    APPL_VER_IDS,
    USER_MIN,
    ComponentDef,
    Container,
    DataDictionary,
    FieldDef,
    GroupDef,
    Member,
    MessageDef,
)
from .reject import REJECT_TEXTS, Reject
from .validate import DEFAULT_OPTIONS, Validator, validate, validate_with

__all__ = [
    "APPL_VER_IDS",
    "DEFAULT_OPTIONS",
    "REJECT_TEXTS",
    "USER_MIN",
    "ComponentDef",
    "Container",
    "DataDictionary",
    "Entry",
    "FieldDef",
    "Group",
    "GroupDef",
    "Member",
    "MessageDef",
    "Node",
    "Reject",
    "SessionDictionaries",
    "StructuredMessage",
    "Validator",
    "canonical_fields",
    "canonical_message",
    "clear_cache",
    "flatten",
    "load",
    "loads",
    "parse_group",
    "reasons",
    "structure",
    "structure_fields",
    "validate",
    "validate_with",
]
