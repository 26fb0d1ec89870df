"""FIX protocol versions: the BeginString(8) values and the ApplVerID(1128)
codes of the application versions (facts of the standard, used by the
settings, the dictionaries and the session layer alike)."""

from __future__ import annotations

from typing import Final, Literal

BEGIN_STRINGS: Final = ("FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1")
BeginString = Literal["FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1"]

#: ApplVerID(1128) codes and the names used in settings.
APPL_VER_IDS: dict[str, str] = {
    "FIX.2.7": "0",
    "FIX.3.0": "1",
    "FIX.4.0": "2",
    "FIX.4.1": "3",
    "FIX.4.2": "4",
    "FIX.4.3": "5",
    "FIX.4.4": "6",
    "FIX.5.0": "7",
    "FIX.5.0SP1": "8",
    "FIX.5.0SP2": "9",
}
