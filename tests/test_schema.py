"""The JSON Schema: valid, up to date, accepts the example catalog, rejects the broken files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from reconciler.manifests.schema import manifest_json_schema, manifest_json_schema_text

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "manifests"
COMMITTED = CATALOG / "manifest.schema.json"
BROKEN = Path(__file__).parent / "fixtures" / "manifests" / "broken"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")

# What a schema of one document cannot see; ``reconciler validate`` checks these.
LOADER_ONLY = {
    "syntax_error.yaml": "not YAML at all",
    "duplicate_key.yaml": "a YAML parser keeps the last key before any schema sees it",
    "unsafe_tag.yaml": "a safe YAML parser refuses the tag before any schema sees it",
    "billion_laughs.yaml": "the expansion happens in the YAML parser",
    "not_utf8.yaml": "an encoding problem, below YAML",
    "merge_key.yaml": "a YAML parser merges the keys before any schema sees them",
    "non_text_key.yaml": "a YAML parser turns the key into a boolean first",
    "duplicate_label.yaml": "uniqueItems compares case-sensitively",
    "duplicate_price.yaml": "the two entries differ in amount, so they are unique items",
}


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(manifest_json_schema())


def documents(path: Path) -> list[object]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def example_files() -> list[Path]:
    return sorted(CATALOG.rglob("*.yaml"))


def test_schema_is_a_valid_draft_2020_12_schema():
    schema = manifest_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_chooses_model_or_defaults_by_kind():
    schema = manifest_json_schema()
    assert schema["discriminator"]["propertyName"] == "kind"
    assert len(schema["oneOf"]) == 2


def test_committed_schema_is_up_to_date():
    # Regenerate with: reconciler schema --out manifests/manifest.schema.json
    assert COMMITTED.read_text(encoding="utf-8") == manifest_json_schema_text()


@pytest.mark.parametrize("path", example_files(), ids=lambda p: str(p.relative_to(CATALOG)))
def test_schema_accepts_every_example_document(path):
    check = validator()
    for document in documents(path):
        assert list(check.iter_errors(document)) == []


@pytest.mark.parametrize("path", example_files(), ids=lambda p: str(p.relative_to(CATALOG)))
def test_every_example_file_names_the_schema_for_editors(path):
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE.match(first_line)
    assert match, f"{path} does not start with the yaml-language-server modeline"
    assert (path.parent / match.group(1)).resolve() == COMMITTED


@pytest.mark.parametrize(
    "fixture",
    sorted(p.name for p in BROKEN.iterdir() if p.name not in LOADER_ONLY),
)
def test_schema_rejects_the_broken_file(fixture):
    check = validator()
    (document,) = documents(BROKEN / fixture)
    assert list(check.iter_errors(document)) != []


def test_loader_only_fixtures_exist():
    assert set(LOADER_ONLY) <= {p.name for p in BROKEN.iterdir()}


@pytest.mark.parametrize(
    "document",
    [
        {"apiVersion": "reconciler/v1", "kind": "Defaults", "metadata": {"key": "x"}},
        {"apiVersion": "reconciler/v1", "kind": "Model"},
        {"apiVersion": "reconciler/v1", "kind": "Model", "metadata": {"key": "x"}, "spec": []},
        {
            "apiVersion": "reconciler/v1",
            "kind": "Model",
            "metadata": {"key": "x"},
            "spec": {"description": "x", "description_id": "d"},
        },
        {
            "apiVersion": "reconciler/v1",
            "kind": "Model",
            "metadata": {"key": "x"},
            "spec": {"pricing": [], "pricing_ids": []},
        },
        {
            "apiVersion": "reconciler/v1",
            "kind": "Defaults",
            "spec": {"flag_ids": [], "qualities_enabled": True},
        },
    ],
    ids=[
        "defaults-metadata",
        "model-no-metadata",
        "spec-list",
        "text-twice",
        "pricing-twice",
        "defaults-flags",
    ],
)
def test_schema_rejects_what_the_models_reject(document):
    assert list(validator().iter_errors(document)) != []


def test_schema_text_is_stable_json():
    text = manifest_json_schema_text()
    assert text.endswith("}\n")
    assert json.loads(text) == manifest_json_schema()


@pytest.mark.parametrize(
    "fixture",
    ["duplicate_key.yaml", "merge_key.yaml", "duplicate_label.yaml", "duplicate_price.yaml"],
)
def test_loader_only_rules_are_indeed_invisible_to_the_schema(fixture):
    # Keeps LOADER_ONLY honest: should the schema learn one of these, move it out.
    (document,) = documents(BROKEN / fixture)
    assert list(validator().iter_errors(document)) == []
