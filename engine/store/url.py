"""Choose and open a message store from a URL.

``open_store("sqlite:///var/fix/store.db")`` looks the URL's scheme up in
:data:`BACKENDS`, a table of *import paths*, imports that one backend module
only when it is needed and calls its ``open_from_url(url: StoreURL)``
coroutine.  Backends therefore never import each other, and a backend whose
driver (asyncpg, redis) is not installed costs nothing until it is chosen.
A new backend is one line in the table (or :func:`register_backend`).

Credentials never need to be written into a URL:

* ``${NAME}`` anywhere in the user, password, host, port, path or a query
  value is replaced by the environment variable ``NAME`` (``$${`` writes a
  literal ``${``); an unset variable is a ``ConfigError``;
* the query parameter ``password_file=/run/secrets/db`` reads the password
  from a file (one trailing newline stripped), the usual way Kubernetes and
  Vault agents hand out secrets.

Errors never contain the password: use :meth:`StoreURL.redacted` in logs.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import cast
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ..errors import ConfigError
from .base import MessageStore

__all__ = ["BACKENDS", "StoreURL", "open_store", "parse_store_url", "register_backend"]

#: scheme -> "module:coroutine function" that opens a backend from a StoreURL;
#: a module starting with "." is relative to this package (``engine.store``).
BACKENDS: dict[str, str] = {
    "memory": ".memory:open_from_url",
    "sqlite": ".sqlite:open_from_url",
    "postgresql": ".postgres:open_from_url",
    "postgres": ".postgres:open_from_url",
    "redis": ".redis:open_from_url",
    "rediss": ".redis:open_from_url",
    "mysql": ".mysql:open_from_url",
    "mariadb": ".mysql:open_from_url",
    "mongodb": ".mongodb:open_from_url",
}

#: the third-party package each backend needs, for the error message.
_DRIVERS: dict[str, str] = {
    "postgres": "asyncpg", "redis": "redis", "mysql": "asyncmy", "mongodb": "pymongo"}

_VAR = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclasses.dataclass(frozen=True, slots=True)
class StoreURL:
    """A parsed store URL with variables substituted and secrets resolved."""

    scheme: str
    username: str | None
    password: str | None = dataclasses.field(repr=False)
    host: str | None
    port: int | None
    path: str
    query: Mapping[str, str]

    def redacted(self) -> str:
        """The URL for logs and error messages, password replaced by ``***``."""
        netloc = ""
        if self.username is not None or self.password is not None:
            netloc = quote(self.username or "", safe="")
            if self.password is not None:
                netloc += ":***"
            netloc += "@"
        if self.host is not None:
            netloc += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            netloc += f":{self.port}"
        query = "&".join(f"{k}={quote(v, safe='/')}" for k, v in self.query.items())
        return f"{self.scheme}://{netloc}{self.path}" + (f"?{query}" if query else "")

    def check_options(self, allowed: Iterable[str]) -> None:
        """``ConfigError`` naming every query parameter not in ``allowed``."""
        unknown = sorted(set(self.query) - set(allowed))
        if unknown:
            raise ConfigError(
                f"store URL {self.redacted()}: unknown option(s) {', '.join(unknown)}; "
                f"{self.scheme} accepts: {', '.join(sorted(allowed)) or 'none'}"
            )

    def int_option(self, name: str, default: int, minimum: int = 0) -> int:
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise ConfigError(
                f"store URL {self.redacted()}: option {name} must be an integer >= {minimum}, "
                f"got {raw!r}"
            )
        return value

    def float_option(self, name: str, default: float) -> float:
        """A number > 0 (seconds, typically), or ``default`` when not given."""
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value > 0 or value == float("inf"):
            raise ConfigError(f"store URL {self.redacted()}: option {name} must be a number > 0, "
                              f"got {raw!r}")
        return value


def _substitute(text: str, where: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        name = m.group(1)
        if not _NAME.match(name):
            raise ConfigError(f"store URL {where}: ${{{name}}} is not a valid variable name")
        value = os.environ.get(name)
        if value is None:
            raise ConfigError(
                f"store URL {where}: environment variable {name} is referenced but not set"
            )
        return value

    return _VAR.sub(repl, text)


def _read_password_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(
            f"store URL password_file={path}: cannot read it ({e.strerror or e})"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"store URL password_file={path}: not UTF-8 text") from None
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    if not text:
        raise ConfigError(f"store URL password_file={path}: the file is empty")
    return text


def parse_store_url(url: str) -> StoreURL:
    """Parse ``url``; substitute ``${VAR}``s; read ``password_file``.

    Raises ``ConfigError`` naming the problem.  Knows nothing about backends
    beyond the scheme being in :data:`BACKENDS`.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("store URL is empty; use e.g. memory:// or sqlite:///fix-store.db")
    url = url.strip()
    if "://" not in url:
        raise ConfigError(
            f"store URL {url.split(':', 1)[0]!r}... has no scheme://; "
            f"use one of {', '.join(f'{s}://' for s in sorted(BACKENDS))}"
        )
    scheme_raw = url.split("://", 1)[0]
    scheme = scheme_raw.lower()
    if scheme not in BACKENDS:
        raise ConfigError(
            f"store URL scheme {scheme_raw!r} is unknown; known: {', '.join(sorted(BACKENDS))}"
        )
    where = f"{scheme}://..."
    try:
        parts = urlsplit(url)
    except ValueError as e:  # e.g. "Invalid IPv6 URL"
        raise ConfigError(f"store URL {where}: {e}") from None
    if parts.fragment:
        raise ConfigError(f"store URL {where}: a '#fragment' is not allowed")

    userinfo, at, hostport = parts.netloc.rpartition("@")
    username: str | None = None
    password: str | None = None
    if at:
        user_raw, colon, pass_raw = userinfo.partition(":")
        username = _substitute(unquote(user_raw), where) or None
        password = _substitute(unquote(pass_raw), where) if colon else None

    host: str | None = None
    port: int | None = None
    hostport = _substitute(unquote(hostport), where)
    if hostport:
        if hostport.startswith("["):
            end = hostport.find("]")
            if end < 0:
                raise ConfigError(f"store URL {where}: unterminated [IPv6] host")
            host, rest = hostport[1:end], hostport[end + 1 :]
            port_raw = rest[1:] if rest.startswith(":") else None
            if rest and port_raw is None:
                raise ConfigError(f"store URL {where}: junk after [IPv6] host: {rest!r}")
        else:
            h, colon, p = hostport.partition(":")
            host, port_raw = h, (p if colon else None)
        if port_raw is not None:
            if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
                raise ConfigError(f"store URL {where}: port {port_raw!r} is not in 1..65535")
            port = int(port_raw)
        host = host or None

    path = _substitute(unquote(parts.path), where)

    query: dict[str, str] = {}
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ConfigError(f"store URL {where}: malformed query string") from None
    for name, value in pairs:
        if name in query:
            raise ConfigError(f"store URL {where}: option {name} is given twice")
        query[name] = _substitute(value, where)

    password_file = query.pop("password_file", None)
    if password_file is not None:
        if password is not None:
            raise ConfigError(
                f"store URL {where}: both a password and password_file are given; use one"
            )
        password = _read_password_file(password_file)

    return StoreURL(
        scheme=scheme,
        username=username,
        password=password,
        host=host,
        port=port,
        path=path,
        query=MappingProxyType(query),
    )


def register_backend(scheme: str, target: str) -> None:
    """Add or replace a backend: ``target`` is ``"package.module:function"``."""
    module, colon, func = target.partition(":")
    if not (module and colon and func):
        raise ConfigError(f"store backend target {target!r} is not 'module:function'")
    BACKENDS[scheme.lower()] = target


def _load_backend(scheme: str) -> Callable[[StoreURL], Awaitable[MessageStore]]:
    target, _, func_name = BACKENDS[scheme].partition(":")
    module_name = (
        importlib.util.resolve_name(target, __package__) if target.startswith(".") else target
    )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        family = module_name.rsplit(".", 1)[-1]
        if e.name is not None and (e.name == module_name or module_name.startswith(e.name + ".")):
            raise ConfigError(
                f"the {scheme}:// message store backend is not installed yet "
                f"(module {module_name} is missing)"
            ) from None
        driver = _DRIVERS.get(family, e.name)
        raise ConfigError(
            f"the {scheme}:// message store needs the Python package {driver!r}, "
            f"which is not installed ({e})"
        ) from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ConfigError(f"store backend {module_name} has no {func_name}()")
    return cast("Callable[[StoreURL], Awaitable[MessageStore]]", func)


async def open_store(url: str) -> MessageStore:
    """Open the message store a URL names.

    ``memory://``, ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``
    (options: ``synchronous``, ``busy_timeout_ms``, ``max_batch``);
    ``postgresql://``, ``redis://``, ``mysql://`` (or ``mariadb://``) and
    ``mongodb://`` when their drivers are installed.
    """
    parsed = parse_store_url(url)
    return await _load_backend(parsed.scheme)(parsed)
