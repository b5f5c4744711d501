"""Contract: Idempotency (replay, key reuse, keys in flight, acks, retention)."""

from __future__ import annotations

import asyncio
import sqlite3

from reconciler.server.idempotency import RETENTION_SECONDS


def count_drafts(catalog) -> int:
    with sqlite3.connect(catalog.db_path) as db:
        return db.execute("SELECT count(*) FROM drafts").fetchone()[0]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_retried_soft_patch_replays_the_first_response(catalog):
    draft = await catalog.create(name="live")
    first = await catalog.soft("k1", draft["draft_id"], name="proposed")
    retry = await catalog.soft("k1", draft["draft_id"], name="proposed")
    assert not first.replayed
    assert retry.replayed
    assert (retry.status, retry.body) == (first.status, first.body)
    assert (await catalog.read(draft["draft_id"]))["pending_ids"] == ["k1"]


async def test_retried_new_draft_soft_patch_reserves_no_second_draft(catalog):
    first = await catalog.soft("new-1", name="fresh")
    retry = await catalog.soft("new-1", name="fresh")
    assert retry.replayed
    assert retry.body["draft_id"] == first.body["draft_id"]
    await catalog.ack("new-1", accept=True)
    assert count_drafts(catalog) == 1


async def test_retried_create_with_a_key_creates_one_draft(catalog):
    first = await catalog.post({"name": "m", "idempotency_key": "create-1"})
    retry = await catalog.post({"name": "m", "idempotency_key": "create-1"})
    assert retry.replayed
    assert retry.body == first.body
    assert count_drafts(catalog) == 1


async def test_retried_hard_patch_with_a_key_applies_once(catalog):
    draft = await catalog.create(name="a", pricing=[])
    body = {
        "draft_id": draft["draft_id"],
        "idempotency_key": "hard-1",
        "pricing": [{"label": "input", "unit": "1M", "amount": "1", "currency": "USD"}],
    }
    first = await catalog.post(body)
    retry = await catalog.post(body)
    assert retry.replayed
    assert retry.body == first.body
    live = await catalog.read(draft["draft_id"])
    assert len(live["pricing"]) == 1  # a second apply would have created a second entry
    assert live["revision"] == 2


async def test_replay_answers_the_first_response_even_after_the_draft_changed(catalog):
    draft = await catalog.create(name="live")
    first = await catalog.soft("k1", draft["draft_id"], name="proposed")
    await catalog.ack("k1", accept=True)
    retry = await catalog.soft("k1", draft["draft_id"], name="proposed")
    assert retry.replayed
    assert retry.body == first.body
    assert (await catalog.read(draft["draft_id"]))["pending_ids"] == []


async def test_null_fields_and_key_order_do_not_change_the_fingerprint(catalog):
    draft = await catalog.create(name="live")
    first = await catalog.post(
        {"soft": True, "idempotency_key": "k1", "draft_id": draft["draft_id"], "name": "p"}
    )
    retry = await catalog.post(
        {"name": "p", "draft_id": draft["draft_id"], "idempotency_key": "k1", "soft": True,
         "description": None}
    )  # fmt: skip
    assert retry.replayed
    assert retry.body == first.body


async def test_same_key_with_another_body_is_422_and_the_first_operation_stands(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="first")
    reply = await catalog.soft("k1", draft["draft_id"], name="second")
    assert reply.status == 422
    assert reply.error_fields == ["idempotency_key"]
    assert "k1" in reply.body["message"]
    form = (await catalog.ack("k1", accept=True)).form
    assert form["name"] == "first"


async def test_a_key_used_by_a_soft_patch_cannot_name_a_hard_patch(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="p")
    reply = await catalog.post(
        {"draft_id": draft["draft_id"], "name": "p", "idempotency_key": "k1"}
    )
    assert reply.status == 422


async def test_a_refused_request_does_not_use_up_its_key(catalog):
    draft = await catalog.create(name="live")
    refused = await catalog.soft("k1", draft["draft_id"], provider="Acme")
    assert refused.status == 422
    again = await catalog.soft("k1", draft["draft_id"], provider="Acme")
    assert again.status == 422
    assert not again.replayed
    fixed = await catalog.soft("k1", draft["draft_id"], provider="Anthropic")
    assert fixed.form["provider"] == "Anthropic"


async def test_request_whose_key_is_in_flight_is_409(catalog):
    draft = await catalog.create(name="live")
    catalog.faults.latency = 0.3
    first, second = await asyncio.gather(
        catalog.soft("k1", draft["draft_id"], name="p"),
        catalog.soft("k1", draft["draft_id"], name="p"),
    )
    catalog.faults.latency = 0
    assert sorted([first.status, second.status]) == [200, 409]
    conflict = first if first.status == 409 else second
    assert "still being processed" in conflict.body["message"]
    retry = await catalog.soft("k1", draft["draft_id"], name="p")
    assert retry.replayed
    assert (await catalog.read(draft["draft_id"]))["pending_ids"] == ["k1"]


async def test_ack_while_its_soft_patch_is_in_flight_is_409(catalog):
    draft = await catalog.create(name="live")
    catalog.faults.latency = 0.3
    staging = asyncio.create_task(catalog.soft("k1", draft["draft_id"], name="p"))
    await asyncio.sleep(0.1)
    ack = await catalog.ack("k1", accept=True)
    assert (await staging).status == 200
    catalog.faults.latency = 0
    assert ack.status == 409


async def test_repeated_accept_replays(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="p")
    first = await catalog.ack("k1", accept=True)
    await catalog.post({"draft_id": draft["draft_id"], "description": "later"})
    retry = await catalog.ack("k1", accept=True)
    assert retry.replayed
    assert (retry.status, retry.body) == (first.status, first.body)
    assert (await catalog.read(draft["draft_id"]))["revision"] == 3


async def test_repeated_reject_replays(catalog):
    staged = await catalog.soft("new-1", name="fresh")
    first = await catalog.ack("new-1", accept=False)
    retry = await catalog.ack("new-1", accept=False, draft_id=staged.body["draft_id"])
    assert retry.replayed
    assert retry.body == first.body


async def test_reject_after_accept_is_409(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="p")
    await catalog.ack("k1", accept=True)
    reply = await catalog.ack("k1", accept=False)
    assert reply.status == 409
    assert "already accepted" in reply.body["message"]
    assert (await catalog.read(draft["draft_id"]))["name"] == "p"


async def test_accept_after_reject_is_409(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="p")
    await catalog.ack("k1", accept=False)
    reply = await catalog.ack("k1", accept=True)
    assert reply.status == 409
    assert (await catalog.read(draft["draft_id"]))["name"] == "live"


async def test_stale_accept_is_not_remembered_as_a_decision(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="p")
    await catalog.post({"draft_id": draft["draft_id"], "name": "changed"})
    assert (await catalog.ack("k1", accept=True)).status == 409
    assert (await catalog.ack("k1", accept=True)).status == 409
    assert (await catalog.ack("k1", accept=False)).status == 200


async def test_keys_are_kept_for_at_least_24_hours(open_catalog):
    clock = FakeClock()
    catalog = await open_catalog(clock=clock)
    draft = await catalog.create(name="live")
    first = await catalog.soft("k1", draft["draft_id"], name="p")
    accepted = await catalog.ack("k1", accept=True)
    clock.now += RETENTION_SECONDS - 1
    await catalog.post({"draft_id": draft["draft_id"], "description": "a write purges old keys"})
    assert (await catalog.soft("k1", draft["draft_id"], name="p")).body == first.body
    assert (await catalog.ack("k1", accept=True)).body == accepted.body


async def test_keys_older_than_the_retention_are_forgotten(open_catalog):
    clock = FakeClock()
    catalog = await open_catalog(clock=clock)
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="p")
    await catalog.ack("k1", accept=True)
    clock.now += RETENTION_SECONDS + 1
    assert (await catalog.ack("k1", accept=True)).status == 404
    again = await catalog.soft("k1", draft["draft_id"], name="q")
    assert not again.replayed
    assert again.form["name"] == "q"


async def test_a_pending_proposal_keeps_its_key_past_the_retention(open_catalog):
    clock = FakeClock()
    catalog = await open_catalog(clock=clock)
    draft = await catalog.create(name="live")
    first = await catalog.soft("k1", draft["draft_id"], name="p")
    clock.now += 3 * RETENTION_SECONDS
    assert (await catalog.soft("k1", draft["draft_id"], name="p")).body == first.body
    assert (await catalog.ack("k1", accept=True)).form["name"] == "p"
