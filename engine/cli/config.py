"""``fixplus config check FILE`` and ``fixplus config convert FILE``: what a
QuickFIX settings file becomes, and the same settings as YAML."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from ..config import load_config
from ..config.base import InvalidConfigError, Loc
from ..config.cfgfile import CfgResult, parse_cfg, parse_sections
from ..config.cfgkeys import Setting

_REFERENCE = re.compile(r"^\$\{(ENV|FILE|VAULT):")
_SECRET_KEY = re.compile(r"password", re.IGNORECASE)


def _path_text(path: Loc) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _targets(result: CfgResult) -> dict[int, list[str]]:
    """File line -> the settings it became (sessions folded: ``sessions[0,2].x``)."""
    by_line: dict[int, dict[str, list[int]]] = defaultdict(dict)
    for path, where in result.locations.items():
        if where.endswith("([SESSION])") or ", " in where:
            continue
        try:
            line = int(where.rsplit(" (", 1)[0].rsplit(":", 1)[-1])
        except ValueError:
            continue
        # Only the deepest paths (leaves): skip a path another one extends.
        if any(len(other) > len(path) and other[:len(path)] == path
               and result.locations[other] == where for other in result.locations):
            continue
        if len(path) >= 2 and path[0] in ("sessions", "dynamicSessions") and isinstance(
                path[1], int):
            key = _path_text((path[0], -1, *path[2:]))
            by_line[line].setdefault(key, []).append(path[1])
        else:
            by_line[line].setdefault(_path_text(path), [])
    out: dict[int, list[str]] = {}
    for line, keys in by_line.items():
        out[line] = [key.replace("[-1]", "[" + ",".join(map(str, sorted(set(idx)))) + "]")
                     for key, idx in keys.items()]
    return out


def _shown(setting: Setting) -> str:
    if _SECRET_KEY.search(setting.key) and not _REFERENCE.match(setting.value):
        return f"{setting.key}=***"
    return f"{setting.key}={setting.value}"


def cmd_check(args: argparse.Namespace) -> int:
    """What every key of a settings file became; errors and warnings."""
    path = Path(args.file)
    source = str(path)
    try:
        if path.suffix.lower() != ".cfg":
            config = load_config(path, strict=args.strict)
            print(f"{source}: OK, {len(config.sessions)} session(s)")
            return 0
        text = path.read_text(encoding="utf-8")
        sections = parse_sections(text, source)
        result = parse_cfg(text, source=source, environ=os.environ, strict=args.strict,
                           resolve_secrets=False)
    except InvalidConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{source}: {len(exc.problems)} error(s)", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        print(f"fixplus config check: {source}: {exc}", file=sys.stderr)
        return 2
    targets = _targets(result)
    warnings = defaultdict(list)
    for warning in result.warnings:
        warnings[warning.line].append(warning)
    settings = sorted((s for section in sections for s in section.settings.values()),
                      key=lambda s: s.line)
    for setting in settings:
        where = f"{source}:{setting.line}: {_shown(setting)}"
        became = targets.get(setting.line)
        notes = warnings.get(setting.line, [])
        if became:
            print(f"{where} -> {', '.join(became)}")
        elif not notes:
            print(f"{where} -> (not used by the role of any session)")
        for warning in notes:
            print(f"{where}: {warning.kind}: {warning.message}")
    sessions = len(result.config.sessions) + len(result.config.dynamic_sessions)
    print(f"{source}: OK, {sessions} session(s), {len(result.warnings)} warning(s)")
    return 0


def _secret_references(data: Any, where: str, found: list[str]) -> Any:
    """``data`` with every password given in clear replaced by an environment
    reference (its name listed in ``found``)."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            here = f"{where}_{key}" if where else str(key)
            if (_SECRET_KEY.search(str(key)) and isinstance(value, str)
                    and not _REFERENCE.match(value)):
                name = "FIXPLUS_" + re.sub(r"[^A-Za-z0-9]+", "_", here).upper()
                found.append(name)
                out[key] = f"${{ENV:{name}}}"
            else:
                out[key] = _secret_references(value, here, found)
        return out
    if isinstance(data, list):
        return [_secret_references(v, f"{where}_{i}", found) for i, v in enumerate(data)]
    if isinstance(data, str) and re.match(r"^[a-z]+://[^/@]*:[^/@]*@", data):
        found.append(f"(the password in {data.split('://')[0]} URL {where!r}: put it in "
                     "a secret reference or a .pgpass file)")
        return re.sub(r"^([a-z]+://[^/@:]*):[^/@]*@", r"\1@", data)
    return data


def cmd_convert(args: argparse.Namespace) -> int:
    """Print the YAML form of a settings file (only what the file sets)."""
    path = Path(args.file)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        result = parse_cfg(text, source=source, environ=os.environ, strict=args.strict,
                           resolve_secrets=False)
    except InvalidConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        print(f"fixplus config convert: {source}: {exc}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    secrets: list[str] = []
    data = _secret_references(result.data, "", secrets)
    for name in secrets:
        print(f"secret: {name}" if name.startswith("(") else
              f"secret: a password is read from the environment variable {name}",
              file=sys.stderr)
    out = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    header = (f"# converted from {path.name} by fixplus config convert; relative paths are "
              "taken from this file's folder\n")
    if args.output:
        Path(args.output).write_text(header + out, encoding="utf-8")
    else:
        sys.stdout.write(header + out)
    return 0


def add_parser(sub: Any) -> None:
    """Add ``config`` and its subcommands to the ``fixplus`` parser."""
    p = sub.add_parser("config", help="check or convert a QuickFIX settings file")
    cmds = p.add_subparsers(dest="config_command", required=True)
    c = cmds.add_parser("check", help="what every key became; errors and warnings")
    c.add_argument("file", help="a QuickFIX .cfg file (or a YAML configuration)")
    c.add_argument("--strict", action="store_true",
                   help="unknown and ignored keys are errors")
    c.set_defaults(func=cmd_check)
    c = cmds.add_parser("convert", help="print the settings as YAML")
    c.add_argument("file", help="a QuickFIX .cfg file")
    c.add_argument("-o", "--output", help="write the YAML to this file")
    c.add_argument("--strict", action="store_true",
                   help="unknown and ignored keys are errors")
    c.set_defaults(func=cmd_convert)
