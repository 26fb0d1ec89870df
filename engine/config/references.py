"""``${ENV:NAME}``, ``${FILE:/path}`` and ``${VAULT:mount/path#field}`` secret
references: resolved in the secret settings only, refused anywhere else."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from ..errors import ConfigError
from .base import Loc
from .keys import format_loc, norm_key

# -- secrets ---------------------------------------------------------------------

_SECRET_REF = re.compile(r"\$(\$?)\{(ENV|FILE|VAULT):([^}]*)\}")

#: The settings of a session that are secrets: the only ones (besides the
#: user:password part of ``store``) where ``${ENV:…}`` and ``${FILE:…}``
#: references are resolved.  Paths are relative to a session, i.e. to
#: ``sessions[i]``, ``dynamicSessions[i].session`` and ``defaults``.
SECRET_SESSION_SETTINGS: Final = (
    ("password",),
    ("authentication", "password"),
    ("authentication", "passwordHash"),
    ("tls", "keyPassword"),
)
#: The secret settings, as error messages name them.
SECRET_SETTINGS_TEXT: Final = (
    "sessions[].password, sessions[].authentication.password, "
    "sessions[].authentication.passwordHash and sessions[].tls.keyPassword (also under defaults "
    "and dynamicSessions[].session), and the user:password part of store"
)


def _session_relative(loc: Loc) -> Loc | None:
    """``loc`` relative to the session (or defaults) it is in, if any."""
    if len(loc) >= 2 and loc[0] == "sessions" and isinstance(loc[1], int):
        return loc[2:]
    if len(loc) >= 3 and loc[0] == "dynamicSessions" and loc[2] == "session":
        return loc[3:]
    if loc and loc[0] == "defaults":
        return loc[1:]
    return None


def is_secret_setting(loc: Loc) -> bool:
    """Whether the setting at ``loc`` (canonical keys) takes secret references."""
    if loc == ("store",):
        return True
    relative = _session_relative(loc)
    if relative is None:
        return False
    wanted = tuple(norm_key(part) for part in relative)
    return any(wanted == tuple(norm_key(p) for p in s) for s in SECRET_SESSION_SETTINGS)


#: Makes the ``${VAULT:…}`` resolver of a configuration (its raw data and
#: environment); installed by :func:`..secrets.resolve.install` (``fixplus``
#: does it), so that the configuration never imports Vault code.
VaultResolverFactory = Callable[[Any, Mapping[str, str]], Callable[[str], str]]
_vault_resolver: list[VaultResolverFactory] = []


def install_vault_resolver(factory: VaultResolverFactory) -> None:
    """Resolve ``${VAULT:…}`` references with ``factory`` from now on."""
    _vault_resolver[:] = [factory]


def vault_lookup(raw: Any, environ: Mapping[str, str]) -> Callable[[str], str]:
    """Resolves ``${VAULT:…}``; the resolver logs in at the first one only."""
    made: list[Callable[[str], str]] = []

    def lookup(ref: str) -> str:
        if not made:
            if not _vault_resolver:
                raise ConfigError(f"${{VAULT:{ref}}}: Vault references need "
                                  "pyfixmsg_plus.engine.secrets.resolve.install() first")
            made.append(_vault_resolver[0](raw, environ))
        return made[0](ref)

    return lookup


def _outside_userinfo(url: str) -> bool:
    """Whether a reference in a store URL lies outside its ``user:password@`` part."""
    scheme = url.find("://")
    if scheme < 0:
        return True
    rest = url[scheme + 3 :]
    # the authority ends at the first / ? # that is not inside a reference
    masked = _SECRET_REF.sub(lambda m: "x" * len(m.group(0)), rest)
    end = min((i for i in (masked.find(c) for c in "/?#") if i >= 0), default=len(rest))
    at = masked.rfind("@", 0, end)
    for match in _SECRET_REF.finditer(rest):
        if match.group(1):
            continue  # an escaped, literal $${...}
        if at < 0 or match.end() > at:
            return True
    return False


def _misplaced(path: Loc, value: str) -> bool:
    if not is_secret_setting(path):
        return any(not m.group(1) for m in _SECRET_REF.finditer(value))
    return path == ("store",) and _outside_userinfo(value)


def resolve_references(
    value: Any,
    path: Loc,
    environ: Mapping[str, str],
    problems: list[str],
    *,
    resolve: bool = True,
    from_env: Mapping[Loc, str] | None = None,
    vault: Callable[[str], str] | None = None,
) -> Any:
    """Resolve the references of the secret settings; a reference anywhere
    else is a problem.  ``resolve`` False only checks where they are."""
    if isinstance(value, dict):
        return {
            k: resolve_references(
                v, (*path, k), environ, problems, resolve=resolve, from_env=from_env, vault=vault
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            resolve_references(v, (*path, i), environ, problems, resolve=resolve,
                               from_env=from_env, vault=vault)
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "${" not in value:
        return value
    if _misplaced(path, value):
        variable = (from_env or {}).get(path)
        problems.append(
            (f"environment variable {variable}: " if variable else "")
            + f"{format_loc(path)}: ${{ENV:…}}, ${{FILE:…}} and ${{VAULT:…}} secret references "
            "are allowed "
            f"only in the secret settings ({SECRET_SETTINGS_TEXT}); write $${{ for a "
            "literal ${"
        )
        return value
    if not resolve:
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(1):  # $${...} is an escaped, literal ${...}
            return match.group(0)[1:]
        kind, ref = match.group(2), match.group(3).strip()
        if kind == "ENV":
            if ref not in environ:
                problems.append(f"{format_loc(path)}: environment variable {ref} is not set")
                return ""
            return environ[ref]
        if kind == "VAULT":
            try:
                return vault(ref) if vault is not None else ""
            except ConfigError as exc:  # names the reference, never a value
                problems.append(f"{format_loc(path)}: {exc}")
                return ""
        try:
            return Path(ref).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(f"{format_loc(path)}: cannot read secret file {ref}: {reason}")
            return ""

    return _SECRET_REF.sub(replace, value)
