"""Contract: Soft patch and ack (proposals, dormant state, staleness, several pending)."""

from __future__ import annotations

import server_refs as refs


async def test_soft_patch_leaves_the_live_state_unchanged(catalog):
    draft = await catalog.create(name="live", active=True)
    staged = await catalog.soft("k1", draft["draft_id"], name="proposed")
    assert staged.status == 200
    live = await catalog.read(draft["draft_id"])
    assert {k: v for k, v in live.items() if k != "pending_ids"} == {
        k: v for k, v in draft.items() if k != "pending_ids"
    }


async def test_soft_patch_answers_the_proposed_state_dormant_with_its_key_pending(catalog):
    draft = await catalog.create(name="live", active=True, departments=["Sales"])
    reply = await catalog.soft("k1", draft["draft_id"], name="proposed", active=True)
    form = reply.form
    assert reply.body["idempotency_key"] == "k1"
    assert form["name"] == "proposed"
    assert form["departments"] == ["Sales"]  # untouched fields come from the live state
    assert form["active"] is False  # dormant whatever the proposal says
    assert refs.flag("model_active", False) in form["flag_ids"]
    assert refs.flag("model_active", True) not in form["flag_ids"]
    assert form["pending_ids"] == ["k1"]
    assert form["revision"] == draft["revision"]


async def test_soft_patch_without_draft_id_reserves_a_draft_that_reads_404(catalog):
    reply = await catalog.soft("new-1", name="fresh")
    draft_id = reply.body["draft_id"]
    assert reply.form["draft_id"] == draft_id
    assert reply.form["pending_ids"] == ["new-1"]
    assert reply.form["revision"] == 0  # staged on nothing
    read = await catalog.post({"draft_id": draft_id})
    assert read.status == 404
    assert "new-1" in read.body["message"]


async def test_each_new_draft_proposal_reserves_its_own_draft_id(catalog):
    first = await catalog.soft("new-1", name="a")
    second = await catalog.soft("new-2", name="a")
    assert first.body["draft_id"] != second.body["draft_id"]


async def test_accept_applies_the_proposal_and_answers_the_live_state(catalog):
    draft = await catalog.create(name="live", active=False)
    await catalog.soft("k1", draft["draft_id"], name="proposed", active=True)
    reply = await catalog.ack("k1", accept=True)
    form = reply.form
    assert reply.body["idempotency_key"] == "k1"
    assert (form["name"], form["active"], form["revision"]) == ("proposed", True, 2)
    assert form["pending_ids"] == []
    assert await catalog.read(draft["draft_id"]) == form


async def test_accept_keeps_active_when_the_proposal_did_not_set_it(catalog):
    draft = await catalog.create(name="live", active=True)
    await catalog.soft("k1", draft["draft_id"], description="d")
    form = (await catalog.ack("k1", accept=True)).form
    assert form["active"] is True
    assert form["description"] == "d"


async def test_accept_of_a_new_draft_makes_it_live(catalog):
    staged = await catalog.soft("new-1", name="fresh", provider="openai", active=True)
    form = (await catalog.ack("new-1", accept=True)).form
    assert form["draft_id"] == staged.body["draft_id"]
    assert (form["name"], form["provider"], form["active"], form["revision"]) == (
        "fresh",
        "OpenAI",
        True,
        1,
    )
    assert await catalog.read(staged.body["draft_id"]) == form


async def test_accepted_new_draft_whose_proposal_did_not_set_active_is_inactive(catalog):
    await catalog.soft("new-1", name="fresh")
    form = (await catalog.ack("new-1", accept=True)).form
    assert form["active"] is False


async def test_ack_may_name_the_draft_of_the_proposal(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="proposed")
    reply = await catalog.ack("k1", accept=True, draft_id=draft["draft_id"])
    assert reply.form["name"] == "proposed"


async def test_ack_naming_another_draft_is_422_and_decides_nothing(catalog):
    draft = await catalog.create(name="live")
    other = await catalog.create(name="other")
    await catalog.soft("k1", draft["draft_id"], name="proposed")
    reply = await catalog.ack("k1", accept=True, draft_id=other["draft_id"])
    assert reply.status == 422
    assert reply.error_fields == ["draft_id"]
    assert (await catalog.read(draft["draft_id"]))["pending_ids"] == ["k1"]


async def test_reject_discards_the_proposal_and_answers_the_live_state(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="proposed")
    reply = await catalog.ack("k1", accept=False)
    assert reply.form["name"] == "live"
    assert reply.form["pending_ids"] == []
    assert await catalog.read(draft["draft_id"]) == reply.form


async def test_reject_of_a_new_draft_proposal_leaves_no_draft(catalog):
    staged = await catalog.soft("new-1", name="fresh")
    reply = await catalog.ack("new-1", accept=False)
    assert reply.status == 200
    assert reply.body["success"] is True
    assert reply.body["draft_id"] == staged.body["draft_id"]
    assert reply.body["form_state"] is None
    assert (await catalog.post({"draft_id": staged.body["draft_id"]})).status == 404


async def test_accept_of_a_proposal_staled_by_a_hard_patch_is_409_and_stays_pending(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="proposed")
    await catalog.post({"draft_id": draft["draft_id"], "description": "changed meanwhile"})
    reply = await catalog.ack("k1", accept=True)
    assert reply.status == 409
    assert "stale" in reply.body["message"]
    live = await catalog.read(draft["draft_id"])
    assert live["name"] == "live"
    assert live["pending_ids"] == ["k1"]


async def test_accept_of_a_proposal_staled_by_another_accept_is_409(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="first")
    await catalog.soft("k2", draft["draft_id"], name="second")
    assert (await catalog.ack("k1", accept=True)).status == 200
    reply = await catalog.ack("k2", accept=True)
    assert reply.status == 409
    live = await catalog.read(draft["draft_id"])
    assert live["name"] == "first"
    assert live["pending_ids"] == ["k2"]


async def test_reject_of_a_stale_proposal_works(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="proposed")
    await catalog.post({"draft_id": draft["draft_id"], "name": "changed"})
    assert (await catalog.ack("k1", accept=True)).status == 409
    reply = await catalog.ack("k1", accept=False)
    assert reply.form["name"] == "changed"
    assert reply.form["pending_ids"] == []


async def test_a_change_that_leaves_the_state_as_it_was_does_not_stale_proposals(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k1", draft["draft_id"], name="proposed")
    await catalog.post({"draft_id": draft["draft_id"], "name": "live"})
    assert (await catalog.ack("k1", accept=True)).form["name"] == "proposed"


async def test_several_proposals_pend_at_once_listed_sorted_on_reads(catalog):
    draft = await catalog.create(name="live")
    for key in ("kb", "ka", "kc"):
        await catalog.soft(key, draft["draft_id"], name=key)
    assert (await catalog.read(draft["draft_id"]))["pending_ids"] == ["ka", "kb", "kc"]
    await catalog.ack("kb", accept=False)
    assert (await catalog.read(draft["draft_id"]))["pending_ids"] == ["ka", "kc"]


async def test_soft_patch_shows_every_pending_key_of_the_draft(catalog):
    draft = await catalog.create(name="live")
    await catalog.soft("k2", draft["draft_id"], name="two")
    reply = await catalog.soft("k1", draft["draft_id"], name="one")
    assert reply.form["pending_ids"] == ["k1", "k2"]
    assert reply.form["name"] == "one"  # each proposal is staged on the live state


async def test_invalid_soft_patch_is_422_at_staging_and_stages_nothing(catalog):
    draft = await catalog.create(name="live")
    reply = await catalog.soft("k1", draft["draft_id"], provider="Acme")
    assert reply.status == 422
    assert (await catalog.read(draft["draft_id"]))["pending_ids"] == []
    assert (await catalog.ack("k1", accept=True)).status == 404


async def test_soft_patch_of_an_unknown_draft_is_404(catalog):
    reply = await catalog.soft("k1", "no-such-draft", name="m")
    assert reply.status == 404


async def test_soft_patch_of_a_draft_reserved_by_a_pending_proposal_is_404(catalog):
    staged = await catalog.soft("new-1", name="fresh")
    reply = await catalog.soft("k2", staged.body["draft_id"], name="more")
    assert reply.status == 404


async def test_ack_of_an_unknown_key_is_404(catalog):
    reply = await catalog.ack("never-staged", accept=True)
    assert reply.status == 404
    assert "never-staged" in reply.body["message"]


async def test_ack_of_a_hard_patch_key_is_404(catalog):
    draft = await catalog.create(name="a")
    await catalog.post({"draft_id": draft["draft_id"], "name": "b", "idempotency_key": "hard-1"})
    assert (await catalog.ack("hard-1", accept=True)).status == 404
