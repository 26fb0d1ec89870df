"""The engine's HTTP endpoint: bind address, HTTP limits, TLS, token
authorisation against a TokenReview endpoint, and readiness without store calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp import web
from prometheus_client import Counter
from pyfixmsg_plus.engine.config import EngineConfig, MetricsSettings
from pyfixmsg_plus.engine.observability.httpauth import Verdict, VerdictCache, bearer_token
from pyfixmsg_plus.engine.observability.httpserver import HealthServer, new_registry

from tests.httptools import ServerCert, make_ca, make_server_cert, request

_SESSION = {"role": "acceptor", "beginString": "FIX.4.4", "senderCompId": "B",
            "targetCompId": "C", "acceptPort": 0, "authentication": {"mode": "none"}}


def _registry() -> Any:
    registry = new_registry(with_process=False)
    Counter("fixplus_test_things", "things", registry=registry).inc()
    return registry


async def _serve(ready: Callable[[], list[str]] | None = None, **settings: Any) -> HealthServer:
    m = MetricsSettings.model_validate({"enabled": True, "port": 0, **settings})
    server = HealthServer(m, _registry(), ready or list)
    await server.start()
    return server


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not check():
            await asyncio.sleep(0.01)


# -- bind address and settings ------------------------------------------------
async def test_the_endpoint_listens_on_loopback_by_default() -> None:
    assert MetricsSettings().host == "127.0.0.1"
    assert EngineConfig.model_validate(
        {"store": "memory://", "sessions": [_SESSION]}).metrics.host == "127.0.0.1"
    server = await _serve()
    try:
        assert server._server is not None
        assert {s.getsockname()[0] for s in server._server.sockets} == {"127.0.0.1"}
    finally:
        await server.stop()


def test_token_review_needs_tls_and_the_probes_keep_their_paths() -> None:
    with pytest.raises(ValueError, match="needs tls"):
        MetricsSettings.model_validate({"authorization": "tokenReview"})
    with pytest.raises(ValueError, match="probe"):
        MetricsSettings.model_validate({"path": "/readyz"})
    with pytest.raises(ValueError):
        MetricsSettings.model_validate({"tokenReview": {"apiServer": "http://plain:80"}})
    with pytest.raises(ValueError, match="keyFile"):
        EngineConfig.model_validate({"store": "memory://", "sessions": [_SESSION],
                                     "metrics": {"tls": {"certFile": "x"}}})


# -- HTTP behaviour -----------------------------------------------------------
async def test_paths_methods_and_bodies() -> None:
    server = await _serve()
    port = server.bound_port
    try:
        answer = await request(port, "/metrics")
        assert answer.status == 200 and b"fixplus_test_things_total 1.0" in answer.body
        assert answer.headers["content-type"].startswith("text/plain")
        assert (await request(port, "/healthz")).body.startswith(b"ok")
        ready = await request(port, "/readyz")
        assert ready.status == 200 and json.loads(ready.body) == {"ready": True, "problems": []}
        assert (await request(port, "/metrics/x")).status == 404
        assert (await request(port, "/")).status == 404
        post = await request(port, "/metrics", method="POST")
        assert post.status == 405 and post.headers["allow"] == "GET, HEAD"
        assert (await request(port, "/healthz", method="DELETE")).status == 405
        head = await request(port, "/metrics", method="HEAD")
        assert head.status == 200 and head.body == b"" and int(head.headers["content-length"]) > 0
        body = await request(port, "/metrics", extra="Content-Length: 5\r\n", body=b"hello")
        assert body.status == 413
        huge = await request(port, "/healthz", extra=f"X-Big: {'a' * 20000}\r\n")
        assert huge.status in (400, 431)
        many = "".join(f"X-H{i}: v\r\n" for i in range(100))
        assert (await request(port, "/healthz", extra=many)).status in (400, 431)
    finally:
        await server.stop()


async def test_readiness_problems_answer_503() -> None:
    server = await _serve(lambda: ["acceptor port 1 is not listening"])
    try:
        answer = await request(server.bound_port, "/readyz")
        assert answer.status == 503
        assert json.loads(answer.body)["problems"] == ["acceptor port 1 is not listening"]
    finally:
        await server.stop()


async def test_connections_over_the_limit_evict_the_longest_waiting() -> None:
    """Clients holding connections without a request cannot lock the probes
    out: at the limit the connection that waited longest makes room."""
    server = await _serve(maxConnections=2)
    port = server.bound_port
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    try:
        await _until(lambda: server.open_connections == 2)
        held[0][1].write(b"GET /hea")  # half a request line, never finished
        for _ in range(5):  # the probe gets through each time
            assert (await request(port, "/healthz")).status == 200
        assert server.evicted >= 1 and server.refused == 0
        assert await held[0][0].read() == b""  # the oldest one was dropped
        assert server.open_connections <= 2
    finally:
        for _, w in held:
            w.close()
        await server.stop()
    assert server.open_connections == 0


async def test_a_new_connection_is_closed_when_every_one_is_being_served() -> None:
    server = await _serve(maxConnections=1)
    port = server.bound_port
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await _until(lambda: server.open_connections == 1)
        (guard,) = server.live
        guard.busy = True  # as while its answer is being written
        other_reader, other_writer = await asyncio.open_connection("127.0.0.1", port)
        assert await other_reader.read() == b""
        other_writer.close()
        assert server.refused == 1 and server.evicted == 0
        guard.busy = False
    finally:
        writer.close()
        await server.stop()


async def test_a_slow_request_is_dropped() -> None:
    server = await _serve(requestTimeout=0.2)
    port = server.bound_port
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost")  # and never the rest
        async with asyncio.timeout(10):
            assert await reader.read() == b""
        writer.close()
        assert server.timed_out == 1
        await _until(lambda: server.open_connections == 0)
        # an idle keep-alive connection ends the same way
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        async with asyncio.timeout(10):
            data = await reader.read()
        assert data.startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        await server.stop()


# -- TLS ----------------------------------------------------------------------
@pytest.fixture
def certs(tmp_path: Path) -> tuple[Any, ServerCert]:
    ca = make_ca(tmp_path)
    return ca, make_server_cert(tmp_path, ca)


async def test_tls_and_certificate_reload(certs: tuple[Any, ServerCert], tmp_path: Path) -> None:
    ca, first = certs
    server = await _serve(tls={"certFile": str(first.cert), "keyFile": str(first.key)},
                          requestTimeout=0.5)
    port = server.bound_port
    try:
        answer = await request(port, "/metrics", ca=first.ca)
        assert answer.status == 200 and answer.peer_serial == first.serial
        assert server.certs is not None and not server.certs.check()  # unchanged
        second = make_server_cert(tmp_path, ca)  # same files, new certificate
        assert server.certs.check()
        assert (await request(port, "/healthz", ca=first.ca)).peer_serial == second.serial
        first.cert.write_text("not a certificate")
        assert not server.certs.check()  # a broken file keeps the previous pair
        assert (await request(port, "/healthz", ca=first.ca)).peer_serial == second.serial
        # plain HTTP on the TLS port gets nothing; a silent client is dropped
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(10):
            await reader.read()
        writer.close()
        await _until(lambda: server.open_connections == 0)
    finally:
        await server.stop()


# -- token authorisation against a TokenReview endpoint ---------------------
class FakeApiServer:
    """TokenReview and SubjectAccessReview as the API server answers them."""

    ENGINE_TOKEN = "engine-own-token"
    USERS: ClassVar[dict[str, str]] = {
        "scraper-token": "system:serviceaccount:monitoring:prometheus", "nosar-token": "alice"}

    def __init__(self) -> None:
        self.reviews: list[dict[str, Any]] = []
        self.fail = False

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.ENGINE_TOKEN}":
            return web.json_response({"kind": "Status"}, status=401)
        if self.fail:
            return web.json_response({"kind": "Status"}, status=500)
        body = await request.json()
        self.reviews.append(body)
        spec = body["spec"]
        if body["kind"] == "TokenReview":
            user = self.USERS.get(spec["token"])
            status: dict[str, Any] = {"authenticated": user is not None}
            if user:
                status["user"] = {"username": user, "uid": "u1",
                                  "groups": ["system:authenticated"]}
        else:
            status = {"allowed": spec["user"] == self.USERS["scraper-token"]
                      and spec["nonResourceAttributes"] == {"path": "/metrics", "verb": "get"}}
        return web.json_response({**body, "status": status}, status=201)


@pytest.fixture
async def fake_api(certs: tuple[Any, ServerCert], tmp_path: Path
                   ) -> AsyncIterator[tuple[FakeApiServer, dict[str, Any]]]:
    import ssl

    _, cert = certs
    fake = FakeApiServer()
    app = web.Application()
    app.router.add_post("/apis/authentication.k8s.io/v1/tokenreviews", fake.handle)
    app.router.add_post("/apis/authorization.k8s.io/v1/subjectaccessreviews", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert.cert, cert.key)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = runner.addresses[0][1]
    token_file = tmp_path / "engine-token"
    token_file.write_text(fake.ENGINE_TOKEN + "\n")
    settings = {"tls": {"certFile": str(cert.cert), "keyFile": str(cert.key)},
                "authorization": "tokenReview",
                "tokenReview": {"apiServer": f"https://127.0.0.1:{port}",
                                "caFile": str(cert.ca), "tokenFile": str(token_file)}}
    try:
        yield fake, settings
    finally:
        await runner.cleanup()


async def test_token_review_authorises_metrics_only(
        fake_api: tuple[FakeApiServer, dict[str, Any]], certs: tuple[Any, ServerCert]) -> None:
    fake, settings = fake_api
    ca = certs[1].ca
    server = await _serve(**settings)
    port = server.bound_port
    try:
        # the probes need no token
        assert (await request(port, "/healthz", ca=ca)).status == 200
        assert (await request(port, "/readyz", ca=ca)).status == 200
        missing = await request(port, "/metrics", ca=ca)
        assert missing.status == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        assert (await request(port, "/metrics", ca=ca, token="bad token!")).status == 401
        assert not fake.reviews  # malformed: no review
        ok = await request(port, "/metrics", ca=ca, token="scraper-token")
        assert ok.status == 200 and b"fixplus_test_things_total" in ok.body
        assert [r["kind"] for r in fake.reviews] == ["TokenReview", "SubjectAccessReview"]
        sar = fake.reviews[1]["spec"]
        assert sar["user"] == FakeApiServer.USERS["scraper-token"] and sar["uid"] == "u1"
        assert sar["groups"] == ["system:authenticated"]
        # the verdict is cached: more scrapes, no more reviews
        for _ in range(5):
            assert (await request(port, "/metrics", ca=ca, token="scraper-token")).status == 200
        assert len(fake.reviews) == 2
        assert (await request(port, "/metrics", ca=ca, token="bogus")).status == 403
        assert (await request(port, "/metrics", ca=ca, token="bogus")).status == 403
        assert len(fake.reviews) == 3  # a refusal is cached too
        assert (await request(port, "/metrics", ca=ca, token="nosar-token")).status == 403
        assert server.forbidden == 3 and server.unauthenticated == 2
        # concurrent requests with one new token share one review
        fake.reviews.clear()
        answers = await asyncio.gather(*(request(port, "/metrics", ca=ca, token="other")
                                         for _ in range(5)))
        assert {a.status for a in answers} == {403} and len(fake.reviews) == 1
        # no answer from the API server: 503, and nothing cached
        fake.fail = True
        assert (await request(port, "/metrics", ca=ca, token="new-one")).status == 503
        fake.fail = False
        assert (await request(port, "/metrics", ca=ca, token="new-one")).status == 403
    finally:
        await server.stop()


async def test_without_subject_access_review_a_valid_token_is_enough(
        fake_api: tuple[FakeApiServer, dict[str, Any]], certs: tuple[Any, ServerCert]) -> None:
    fake, settings = fake_api
    settings["tokenReview"]["subjectAccessReview"] = False
    server = await _serve(**settings)
    try:
        answer = await request(server.bound_port, "/metrics", ca=certs[1].ca, token="nosar-token")
        assert answer.status == 200
        assert [r["kind"] for r in fake.reviews] == ["TokenReview"]
    finally:
        await server.stop()


def test_verdict_cache_is_bounded_and_expires() -> None:
    now = [0.0]
    cache = VerdictCache(size=2, ttl=10, clock=lambda: now[0])
    yes = Verdict(True, "a")
    cache.put("a", yes)
    cache.put("b", yes)
    assert cache.get("a") == yes  # a is now the most recently used
    cache.put("c", yes)
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") == yes
    now[0] = 10.0
    assert cache.get("a") is None and cache.get("c") is None and len(cache) == 0


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc.DEF-123_~+/=") == "abc.DEF-123_~+/="
    assert bearer_token("bearer  xyz ") == "xyz"
    for bad in (None, "", "Basic abc", "Bearer ", "Bearer a b", "Bearer " + "a" * 9000,
                "Bearer \x00"):
        assert bearer_token(bad) is None


def test_api_server_from_the_pod_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyfixmsg_plus.engine.config import TokenReviewSettings
    from pyfixmsg_plus.engine.observability.httpauth import ReviewUnavailable, api_server_url

    settings = TokenReviewSettings()
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    assert api_server_url(settings) == "https://[fd00::1]:6443"
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT")
    assert api_server_url(settings) == "https://10.96.0.1:443"
    named = TokenReviewSettings(api_server="https://api.example:6443/")
    assert api_server_url(named) == "https://api.example:6443"
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(ReviewUnavailable, match="KUBERNETES_SERVICE_HOST"):
        api_server_url(settings)


async def test_tokens_never_reach_the_log(
        fake_api: tuple[FakeApiServer, dict[str, Any]], certs: tuple[Any, ServerCert],
        caplog: pytest.LogCaptureFixture) -> None:
    fake, settings = fake_api
    caplog.set_level("DEBUG")
    server = await _serve(**settings)
    try:
        for token in ("scraper-token", "nosar-token", "forged-token"):
            await request(server.bound_port, "/metrics", ca=certs[1].ca, token=token)
        fake.fail = True
        await request(server.bound_port, "/metrics", ca=certs[1].ca, token="unseen-token")
    finally:
        await server.stop()
    assert "no answer from the API server" in caplog.text
    for secret in ("scraper-token", "nosar-token", "forged-token", "unseen-token",
                   FakeApiServer.ENGINE_TOKEN):
        assert secret not in caplog.text
