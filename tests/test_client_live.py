"""CatalogClient against the real local catalog: over HTTP (uvicorn) and in-process (ASGI)."""

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from reconciler.catalog.client import CatalogClient, ClientSettings
from reconciler.catalog.retry import RetryEvent, RetryPolicy
from reconciler.errors import (
    AuthError,
    CatalogError,
    ConflictError,
    NotFoundError,
    RejectedError,
    UnavailableError,
)
from reconciler.render.remedies import describe
from reconciler.server import FaultInjector, create_app

TOKEN = "live-tok-9Qz7-never-print-me"
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


@dataclass
class Target:
    """A catalog to test against and a way to get clients of it."""

    mode: str
    faults: FaultInjector
    db_path: Path
    connect: Callable[..., CatalogClient]

    def proposals(self) -> list[tuple[str, str]]:
        with sqlite3.connect(self.db_path) as db:
            return list(db.execute("SELECT key, status FROM proposals ORDER BY key"))


@pytest.fixture(params=["http", "asgi"])
async def target(request, tmp_path) -> AsyncIterator[Target]:
    """The catalog over real HTTP (uvicorn, aiohttp pool) and in-process (httpx ASGI)."""
    clients: list[CatalogClient] = []
    if request.param == "http":
        live_server = request.getfixturevalue("live_server")
        faults, db_path = live_server.faults, live_server.db_path

        def connect(**kwargs) -> CatalogClient:
            settings = ClientSettings(base_url=live_server.base_url, retry=FAST)
            clients.append(CatalogClient(settings, **kwargs))
            return clients[-1]

    else:
        faults, db_path = FaultInjector(), tmp_path / "inproc.sqlite3"
        app = create_app(db_path, faults=faults)

        def connect(**kwargs) -> CatalogClient:
            settings = ClientSettings(base_url="http://embedded.catalog", retry=FAST)
            clients.append(CatalogClient(settings, httpx.ASGITransport(app=app), **kwargs))
            return clients[-1]

    yield Target(request.param, faults, db_path, connect)
    for client in clients:
        await client.aclose()


async def stage_and_accept(client: CatalogClient, fields: dict, key: str) -> str:
    staged = await client.soft_patch(fields, idempotency_key=key)
    await client.ack(key, accept=True, draft_id=staged.draft_id)
    return staged.draft_id


async def test_read_soft_patch_and_ack_round_trip(target):
    async with target.connect() as client:
        staged = await client.soft_patch(
            {"name": "GPT Test", "provider": "openai", "modalities": ["text", "image"]},
            idempotency_key="k-create",
        )
        assert staged.form_state is not None
        assert staged.form_state.active is False
        assert staged.form_state.pending_ids == ["k-create"]
        with pytest.raises(NotFoundError):
            await client.read(staged.draft_id)

        accepted = await client.ack("k-create", accept=True, draft_id=staged.draft_id)
        assert accepted.replayed is False
        state = await client.read(staged.draft_id)
        assert state.provider == "OpenAI"
        assert state.modalities == ["image", "text"]
        assert state.pending_ids == []

        again = await client.ack("k-create", accept=True, draft_id=staged.draft_id)
        assert again.replayed is True
        assert again.form_state == accepted.form_state


async def test_ack_reject_discards_the_proposal(target):
    async with target.connect() as client:
        draft_id = await stage_and_accept(client, {"name": "A"}, "k1")
        await client.soft_patch({"name": "B"}, idempotency_key="k2", draft_id=draft_id)
        rejected = await client.ack("k2", accept=False, draft_id=draft_id)
        assert rejected.form_state is not None
        assert rejected.form_state.name == "A"
        assert (await client.read(draft_id)).pending_ids == []


async def test_503_fault_is_retried_until_the_write_goes_through(target):
    events: list[RetryEvent] = []
    target.faults.fail_next_writes(2)
    async with target.connect(on_retry=events.append) as client:
        staged = await client.soft_patch({"name": "X"}, idempotency_key="k-503")
    assert staged.success
    assert [e.reason for e in events] == ["HTTP 503", "HTTP 503"]
    assert target.faults.writes == 3
    assert target.proposals() == [("k-503", "pending")]


async def test_503_fault_beyond_the_attempts_is_unavailable(target):
    target.faults.fail_next_writes(10)
    async with target.connect() as client:
        with pytest.raises(UnavailableError, match="gave up after 4 attempts"):
            await client.soft_patch({"name": "X"}, idempotency_key="k")
    assert target.faults.writes == 4
    assert target.proposals() == []


async def test_429_fault_is_retried_after_retry_after(target):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        # Really waited over HTTP; in-process the recorded wait is enough.
        if target.mode == "http":
            await asyncio.sleep(seconds)

    target.faults.rate_limit_next(1, retry_after=1)
    async with target.connect(sleep=sleep) as client:
        started = time.monotonic()
        staged = await client.soft_patch({"name": "X"}, idempotency_key="k-429")
        elapsed = time.monotonic() - started
    assert staged.success
    assert waits == [1.0]
    assert elapsed >= (1.0 if target.mode == "http" else 0.0)
    assert target.proposals() == [("k-429", "pending")]


async def test_key_in_flight_409_is_retried_and_replayed(target):
    events: list[RetryEvent] = []
    target.faults.latency = 0.2
    async with target.connect(on_retry=events.append) as client:
        first, second = await asyncio.gather(
            client.soft_patch({"name": "X"}, idempotency_key="k-twice"),
            client.soft_patch({"name": "X"}, idempotency_key="k-twice"),
        )
    assert first.draft_id == second.draft_id
    assert sorted([first.replayed, second.replayed]) == [False, True]
    assert events
    assert {e.reason for e in events} == {"idempotency key still in flight (HTTP 409)"}
    assert target.proposals() == [("k-twice", "pending")]


async def test_stale_accept_is_a_conflict_and_not_retried(target):
    async with target.connect() as client:
        draft_id = await stage_and_accept(client, {"name": "A"}, "k1")
        await client.soft_patch({"name": "B"}, idempotency_key="k2", draft_id=draft_id)
        await client.soft_patch({"name": "C"}, idempotency_key="k3", draft_id=draft_id)
        await client.ack("k2", accept=True, draft_id=draft_id)
        writes = target.faults.writes
        with pytest.raises(ConflictError, match="stale"):
            await client.ack("k3", accept=True, draft_id=draft_id)
        assert target.faults.writes == writes + 1


async def test_opposite_ack_decision_is_a_conflict_and_not_retried(target):
    async with target.connect() as client:
        draft_id = await stage_and_accept(client, {"name": "A"}, "k1")
        writes = target.faults.writes
        with pytest.raises(ConflictError, match="already accepted"):
            await client.ack("k1", accept=False, draft_id=draft_id)
        assert target.faults.writes == writes + 1


async def test_unknown_draft_and_unknown_key_are_not_found(target):
    async with target.connect() as client:
        with pytest.raises(NotFoundError) as info:
            await client.read("no-such-draft")
        assert info.value.draft_id == "no-such-draft"
        with pytest.raises(NotFoundError):
            await client.ack("no-such-key", accept=True)


async def test_a_wrong_base_url_is_not_mistaken_for_a_missing_draft(live_server):
    async with await http_client(live_server) as client:
        draft_id = await stage_and_accept(client, {"name": "A"}, "k")
    settings = ClientSettings(base_url=f"{live_server.base_url}/api/v9", retry=FAST)
    async with CatalogClient(settings) as client:
        with pytest.raises(CatalogError) as info:
            await client.read(draft_id)
    assert not isinstance(info.value, NotFoundError)
    assert "check --endpoint / CATALOG_ENDPOINT" in describe(info.value)


async def test_unknown_label_is_rejected_with_the_servers_field_errors(target):
    async with target.connect() as client:
        with pytest.raises(RejectedError) as info:
            await client.soft_patch({"provider": "Nopeco"}, idempotency_key="k")
    assert info.value.status == 422
    assert "Nopeco" in str(info.value)
    assert any(field == "provider" for field, _ in info.value.field_errors)
    assert target.faults.writes == 1


async def test_key_reused_with_another_body_is_rejected(target):
    async with target.connect() as client:
        await client.soft_patch({"name": "A"}, idempotency_key="k")
        with pytest.raises(RejectedError) as info:
            await client.soft_patch({"name": "B"}, idempotency_key="k")
    assert info.value.status == 422


# Over real HTTP only: the dropped connection, the pool and the network errors.


async def http_client(live_server, **kwargs) -> CatalogClient:
    token = kwargs.pop("token", None)
    parallelism = kwargs.pop("parallelism", 10)
    settings = ClientSettings(
        base_url=live_server.base_url, token=token, parallelism=parallelism, retry=FAST
    )
    return CatalogClient(settings, **kwargs)


async def test_dropped_soft_patch_response_is_retried_and_replayed_once(live_server):
    events: list[RetryEvent] = []
    live_server.faults.drop_next_response()
    async with await http_client(live_server, on_retry=events.append) as client:
        staged = await client.soft_patch({"name": "X"}, idempotency_key="k-drop")
        assert staged.replayed is True
        assert [e.reason for e in events] == [
            "the connection to the catalog was lost before the response arrived"
        ]
        live_server.faults.drop_next_response()
        accepted = await client.ack("k-drop", accept=True, draft_id=staged.draft_id)
        assert accepted.replayed is True
        state = await client.read(staged.draft_id)
    assert state.name == "X"
    assert state.revision == 1
    assert live_server.faults.writes == 4
    with sqlite3.connect(live_server.db_path) as db:
        assert list(db.execute("SELECT key, status FROM proposals")) == [("k-drop", "accepted")]
        assert db.execute("SELECT count(*) FROM drafts").fetchone() == (1,)


async def test_dropped_response_with_httpx_own_transport_is_retried_too(live_server):
    live_server.faults.drop_next_response()
    async with await http_client(live_server, transport=httpx.AsyncHTTPTransport()) as client:
        staged = await client.soft_patch({"name": "X"}, idempotency_key="k-drop")
    assert staged.replayed is True
    assert live_server.faults.writes == 2


async def test_timed_out_write_is_retried_through_in_flight_to_its_replay(live_server):
    events: list[RetryEvent] = []

    def on_retry(event: RetryEvent) -> None:
        events.append(event)
        live_server.faults.latency = 0.0  # only the first attempt is slow

    live_server.faults.latency = 0.4
    settings = ClientSettings(
        base_url=live_server.base_url,
        timeout=0.1,
        retry=RetryPolicy(max_attempts=30, base_delay=0.05, max_delay=0.05),
    )
    async with CatalogClient(settings, on_retry=on_retry) as client:
        staged = await client.soft_patch({"name": "Slow"}, idempotency_key="k-slow")
    reasons = [e.reason for e in events]
    assert reasons[0] == "timed out waiting for the catalog"
    assert "idempotency key still in flight (HTTP 409)" in reasons
    assert staged.replayed is True
    with sqlite3.connect(live_server.db_path) as db:
        assert list(db.execute("SELECT key, status FROM proposals")) == [("k-slow", "pending")]


async def test_pool_holds_at_most_parallelism_connections(live_server):
    async with await http_client(live_server) as client:
        draft_id = await stage_and_accept(client, {"name": "A"}, "k1")
    live_server.faults.latency = 0.15
    async with await http_client(live_server, parallelism=2) as client:
        started = time.monotonic()
        await asyncio.gather(*(client.read(draft_id) for _ in range(4)))
        elapsed = time.monotonic() - started
    # Four requests through two connections take two rounds of the latency.
    assert elapsed >= 0.3


async def test_unreachable_catalog_is_unavailable_after_the_attempts():
    with socket_closed_port() as port:
        settings = ClientSettings(base_url=f"http://127.0.0.1:{port}", retry=FAST)
        async with CatalogClient(settings) as client:
            with pytest.raises(UnavailableError) as info:
                await client.soft_patch({"name": "X"}, idempotency_key="k")
    text = str(info.value)
    assert text.startswith("could not connect to the catalog")
    assert f"127.0.0.1:{port}" in text
    assert "gave up after 4 attempts" in text


def socket_closed_port():
    """A context manager yielding a loopback port nothing listens on."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def reserve():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            # Bound but not listening: connections to it are refused.
            yield sock.getsockname()[1]

    return reserve()


async def test_right_token_is_accepted_and_a_wrong_one_is_an_auth_error(live_server_factory):
    server = live_server_factory(token=TOKEN)
    async with await http_client(server, token=TOKEN) as client:
        await client.soft_patch({"name": "X"}, idempotency_key="k")
    async with await http_client(server, token="wrong-token") as client:
        with pytest.raises(AuthError) as info:
            await client.read("d")
    assert info.value.status == 401
    assert "Set CATALOG_TOKEN" in describe(info.value)


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_token_never_appears_in_errors_reprs_or_logs(live_server_factory, caplog, transport):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "aiohttp", "aiohttp.client", "asyncio", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    server = live_server_factory(token=TOKEN)
    seen: list[str] = []
    events: list[RetryEvent] = []

    def make(token: str) -> CatalogClient:
        settings = ClientSettings(base_url=server.base_url, token=token, retry=FAST)
        chosen = httpx.AsyncHTTPTransport() if transport == "httpx" else None
        client = CatalogClient(settings, chosen, on_retry=events.append)
        seen.extend([repr(settings), str(settings), repr(client)])
        return client

    async with make(TOKEN) as client:
        server.faults.drop_next_response()
        server.faults.fail_next_writes(1)
        staged = await client.soft_patch({"name": "X"}, idempotency_key="k")
        server.faults.rate_limit_next(1, retry_after=0)
        await client.ack("k", accept=True, draft_id=staged.draft_id)
        seen.append(repr(staged))
        failures = [
            client.read("missing"),
            client.soft_patch({"provider": "Nopeco"}, idempotency_key="k2"),
            client.ack("k", accept=False, draft_id=staged.draft_id),
        ]
        for call in failures:
            with pytest.raises(Exception) as info:  # noqa: PT011 - any error: we inspect its text
                await call
            seen.extend([str(info.value), repr(info.value), repr(info.value.args)])
    async with make(TOKEN[::-1]) as client:
        with pytest.raises(AuthError) as info:
            await client.read("missing")
        seen.extend([str(info.value), repr(info.value)])
    server.faults.fail_next_writes(10)
    async with make(TOKEN) as client:
        with pytest.raises(UnavailableError) as info:
            await client.ack("k", accept=True)
        seen.extend([str(info.value), repr(info.value)])
    seen.extend(str(e) for e in events)

    assert events, "the faults should have caused retries"
    assert caplog.records, "the loggers should have recorded something"
    for text in seen:
        assert TOKEN not in text
    assert TOKEN not in caplog.text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
