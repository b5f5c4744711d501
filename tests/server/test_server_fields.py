"""Contract: Field semantics (patch semantics, labels and ids, text resources)."""

from __future__ import annotations

import pytest
import server_refs as refs

from reconciler.server.reference import resource_id

LIST_FIELDS = [
    ("departments", "department_ids", ["Sales", "Research"]),
    ("modalities", "modality_ids", ["text", "image"]),
    ("qualities", "quality_ids", ["hd", "draft"]),
    ("reasoning_levels", "reasoning_level_ids", ["low", "high"]),
    ("temperature_levels", "temperature_level_ids", ["creative", "balanced"]),
    ("voices", "voice_ids", ["verse", "alloy"]),
]


async def test_only_the_given_fields_change(catalog):
    draft = await catalog.create(name="a", description="d", departments=["Sales"], active=True)
    patched = (await catalog.post({"draft_id": draft["draft_id"], "name": "b"})).form
    unchanged = {k: v for k, v in patched.items() if k not in ("name", "name_id", "revision")}
    assert unchanged == {k: v for k, v in draft.items() if k not in ("name", "name_id", "revision")}


async def test_a_given_list_replaces_the_whole_list(catalog):
    draft = await catalog.create(departments=["Sales", "Legal"])
    form = (await catalog.post({"draft_id": draft["draft_id"], "departments": ["Research"]})).form
    assert form["departments"] == ["Research"]


async def test_an_empty_list_empties_the_list(catalog):
    draft = await catalog.create(departments=["Sales"], voices=["alloy"])
    form = (
        await catalog.post({"draft_id": draft["draft_id"], "departments": [], "voice_ids": []})
    ).form
    assert (form["departments"], form["department_ids"], form["voices"]) == ([], [], [])


async def test_empty_string_clears_a_text_field(catalog):
    draft = await catalog.create(name="a", description="d")
    form = (await catalog.post({"draft_id": draft["draft_id"], "description": ""})).form
    assert (form["description"], form["description_id"]) == (None, None)
    assert form["name"] == "a"


async def test_empty_id_clears_a_text_field(catalog):
    draft = await catalog.create(name="a")
    form = (await catalog.post({"draft_id": draft["draft_id"], "name_id": ""})).form
    assert (form["name"], form["name_id"]) == (None, None)


async def test_empty_string_clears_the_provider(catalog):
    draft = await catalog.create(provider="OpenAI")
    form = (await catalog.post({"draft_id": draft["draft_id"], "provider": ""})).form
    assert (form["provider"], form["provider_id"]) == (None, None)


async def test_labels_match_ignoring_case_and_surrounding_space(catalog):
    form = await catalog.create(provider="  openai ", departments=[" sALES", "research  "])
    assert form["provider"] == "OpenAI"
    assert form["provider_id"] == refs.provider("OpenAI")
    assert form["departments"] == ["Research", "Sales"]


@pytest.mark.parametrize(("labels_field", "ids_field", "labels"), LIST_FIELDS)
async def test_each_list_field_reports_canonical_labels_sorted_with_aligned_ids(
    catalog, labels_field, ids_field, labels
):
    form = await catalog.create(**{labels_field: [label.upper() for label in labels]})
    assert form[labels_field] == sorted(labels, key=str.casefold)
    assert form[ids_field] == [resource_id(labels_field, label) for label in form[labels_field]]


async def test_lists_sort_case_insensitively(catalog):
    form = await catalog.create(voices=["zeta", "Beta", "alloy"])
    assert form["voices"] == ["alloy", "Beta", "zeta"]
    assert form["voice_ids"] == [refs.voice("alloy"), refs.voice("Beta"), refs.voice("zeta")]


async def test_ids_may_be_given_instead_of_labels(catalog):
    form = await catalog.create(
        provider_id=refs.provider("Anthropic"),
        department_ids=[refs.department("Legal"), refs.department("Engineering")],
    )
    assert form["provider"] == "Anthropic"
    assert form["departments"] == ["Engineering", "Legal"]


async def test_unknown_label_is_422_naming_the_field_and_the_label(catalog):
    reply = await catalog.post({"name": "m", "departments": ["Sales", "Astrology"]})
    assert reply.status == 422
    assert reply.error_fields == ["departments"]
    assert "departments" in reply.body["message"]
    assert "Astrology" in reply.body["message"]


async def test_unknown_provider_label_is_422_naming_the_field_and_the_label(catalog):
    reply = await catalog.post({"provider": "Acme"})
    assert reply.status == 422
    assert "provider" in reply.body["message"]
    assert "Acme" in reply.body["message"]


async def test_unknown_voice_label_is_created(catalog):
    form = await catalog.create(voices=["Nova"])
    assert form["voices"] == ["Nova"]
    assert form["voice_ids"] == [refs.voice("Nova")]


async def test_created_voice_is_matched_later_with_its_first_spelling(catalog):
    first = await catalog.create(voices=["Nova"])
    second = await catalog.create(voices=[" NOVA "])
    assert second["voices"] == ["Nova"]
    assert second["voice_ids"] == first["voice_ids"]


async def test_unknown_identifier_is_422(catalog):
    reply = await catalog.post({"department_ids": ["not-a-department"]})
    assert reply.status == 422
    assert reply.error_fields == ["department_ids"]
    assert "not-a-department" in reply.body["message"]


async def test_unknown_voice_identifier_is_422(catalog):
    reply = await catalog.post({"voice_ids": [refs.voice("never-created")]})
    assert reply.status == 422


async def test_identifier_of_another_kind_is_422(catalog):
    reply = await catalog.post({"provider_id": refs.department("Sales")})
    assert reply.status == 422
    assert reply.error_fields == ["provider_id"]


async def test_label_and_id_forms_naming_the_same_resources_are_accepted(catalog):
    form = await catalog.create(
        provider="openai",
        provider_id=refs.provider("OpenAI"),
        departments=["Sales", "Legal"],
        department_ids=[refs.department("Legal"), refs.department("Sales")],
    )
    assert form["departments"] == ["Legal", "Sales"]
    assert form["provider"] == "OpenAI"


async def test_label_and_id_forms_that_disagree_are_422(catalog):
    reply = await catalog.post(
        {"departments": ["Sales"], "department_ids": [refs.department("Legal")]}
    )
    assert reply.status == 422
    assert reply.error_fields == ["department_ids"]


async def test_provider_label_and_id_that_disagree_are_422(catalog):
    reply = await catalog.post({"provider": "OpenAI", "provider_id": refs.provider("Google")})
    assert reply.status == 422
    assert reply.error_fields == ["provider_id"]


async def test_duplicate_label_is_422_even_in_another_case(catalog):
    reply = await catalog.post({"departments": ["Sales", " sales"]})
    assert reply.status == 422
    assert reply.error_fields == ["departments"]
    assert "duplicate" in reply.body["message"]


async def test_duplicate_voice_label_is_422_and_creates_nothing(catalog):
    reply = await catalog.post({"voices": ["Nova", "nova"]})
    assert reply.status == 422
    assert (await catalog.post({"voice_ids": [refs.voice("Nova")]})).status == 422


async def test_duplicate_identifier_is_422(catalog):
    sales = refs.department("Sales")
    reply = await catalog.post({"department_ids": [sales, sales]})
    assert reply.status == 422
    assert "duplicate" in reply.body["message"]


async def test_empty_label_is_422(catalog):
    reply = await catalog.post({"modalities": ["text", "  "]})
    assert reply.status == 422
    assert reply.error_fields == ["modalities"]


async def test_every_invalid_field_is_reported_at_once(catalog):
    reply = await catalog.post(
        {"provider": "Acme", "modalities": ["smell"], "department_ids": ["x"], "name_id": "y"}
    )
    assert sorted(reply.error_fields) == ["department_ids", "modalities", "name_id", "provider"]


async def test_invalid_request_changes_nothing(catalog):
    draft = await catalog.create(name="a", voices=["alloy"])
    reply = await catalog.post(
        {"draft_id": draft["draft_id"], "name": "b", "voices": ["Nova"], "provider": "Acme"}
    )
    assert reply.status == 422
    assert await catalog.read(draft["draft_id"]) == draft
    # The voice the refused request would have created does not exist either.
    assert (await catalog.post({"voice_ids": [refs.voice("Nova")]})).status == 422


async def test_same_text_gives_the_same_text_id(catalog):
    first = await catalog.create(name="GPT-4o", description="fast")
    second = await catalog.create(name="GPT-4o")
    assert first["name_id"] == second["name_id"]
    assert first["name_id"] != first["description_id"]


async def test_other_text_gives_another_text_id(catalog):
    first = await catalog.create(name="GPT-4o")
    second = await catalog.create(name="gpt-4o")
    assert first["name_id"] != second["name_id"]


async def test_text_id_points_at_an_existing_text(catalog):
    first = await catalog.create(description="shared words")
    second = await catalog.create(description_id=first["description_id"])
    assert second["description"] == "shared words"


async def test_unknown_text_id_is_422(catalog):
    reply = await catalog.post({"value_id": "no-such-text"})
    assert reply.status == 422
    assert reply.error_fields == ["value_id"]


async def test_text_id_of_another_text_field_is_422(catalog):
    first = await catalog.create(name="shared")
    reply = await catalog.post({"description_id": first["name_id"]})
    assert reply.status == 422


async def test_text_and_its_id_agreeing_are_accepted(catalog):
    first = await catalog.create(value="v1")
    form = await catalog.create(value="v1", value_id=first["value_id"])
    assert form["value_id"] == first["value_id"]


async def test_text_and_id_that_disagree_are_422(catalog):
    first = await catalog.create(value="v1")
    reply = await catalog.post({"value": "v2", "value_id": first["value_id"]})
    assert reply.status == 422
    assert reply.error_fields == ["value_id"]


async def test_strings_are_set_as_given(catalog):
    form = await catalog.create(name="  spaced Name  ")
    assert form["name"] == "  spaced Name  "
