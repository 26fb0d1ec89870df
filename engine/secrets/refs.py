"""Vault references: ``${VAULT:<mount>/<path>#<field>}``.

``${VAULT:kv/fix/BROKER#password}`` is the field ``password`` of the secret
``fix/BROKER`` in the KV version 2 engine mounted at ``kv``.  The API path
spelling ``kv/data/fix/BROKER#password`` means the same secret.  The first
segment is always the mount.  Pure parsing: no I/O.
"""

from __future__ import annotations

import dataclasses
import re

from ..errors import ConfigError

_SEGMENT = re.compile(r"[A-Za-z0-9._@+=-]+\Z")


@dataclasses.dataclass(frozen=True, slots=True)
class VaultRef:
    """One field of one KV version 2 secret."""

    mount: str
    path: str
    field: str

    def __str__(self) -> str:
        return f"${{VAULT:{self.mount}/{self.path}#{self.field}}}"


def parse_ref(text: str) -> VaultRef:
    """``kv/fix/BROKER#password`` (the part inside ``${VAULT:…}``) -> VaultRef.

    A :class:`ConfigError` quoting the reference (a reference is never a
    secret) says what is wrong."""
    where, sep, field = text.strip().partition("#")
    problem = None
    segments = where.strip("/").split("/") if where.strip("/") else []
    if not sep or not field:
        problem = "it needs #field after the path"
    elif len(segments) < 2:
        problem = "it needs <mount>/<path>#<field>"
    elif not all(_SEGMENT.match(s) and s not in (".", "..") for s in segments) \
            or not _SEGMENT.match(field):
        problem = "path segments and the field may use letters, digits and . _ @ + = -"
    if problem is not None:
        raise ConfigError(f"${{VAULT:{text}}}: not a Vault reference: {problem}")
    mount, rest = segments[0], segments[1:]
    if rest[0] == "data" and len(rest) > 1:  # the API path spelling kv/data/<path>
        rest = rest[1:]
    return VaultRef(mount, "/".join(rest), field)
