"""When a session may be logged on (QuickFIX's schedule settings)."""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo

from pydantic import Field, model_validator

from .base import ConfigModel


class Weekday(enum.StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as in ``datetime.weekday()``."""
        return list(Weekday).index(self)


class ScheduleSettings(ConfigModel):
    """When the session may be logged on (QuickFIX's schedule settings).

    ``non_stop`` sessions never end.  Otherwise the session runs daily from
    ``start_time`` to ``end_time`` (crossing midnight when end < start; a
    24-hour session when they are equal, with a new period at that time),
    only on the ``weekdays`` listed when given (the day a session starts on
    counts), or weekly from ``start_day start_time`` to ``end_day end_time``
    when both days are given.  Times are in ``time_zone`` (an IANA name), or
    in the host's local zone with ``use_local_time``.
    """

    non_stop: bool = True
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    start_day: Weekday | None = None
    end_day: Weekday | None = None
    weekdays: list[Weekday] | None = Field(
        default=None,
        max_length=7,
        description="daily sessions only on these days (the day a session starts on)",
    )
    time_zone: str = "UTC"
    use_local_time: bool = Field(
        default=False, description="the times are in the host's local zone (not timeZone)"
    )

    @model_validator(mode="after")
    def _check(self) -> ScheduleSettings:
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from exc
        if (self.start_day is None) != (self.end_day is None):
            raise ValueError("startDay and endDay go together")
        if self.non_stop:
            return self
        # Each problem below names the settings: a schedule that can never
        # open (or means two things) is refused at load, never at logon.
        if self.start_time is None or self.end_time is None:
            raise ValueError("a schedule that is not nonStop needs startTime and endTime")
        if self.weekdays is not None:
            if not self.weekdays:
                raise ValueError("weekdays is empty: the session would never open")
            if self.start_day is not None:
                raise ValueError(
                    "weekdays (a daily session on some days) and startDay/endDay "
                    "(a weekly session) exclude each other"
                )
        if self.use_local_time and self.time_zone != "UTC":
            raise ValueError(
                f"useLocalTime and timeZone {self.time_zone!r} exclude each other"
            )
        return self
