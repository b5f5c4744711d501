"""Concurrent requests and several apps over one file: every write commits whole, once."""

from __future__ import annotations

import asyncio

import httpx

from reconciler.server import create_app


async def test_concurrent_writes_and_reads_all_succeed(catalog):
    draft = await catalog.create(name="shared")
    creates = [catalog.post({"name": f"m{i}", "idempotency_key": f"c{i}"}) for i in range(15)]
    proposals = [catalog.soft(f"k{i}", draft["draft_id"], name=f"p{i}") for i in range(15)]
    reads = [catalog.post({"draft_id": draft["draft_id"]}) for _ in range(15)]
    replies = await asyncio.gather(*creates, *proposals, *reads)
    assert [reply.status for reply in replies] == [200] * 45
    assert len({reply.body["draft_id"] for reply in replies[:15]}) == 15
    pending = (await catalog.read(draft["draft_id"]))["pending_ids"]
    assert pending == sorted(f"k{i}" for i in range(15))


async def test_concurrent_accepts_on_one_draft_let_exactly_one_win(catalog):
    draft = await catalog.create(name="live")
    for i in range(5):
        await catalog.soft(f"k{i}", draft["draft_id"], name=f"p{i}")
    replies = await asyncio.gather(*(catalog.ack(f"k{i}", accept=True) for i in range(5)))
    assert sorted(reply.status for reply in replies) == [200, 409, 409, 409, 409]
    assert (await catalog.read(draft["draft_id"]))["revision"] == 2


async def test_two_apps_over_one_file_see_each_others_writes(tmp_path):
    path = tmp_path / "catalog.sqlite3"
    first, second = create_app(path), create_app(path)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(first), base_url="http://a") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(second), base_url="http://b") as b,
    ):
        created = (await a.post("/model/draft", json={"name": "m"})).json()
        draft_id = created["draft_id"]
        staged = await b.post(
            "/model/draft",
            json={"soft": True, "idempotency_key": "k1", "draft_id": draft_id, "name": "n"},
        )
        assert staged.status_code == 200
        retry = await a.post(
            "/model/draft",
            json={"soft": True, "idempotency_key": "k1", "draft_id": draft_id, "name": "n"},
        )
        assert retry.headers["Idempotent-Replayed"] == "true"
        accepted = await a.post("/model/draft", json={"idempotency_key": "k1", "accept": True})
        assert accepted.json()["form_state"]["name"] == "n"
        read = await b.post("/model/draft", json={"draft_id": draft_id})
        assert read.json()["form_state"] == accepted.json()["form_state"]
    first.state.database.close()
    second.state.database.close()
