"""Bearer-token authorisation of the metrics endpoint by the Kubernetes API.

Theory of operation: a request for the metrics path carries
``Authorization: Bearer <token>``.  The engine asks the API server two
questions, over plain HTTPS (no Kubernetes client library):

1. a ``TokenReview``: is this token valid (for these audiences), and whose
   is it (user name, uid, groups)?
2. when ``subjectAccessReview`` is on, a ``SubjectAccessReview``: may that
   user ``get`` the non-resource URL of the metrics path?  (The ClusterRole a
   Prometheus server has for scraping grants exactly that.)

A verdict, allowed or denied, is cached under the token's SHA-256 (never the
token itself) for ``cacheTtl`` seconds, at most ``cacheSize`` of them, the
least recently used dropped first: a scraper costs one review per TTL, not
one per scrape.  Concurrent requests with one token share one review, and at
most ``maxConcurrent`` reviews run at once, so a flood of made-up tokens
costs the API server a bounded rate.  An API server that does not answer
(or answers an error) is not a verdict: the request gets 503 and nothing is
cached.

The engine authenticates to the API server with its own service account
token (``tokenFile``, re-read on use: projected tokens rotate) and checks
the API server's certificate against ``caFile``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import json
import logging
import os
import ssl
from pathlib import Path
from typing import Any

import aiohttp

from ..config import TokenReviewSettings

log = logging.getLogger("pyfixmsg_plus.http")

#: A bearer token longer than this is refused without a review.
MAX_TOKEN_BYTES = 8192
_TOKEN_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")


class ReviewUnavailable(Exception):
    """The API server gave no verdict (unreachable, timeout, error status)."""


@dataclasses.dataclass(frozen=True)
class Verdict:
    allowed: bool
    #: Who the token belongs to (for the log), or why it was refused.
    reason: str


def api_server_url(settings: TokenReviewSettings) -> str:
    """The configured URL, else the in-cluster one from the environment."""
    if settings.api_server:
        return settings.api_server.rstrip("/")
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ReviewUnavailable("tokenReview.apiServer is not set and KUBERNETES_SERVICE_HOST "
                                "is not in the environment")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"https://{host}:{port}"


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None when the
    header is absent or malformed (never a review for those)."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_BYTES:
        return None
    if not set(token) <= _TOKEN_CHARS:
        return None
    return token


class VerdictCache:
    """Verdicts by token hash: bounded (least recently used out first), each
    valid for ``ttl`` seconds of ``clock``."""

    def __init__(self, size: int, ttl: float, clock: Any) -> None:
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._items: collections.OrderedDict[str, tuple[float, Verdict]] = (
            collections.OrderedDict())

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> Verdict | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, verdict = item
        if self._clock() >= expires:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return verdict

    def put(self, key: str, verdict: Verdict) -> None:
        self._items[key] = (self._clock() + self.ttl, verdict)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class TokenReviewer:
    """Answers "may this bearer token read ``path``?" (see the module notes)."""

    def __init__(self, settings: TokenReviewSettings, path: str) -> None:
        self.settings = settings
        self.path = path
        loop = asyncio.get_running_loop()
        self.cache = VerdictCache(settings.cache_size, settings.cache_ttl, loop.time)
        self._pending: dict[str, asyncio.Future[Verdict]] = {}
        self._slots = asyncio.Semaphore(settings.max_concurrent)
        self._session: aiohttp.ClientSession | None = None
        #: API calls made (TokenReviews and SubjectAccessReviews).
        self.api_calls = 0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def review(self, token: str) -> Verdict:
        """The (cached) verdict for ``token``; ReviewUnavailable when the API
        server gives none."""
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            async with self._slots:
                verdict = await self._ask(token)
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, ReviewUnavailable)
                                 else ReviewUnavailable(str(exc) or type(exc).__name__))
            future.exception()  # retrieved: waiters (if any) re-raise it
            raise
        else:
            self.cache.put(key, verdict)
            future.set_result(verdict)
            return verdict
        finally:
            del self._pending[key]

    async def _ask(self, token: str) -> Verdict:
        spec: dict[str, Any] = {"token": token}
        if self.settings.audiences:
            spec["audiences"] = list(self.settings.audiences)
        status = await self._post("/apis/authentication.k8s.io/v1/tokenreviews",
                                  {"apiVersion": "authentication.k8s.io/v1",
                                   "kind": "TokenReview", "spec": spec})
        if not status.get("authenticated"):
            return Verdict(False, "token not authenticated")
        user = status.get("user") or {}
        name = str(user.get("username", ""))
        if not self.settings.subject_access_review:
            return Verdict(True, name)
        review: dict[str, Any] = {
            "user": name,
            "groups": list(user.get("groups") or []),
            "nonResourceAttributes": {"path": self.path, "verb": "get"},
        }
        if user.get("uid"):
            review["uid"] = str(user["uid"])
        if user.get("extra"):
            review["extra"] = user["extra"]
        status = await self._post("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                  {"apiVersion": "authorization.k8s.io/v1",
                                   "kind": "SubjectAccessReview", "spec": review})
        if not status.get("allowed") or status.get("denied"):
            return Verdict(False, f"{name} may not get {self.path}")
        return Verdict(True, name)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            try:
                ctx = ssl.create_default_context(cafile=self.settings.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ReviewUnavailable(f"tokenReview.caFile: {exc}") from exc
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=ctx, limit=self.settings.max_concurrent),
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout))
        return self._session

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = api_server_url(self.settings) + path
        try:
            own = Path(self.settings.token_file).read_text().strip()
        except OSError as exc:
            raise ReviewUnavailable(f"tokenReview.tokenFile: {exc.strerror}") from exc
        self.api_calls += 1
        try:
            async with self._client().post(
                    url, data=json.dumps(body),
                    headers={"Authorization": f"Bearer {own}",
                             "Content-Type": "application/json",
                             "Accept": "application/json"}) as resp:
                if resp.status == 403:
                    raise ReviewUnavailable(
                        f"{path}: HTTP 403: the engine's service account may not create "
                        "reviews (it needs system:auth-delegator: the chart's rbac.metricsAuth)")
                if resp.status not in (200, 201):
                    raise ReviewUnavailable(f"{path}: HTTP {resp.status}")
                answer = json.loads(await resp.content.read(1 << 20))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ReviewUnavailable(f"{path}: {type(exc).__name__}: {exc}") from exc
        status = answer.get("status") if isinstance(answer, dict) else None
        return status if isinstance(status, dict) else {}
