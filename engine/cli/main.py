"""The ``fixplus`` command line: wiring only."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import logging
import os
import signal
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .. import __version__
from ..application import Application, LoggingApplication
from ..config import SessionSettings, load_config
from ..errors import ConfigError, FixError
from ..observability.logs import setup_logging
from ..runtime import AppFactory, Engine
from ..scripttest import main as script_main
from ..scripttest.acceptance import AcceptanceApplication, acceptance_config
from ..secrets.resolve import install as install_vault_references
from ..transport.auth import hash_password
from ..transport.eventloop import loop_factory
from .audit import add_parser as add_audit_parser
from .config import add_parser as add_config_parser
from .decode import add_parser as add_decode_parser
from .demo import run_demo
from .keys import add_parser as add_keys_parser
from .log import add_parser as add_log_parser
from .store import add_parser as add_store_parser


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


def cmd_acceptance_server(args: argparse.Namespace) -> int:
    """Run the acceptor the QuickFIX acceptance definitions expect."""
    spec_dir = Path(args.spec_dir)
    if not (spec_dir / "FIX44.xml").is_file():
        print(f"fixplus: error: {spec_dir} does not hold the FIX dictionaries (FIX44.xml ...)",
              file=sys.stderr)
        return 2
    _setup_logging(args.log_level)

    async def main() -> None:
        config = acceptance_config(args.port, spec_dir, args.host, args.store)
        engine = Engine(config, AcceptanceApplication)
        await engine.start()
        port = next(iter(engine.acceptors.values())).bound_port
        print(f"acceptance server listening on {args.host}:{port}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await engine.stop(timeout=2)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Acceptor and initiator on SQLite on 127.0.0.1, orders and executions."""
    _setup_logging(args.log_level)
    print(f"fixplus demo: broker (acceptor) and client (initiator) on 127.0.0.1, "
          f"SQLite stores in {args.dir}")
    summary = asyncio.run(run_demo(args.orders, args.window, Path(args.dir)))
    for line in summary.lines():
        print(line)
    return 0 if summary.reports == summary.orders else 1


def _load_app(spec: str | None) -> Application | AppFactory:
    """``--app module:Name``: an Application subclass, an Application object,
    or a factory ``settings -> Application`` (called once per session).  The
    module is looked for in the working directory first, as ``python -m``
    does."""
    if not spec:
        return LoggingApplication()
    module_name, _, attr = spec.partition(":")
    if not attr or not module_name:
        raise ConfigError(f"--app {spec!r}: use module:Name (a class, an object or a factory)")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--app {spec!r}: {exc}") from exc
    if isinstance(found, Application):
        return found
    if isinstance(found, type) and issubclass(found, Application) and not _takes_settings(found):
        return found()
    if not callable(found):
        raise ConfigError(f"--app {spec!r} is neither an Application nor a factory")

    def factory(settings: SessionSettings) -> Application:
        app = found(settings)
        if not isinstance(app, Application):
            raise ConfigError(f"--app {spec!r} returned {type(app).__name__}, "
                              "not an Application")
        return app

    return factory


def _takes_settings(cls: type) -> bool:
    """Whether a class's constructor needs an argument (the settings)."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in params)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the configured sessions until SIGINT/SIGTERM, then log out cleanly."""
    config = load_config(args.config, strict=args.strict)
    setup_logging(config.logging, args.log_level)
    app = _load_app(args.app)

    async def main() -> None:
        engine = Engine(config, app, dictionary_base=Path(args.config).resolve().parent)
        await engine.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        logging.getLogger("pyfixmsg_plus").info(
            "running %d session(s); Ctrl-C or SIGTERM to stop", len(engine.drivers))
        await stop.wait()
        await engine.stop()

    with asyncio.Runner(
            loop_factory=loop_factory(config.event_loop, config.busy_poll_us)) as runner:
        runner.run(main())
    return 0


def cmd_healthcheck(args: argparse.Namespace) -> int:
    """Exit 0 when the liveness endpoint answers 200 (the image's HEALTHCHECK)."""
    try:
        with urllib.request.urlopen(args.url, timeout=args.timeout) as response:
            ok = response.status == 200
    except (OSError, ValueError) as exc:
        print(f"fixplus healthcheck: {args.url}: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1


def cmd_auth_hash_password(args: argparse.Namespace) -> int:
    """Print an scrypt hash of a password for ``authentication.passwordHash``.

    The password is read from standard input (one line), or asked for on a
    terminal; it is never taken from the command line (shell history)."""
    if sys.stdin.isatty():
        import getpass  # noqa: PLC0415 - only on a terminal

        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("fixplus auth hash-password: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("fixplus auth hash-password: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def script_test(rest: list[str]) -> int:
    """Run acceptance definitions against an acceptor: ``HOST PORT FILES...``
    or, as docs/script-test.md writes it, ``[--host H] --port P FILES...``
    (the options are the runner's own, read by it)."""
    if len(rest) >= 2 and not rest[0].startswith("-") and rest[1].isdigit():
        return script_main(["--host", rest[0], "--port", rest[1], *rest[2:]])
    return script_main(rest)


def cmd_script_test(args: argparse.Namespace) -> int:
    return script_test(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fixplus", description="PyFixMsg Plus FIX engine")
    parser.add_argument("--version", action="version", version=f"fixplus {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_decode_parser(sub)

    p = sub.add_parser("run", help="run the sessions of a configuration file")
    p.add_argument("-c", "--config", required=True, help="YAML or QuickFIX .cfg file")
    p.add_argument("--app", help="module:ClassName of your Application (default: log messages)")
    p.add_argument("--log-level", default=None)
    p.add_argument("--strict", action="store_true",
                   help="a .cfg file's unknown and ignored keys are errors")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="acceptor and initiator on SQLite exchanging orders")
    p.add_argument("--orders", type=int, default=2000)
    p.add_argument("--window", type=int, default=100, help="orders outstanding at most")
    p.add_argument("--dir", default=".fixplus-demo", help="where the SQLite stores go")
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("healthcheck", help="probe the liveness endpoint (container HEALTHCHECK)")
    p.add_argument("--url", default=os.environ.get("FIXPLUS_HEALTH_URL",
                                                   "http://127.0.0.1:9464/healthz"))
    p.add_argument("--timeout", type=float, default=3.0)
    p.set_defaults(func=cmd_healthcheck)

    p = sub.add_parser("acceptance-server",
                       help="run the acceptor the QuickFIX acceptance definitions expect")
    p.add_argument("--port", type=int, default=5001)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--spec-dir", required=True, help="folder with FIX40.xml ... FIXT11.xml")
    p.add_argument("--log-level", default="warning")
    p.add_argument("--store", default="memory://",
                   help="the sessions' message store (memory://)")
    p.set_defaults(func=cmd_acceptance_server)

    p = sub.add_parser(
        "script-test", help="run acceptance definitions (.def) against an acceptor",
        description="fixplus script-test [--host HOST] --port PORT FILE.def|DIR... "
        "[--filter GLOB] [--jobs N] [--timeout S] [--fields-fmt FILE] (or HOST PORT FILE...)")
    p.add_argument("rest", nargs=argparse.REMAINDER,
                   help="HOST PORT (or --host H --port P), .def files or folders, options")
    p.set_defaults(func=cmd_script_test)

    p = sub.add_parser("auth", help="counterparty authentication tools")
    auth = p.add_subparsers(dest="auth_command", required=True)
    h = auth.add_parser("hash-password",
                        help="print a passwordHash for a password read from stdin")
    h.set_defaults(func=cmd_auth_hash_password)

    add_store_parser(sub)
    add_config_parser(sub)
    add_log_parser(sub)
    add_keys_parser(sub)
    add_audit_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["script-test"] and argv[1:2] not in (["-h"], ["--help"]):
        return script_test(argv[1:])  # its options are the runner's
    args = build_parser().parse_args(argv)
    install_vault_references()
    try:
        result: int = args.func(args)
    except FixError as exc:
        print(f"fixplus: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`fixplus decode ... | head`): not an error of
        # ours.  Point stdout at /dev/null so that the interpreter's final
        # flush does not fail again.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141  # as a shell reports a process ended by SIGPIPE
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
