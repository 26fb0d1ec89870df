"""The engine runtime: owns sessions, stores and transports.

``Engine(config, app)`` builds one :class:`SessionDriver` per configured
session (its store opened from the configured URL, its validator from the
configured dictionaries), one :class:`Acceptor` per listening port and one
:class:`Initiator` per initiator session.  ``start()`` brings them up;
``stop()`` logs every logged-on session out, waits for the Logouts to be
answered (``shutdown_timeout``), then closes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path

from ..application import Application, register_sessions, unregister_sessions
from ..codec import Message
from ..config import EngineConfig, Role, SessionSettings
from ..dictionary import DataDictionary, SessionDictionaries, Validator, load
from ..errors import ConfigError
from ..observability.health import StoreHealth
from ..observability.httpserver import HealthServer, new_registry
from ..observability.messagelog import MessageLog
from ..observability.metrics import EngineCollector
from ..observability.tracing import build_tracer
from ..secrets.keeper import VaultCollector, VaultKeeper
from ..secrets.storecreds import StoreCredentials
from ..session import Session
from ..session.validation import Validator as SessionValidator
from ..store.audit import AuditTrail
from ..store.base import MessageStore, SessionKey
from ..store.retention import RetentionTask
from ..store.secure import audit_store, config_hash, encrypt_store
from ..transport import Acceptor, Backoff, Initiator, SessionDriver
from ..transport.acceptor import Route, Router
from ..transport.auth import Authenticator
from ..transport.guard import Guard
from .dynamic import Templates, TemplateSlot

log = logging.getLogger("pyfixmsg_plus.engine")

AppFactory = Callable[[SessionSettings], Application]


def _dictionary_path(path: str, base: Path | None) -> str:
    p = Path(path)
    if not p.is_absolute() and base is not None:
        p = base / p
    return str(p)


def local_store_url(url: str, base: Path | None) -> str:
    """A ``sqlite:///`` URL with its relative path taken from ``base`` (the
    configuration file's folder), and the file's folder created (as QuickFIX
    creates FileStorePath).  Other URLs are returned as they are."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    path_text, sep, query = url[len(prefix):].partition("?")
    if path_text in ("", ":memory:"):
        return url
    path = Path(path_text)
    if not path.is_absolute() and base is not None:
        path = base / path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return f"{prefix}{path}{sep}{query}"


def build_validator(settings: SessionSettings, base: Path | None = None) -> SessionValidator | None:
    """The dictionary validator a session's settings ask for, or None."""
    v = settings.validation
    if not v.use_data_dictionary:
        return None
    dictionaries: DataDictionary | SessionDictionaries
    if settings.begin_string == "FIXT.1.1":
        if not v.transport_data_dictionary or not v.app_data_dictionary:
            return None
        transport = load(_dictionary_path(v.transport_data_dictionary, base))
        apps = [load(_dictionary_path(p, base)) for p in v.app_data_dictionary]
        dictionaries = SessionDictionaries(transport, apps, settings.default_appl_ver_id)
    else:
        if not v.data_dictionary:
            return None
        dictionaries = load(_dictionary_path(v.data_dictionary, base))
        if dictionaries.begin_string and dictionaries.begin_string != settings.begin_string:
            raise ConfigError(
                f"session {settings.session_id}: dictionary {v.data_dictionary} is for "
                f"{dictionaries.begin_string}, not {settings.begin_string}")
    return Validator(dictionaries, v)


@dataclasses.dataclass
class _Dynamic:
    driver: SessionDriver
    template: TemplateSlot
    users: int = 0


class Engine:
    """Sessions, stores and transports of one engine process."""

    def __init__(
        self,
        config: EngineConfig,
        app: Application | AppFactory,
        *,
        dictionary_base: Path | None = None,
        clock: Callable[[], int] = time.time_ns,
        backoff: Callable[[SessionSettings], Backoff] | None = None,
    ) -> None:
        self.config = config
        self._app = app
        #: The folder relative paths are taken from (dictionaries, the SQLite
        #: store, message logs): the configuration file's; None: the working directory.
        self._dictionary_base = dictionary_base
        self.message_log: MessageLog | None = None
        self._clock = clock
        self._backoff = backoff
        self.store: MessageStore | None = None
        self.drivers: dict[str, SessionDriver] = {}
        self.acceptors: dict[int, Acceptor] = {}
        self.initiators: dict[str, Initiator] = {}
        self._templates = Templates()
        self._dynamic: dict[str, _Dynamic] = {}
        self._acceptor_index: dict[tuple[int, str, str, str], SessionDriver] = {}
        self._lock = asyncio.Lock()
        self.retention: RetentionTask | None = None
        self.audit: AuditTrail | None = None
        self.health: HealthServer | None = None
        self.store_health = StoreHealth(self.drivers.values, time.monotonic)
        self.vault: VaultKeeper | None = None
        self.store_credentials: StoreCredentials | None = None
        traced = build_tracer(config.tracing)
        self._tracer = traced[0] if traced else None
        self.tracer_provider = traced[1] if traced else None

    def _app_for(self, settings: SessionSettings) -> Application:
        return self._app if isinstance(self._app, Application) else self._app(settings)

    async def _add_session(self, settings: SessionSettings, *, dynamic: bool = False
                           ) -> SessionDriver:
        assert self.store is not None
        validator = build_validator(settings, self._dictionary_base)
        session = Session(settings, validator)
        store = await self.store.open(SessionKey(settings.session_id))
        driver = SessionDriver(session, store, self._app_for(settings), clock=self._clock,
                               tracer=self._tracer, max_message_size=settings.max_message_size)
        driver.store_failure = self.config.store_failure
        if self.message_log is not None:
            driver.message_log = self.message_log.session(settings)
            driver.message_log.event(f"session created: {settings.session_id}")
        if self.audit is not None:
            driver.audit = self.audit.event
        await driver.start()
        self.drivers[settings.session_id] = driver
        if settings.role is Role.ACCEPTOR and settings.accept_port is not None and not dynamic:
            # Logons are routed by a dict lookup: thousands of sessions log on
            # together after a restart.
            self._acceptor_index[(settings.accept_port, settings.begin_string,
                                  settings.sender_comp_id, settings.target_comp_id)] = driver
        return driver

    def lookup(self, session_id: str) -> SessionDriver | None:
        """The session with this id, or None (``application.lookup_session``)."""
        return self.drivers.get(session_id)

    def session_ids(self) -> list[str]:
        return list(self.drivers)

    def driver(self, session_id: str) -> SessionDriver:
        try:
            return self.drivers[session_id]
        except KeyError:
            raise ConfigError(f"no session {session_id!r}") from None

    async def start(self) -> None:
        if self.config.message_log.enabled:
            self.message_log = MessageLog(self.config.message_log, self._dictionary_base,
                                          max_age_days=self.config.retention.max_age_days)
            self.message_log.start()
        self.store = await self._open_store()
        if self.config.encryption is not None:
            self.store = await encrypt_store(self.store, self.config.store,
                                             self.config.encryption)
        if self.config.audit.enabled:
            self.store, self.audit = await audit_store(
                self.store, self.config.store, self.config.audit, self.config.encryption)
            self.audit.event("config.loaded", sha256=config_hash(self.config))
        self.retention = RetentionTask(
            self.store, self.config.retention,
            lambda: [SessionKey(sid) for sid in self.drivers])
        self.retention.start()
        ports: dict[int, SessionSettings] = {}
        for settings in self.config.sessions:
            await self._add_session(settings)
            if settings.role is Role.ACCEPTOR:
                assert settings.accept_port is not None
                ports.setdefault(settings.accept_port, settings)
        for template in self.config.dynamic_sessions:
            t = template.session
            assert t.accept_port is not None
            self._templates.add(template)
            ports.setdefault(t.accept_port, t)
        limits = self.config.limits
        guard = Guard(limits, time.monotonic)
        authenticator = Authenticator(limits.max_concurrent_password_checks)
        for port, first in ports.items():
            acceptor = Acceptor(first.accept_host, port, self._router(port), first.tls,
                                logon_timeout=first.logon_timeout, nodelay=first.tcp_nodelay,
                                keepalive=first.tcp_keepalive, limits=limits, guard=guard,
                                authenticator=authenticator)
            if self.audit is not None:
                acceptor.audit = self.audit.event
            await acceptor.start()
            self.acceptors[port] = acceptor
        for settings in self.config.sessions:
            if settings.role is Role.INITIATOR:
                backoff = self._backoff(settings) if self._backoff else None
                initiator = Initiator(self.drivers[settings.session_id], backoff)
                initiator.start()
                self.initiators[settings.session_id] = initiator
        m = self.config.metrics
        if m.enabled:
            registry = new_registry()
            registry.register(EngineCollector(lambda: list(self.drivers.values())))
            registry.register(VaultCollector(lambda: self.vault))
            self.health = HealthServer(m, registry, self.readiness, logon=self.logon_problems)
            await self.health.start()
            self.store_health.start()
        register_sessions(self)
        apps = {id(d.app): d.app for d in self.drivers.values()}
        if isinstance(self._app, Application):
            apps.setdefault(id(self._app), self._app)
        for app in apps.values():
            try:
                await app.on_engine_start()
            except Exception:
                log.exception("on_engine_start failed")

    def logon_problems(self) -> list[str]:
        """How many configured sessions are not logged on (none named: the
        probe answers anyone who reaches the port)."""
        configured = [self.drivers.get(s.session_id) for s in self.config.sessions]
        waiting = sum(1 for d in configured if d is None or not d.logged_on)
        return [f"{waiting} of {len(configured)} session(s) not logged on"] if waiting else []

    async def _open_store(self) -> MessageStore:
        """The store; with a ``vault`` section, a Vault login kept alive first
        (and the store's credentials from Vault: docs/security.md)."""
        if self.config.vault is not None:
            self.vault = VaultKeeper(self.config.vault)
            await self.vault.start()
        self.store_credentials = StoreCredentials(
            local_store_url(self.config.store, self._dictionary_base), self.vault)
        return await self.store_credentials.open()

    def readiness(self) -> list[str]:
        """Why the engine is not ready (empty when it is): the store opened,
        every acceptor port listening, and the store not failing as far as
        the sessions' own store calls tell (:mod:`.health`; no store call)."""
        if self.store is None:
            return ["message store not opened"]
        problems = [f"acceptor port {port} is not listening"
                    for port, acceptor in self.acceptors.items() if not acceptor.listening]
        return problems + self.store_health.problems()

    def _router(self, port: int) -> Router:
        def route(msg: Message) -> Route | None:
            begin = msg.get_str(8) or ""
            ours = msg.get_str(56) or ""
            theirs = msg.get_str(49) or ""
            driver = self._acceptor_index.get((port, begin, ours, theirs))
            if driver is not None:
                return Route(driver.session.settings, driver)
            return self._dynamic_route(port, msg)

        return route

    def _dynamic_route(self, port: int, logon: Message) -> Route | None:
        """The dynamic-session template a Logon fits (nothing created yet;
        the rules are in :mod:`.dynamic`)."""
        found = self._templates.find(port, logon)
        if found is None:
            return None
        slot, settings = found
        return Route(settings, create=functools.partial(self._claim_dynamic, slot, settings),
                     release=self._release_dynamic)

    async def _claim_dynamic(self, entry: TemplateSlot, settings: SessionSettings
                             ) -> SessionDriver | None:
        """The session of an authenticated Logon: the existing one, or a new
        one while the template's ``maxSessions`` allows (None beyond)."""
        async with self._lock:
            sid = settings.session_id
            existing = self._dynamic.get(sid)
            if existing is None and sid in self.drivers:
                return self.drivers[sid]  # a configured session of the same id
            if existing is None:
                limit = entry.template.max_sessions
                if limit is not None and entry.live >= limit:
                    return None
                log.info("creating dynamic session %s", sid)
                driver = await self._add_session(settings, dynamic=True)
                existing = self._dynamic[sid] = _Dynamic(driver, entry)
                entry.live += 1
            existing.users += 1
            return existing.driver

    async def _release_dynamic(self, driver: SessionDriver) -> None:
        """A connection of a dynamic session ended: the session goes away
        with its last connection (its store keeps its sequence numbers for
        the next Logon), so ``maxSessions`` counts sessions that exist."""
        async with self._lock:
            entry = self._dynamic.get(driver.session_id)
            if entry is None or entry.driver is not driver:
                return
            entry.users -= 1
            if entry.users > 0 or driver.connected:
                return
            del self._dynamic[driver.session_id]
            self.drivers.pop(driver.session_id, None)
            entry.template.live -= 1
            await driver.stop()
            await driver.store.close()
            log.info("dynamic session %s removed", driver.session_id)

    async def stop(self, timeout: float | None = None) -> None:
        """Log every session out, wait for the answers, close everything."""
        timeout = self.config.shutdown_timeout if timeout is None else timeout
        unregister_sessions(self)
        for acceptor in self.acceptors.values():
            await acceptor.stop_listening()
        for driver in list(self.drivers.values()):
            if driver.logged_on:
                await driver.logout("shutting down")
        waits = [d.wait_closed() for d in self.drivers.values() if d.connected]
        if waits:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await asyncio.gather(*waits)
        for initiator in self.initiators.values():
            await initiator.stop()
        for acceptor in self.acceptors.values():
            await acceptor.stop()
        for driver in list(self.drivers.values()):
            await driver.stop()
            await driver.store.close()
        if self.retention is not None:
            await self.retention.stop()
        if self.store_credentials is not None:
            await self.store_credentials.stop()
        if self.audit is not None:
            await self.audit.close()
        if self.store is not None:
            await self.store.close()
        if self.vault is not None:
            await self.vault.stop()
        if self.health is not None:
            await self.store_health.stop()
            await self.health.stop()
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        if self.message_log is not None:
            await asyncio.to_thread(self.message_log.close)

    async def wait_logged_on(self, session_id: str, timeout: float = 10.0) -> None:
        driver = self.driver(session_id)
        async with asyncio.timeout(timeout):
            while not driver.logged_on:
                await asyncio.sleep(0.01)
