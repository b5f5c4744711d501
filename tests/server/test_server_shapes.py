"""Contract: Request shapes (which operation a body is) and revision/read behaviour."""

from __future__ import annotations


async def test_read_returns_the_live_state_and_changes_nothing(catalog):
    created = await catalog.create(name="m", active=True)
    first = await catalog.read(created["draft_id"])
    second = await catalog.read(created["draft_id"])
    assert first == second == created


async def test_read_of_an_unknown_draft_is_404(catalog):
    reply = await catalog.post({"draft_id": "00000000-0000-0000-0000-000000000000"})
    assert reply.status == 404
    assert "unknown draft_id" in reply.body["message"]


async def test_create_applies_the_fields_at_once(catalog):
    reply = await catalog.post({"name": "m", "provider": "OpenAI", "active": True})
    form = reply.form
    assert reply.body["draft_id"] == form["draft_id"]
    assert (form["name"], form["provider"], form["active"], form["revision"]) == (
        "m",
        "OpenAI",
        True,
        1,
    )
    assert form["pending_ids"] == []
    assert await catalog.read(form["draft_id"]) == form


async def test_create_gives_each_draft_a_new_id(catalog):
    first = await catalog.create(name="m")
    second = await catalog.create(name="m")
    assert first["draft_id"] != second["draft_id"]


async def test_hard_patch_applies_the_fields_at_once(catalog):
    draft = await catalog.create(name="m")
    reply = await catalog.post({"draft_id": draft["draft_id"], "description": "d"})
    assert reply.form["description"] == "d"
    assert reply.form["revision"] == 2
    assert (await catalog.read(draft["draft_id"]))["description"] == "d"


async def test_hard_patch_of_an_unknown_draft_is_404(catalog):
    reply = await catalog.post({"draft_id": "missing", "name": "m"})
    assert reply.status == 404


async def test_revision_counts_every_change_of_the_live_state(catalog):
    draft = await catalog.create(name="a")
    for expected, name in ((2, "b"), (3, "c")):
        form = (await catalog.post({"draft_id": draft["draft_id"], "name": name})).form
        assert form["revision"] == expected


async def test_patch_that_changes_nothing_keeps_the_revision(catalog):
    draft = await catalog.create(name="a")
    form = (await catalog.post({"draft_id": draft["draft_id"], "name": "a"})).form
    assert form["revision"] == 1


async def test_input_draft_id_is_an_alias_of_draft_id(catalog):
    draft = await catalog.create(name="a")
    patched = (await catalog.post({"input_draft_id": draft["draft_id"], "name": "b"})).form
    assert patched["draft_id"] == draft["draft_id"]
    assert patched["name"] == "b"
    read = await catalog.post({"input_draft_id": draft["draft_id"]})
    assert read.form == patched


async def test_draft_id_and_input_draft_id_that_agree_are_accepted(catalog):
    draft = await catalog.create(name="a")
    draft_id = draft["draft_id"]
    reply = await catalog.post({"draft_id": draft_id, "input_draft_id": draft_id, "name": "b"})
    assert reply.form["name"] == "b"


async def test_draft_id_and_input_draft_id_that_differ_are_422(catalog):
    draft = await catalog.create(name="a")
    reply = await catalog.post(
        {"draft_id": draft["draft_id"], "input_draft_id": "other", "name": "b"}
    )
    assert reply.status == 422
    assert reply.error_fields == ["input_draft_id"]
    assert (await catalog.read(draft["draft_id"]))["name"] == "a"


async def test_soft_without_idempotency_key_is_400(catalog):
    reply = await catalog.post({"soft": True, "name": "m"})
    assert reply.status == 400
    assert "idempotency_key" in reply.body["message"]


async def test_soft_false_is_a_hard_patch(catalog):
    draft = await catalog.create(name="a")
    form = (await catalog.post({"draft_id": draft["draft_id"], "soft": False, "name": "b"})).form
    assert form["name"] == "b"
    assert form["pending_ids"] == []


async def test_ack_with_model_fields_is_422(catalog):
    staged = await catalog.soft("k", name="m")
    reply = await catalog.post({"idempotency_key": "k", "accept": True, "name": "other"})
    assert reply.status == 422
    assert reply.error_fields == ["name"]
    assert (await catalog.post({"draft_id": staged.body["draft_id"]})).status == 404


async def test_ack_with_soft_is_422(catalog):
    await catalog.soft("k", name="m")
    reply = await catalog.post({"idempotency_key": "k", "accept": True, "soft": True})
    assert reply.status == 422
    assert reply.error_fields == ["soft"]


async def test_accept_without_idempotency_key_is_422(catalog):
    reply = await catalog.post({"accept": True})
    assert reply.status == 422
    assert reply.error_fields == ["idempotency_key"]


async def test_unknown_top_level_field_is_422_naming_it(catalog):
    reply = await catalog.post({"name": "m", "colour": "blue"})
    assert reply.status == 422
    assert reply.error_fields == ["colour"]
    assert "colour" in reply.body["message"]


async def test_unknown_field_inside_a_pricing_entry_is_422(catalog):
    entry = {"label": "input", "unit": "1M", "amount": "1", "currency": "USD", "tier": "x"}
    reply = await catalog.post({"pricing": [entry]})
    assert reply.status == 422
    assert reply.error_fields == ["pricing[0].tier"]


async def test_wrong_type_is_422_naming_the_field(catalog):
    reply = await catalog.post({"name": "m", "active": "yes", "departments": "Sales"})
    assert reply.status == 422
    assert sorted(reply.error_fields) == ["active", "departments"]


async def test_null_fields_count_as_absent(catalog):
    draft = await catalog.create(name="a", description="d")
    reply = await catalog.post({"draft_id": draft["draft_id"], "name": None, "soft": None})
    assert reply.form == draft  # a read: nothing changed


async def test_request_with_no_operation_is_422(catalog):
    reply = await catalog.post({})
    assert reply.status == 422
    assert "draft_id" in reply.body["message"]


async def test_read_with_an_idempotency_key_is_422(catalog):
    draft = await catalog.create(name="a")
    reply = await catalog.post({"draft_id": draft["draft_id"], "idempotency_key": "k"})
    assert reply.status == 422


async def test_empty_draft_id_is_422(catalog):
    reply = await catalog.post({"draft_id": "", "name": "m"})
    assert reply.status == 422
    assert reply.error_fields == ["draft_id"]


async def test_empty_idempotency_key_is_422(catalog):
    reply = await catalog.soft("", name="m")
    assert reply.status == 422
    assert reply.error_fields == ["idempotency_key"]


async def test_pending_ids_in_a_request_are_stored_as_given(catalog):
    draft = await catalog.create(name="m", pending_ids=["ticket-2", "ticket-1"])
    assert draft["pending_ids"] == ["ticket-1", "ticket-2"]
    assert (await catalog.read(draft["draft_id"]))["pending_ids"] == ["ticket-1", "ticket-2"]
