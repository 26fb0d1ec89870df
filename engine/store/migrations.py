"""Versioned schema migrations, shared by the SQL stores.

A store keeps an ordered tuple of :class:`Migration` (append, never edit one
that has shipped) and a ``schema_version`` table recording which ran.  At
open it reads the highest version applied, asks :func:`pending` for what is
left, and runs those statements and their ``schema_version`` rows in one
transaction with its own driver (sqlite3 or asyncpg).  A database written
by a newer engine is refused rather than guessed at.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .errors import PermanentStoreError

__all__ = ["SCHEMA_VERSION_COLUMNS", "Migration", "check_plan", "pending"]

#: Columns of ``schema_version`` (``{int}``: the SQL type of a 64-bit integer).
SCHEMA_VERSION_COLUMNS = (
    "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_ns {int} NOT NULL")


@dataclasses.dataclass(frozen=True, slots=True)
class Migration:
    """One schema change: its version, what it does, and its statements."""

    version: int
    description: str
    statements: tuple[str, ...]


def check_plan(migrations: Sequence[Migration]) -> tuple[Migration, ...]:
    """``migrations`` if they are numbered 1, 2, 3, ... with statements each."""
    for expected, m in enumerate(migrations, start=1):
        if m.version != expected or not m.statements or not m.description:
            raise ValueError(f"migration {m.version} ({m.description!r}): expected version "
                             f"{expected} with a description and statements")
    return tuple(migrations)


def pending(migrations: Sequence[Migration], current: int, where: str) -> list[Migration]:
    """The migrations after schema version ``current``, in order.

    Raises :class:`PermanentStoreError` when ``current`` is newer than the
    last one this engine knows (``where`` names the store in the message).
    """
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise PermanentStoreError(
            f"{where}: schema version {current} is newer than this engine supports "
            f"({latest}); upgrade the engine")
    return [m for m in migrations if m.version > current]
