"""Files that change while the engine runs: TLS certificates, keys, CAs and
password files, re-read without a restart.

Theory of operation
-------------------

A Kubernetes Secret volume updates by writing a new timestamped folder and
swapping the ``..data`` symlink the visible names point through; cert-manager
or an operator may also rewrite a file in place.  :class:`WatchedFiles`
fingerprints each file by what its path resolves to *now* (real path, inode,
device, modification time, size), so both kinds of change show, and nothing
depends on inotify.  (A ``subPath`` mount is a copy made when the pod
starts: it never changes, so it must not be used for these files.)

:class:`ReloadingContext` is the ``ssl.SSLContext`` handed to asyncio.
asyncio (and uvloop) start every TLS connection with
``context.wrap_bio(...)``; this context checks its files then (a few
``stat`` calls), builds a fresh context when they changed, and wraps the
connection with the newest one.  New handshakes therefore use the new
certificate, key and CA at once; live connections keep the context they
started with, so live sessions go on.  When the changed files cannot be
loaded (a half-written key, a key that does not match), the previous
context stays, a warning is logged, and the next change is tried again.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import ConfigError

log = logging.getLogger("pyfixmsg_plus.secrets")

_Fingerprint = tuple[tuple[str, str, int, int, int, int] | tuple[str], ...]


class WatchedFiles:
    """Tells whether any of some files changed since the last look."""

    def __init__(self, paths: Iterable[str | os.PathLike[str] | None]) -> None:
        self.paths = [str(p) for p in paths if p]
        self._seen = self._fingerprint()

    def _fingerprint(self) -> _Fingerprint:
        out: list[tuple[str, str, int, int, int, int] | tuple[str]] = []
        for path in self.paths:
            try:
                st = os.stat(path)
                real = os.path.realpath(path)
            except OSError:
                out.append((path,))  # missing for now (mid-swap): a state of its own
                continue
            out.append((path, real, st.st_ino, st.st_dev, st.st_mtime_ns, st.st_size))
        return tuple(out)

    def changed(self) -> bool:
        """True once after every change."""
        now = self._fingerprint()
        if now == self._seen:
            return False
        self._seen = now
        return True


class ReloadingFile:
    """A secret file (a password) read again when it changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._files = WatchedFiles([path])
        self.value = self._read()

    def _read(self) -> str:
        try:
            return Path(self.path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"secret file {self.path}: cannot read it: {reason}") from None

    def refresh(self) -> bool:
        """Read the file again if it changed; whether the value changed.

        An unreadable file keeps the previous value (logged)."""
        if not self._files.changed():
            return False
        try:
            value = self._read()
        except ConfigError as exc:
            log.warning("%s; keeping the previous value", exc)
            return False
        if value == self.value:
            return False
        self.value = value
        log.info("secret file %s changed: new value in use", self.path)
        return True


class _Source:
    """The newest good context built from some files."""

    def __init__(self, build: Callable[[], ssl.SSLContext], files: WatchedFiles,
                 what: str) -> None:
        self._build = build
        self._files = files
        self.what = what
        self._lock = threading.Lock()
        self.context = build()
        self.reloads = 0
        self.failures = 0

    def current(self) -> ssl.SSLContext:
        with self._lock:
            if self._files.changed():
                try:
                    context = self._build()
                except ConfigError as exc:
                    self.failures += 1
                    log.warning("%s: TLS files changed but cannot be loaded; new connections "
                                "keep the previous ones: %s", self.what, exc)
                else:
                    self.context = context
                    self.reloads += 1
                    log.info("%s: TLS files changed: new connections use them", self.what)
            return self.context


class ReloadingContext(ssl.SSLContext):
    """An SSLContext whose connections use the newest files (module notes)."""

    source: _Source

    def wrap_bio(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
                 server_side: bool = False, server_hostname: str | bytes | None = None,
                 session: ssl.SSLSession | None = None) -> ssl.SSLObject:
        return self.source.current().wrap_bio(incoming, outgoing, server_side,
                                              server_hostname, session)

    @property
    def reloads(self) -> int:
        """How many times the files were loaded again."""
        return self.source.reloads


def reloading_context(build: Callable[[type[ssl.SSLContext]], ssl.SSLContext],
                      files: Iterable[str | None], what: str) -> ReloadingContext:
    """A :class:`ReloadingContext` from ``build(context_class)``, which makes
    and loads a context (raising :class:`ConfigError`), and the files it reads."""
    outer = build(ReloadingContext)
    assert isinstance(outer, ReloadingContext)
    outer.source = _Source(lambda: build(ssl.SSLContext), WatchedFiles(files), what)
    return outer
