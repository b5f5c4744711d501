"""Fault injection, over real HTTP: 503, lost responses, 429 with Retry-After, latency."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from reconciler.server import FaultInjector


async def test_failed_write_is_503_and_applies_nothing(http_catalog):
    draft = await http_catalog.create(name="live")
    http_catalog.faults.fail_next_writes(1)
    reply = await http_catalog.soft("k1", draft["draft_id"], name="p")
    assert reply.status == 503
    assert reply.body["success"] is False
    assert (await http_catalog.read(draft["draft_id"]))["pending_ids"] == []
    retry = await http_catalog.soft("k1", draft["draft_id"], name="p")
    assert retry.status == 200
    assert not retry.replayed  # nothing was stored for the failed attempt


async def test_fail_write_counts_writes_from_the_start(open_catalog):
    catalog = await open_catalog(faults=FaultInjector(fail_write=2))
    assert (await catalog.post({"name": "first"})).status == 200
    assert (await catalog.post({"name": "second"})).status == 503
    assert (await catalog.post({"name": "third"})).status == 200


async def test_dropped_response_still_commits_and_the_retry_replays(http_catalog):
    draft = await http_catalog.create(name="live")
    http_catalog.faults.drop_next_response()
    with pytest.raises(httpx.RemoteProtocolError):
        await http_catalog.soft("k1", draft["draft_id"], name="p")
    assert (await http_catalog.read(draft["draft_id"]))["pending_ids"] == ["k1"]
    retry = await http_catalog.soft("k1", draft["draft_id"], name="p")
    assert retry.status == 200
    assert retry.replayed
    assert retry.form["name"] == "p"


async def test_dropped_ack_response_still_commits_and_the_retry_replays(http_catalog):
    draft = await http_catalog.create(name="live")
    await http_catalog.soft("k1", draft["draft_id"], name="p")
    http_catalog.faults.drop_next_response()
    with pytest.raises(httpx.RemoteProtocolError):
        await http_catalog.ack("k1", accept=True)
    assert (await http_catalog.read(draft["draft_id"]))["name"] == "p"
    retry = await http_catalog.ack("k1", accept=True)
    assert retry.replayed
    assert retry.form["revision"] == 2


async def test_rate_limit_answers_429_with_retry_after_then_recovers(http_catalog):
    http_catalog.faults.rate_limit_next(2, retry_after=7)
    for _ in range(2):
        reply = await http_catalog.post({"name": "m", "idempotency_key": "c1"})
        assert reply.status == 429
        assert reply.headers["Retry-After"] == "7"
        assert "7 seconds" in reply.body["message"]
    created = await http_catalog.post({"name": "m", "idempotency_key": "c1"})
    assert created.status == 200
    assert not created.replayed  # the rate-limited attempts applied nothing


async def test_rate_limit_applies_to_reads_too(http_catalog):
    draft = await http_catalog.create(name="m")
    http_catalog.faults.rate_limit_next(1)
    assert (await http_catalog.post({"draft_id": draft["draft_id"]})).status == 429
    assert (await http_catalog.post({"draft_id": draft["draft_id"]})).status == 200


async def test_capacity_answers_429_past_that_many_requests_in_flight(http_catalog):
    draft = await http_catalog.create(name="m")
    http_catalog.faults.latency = 0.3
    http_catalog.faults.capacity = 2
    http_catalog.faults.retry_after = 3
    replies = await asyncio.gather(
        *(http_catalog.post({"draft_id": draft["draft_id"]}) for _ in range(4))
    )
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [200, 200, 429, 429]
    refused = next(reply for reply in replies if reply.status == 429)
    assert refused.headers["Retry-After"] == "3"
    # The places are given back: the next requests are served.
    again = await asyncio.gather(
        *(http_catalog.post({"draft_id": draft["draft_id"]}) for _ in range(2))
    )
    assert [reply.status for reply in again] == [200, 200]


async def test_latency_delays_every_request(http_catalog):
    draft = await http_catalog.create(name="m")
    http_catalog.faults.latency = 0.2
    started = time.monotonic()
    await http_catalog.read(draft["draft_id"])
    assert (await http_catalog.post({"draft_id": "missing"})).status == 404
    assert time.monotonic() - started >= 0.4


async def test_write_counter_counts_writes_and_not_reads(http_catalog):
    draft = await http_catalog.create(name="m")
    await http_catalog.read(draft["draft_id"])
    await http_catalog.soft("k1", draft["draft_id"], name="p")
    await http_catalog.soft("k1", draft["draft_id"], name="p")  # a replay is a write request
    await http_catalog.post({"provider": "Acme"})  # so is a refused one
    await http_catalog.read(draft["draft_id"])
    assert http_catalog.faults.writes == 4


async def test_reset_turns_every_fault_off(http_catalog):
    faults = http_catalog.faults
    faults.fail_next_writes(3)
    faults.drop_next_response()
    faults.rate_limit_next(5)
    faults.latency = 1.0
    faults.reset()
    assert (await http_catalog.post({"name": "m"})).status == 200
    assert "latency=0.0" in repr(faults)
