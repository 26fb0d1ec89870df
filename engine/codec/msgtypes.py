"""The standard MsgType(35) values of FIX.4.0 - FIX.5.0SP2 (and FIXT.1.1).

A constant table, written out once from the QuickFIX data dictionaries of
every version (the union of their ``<message msgtype=...>``), kept in the
code because the engine ships no dictionary.  The metrics use it to bound
their ``msg_type`` label: any other value is counted as ``other``.
``tests/unit/test_msgtypes.py`` checks the table against the dictionaries.
"""

from __future__ import annotations

from typing import Final

# Session level (0-5, A) and the one-character application types.
_ONE_CHAR: Final = "0123456789ABCDEFGHJKLMNPQRSTVWXYZabcdefghijklmnopqrstuvwxyz"
# The two-character types (FIX.4.3 onwards).
_TWO_CHAR: Final = (
    "AA AB AC AD AE AF AG AH AI AJ AK AL AM AN AO AP AQ AR AS AT "
    "AU AV AW AX AY AZ BA BB BC BD BE BF BG BH BI BJ BK BL BM BN "
    "BO BP BQ BR BS BT BU BV BW BX BY BZ CA CB CC CD CE CF CG CH "
    "CI CJ CK CL CM CN CO CQ CR CS CT CU CV CW CX CY CZ DA DB DC "
    "DD DE DF DG DH DI DJ DK DL DM DN DO DP DQ DR DS DT DU DV DW "
    "DX DY DZ EA EB "
)

#: Every standard MsgType, as the bytes a message carries.
STANDARD_MSG_TYPES: Final[frozenset[bytes]] = frozenset(
    [c.encode() for c in _ONE_CHAR] + [w.encode() for w in _TWO_CHAR.split()])

#: The label of a MsgType that is not a standard one.
OTHER_LABEL: Final = "other"
#: The key counters use for every MsgType that is not standard, so that a
#: counterparty sending made-up types grows no dict.
OTHER_MSG_TYPE: Final = b"other"

_LABELS: Final[dict[bytes, str]] = {mt: mt.decode() for mt in STANDARD_MSG_TYPES}


def msg_type_label(msg_type: bytes) -> str:
    """``msg_type`` as a metric label: itself when standard, else ``"other"``."""
    return _LABELS.get(msg_type, OTHER_LABEL)
