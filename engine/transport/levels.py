"""The log level of a disconnect or logout reason.

A reason that says something went wrong (a sequence number too low, a
timeout, a refusal, a garbled message ...) is an operational failure that an
operator must see: WARNING.  A reason of an ordinary end (a Logout asked
for, the schedule closing) is INFO.
"""

from __future__ import annotations

import logging
import re
from typing import Final

__all__ = ["operational_level"]

_FAILURE: Final = re.compile(
    r"too low|too high|timed out|reject|refused|invalid|incorrect|garbled|not valid|"
    r"without|not a logon|failure|failed|error|must be|not within", re.IGNORECASE)


def operational_level(reason: str) -> int:
    """WARNING for a disconnect or logout reason that is a failure, else INFO."""
    return logging.WARNING if _FAILURE.search(reason) else logging.INFO
