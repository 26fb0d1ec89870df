"""The FIX session layer: a sans-IO state machine and what it needs."""

from . import effects
from .schedule import Schedule
from .session import Session
from .state import TRANSITIONS, Event, State
from .validation import Problem, Validator, basic_problems

__all__ = [
    "TRANSITIONS",
    "Event",
    "Problem",
    "Schedule",
    "Session",
    "State",
    "Validator",
    "basic_problems",
    "effects",
]
