import pytest
from plan_builders import desired, live, price

from reconciler.catalog.wire import PatchModelDraftApiRequest
from reconciler.planning import diff as diff_module
from reconciler.planning.diff import (
    compare,
    create_patch,
    diff_create,
    diff_model,
    drift,
    field_order,
    update_patch,
)
from reconciler.planning.normalize import normalize_desired, normalize_live
from reconciler.planning.plan import FieldChange


def against(model, draft):
    """Diff a desired model against a live draft, as the planner does."""
    wanted = normalize_desired(model)
    return diff_model(model, wanted, normalize_live(draft, wanted))


def test_unchanged_models_never_reach_deepdiff(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("DeepDiff called for an unchanged model")

    monkeypatch.setattr(diff_module, "DeepDiff", refuse)
    model = desired(provider="openai", departments=["b", "a"], pricing=[price("in", "0.60")])
    draft = live(
        provider="OpenAI",
        departments=["A", "B"],
        pricing=[price("in", "0.6", id="p-1")],
        pricing_ids=["p-1"],
    )
    result = against(model, draft)
    assert result.field_changes == ()
    assert result.patch == {}


def test_a_scalar_change_has_before_and_after():
    result = against(desired(name="New", active=True), live(name="Old", active=True))
    assert result.field_changes == (FieldChange(field="name", before="Old", after="New"),)
    assert result.patch == {"name": "New"}


def test_list_changes_name_items_added_and_removed_in_each_sides_spelling():
    result = against(
        desired(departments=["research", "legal"]), live(departments=["Research", "Support"])
    )
    (change,) = result.field_changes
    assert change.field == "departments"
    assert change.before == ["Research", "Support"]
    assert change.after == ["legal", "research"]
    assert change.added == ("legal",)
    assert change.removed == ("Support",)


def test_pricing_changes_show_entries_without_ids():
    result = against(
        desired(pricing=[price("input", "0.15"), price("output", "0.70")]),
        live(
            pricing=[price("input", "0.15", id="p-1"), price("output", "0.60", id="p-2")],
            pricing_ids=["p-1", "p-2"],
        ),
    )
    (change,) = result.field_changes
    assert change.added == (price("output", "0.7"),)
    assert change.removed == (price("output", "0.6"),)
    assert all("id" not in entry for entry in change.before)


def test_the_patch_holds_only_changed_fields_as_written():
    model = desired(
        name="Same",
        provider="anthropic",
        departments=["support", "Research"],
        modalities=["text"],
        active=True,
    )
    draft = live(
        name="Same",
        provider="OpenAI",
        departments=["Research"],
        modalities=["Text"],
        active=True,
    )
    assert against(model, draft).patch == {
        "provider": "anthropic",
        "departments": ["support", "Research"],
    }


def test_the_patch_uses_identifiers_when_the_manifest_does():
    model = desired(provider_id="prov-2", department_ids=["dep-1", "dep-3"])
    draft = live(provider_id="prov-1", department_ids=["dep-1"])
    assert against(model, draft).patch == {
        "provider_id": "prov-2",
        "department_ids": ["dep-1", "dep-3"],
    }


def test_a_changed_price_creates_the_new_entry_and_keeps_the_other_ids():
    model = desired(pricing=[price("input", "0.15"), price("output", "0.70", "usd")])
    draft = live(
        pricing=[price("input", "0.150", id="p-1"), price("output", "0.60", id="p-2")],
        pricing_ids=["p-1", "p-2"],
    )
    assert against(model, draft).patch == {
        "pricing": [price("output", "0.70", "usd")],
        "pricing_ids": ["p-1"],
    }


def test_a_dropped_price_sends_only_the_kept_ids():
    model = desired(pricing=[price("input", "0.15")])
    draft = live(
        pricing=[price("input", "0.15", id="p-1"), price("output", "0.60", id="p-2")],
        pricing_ids=["p-1", "p-2"],
    )
    assert against(model, draft).patch == {"pricing_ids": ["p-1"]}


def test_emptying_pricing_sends_an_empty_id_list():
    draft = live(pricing=[price("input", "1", id="p-1")], pricing_ids=["p-1"])
    assert against(desired(pricing=[]), draft).patch == {"pricing_ids": []}


def test_a_duplicated_price_keeps_one_id_and_creates_the_second():
    model = desired(pricing=[price("input", "1"), price("input", "1.0")])
    draft = live(pricing=[price("input", "1", id="p-1")], pricing_ids=["p-1"])
    assert against(model, draft).patch == {
        "pricing": [price("input", "1.0")],
        "pricing_ids": ["p-1"],
    }


def test_pricing_ids_alone_are_sent_as_written():
    model = desired(pricing_ids=["p-3", "p-1"])
    draft = live(pricing=[price("a", "1", id="p-1")], pricing_ids=["p-1"])
    assert against(model, draft).patch == {"pricing_ids": ["p-3", "p-1"]}


def test_pricing_by_id_and_by_content_together_are_compared_part_by_part():
    model = desired(pricing_ids=["p-1"], pricing=[price("output", "0.6")])
    matching = live(
        pricing=[price("input", "9", id="p-1"), price("output", "0.60", id="p-2")],
        pricing_ids=["p-1", "p-2"],
    )
    assert against(model, matching).patch == {}
    changed = live(
        pricing=[price("input", "9", id="p-1"), price("output", "0.50", id="p-2")],
        pricing_ids=["p-1", "p-2"],
    )
    assert against(model, changed).patch == {
        "pricing": [price("output", "0.6")],
        "pricing_ids": ["p-1"],
    }


def test_clearing_a_text_sends_an_empty_string():
    assert against(desired(description=None), live(description="old")).patch == {"description": ""}


def test_every_patch_is_a_valid_request():
    model = desired(
        name="N",
        provider="openai",
        voices=["alloy"],
        active=False,
        pricing=[price("in", "2")],
    )
    patch = against(model, live(active=True)).patch
    request = PatchModelDraftApiRequest(**patch)
    assert request.to_wire() == patch


def test_ignored_fields_are_neither_compared_nor_patched():
    model = desired(name="N", description="mine", ignore=("description",))
    assert against(model, live(name="N", description="theirs")).patch == {}


def test_a_new_draft_gets_every_field_including_ignored_ones():
    model = desired(
        name="N",
        description="first text",
        value=None,
        provider="",
        pricing=[price("in", "1")],
        ignore=("description",),
    )
    result = diff_create(model)
    assert result.patch == {
        "name": "N",
        "description": "first text",
        "pricing": [price("in", "1")],
    }
    assert [c.field for c in result.field_changes] == ["name", "description", "pricing"]
    assert result.field_changes[2].added == (price("in", "1"),)
    assert all(c.before is None for c in result.field_changes)


def test_create_patch_never_sends_pricing_ids_of_entries():
    patch = create_patch(desired(pricing=[{"id": "stale", **price("in", "1")}]))
    assert patch == {"pricing": [price("in", "1")]}


def test_a_field_absent_from_the_baseline_is_a_change():
    (change,) = compare({}, {"departments": ["A"]}, ["departments"])
    assert change == FieldChange(field="departments", before=None, after=["A"], added=("A",))


def test_a_list_against_null_lists_every_item():
    (change,) = compare({"voices": None}, {"voices": ["x"]}, ["voices"])
    assert change.added == ("x",)
    assert change.removed == ()


def test_drift_skips_fields_that_were_never_applied():
    last_applied = {"name": "A"}
    now = {"name": "B", "description": "new"}
    assert drift(last_applied, now, ["name", "description"]) == (
        FieldChange(field="name", before="A", after="B"),
    )


def test_fields_come_in_the_order_the_api_documents():
    assert field_order(["pricing", "active", "name", "provider"]) == [
        "name",
        "provider",
        "active",
        "pricing",
    ]


def test_update_patch_of_nothing_is_empty():
    assert update_patch(desired(name="N"), {}, []) == {}


@pytest.mark.parametrize(
    ("field", "written"),
    [("name", ""), ("provider", ""), ("provider_id", None)],
)
def test_single_strings_are_cleared_with_an_empty_string(field, written):
    model = desired(**{field: written})
    assert against(model, live(**{field: "something"})).patch == {field: ""}


def test_a_price_kept_by_id_and_an_equal_new_price_are_both_kept():
    # pricing_ids keeps p-1 and the manifest wants one more entry of the same content:
    # that entry must be created, not matched against the id already kept.
    model = desired(pricing_ids=["p-1"], pricing=[price("input", "1")])
    draft = live(pricing=[price("input", "1", id="p-1")], pricing_ids=["p-1"])
    assert against(model, draft).patch == {
        "pricing": [price("input", "1")],
        "pricing_ids": ["p-1"],
    }


def test_three_equal_prices_against_two_create_the_third():
    model = desired(pricing=[price("input", "1"), price("input", "1.0"), price("input", "1.00")])
    draft = live(
        pricing=[price("input", "1", id="p-1"), price("input", "1.0", id="p-2")],
        pricing_ids=["p-1", "p-2"],
    )
    result = against(model, draft)
    assert result.patch == {"pricing": [price("input", "1.00")], "pricing_ids": ["p-1", "p-2"]}
    (change,) = result.field_changes
    assert change.added == (price("input", "1"),)
    assert change.removed == ()


def test_id_list_changes_name_the_ids_added_and_removed():
    model = desired(department_ids=["dep-2", "dep-1"], flag_ids=["f-1"])
    draft = live(department_ids=["dep-3", "dep-1"], flag_ids=["f-1", "f-2"])
    assert against(model, draft).field_changes == (
        FieldChange(field="flag_ids", before=["f-1", "f-2"], after=["f-1"], removed=("f-2",)),
        FieldChange(
            field="department_ids",
            before=["dep-1", "dep-3"],
            after=["dep-1", "dep-2"],
            added=("dep-2",),
            removed=("dep-3",),
        ),
    )


def test_an_ignored_pricing_ids_is_never_sent():
    model = desired(pricing_ids=["p-9"], pricing=[price("input", "1")], ignore=("pricing_ids",))
    draft = live(
        pricing=[price("input", "1", id="p-1"), price("output", "2", id="p-2")],
        pricing_ids=["p-1", "p-2"],
    )
    assert against(model, draft).patch == {"pricing_ids": ["p-1"]}


def test_pricing_ids_with_pricing_ignored_are_sent_alone():
    model = desired(pricing_ids=["p-2"], pricing=[price("input", "1")], ignore=("pricing",))
    draft = live(pricing=[price("input", "1", id="p-1")], pricing_ids=["p-1"])
    assert against(model, draft).patch == {"pricing_ids": ["p-2"]}


def test_pricing_drift_shows_both_sides_without_ids():
    before = [price("input", "1", id="p-1")]
    after = [price("input", "2", id="p-2"), price("output", "3", id="p-3")]
    assert drift({"pricing": before}, {"pricing": after}, ["pricing"]) == (
        FieldChange(
            field="pricing",
            before=[price("input", "1")],
            after=[price("input", "2"), price("output", "3")],
            added=(price("input", "2"), price("output", "3")),
            removed=(price("input", "1"),),
        ),
    )


def test_kept_ids_that_changed_alone_are_sent_with_the_ids_of_wanted_content():
    # pricing_ids changes (p-9 is new) while the priced part is already right.
    model = desired(pricing_ids=["p-1", "p-9"], pricing=[price("output", "2")])
    draft = live(
        pricing=[price("input", "1", id="p-1"), price("output", "2", id="p-2")],
        pricing_ids=["p-1", "p-2"],
    )
    result = against(model, draft)
    assert [c.field for c in result.field_changes] == ["pricing_ids"]
    assert result.patch == {"pricing_ids": ["p-1", "p-2", "p-9"]}


def test_fields_the_api_does_not_document_come_last():
    assert field_order(["x-unknown", "voices", "name"]) == ["name", "voices", "x-unknown"]
