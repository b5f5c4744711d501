"""Validation errors reworded into the manifest's terms, with hints, at the right node."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifests.diagnostics import did_you_mean
from reconciler.manifests.loader import load_report


def problems(tmp_path: Path, text: str) -> list[tuple[int, int, str, str]]:
    (tmp_path / "m.yaml").write_text(text)
    return [(p.line, p.column, p.path, p.message) for p in load_report([tmp_path]).problems]


MODEL = "apiVersion: reconciler/v1\nkind: Model\nmetadata:\n  key: m\n"
DEFAULTS = "apiVersion: reconciler/v1\nkind: Defaults\n"


def test_did_you_mean_prefers_a_case_insensitive_match():
    assert did_you_mean("Name", ["name", "value"]) == "; did you mean 'name'?"
    assert did_you_mean("provder", ["provider", "provider_id"]) == "; did you mean 'provider'?"
    assert did_you_mean("zzz", ["name"]) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MODEL + "name: x\n",
            (5, 1, "name", "unknown field 'name' here: it belongs under spec:"),
        ),
        (
            MODEL + "spec:\n  draft_id: d-1\n",
            (6, 3, "spec.draft_id", "unknown field 'draft_id' here: it belongs under metadata:"),
        ),
        (
            DEFAULTS + "metadata: {key: d}\n",
            (
                3,
                1,
                "metadata",
                "Defaults have no metadata: they apply to every model in their directory and below",
            ),
        ),
        (
            DEFAULTS + "spec:\n  key: d\n",
            (4, 3, "spec.key", "unknown field 'key': Defaults have no metadata"),
        ),
        (
            MODEL + "lifecycle:\n  ignore_change: [name]\n",
            (
                6,
                3,
                "lifecycle.ignore_change",
                "unknown field 'ignore_change'; did you mean 'ignore_changes'?",
            ),
        ),
        (
            MODEL.replace("  key: m\n", "  key: m\n  keys: n\n"),
            (5, 3, "metadata.keys", "unknown field 'keys'; did you mean 'key'?"),
        ),
        (
            MODEL + "spec:\n  pricing:\n    - {labl: a, unit: u, amount: '1', currency: USD}\n",
            (7, 8, "spec.pricing[0].labl", "unknown field 'labl'; did you mean 'label'?"),
        ),
    ],
)
def test_unknown_field_says_where_it_belongs_or_what_was_meant(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert expected in found


def test_unknown_field_points_at_the_key_and_a_type_error_at_the_value(tmp_path):
    found = problems(tmp_path, MODEL + "spec:\n  nmae: x\n  active:   maybe\n")
    assert [(line, column) for line, column, _, _ in found] == [(6, 3), (7, 13)]


def test_missing_field_points_at_its_parent(tmp_path):
    found = problems(tmp_path, "apiVersion: reconciler/v1\nkind: Model\n")
    assert found == [(1, 1, "metadata", "missing required field 'metadata'")]


def test_wrong_kind_also_reports_a_wrong_api_version(tmp_path):
    found = problems(tmp_path, "apiVersion: v1\nkind: model\n")
    assert found == [
        (1, 13, "apiVersion", "apiVersion must be 'reconciler/v1' (got 'v1')"),
        (2, 7, "kind", "unknown kind 'model': expected Model or Defaults; did you mean 'Model'?"),
    ]


def test_quoted_boolean_is_told_to_drop_the_quotes(tmp_path):
    found = problems(tmp_path, MODEL + 'spec:\n  active: "true"\n')
    assert found == [
        (6, 11, "spec.active", "expected true or false, got 'true': write it without quotes")
    ]


def test_date_in_a_text_field_is_told_to_quote_it(tmp_path):
    found = problems(tmp_path, MODEL + "spec:\n  value: 2024-08-06\n")
    assert found == [
        (
            6,
            10,
            "spec.value",
            'expected text, but YAML reads 2024-08-06 as a date: quote it, "2024-08-06"',
        )
    ]


def test_yaml_boolean_in_a_label_list_is_told_to_quote_it(tmp_path):
    found = problems(tmp_path, MODEL + "spec:\n  voices: [alloy, on]\n")
    assert found == [
        (
            6,
            19,
            "spec.voices[1]",
            'expected text, but YAML reads on as a boolean (YAML 1.1): quote it, "on"',
        )
    ]


def test_empty_list_value_is_told_to_write_brackets(tmp_path):
    found = problems(tmp_path, MODEL + "spec:\n  departments:\n")
    assert found == [
        (
            6,
            15,
            "spec.departments",
            "an empty value (null) is not allowed: remove the field, or write [] for an empty list",
        )
    ]


def test_mapping_expected_says_so(tmp_path):
    found = problems(tmp_path, MODEL + "spec: [name]\n")
    assert found == [(5, 7, "spec", "expected a mapping of fields, got a list")]


def test_value_under_a_rejected_tag_is_reported_once(tmp_path):
    found = problems(tmp_path, MODEL + "spec:\n  name: !!binary aGk=\n")
    assert len(found) == 1
    assert found[0][3].startswith("the tag !!binary is not allowed")
