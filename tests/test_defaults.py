"""Defaults layering: later layers win, both forms of a field at once, flag_ids rules the flags."""

from __future__ import annotations

from reconciler.manifests.defaults import MergeConflict, effective_fields, merge_specs


def test_later_layers_win_field_by_field():
    merged, conflicts = merge_specs(
        [
            {"provider": "OpenAI", "departments": ["Research"], "pricing_enabled": True},
            {"departments": ["Support"]},
            {"name": "Model", "pricing_enabled": False},
        ]
    )
    assert conflicts == []
    assert merged == {
        "name": "Model",
        "provider": "OpenAI",
        "pricing_enabled": False,
        "departments": ["Support"],
    }


def test_merged_fields_follow_the_api_order():
    merged, _ = merge_specs([{"voices": ["alloy"]}, {"name": "x", "active": True}])
    assert list(merged) == ["name", "active", "voices"]


def test_one_form_of_a_field_replaces_the_other():
    merged, _ = merge_specs(
        [
            {"provider": "OpenAI", "department_ids": ["d-1"], "pricing_ids": ["p-1"]},
            {"provider_id": "p-9", "departments": ["Sales"], "pricing": []},
        ]
    )
    assert merged == {"provider_id": "p-9", "departments": ["Sales"], "pricing": []}


def test_text_field_id_replaces_the_text():
    merged, _ = merge_specs([{"name": "Old"}, {"name_id": "n-1"}])
    assert merged == {"name_id": "n-1"}


def test_flag_ids_replaces_every_flag_boolean_above_it():
    merged, conflicts = merge_specs(
        [{"active": False, "voices_enabled": True, "name": "x"}, {"flag_ids": ["f-1"]}]
    )
    assert (merged, conflicts) == ({"name": "x", "flag_ids": ["f-1"]}, [])


def test_flag_boolean_below_flag_ids_is_a_conflict_not_an_override():
    merged, conflicts = merge_specs([{"flag_ids": ["f-1"]}, {}, {"active": True, "name": "x"}])
    assert conflicts == [MergeConflict(layer=2, field="active", flag_ids_layer=0)]
    assert merged == {"name": "x", "flag_ids": ["f-1"]}


def test_flag_booleans_beside_flag_ids_in_one_layer_are_left_to_the_document_rules():
    _, conflicts = merge_specs([{"flag_ids": ["f-1"], "active": True}])
    assert conflicts == []


def test_each_merge_gets_its_own_lists():
    defaults = {"departments": ["Research"], "pricing": [{"label": "input"}]}
    first, _ = merge_specs([defaults, {}])
    second, _ = merge_specs([defaults, {}])
    first["departments"].append("Sales")
    first["pricing"][0]["label"] = "changed"
    assert second == {"departments": ["Research"], "pricing": [{"label": "input"}]}
    assert defaults == {"departments": ["Research"], "pricing": [{"label": "input"}]}


def test_active_defaults_to_true_unless_flag_ids_is_managed():
    assert effective_fields({"name": "x"}) == {"name": "x", "active": True}
    assert effective_fields({"active": False}) == {"active": False}
    assert effective_fields({"flag_ids": []}) == {"flag_ids": []}


def test_the_last_layers_values_are_kept_and_the_defaults_copied():
    defaults = {"departments": ["Research"]}
    own = {"modalities": ["text"], "pricing": [{"label": "input"}]}
    merged, _ = merge_specs([defaults, own])
    assert merged["modalities"] is own["modalities"]
    assert merged["pricing"] is own["pricing"]
    assert merged["departments"] == defaults["departments"]
    assert merged["departments"] is not defaults["departments"]
