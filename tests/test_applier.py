"""The applier against the local catalog in-process: stale proposals, keys, convergence."""

from __future__ import annotations

import sqlite3

import pytest
from rich.console import Console

from reconciler.apply.applier import Applier, idempotency_key
from reconciler.apply.state import StateStore
from reconciler.cli.progress import Progress, ProgressMode
from reconciler.manifests.model import DesiredModel
from reconciler.planning.normalize import normalize_live
from reconciler.planning.planner import build_plan
from reconciler.server import create_app
from tests.fake_catalog import ForwardingCatalog


def _now() -> str:
    return "2026-11-25T00:00:00+00:00"


class InterferingCatalog(ForwardingCatalog):
    """Someone else changes the draft between our soft patch and our ack, ``times`` times."""

    def __init__(self, app, *, times: int) -> None:
        super().__init__(app)
        self.times = times

    async def ack(self, idempotency_key, *, accept, draft_id=None):
        if accept and self.times > 0 and draft_id is not None:
            self.times -= 1
            await self.edit(draft_id, description=f"edit {self.times}")
        return await super().ack(idempotency_key, accept=accept, draft_id=draft_id)


@pytest.fixture
def app(tmp_path):
    return create_app(tmp_path / "catalog.sqlite3")


def _client(app, cls=ForwardingCatalog, **kwargs) -> ForwardingCatalog:
    return cls(app, **kwargs)


def _progress() -> Progress:
    return Progress(ProgressMode.NONE, Console(quiet=True), "test", 0)


async def _apply(client, store, desired, records_live=None):
    doc = store.load()
    live = {}
    for key, record in doc.models.items():
        live[key] = await client.read(record.draft_id)
    plan = build_plan(desired, doc.models, live)
    applier = Applier(client, store, doc, {m.key: m for m in desired}, parallelism=4, now=_now)
    return plan, await applier.apply(plan, _progress())


MODEL = DesiredModel(
    key="gpt-4o",
    fields={"name": "GPT-4o", "provider": "OpenAI", "description": "omni", "active": True},
)


async def test_stale_proposal_is_rejected_and_the_model_replanned_once(app, tmp_path):
    store = StateStore(tmp_path / "state.json")
    async with _client(app) as client:
        await _apply(client, store, [MODEL])
    changed = DesiredModel(key="gpt-4o", fields={**MODEL.fields, "name": "GPT-4o (2024-11)"})
    async with _client(app, InterferingCatalog, times=1) as client:
        _, result = await _apply(client, store, [changed])
        (outcome,) = result.outcomes
        assert outcome.status == "applied", outcome.message
        draft_id = store.load().models["gpt-4o"].draft_id
        live = await client.read(draft_id)
    assert live.name == "GPT-4o (2024-11)"
    # The re-plan also restored the description the interference changed.
    assert live.description == "omni"
    assert live.pending_ids == []
    assert store.load().journal == {}


async def test_a_second_conflict_is_reported_and_nothing_stays_pending(app, tmp_path):
    store = StateStore(tmp_path / "state.json")
    async with _client(app) as client:
        await _apply(client, store, [MODEL])
    changed = DesiredModel(key="gpt-4o", fields={**MODEL.fields, "name": "GPT-4o v3"})
    async with _client(app, InterferingCatalog, times=2) as client:
        _, result = await _apply(client, store, [changed])
        (outcome,) = result.outcomes
        assert outcome.status == "failed"
        assert "changed again" in outcome.message
        live = await client.read(store.load().models["gpt-4o"].draft_id)
    assert live.name == "GPT-4o"
    assert live.pending_ids == []
    assert store.load().journal == {}


async def test_the_same_change_gets_the_same_key_and_a_revert_gets_another(app, tmp_path):
    store = StateStore(tmp_path / "state.json")
    async with _client(app) as client:
        await _apply(client, store, [MODEL])
        doc = store.load()
        record = doc.models["gpt-4o"]
        live = await client.read(record.draft_id)
        renamed = DesiredModel(key="gpt-4o", fields={**MODEL.fields, "name": "X"})
        first = build_plan([renamed], doc.models, {"gpt-4o": live}).changes[0]
        again = build_plan([renamed], doc.models, {"gpt-4o": live}).changes[0]
        assert idempotency_key(first) == idempotency_key(again)
        await _apply(client, store, [renamed])
        await _apply(client, store, [MODEL])
        doc = store.load()
        live = await client.read(record.draft_id)
        later = build_plan([renamed], doc.models, {"gpt-4o": live}).changes[0]
    assert later.patch == first.patch
    assert idempotency_key(later) != idempotency_key(first)


async def test_state_records_the_live_draft_after_the_ack(app, tmp_path):
    store = StateStore(tmp_path / "state.json")
    async with _client(app) as client:
        _, result = await _apply(client, store, [MODEL])
        record = store.load().models["gpt-4o"]
        live = await client.read(record.draft_id)
    assert result.outcomes[0].status == "applied"
    assert record.last_applied == normalize_live(live, MODEL.fields)
    assert record.applied_at == _now()


class Crash(BaseException):
    """The process dies: raised after a request reached the catalog, before its answer is used."""


class CrashingCatalog(ForwardingCatalog):
    """The catalog commits the ``crash_on`` operation, then the process dies before using it."""

    def __init__(self, app, *, crash_on: str) -> None:
        super().__init__(app)
        self.crash_on = crash_on

    async def soft_patch(self, fields, *, idempotency_key, draft_id=None):
        response = await super().soft_patch(
            fields, idempotency_key=idempotency_key, draft_id=draft_id
        )
        if self.crash_on == "soft_patch":
            raise Crash
        return response

    async def ack(self, idempotency_key, *, accept, draft_id=None):
        response = await super().ack(idempotency_key, accept=accept, draft_id=draft_id)
        if self.crash_on == "ack":
            raise Crash
        return response


async def _crash_applying(app, store, desired, *, crash_on, prune=False):
    async with _client(app, CrashingCatalog, crash_on=crash_on) as client:
        doc = store.load()
        live = {k: await client.read(r.draft_id) for k, r in doc.models.items()}
        plan = build_plan(desired, doc.models, live, prune=prune)
        applier = Applier(client, store, doc, {m.key: m for m in desired}, parallelism=1, now=_now)
        with pytest.raises(Crash):
            await applier.apply(plan, _progress())


async def _settle(app, store, desired):
    async with _client(app) as client:
        doc = store.load()
        applier = Applier(client, store, doc, {m.key: m for m in desired}, parallelism=1, now=_now)
        return await applier.settle(_progress())


async def test_an_accepted_deactivation_whose_manifest_came_back_keeps_the_model(app, tmp_path):
    store = StateStore(tmp_path / "state.json")
    async with _client(app) as client:
        await _apply(client, store, [MODEL])
    draft_id = store.load().models["gpt-4o"].draft_id
    # apply --prune dies right after the catalog accepted the deactivation ...
    await _crash_applying(app, store, [], crash_on="ack", prune=True)
    assert list(store.load().journal) == ["gpt-4o"]
    # ... and the manifest is restored before the next apply.
    await _settle(app, store, [MODEL])
    doc = store.load()
    assert doc.journal == {}
    # The draft still exists and is the model's: forgetting it would create a duplicate.
    assert doc.models["gpt-4o"].draft_id == draft_id
    async with _client(app) as client:
        plan, result = await _apply(client, store, [MODEL])
        live = await client.read(draft_id)
    assert [c.action for c in plan.changes] == ["update"]
    assert result.outcomes[0].status == "applied", result.outcomes[0].message
    assert live.active is True


async def test_a_change_made_again_after_a_revert_is_applied_without_a_refresh(app, tmp_path):
    store = StateStore(tmp_path / "state.json")
    renamed = DesiredModel(key="gpt-4o", fields={**MODEL.fields, "name": "GPT-4o (renamed)"})
    async with _client(app) as client:
        await _apply(client, store, [MODEL])
        draft_id = store.load().models["gpt-4o"].draft_id
        for desired in (renamed, MODEL, renamed):
            doc = store.load()
            # --refresh=false: planned against the state alone, no live fingerprint.
            plan = build_plan([desired], doc.models, {}, refreshed=False)
            applier = Applier(client, store, doc, {"gpt-4o": desired}, parallelism=1, now=_now)
            (outcome,) = (await applier.apply(plan, _progress())).outcomes
            assert outcome.status == "applied", outcome.message
            live = await client.read(draft_id)
            assert live.name == desired.fields["name"]


def _live_drafts(db_path) -> list[str]:
    with sqlite3.connect(db_path) as db:
        return sorted(row[0] for row in db.execute("SELECT id FROM drafts"))


async def test_a_create_accepted_before_a_crash_is_not_made_twice_after_its_key_expired(tmp_path):
    clock = [1_000_000.0]
    app = create_app(tmp_path / "catalog.sqlite3", clock=lambda: clock[0])
    store = StateStore(tmp_path / "state.json")
    await _crash_applying(app, store, [MODEL], crash_on="ack")
    (draft_id,) = _live_drafts(tmp_path / "catalog.sqlite3")
    # The rerun comes after the catalog's 24 hours: it no longer knows the key.
    clock[0] += 25 * 60 * 60
    await _settle(app, store, [MODEL])
    assert _live_drafts(tmp_path / "catalog.sqlite3") == [draft_id]
    doc = store.load()
    assert doc.journal == {}
    assert doc.models["gpt-4o"].draft_id == draft_id
    async with _client(app) as client:
        plan, _ = await _apply(client, store, [MODEL])
        assert (await client.read(draft_id)).pending_ids == []
    assert [c.action for c in plan.changes] == ["noop"]
    assert _live_drafts(tmp_path / "catalog.sqlite3") == [draft_id]


class TerseCatalog(ForwardingCatalog):
    """A catalog that answers an accept without ``form_state``, which the contract allows."""

    async def ack(self, idempotency_key, *, accept, draft_id=None):
        response = await super().ack(idempotency_key, accept=accept, draft_id=draft_id)
        return response.model_copy(update={"form_state": None})


async def test_an_accept_answered_without_form_state_keeps_the_model_and_checks_it(app, tmp_path):
    store = StateStore(tmp_path / "state.json")
    changed = DesiredModel(key="gpt-4o", fields={**MODEL.fields, "name": "GPT-4o (renamed)"})
    async with _client(app, TerseCatalog) as client:
        for desired in (MODEL, changed):
            _, result = await _apply(client, store, [desired])
            (outcome,) = result.outcomes
            assert outcome.status == "applied", outcome.message
            record = store.load().models["gpt-4o"]
            live = await client.read(record.draft_id)
            assert record.last_applied == normalize_live(live, desired.fields)
    assert live.name == "GPT-4o (renamed)"
    assert len(_live_drafts(tmp_path / "catalog.sqlite3")) == 1
