"""Contract: Flags (flag_ids canonical, booleans denormalized), and the choices of flags.py."""

from __future__ import annotations

import pytest
import server_refs as refs

from reconciler.catalog.wire import FLAG_BOOLEANS

STAGE = "model_release_stage"


def options_of(form: dict, flag: str) -> set[str]:
    """The selected options of ``flag`` in a form_state, as values."""
    return {
        value for value in ("true", "false", "preview", "ga", "deprecated")
        if refs.flag(flag, value) in form["flag_ids"]
    }  # fmt: skip


def assert_consistent(form: dict) -> None:
    """Every boolean agrees with the option of its flag in flag_ids."""
    for boolean, flag in FLAG_BOOLEANS.items():
        assert options_of(form, flag) == {"true" if form[boolean] else "false"}, boolean


async def test_new_draft_starts_with_every_boolean_false(catalog):
    form = await catalog.create(name="m")
    assert all(form[boolean] is False for boolean in FLAG_BOOLEANS)
    assert sorted(form["flag_ids"]) == sorted(refs.flag(f, False) for f in FLAG_BOOLEANS.values())


@pytest.mark.parametrize("boolean", list(FLAG_BOOLEANS))
async def test_each_boolean_selects_the_option_of_its_flag(catalog, boolean):
    form = await catalog.create(**{boolean: True})
    assert form[boolean] is True
    assert refs.flag(FLAG_BOOLEANS[boolean], True) in form["flag_ids"]
    assert refs.flag(FLAG_BOOLEANS[boolean], False) not in form["flag_ids"]
    assert_consistent(form)


async def test_flag_ids_set_the_booleans(catalog):
    form = await catalog.create(
        flag_ids=[refs.flag("model_active", True), refs.flag("model_voices_enabled", True)]
    )
    assert form["active"] is True
    assert form["voices_enabled"] is True
    assert form["pricing_enabled"] is False
    assert_consistent(form)


async def test_form_state_flag_ids_are_sorted_by_flag_then_option(catalog):
    form = await catalog.create(flag_ids=[refs.flag(STAGE, "ga")], active=True)
    booleans = [
        (flag, "true" if flag == "model_active" else "false") for flag in FLAG_BOOLEANS.values()
    ]
    expected = sorted([*booleans, (STAGE, "ga")])
    assert form["flag_ids"] == [refs.flag(flag, value) for flag, value in expected]


async def test_boolean_flag_missing_from_flag_ids_keeps_its_current_value(catalog):
    draft = await catalog.create(active=True, pricing_enabled=True)
    form = (
        await catalog.post(
            {"draft_id": draft["draft_id"], "flag_ids": [refs.flag("model_voices_enabled", True)]}
        )
    ).form
    assert (form["active"], form["pricing_enabled"], form["voices_enabled"]) == (True, True, True)
    assert_consistent(form)


async def test_boolean_flag_missing_from_flag_ids_takes_the_boolean_given_beside(catalog):
    draft = await catalog.create(active=True)
    form = (
        await catalog.post(
            {"draft_id": draft["draft_id"], "flag_ids": [refs.flag(STAGE, "ga")], "active": False}
        )
    ).form
    assert form["active"] is False
    assert options_of(form, STAGE) == {"ga"}
    assert_consistent(form)


async def test_boolean_agreeing_with_flag_ids_is_accepted(catalog):
    form = await catalog.create(flag_ids=[refs.flag("model_active", True)], active=True)
    assert form["active"] is True


async def test_boolean_disagreeing_with_flag_ids_is_422(catalog):
    reply = await catalog.post({"flag_ids": [refs.flag("model_active", True)], "active": False})
    assert reply.status == 422
    assert reply.error_fields == ["active"]
    assert "model_active" in reply.body["message"]


async def test_two_options_of_one_flag_are_422(catalog):
    reply = await catalog.post(
        {"flag_ids": [refs.flag("model_active", True), refs.flag("model_active", False)]}
    )
    assert reply.status == 422
    assert reply.error_fields == ["flag_ids"]


async def test_two_options_of_a_non_boolean_flag_are_422(catalog):
    reply = await catalog.post({"flag_ids": [refs.flag(STAGE, "ga"), refs.flag(STAGE, "preview")]})
    assert reply.status == 422
    assert STAGE in reply.body["message"]


async def test_unknown_flag_option_is_422(catalog):
    reply = await catalog.post({"flag_ids": ["no-such-option"]})
    assert reply.status == 422
    assert "no-such-option" in reply.body["message"]


async def test_duplicate_flag_option_is_422(catalog):
    option = refs.flag(STAGE, "ga")
    reply = await catalog.post({"flag_ids": [option, option]})
    assert reply.status == 422
    assert "duplicate" in reply.body["message"]


async def test_non_boolean_flag_is_selected_by_flag_ids(catalog):
    form = await catalog.create(flag_ids=[refs.flag(STAGE, "preview")])
    assert options_of(form, STAGE) == {"preview"}
    assert_consistent(form)


async def test_flag_ids_without_a_non_boolean_flag_unselects_it(catalog):
    draft = await catalog.create(flag_ids=[refs.flag(STAGE, "preview")], active=True)
    form = (await catalog.post({"draft_id": draft["draft_id"], "flag_ids": []})).form
    assert options_of(form, STAGE) == set()
    assert form["active"] is True  # boolean flags keep their value


async def test_booleans_alone_leave_other_flags_selected(catalog):
    draft = await catalog.create(flag_ids=[refs.flag(STAGE, "ga")])
    form = (await catalog.post({"draft_id": draft["draft_id"], "qualities_enabled": True})).form
    assert options_of(form, STAGE) == {"ga"}
    assert form["qualities_enabled"] is True
    assert_consistent(form)
