"""Answering a ResendRequest from the stored messages.

``plan_resend`` decides, for the stored messages of the requested range,
which are sent again and which sequence numbers are covered by a
SequenceReset-GapFill: session messages and messages the application vetoed
are never resent, and consecutive ones (and holes in the store) are merged
into one gap fill.  The tail past the last stored message is gap-filled up to
the next sequence number we will send.
"""

from __future__ import annotations

from typing import Literal

from ..codec import Message

ResendStep = tuple[Literal["gap"], int, int] | tuple[Literal["msg"], int, Message]


def plan_resend(
    begin: int, end: int, next_sender: int, stored: list[tuple[int, Message | None]]
) -> list[tuple[str, int, int | Message]]:
    """Steps ``("gap", seq, new_seq)`` or ``("msg", seq, message)`` in order.

    ``stored`` holds ``(seq, message)`` for the stored messages in
    ``begin..end``; ``message`` is None where a gap fill must stand.
    """
    steps: list[tuple[str, int, int | Message]] = []
    gap_start = 0
    current = begin
    for seq, msg in sorted(stored, key=lambda item: item[0]):
        if seq < begin or seq > end:
            continue
        if seq != current and not gap_start:
            gap_start = current
        if msg is None:
            if not gap_start:
                gap_start = seq
        else:
            if gap_start:
                steps.append(("gap", gap_start, seq))
                gap_start = 0
            steps.append(("msg", seq, msg))
        current = seq + 1
    if current <= end:
        steps.append(("gap", gap_start or current, min(end + 1, next_sender)))
    elif gap_start:
        steps.append(("gap", gap_start, current))
    return steps
