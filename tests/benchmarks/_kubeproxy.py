"""A counting proxy in front of the kube-apiserver (for operator_scale.py).

The operator is given a kubeconfig whose server is this proxy (plain HTTP on
127.0.0.1); the proxy forwards every request, headers (the bearer token)
included, to the API server over TLS, streams the answer back (watches
included), and counts requests by verb and by resource.  Only the operator
talks through it, so the counts are the operator's requests and nobody
else's.
"""

from __future__ import annotations

import asyncio
import collections
import re
import ssl
import threading
from typing import Any

import aiohttp
from aiohttp import web

_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
        "proxy-authorization", "proxy-authenticate", "host", "content-length"}
_RESOURCE = re.compile(r"^/apis?/(?:[^/]+/)?v[^/]+/(?:namespaces/[^/]+/)?([a-z0-9.-]+)")


def verb(method: str, path: str, query: dict[str, str]) -> str:
    if method == "GET":
        if query.get("watch") in ("true", "1"):
            return "watch"
        named = re.match(r"^/apis?/(?:[^/]+/)?v[^/]+/(?:namespaces/[^/]+/)?[^/]+/[^/]+", path)
        return "get" if named else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        method, method.lower())


class CountingProxy:
    def __init__(self, upstream: str, ca_file: str | None) -> None:
        self.upstream = upstream.rstrip("/")
        self.ssl = ssl.create_default_context(cafile=ca_file) if ca_file else False
        self.lock = threading.Lock()
        self.total = 0
        self.by_verb: collections.Counter[str] = collections.Counter()
        self.by_resource: collections.Counter[str] = collections.Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="kubeproxy")
        self._session: aiohttp.ClientSession | None = None

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"total": self.total, "by_verb": dict(self.by_verb),
                    "by_resource": dict(self.by_resource)}

    def start(self) -> int:
        self._thread.start()
        self._ready.wait(10)
        return self.port

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.run_forever()

    async def _serve(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self.ssl, limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
        server = web.Server(self._handle)
        runner = web.ServerRunner(server)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets if site._server else []
        self.port = sockets[0].getsockname()[1]
        self._ready.set()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        query = dict(request.query)
        v = verb(request.method, request.path, query)
        m = _RESOURCE.match(request.path)
        with self.lock:
            self.total += 1
            self.by_verb[v] += 1
            self.by_resource[f"{v} {m.group(1) if m else request.path}"] += 1
        headers = {k: val for k, val in request.headers.items() if k.lower() not in _HOP}
        body = await request.read()
        assert self._session is not None
        async with self._session.request(request.method, self.upstream + request.rel_url.raw_path_qs,
                                         headers=headers, data=body or None,
                                         auto_decompress=False) as upstream:
            response = web.StreamResponse(status=upstream.status, headers={
                k: val for k, val in upstream.headers.items() if k.lower() not in _HOP})
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            except (ConnectionError, aiohttp.ClientError):
                pass  # the client went away (a watch it stopped)
            return response
