"""Contract: Transport, and Responses and errors (body shape, statuses, auth)."""

from __future__ import annotations

import server_refs as refs

TOKEN = "s3cret-token-value"


async def test_server_with_token_refuses_a_request_without_it(open_catalog):
    catalog = await open_catalog(token=TOKEN)
    reply = await catalog.post({"name": "m"})
    assert reply.status == 401
    assert reply.body["success"] is False
    assert "token" in reply.body["message"]
    assert reply.headers["WWW-Authenticate"] == "Bearer"


async def test_server_with_token_refuses_another_token(open_catalog):
    catalog = await open_catalog(token=TOKEN, headers={"Authorization": "Bearer other"})
    reply = await catalog.post({"name": "m"})
    assert reply.status == 401


async def test_server_with_token_refuses_the_token_under_another_scheme(open_catalog):
    catalog = await open_catalog(token=TOKEN, headers={"Authorization": f"Basic {TOKEN}"})
    assert (await catalog.post({"name": "m"})).status == 401


async def test_refused_request_changes_nothing(open_catalog):
    guarded = await open_catalog(token=TOKEN, headers={"Authorization": f"Bearer {TOKEN}"})
    draft = await guarded.create(name="before")
    reply = await guarded.post(
        {"draft_id": draft["draft_id"], "name": "after"}, headers={"Authorization": "Bearer no"}
    )
    assert reply.status == 401
    # The token is checked before the body is read, so the 401 cannot echo the draft id.
    assert reply.body["draft_id"] == ""
    assert (await guarded.read(draft["draft_id"]))["name"] == "before"


async def test_server_with_token_accepts_the_right_token(open_catalog):
    catalog = await open_catalog(token=TOKEN, headers={"Authorization": f"Bearer {TOKEN}"})
    form = await catalog.create(name="m")
    assert form["name"] == "m"


async def test_401_never_echoes_the_token(open_catalog):
    catalog = await open_catalog(token=TOKEN, headers={"Authorization": f"Bearer {TOKEN}x"})
    reply = await catalog.post({"name": "m"})
    assert reply.status == 401
    assert TOKEN not in str(reply.body)
    assert TOKEN not in str(dict(reply.headers))


async def test_server_without_token_accepts_every_request(open_catalog):
    catalog = await open_catalog(headers={"Authorization": "Bearer anything"})
    assert (await catalog.create(name="m"))["name"] == "m"
    catalog.headers.clear()
    assert (await catalog.create(name="n"))["name"] == "n"


async def test_body_that_is_not_json_is_400(catalog):
    reply = await catalog.post(content=b"{not json")
    assert reply.status == 400
    assert reply.body == {"success": False, "draft_id": "", "message": reply.body["message"]}
    assert "not JSON" in reply.body["message"]


async def test_empty_body_is_400(catalog):
    assert (await catalog.post(content=b"")).status == 400


async def test_json_that_is_not_an_object_is_400(catalog):
    reply = await catalog.post(content=b'["draft_id"]')
    assert reply.status == 400
    assert "JSON object" in reply.body["message"]


async def test_body_is_json_whatever_the_content_type(catalog):
    # curl -d sends application/x-www-form-urlencoded; the body is still JSON.
    reply = await catalog.post(
        content=b'{"name": "curl"}', headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert reply.form["name"] == "curl"


async def test_error_body_carries_the_given_draft_id(catalog):
    reply = await catalog.post({"draft_id": "no-such-draft"})
    assert reply.status == 404
    assert reply.body["draft_id"] == "no-such-draft"
    assert reply.body["success"] is False
    assert "no-such-draft" in reply.body["message"]


async def test_error_body_carries_an_empty_draft_id_when_none_was_given(catalog):
    reply = await catalog.post({"provider": "Nobody"})
    assert reply.status == 422
    assert reply.body["draft_id"] == ""


async def test_error_body_echoes_the_idempotency_key(catalog):
    reply = await catalog.soft("key-1", provider="Nobody")
    assert reply.status == 422
    assert reply.body["idempotency_key"] == "key-1"


async def test_422_lists_field_errors(catalog):
    reply = await catalog.post({"provider": "Nobody", "departments": ["Nowhere"]})
    assert reply.status == 422
    assert sorted(reply.error_fields) == ["departments", "provider"]
    assert all(error["message"] for error in reply.body["errors"])


async def test_success_body_has_the_documented_fields(catalog):
    reply = await catalog.post({"name": "m"})
    assert set(reply.body) == {"success", "draft_id", "message", "form_state"}
    assert reply.body["success"] is True
    assert reply.body["draft_id"] == reply.form["draft_id"]
    assert reply.headers["content-type"] == "application/json"


async def test_form_state_has_every_documented_field(catalog):
    form = await catalog.create(name="m", provider_id=refs.provider("OpenAI"))
    expected = {
        "draft_id", "revision", "name", "name_id", "description", "description_id", "value",
        "value_id", "provider", "provider_id", "flag_ids", "active", "modalities_enabled",
        "temperature_enabled", "pricing_enabled", "voices_enabled", "reasoning_levels_enabled",
        "qualities_enabled", "departments", "department_ids", "modalities", "modality_ids",
        "qualities", "quality_ids", "reasoning_levels", "reasoning_level_ids",
        "temperature_levels", "temperature_level_ids", "voices", "voice_ids", "pricing",
        "pricing_ids", "pending_ids",
    }  # fmt: skip
    assert set(form) == expected


async def test_unknown_path_answers_in_the_response_shape(catalog):
    response = await catalog.client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["success"] is False
    assert "POST /model/draft" in response.json()["message"]


async def test_get_on_the_endpoint_is_405_in_the_response_shape(catalog):
    response = await catalog.client.get("/model/draft")
    assert response.status_code == 405
    assert response.json()["success"] is False


async def test_utf8_text_round_trips(catalog):
    form = await catalog.create(name="Modèle ✓ 模型")
    assert (await catalog.read(form["draft_id"]))["name"] == "Modèle ✓ 模型"


async def test_responses_are_utf8_json(catalog):
    response = await catalog.client.post("/model/draft", json={"name": "é"})
    assert response.headers["content-type"] == "application/json"
    assert '"name": "é"'.encode() in response.content  # UTF-8 text, not \u escapes
