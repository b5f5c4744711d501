"""The rules beside the type check: both forms, flags, duplicates; on raw YAML values."""

from __future__ import annotations

from reconciler.manifests.rules import RuleIssue, document_issues


def issues(spec: object, lifecycle: object = None) -> list[RuleIssue]:
    document = {"spec": spec}
    if lifecycle is not None:
        document["lifecycle"] = lifecycle
    return document_issues(document)


def test_a_clean_spec_breaks_no_rule():
    spec = {
        "provider": "OpenAI",
        "departments": ["Research", "Support"],
        "pricing": [
            {"label": "input", "unit": "1M tokens", "currency": "USD"},
            {"label": "input", "unit": "1M tokens", "currency": "EUR"},
        ],
    }
    assert issues(spec) == []


def test_both_forms_of_any_field_are_reported_at_the_identifier():
    found = issues({"name": "x", "name_id": "n", "pricing": [], "pricing_ids": []})
    assert [(i.path, i.at_key) for i in found] == [
        (("spec", "name_id"), True),
        (("spec", "pricing_ids"), True),
    ]


def test_each_flag_boolean_beside_flag_ids_is_reported():
    found = issues({"flag_ids": [], "active": True, "voices_enabled": False})
    assert [i.path for i in found] == [("spec", "active"), ("spec", "voices_enabled")]
    assert "flag_ids is the complete, canonical flag selection" in found[0].message


def test_labels_are_duplicates_case_insensitively_after_trimming():
    found = issues({"voices": ["alloy", " Alloy ", "echo"]})
    assert found == [
        RuleIssue(
            ("spec", "voices", 1),
            "' Alloy ' is listed twice: same as spec.voices[0] (labels match case-insensitively)",
        )
    ]


def test_identifiers_are_duplicates_only_when_equal():
    assert issues({"voice_ids": ["v-1", "V-1"]}) == []
    assert [i.path for i in issues({"flag_ids": ["f", "f"]})] == [("spec", "flag_ids", 1)]


def test_blank_items_are_reported_and_empty_ones_left_to_the_type_check():
    assert issues({"departments": ["", "  "]}) == [
        RuleIssue(("spec", "departments", 1), "must not be blank")
    ]


def test_duplicate_ignore_changes_entry_is_reported():
    found = issues({}, {"ignore_changes": ["name", "name"]})
    assert [i.path for i in found] == [("lifecycle", "ignore_changes", 1)]


def test_values_of_the_wrong_type_are_left_to_the_type_check():
    spec = {"departments": "Research", "pricing": [1, {"label": 2}], "voices": [1, 1]}
    assert issues(spec) == []
    assert document_issues([]) == []
    assert issues(None) == []
