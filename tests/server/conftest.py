"""Fixtures of the local catalog tests: the same suite runs in-process and over real HTTP.

Over HTTP, one uvicorn server on an ephemeral loopback port serves the whole
session; it forwards to the current test's app, so each test still gets a fresh
SQLite file and its own fault injector without paying for a server start.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.catalog.wire import PatchModelDraftApiResponse
from reconciler.server import FaultInjector, create_app

MODES = ("in-process", "http")
# Built once: httpx builds a fresh SSL context per client otherwise (tens of ms each).
SSL_CONTEXT = ssl.create_default_context()


class _Switch:
    """An ASGI app that forwards every request to the app a test plugged in."""

    def __init__(self) -> None:
        self.target: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert self.target is not None, "no catalog app plugged into the live server"
        await self.target(scope, receive, send)


@dataclass
class LiveServer:
    """uvicorn in a background thread on 127.0.0.1 and an ephemeral port."""

    switch: _Switch
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@pytest.fixture(scope="session")
def switch_server() -> Iterator[LiveServer]:
    switch = _Switch()
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP, and without it every keep-alive request waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(switch, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.01)
    yield LiveServer(switch, f"http://127.0.0.1:{port}", server, thread)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@dataclass
class Reply:
    """A response, checked to be a PatchModelDraftApiResponse."""

    status: int
    body: dict[str, Any]
    headers: httpx.Headers

    @property
    def form(self) -> dict[str, Any]:
        """The form_state of a successful response."""
        assert self.status == 200, self.body
        assert self.body["success"] is True, self.body
        assert self.body["form_state"] is not None
        return self.body["form_state"]

    @property
    def replayed(self) -> bool:
        """Whether the response carries ``Idempotent-Replayed: true``."""
        return self.headers.get("Idempotent-Replayed") == "true"

    @property
    def error_fields(self) -> list[str]:
        """The fields named by a 422's ``errors``."""
        return [error["field"] for error in self.body.get("errors") or []]


@dataclass
class Catalog:
    """A client of one catalog app, with the operations of the contract as methods."""

    client: httpx.AsyncClient
    faults: FaultInjector
    db_path: Path
    mode: str
    headers: dict[str, str] = field(default_factory=dict)

    async def post(
        self,
        body: dict[str, Any] | None = None,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """POST /model/draft; every answer must parse as a PatchModelDraftApiResponse."""
        response = await self.client.post(
            "/model/draft",
            json=body if content is None else None,
            content=content,
            headers={**self.headers, **(headers or {})},
        )
        payload = response.json()
        PatchModelDraftApiResponse.model_validate(payload)
        assert payload["success"] is (response.status_code == 200), payload
        return Reply(response.status_code, payload, response.headers)

    async def create(self, **fields: Any) -> dict[str, Any]:
        """Create a draft (hard); returns its form_state."""
        return (await self.post(fields)).form

    async def read(self, draft_id: str) -> dict[str, Any]:
        """Read a draft's live form_state."""
        return (await self.post({"draft_id": draft_id})).form

    async def soft(self, key: str, draft_id: str | None = None, **fields: Any) -> Reply:
        """Stage a proposal."""
        body = {"soft": True, "idempotency_key": key, **fields}
        if draft_id is not None:
            body["draft_id"] = draft_id
        return await self.post(body)

    async def ack(self, key: str, accept: bool, draft_id: str | None = None) -> Reply:
        """Accept or reject a proposal."""
        body: dict[str, Any] = {"idempotency_key": key, "accept": accept}
        if draft_id is not None:
            body["draft_id"] = draft_id
        return await self.post(body)


OpenCatalog = Callable[..., Awaitable[Catalog]]


async def _opener(mode: str, tmp_path: Path, live: LiveServer) -> AsyncIterator[OpenCatalog]:
    opened: list[tuple[httpx.AsyncClient, Any]] = []

    async def open_catalog(
        db_path: Path | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        faults: FaultInjector | None = None,
        **kwargs: Any,
    ) -> Catalog:
        path = db_path or tmp_path / "catalog.sqlite3"
        injector = faults or FaultInjector()
        app = create_app(path, token=token, faults=injector, **kwargs)
        if mode == "http":
            live.switch.target = app
            client = httpx.AsyncClient(base_url=live.url, timeout=10, verify=SSL_CONTEXT)
        else:
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://catalog", timeout=10)
        opened.append((client, app))
        return Catalog(client, injector, path, mode, dict(headers or {}))

    yield open_catalog
    for client, app in opened:
        await client.aclose()
        app.state.database.close()
    live.switch.target = None


@pytest.fixture(params=MODES)
async def open_catalog(
    request: pytest.FixtureRequest, tmp_path: Path, switch_server: LiveServer
) -> AsyncIterator[OpenCatalog]:
    """Opens catalog apps over tmp files, in-process or over real HTTP (both, parametrized)."""
    async for opener in _opener(request.param, tmp_path, switch_server):
        yield opener


@pytest.fixture
async def catalog(open_catalog: OpenCatalog) -> Catalog:
    """A fresh catalog, in-process or over real HTTP."""
    return await open_catalog()


@pytest.fixture
async def http_catalog(tmp_path: Path, switch_server: LiveServer) -> AsyncIterator[Catalog]:
    """A fresh catalog over real HTTP only (fault injection cuts real connections)."""
    async for opener in _opener("http", tmp_path, switch_server):
        yield await opener()
