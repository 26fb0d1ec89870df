"""Read QuickFIX-style settings files (``.cfg``) into an :class:`EngineConfig`.

A QuickFIX settings file has a ``[DEFAULT]`` section and ``[SESSION]``
sections of ``Key=Value`` lines; ``#`` starts a comment line.  Every session
inherits the ``[DEFAULT]`` keys it does not set itself.  Keys from QuickFIX
C++ and QuickFIX/J are both understood (matched case-insensitively); see
``docs/migrating-from-quickfix.md`` for the mapping table.

Conversion works on the flat keys of each session (after inheritance) and
builds the nested mapping :func:`.config.parse_config` validates, recording
for every setting the file line it came from, so that an error reads
``app.cfg:12 (HeartBtInt): sessions[0].heartbeatInterval: ...``.

Keys this engine does not know are returned as warnings (and logged), not
errors, unless ``strict=True``.  Keys it knows but cannot honour (log file
options, Java key stores, …) are always warnings.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import InvalidConfigError, Loc
from .cfgconvert import LogChoice, SessionConverter, convert_session
from .cfgkeys import (
    ALL_KEYS,
    COMPOSITE,
    FAILOVER_KEY,
    IGNORED_KEYS,
    KNOWN_IGNORED,
    KNOWN_REFUSED,
    KNOWN_SIMPLE,
    REFUSED_KEYS,
    CfgWarning,
    Section,
    Setting,
    parse_bool,
)
from .engine import EngineConfig
from .pipeline import parse_config

__all__ = [
    "CfgResult",
    "CfgWarning",
    "Section",
    "Setting",
    "cfg_to_mapping",
    "load_cfg",
    "parse_cfg",
    "parse_sections",
]

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CfgResult:
    config: EngineConfig
    warnings: list[CfgWarning]
    #: The plain data converted (what ``fixplus config convert`` writes).
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Where each setting came from: ``file:line (Key)`` by its path.
    locations: dict[Loc, str] = dataclasses.field(default_factory=dict)


# ---------------------------------------------------------------------------
# Reading sections


def parse_sections(text: str, source: str) -> list[Section]:
    """Split a settings file into sections; raises on malformed lines."""
    sections: list[Section] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            name = line[1:-1].strip().upper() if line.endswith("]") else ""
            if name not in ("DEFAULT", "SESSION"):
                problems.append(
                    f"{source}:{number}: unknown section {line!r}; expected [DEFAULT] or [SESSION]"
                )
                name = "SESSION"
            sections.append(Section(name, number))
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"{source}:{number}: expected Key=Value, got {line!r}")
            continue
        if not sections:
            problems.append(f"{source}:{number}: {key}: setting outside a [DEFAULT] or [SESSION]")
            continue
        section = sections[-1]
        previous = section.settings.get(key.lower())
        if previous is not None:
            problems.append(
                f"{source}:{number}: {key}: given twice in one section (first on line "
                f"{previous.line})"
            )
        section.settings[key.lower()] = Setting(key, value.strip(), number)
    if problems:
        raise InvalidConfigError(source, problems)
    return sections
def cfg_to_mapping(
    sections: list[Section], source: str, *, strict: bool = False
) -> tuple[dict[str, Any], dict[Loc, str], list[CfgWarning]]:
    """Plain configuration data, the line of each setting, and warnings."""
    defaults = Section("DEFAULT", 0)
    for section in sections:
        if section.name == "DEFAULT":
            defaults.settings.update(section.settings)
    problems: list[str] = []
    warnings: list[CfgWarning] = []
    sessions: list[dict[str, Any]] = []
    templates: list[dict[str, Any]] = []
    locations: dict[Loc, str] = {}
    stores: list[tuple[str, str]] = []
    logs: list[LogChoice] = []
    reported: set[int] = set()  # lines of [DEFAULT] keys already warned about
    session_sections = [s for s in sections if s.name == "SESSION"]
    if not session_sections:
        problems.append(f"{source}: no [SESSION] section")
    for section in session_sections:
        merged = {**defaults.settings, **section.settings}
        session = SessionConverter(source, section.line, merged, problems, [])
        template = convert_session(session, stores, logs)
        for key, setting in merged.items():
            if key in session.used or FAILOVER_KEY.match(key):
                continue
            if key.startswith("appdatadictionary."):
                continue
            if _is_custom(key):  # the application reads it: session.settings.custom
                session.put(("custom", setting.key), setting.value, setting)
            if setting.line in reported:
                continue
            reported.add(setting.line)
            _report_unused(session, setting, key)
        for warning in session.warnings:
            if warning not in warnings:
                warnings.append(warning)
        if template:
            base: Loc = ("dynamicSessions", len(templates), "session")
            templates.append({"session": session.data})
        else:
            base = ("sessions", len(sessions))
            sessions.append(session.data)
        locations[base] = f"{source}:{section.line} ([SESSION])"
        for path, where in session.locations.items():
            locations[(*base, *path)] = where
    if strict:
        problems.extend(
            f"{w.file}:{w.line}: {w.key}: {w.message} (strict mode)"
            for w in warnings
            if w.kind in ("unknown", "unsupported")
        )
    if problems:
        raise InvalidConfigError(source, list(dict.fromkeys(problems)))
    data: dict[str, Any] = {"sessions": sessions}
    if logs:
        data["messageLog"] = logs[0].data
        locations.update(logs[0].locations)
        first_where = next(iter(logs[0].locations.values()))
        for choice in logs[1:]:
            if choice.data != logs[0].data:
                where = next(iter(choice.locations.values()))
                warnings.append(CfgWarning(
                    source, _line_of(where), where.split("(")[-1].rstrip(")"),
                    f"one message log serves every session; using the settings from "
                    f"{first_where}", "note"))
                break
    if templates:
        data["dynamicSessions"] = templates
    if stores:
        url, where = stores[0]
        data["store"] = url
        locations[("store",)] = where
        for other, other_where in stores[1:]:
            if other != url:
                warnings.append(
                    CfgWarning(
                        source,
                        _line_of(other_where),
                        "store",
                        f"one store serves every session; using {url} (from {where}), not {other}",
                        "note",
                    )
                )
                break
    return data, locations, warnings


def _line_of(where: str) -> int:
    """The line number of a ``file:line (Key)`` location."""
    return int(where.rsplit(" (", 1)[0].rsplit(":", 1)[-1])


def _normal(value: str) -> str:
    try:
        return "y" if parse_bool(value) else "n"
    except ValueError:
        return value.strip().lower()


def did_you_mean(key: str) -> str | None:
    """The known key closest to ``key`` (a typo), if one is close enough."""
    close = difflib.get_close_matches(key.lower(), list(ALL_KEYS), n=1, cutoff=0.8)
    return ALL_KEYS[close[0]] if close else None


def _report_unused(session: SessionConverter, setting: Setting, key: str) -> None:
    if key in KNOWN_REFUSED:
        accepted, reason = REFUSED_KEYS[KNOWN_REFUSED[key]]
        if accepted is not None and _normal(setting.value) in accepted:
            session.warn(setting, f"{setting.value}: what this engine does ({reason})", "note")
        else:
            session.fail(setting, f"not implemented, refused (it would change behaviour): "
                         f"{reason}")
    elif key in KNOWN_IGNORED:
        session.warn(setting, f"ignored: {IGNORED_KEYS[KNOWN_IGNORED[key]]}", "unsupported")
    elif key in KNOWN_SIMPLE or key in COMPOSITE:
        pass  # a key for the other role (e.g. SocketAcceptPort on an initiator)
    else:
        guess = did_you_mean(key)
        hint = f" (did you mean {guess}?)" if guess else ""
        session.warn(setting, f"unknown key: kept for the application in settings.custom{hint}",
                     "unknown")


def _is_custom(key: str) -> bool:
    """A key the engine does not know: kept for the application."""
    return not (key in KNOWN_IGNORED or key in KNOWN_REFUSED or key in KNOWN_SIMPLE
                or key in COMPOSITE)


# ---------------------------------------------------------------------------
# Entry points


def parse_cfg(
    text: str,
    *,
    source: str = "<cfg>",
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
    resolve_secrets: bool = True,
) -> CfgResult:
    """Convert settings file text; ``environ`` and ``resolve_secrets`` as for
    :func:`.config.parse_config`."""
    sections = parse_sections(text, source)
    data, locations, warnings = cfg_to_mapping(sections, source, strict=strict)

    def locate(loc: Loc) -> str | None:
        for length in range(len(loc), 0, -1):
            where = locations.get(loc[:length])
            if where is not None:
                return where
        return None

    snapshot = copy.deepcopy(data)
    config = parse_config(data, source=source, environ=environ, locate=locate,
                          resolve_secrets=resolve_secrets)
    return CfgResult(config, warnings, snapshot, locations)


def load_cfg(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
) -> CfgResult:
    """Read a settings file; warnings are returned and logged."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidConfigError(source, [f"{source}: cannot read the file: {exc}"]) from None
    result = parse_cfg(text, source=source, environ=environ, strict=strict)
    for warning in result.warnings:
        _log.warning("%s", warning)
    return result
