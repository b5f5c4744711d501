"""Reference data: the built-in file, replacement files, stable ids, seeding on (re)open."""

from __future__ import annotations

import sqlite3

import pytest
import server_refs as refs

from reconciler.catalog.wire import FLAG_BOOLEANS
from reconciler.errors import ReferenceDataError
from reconciler.server import create_app
from reconciler.server.reference import load_reference_data, resource_id


def labels(kind: str) -> list[str]:
    return [r.label for r in load_reference_data().resources if r.kind == kind]


def test_built_in_reference_data_has_every_required_label():
    assert labels("providers") == ["OpenAI", "Anthropic", "Google", "Mistral", "Meta", "Cohere"]
    assert labels("departments") == [
        "Research", "Support", "Sales", "Engineering", "Legal", "Marketing",
    ]  # fmt: skip
    assert labels("modalities") == ["text", "image", "audio", "video", "embedding"]
    assert labels("qualities") == ["draft", "standard", "hd"]
    assert labels("reasoning_levels") == ["none", "low", "medium", "high"]
    assert labels("temperature_levels") == ["deterministic", "balanced", "creative"]
    assert labels("voices") == ["alloy", "echo", "verse"]


def test_built_in_reference_data_has_the_boolean_flags_and_a_non_boolean_one():
    options = load_reference_data().flag_options
    flags = {(o.flag, o.value, o.boolean) for o in options}
    for flag in FLAG_BOOLEANS.values():
        assert {(flag, "true", True), (flag, "false", True)} <= flags
    assert {("model_release_stage", v, False) for v in ("preview", "ga", "deprecated")} <= flags


def test_ids_are_derived_from_kind_and_matching_key():
    assert resource_id("providers", "OpenAI") == resource_id("providers", "  openai ")
    assert resource_id("providers", "OpenAI") != resource_id("departments", "OpenAI")
    assert resource_id("providers", "OpenAI") == "8ab55c0b-c33f-5600-b235-99ba30e3da76"


async def test_two_catalog_files_give_the_same_ids(open_catalog, tmp_path):
    first = await open_catalog(tmp_path / "a.sqlite3")
    a = await first.create(provider="Google", voices=["Nova"])
    second = await open_catalog(tmp_path / "b.sqlite3")
    b = await second.create(provider="Google", voices=["Nova"])
    assert (a["provider_id"], a["voice_ids"]) == (b["provider_id"], b["voice_ids"])
    assert a["provider_id"] == refs.provider("Google")


async def test_replacement_reference_file_is_used(open_catalog, tmp_path):
    data = tmp_path / "reference.yaml"
    data.write_text("providers: [Acme]\nflags:\n  tier: [gold, silver]\n")
    catalog = await open_catalog(reference_data=data)
    form = await catalog.create(provider="acme", flag_ids=[refs.flag("tier", "gold")])
    assert form["provider"] == "Acme"
    assert refs.flag("tier", "gold") in form["flag_ids"]
    assert (await catalog.post({"provider": "OpenAI"})).status == 422
    assert (await catalog.post({"departments": ["Sales"]})).status == 422
    assert (await catalog.create(active=True))["active"] is True  # boolean flags are built in


async def test_reopening_a_catalog_file_keeps_its_drafts(open_catalog, tmp_path):
    path = tmp_path / "catalog.sqlite3"
    first = await open_catalog(path)
    draft = await first.create(name="kept", voices=["Nova"])
    await first.soft("k1", draft["draft_id"], name="pending")
    second = await open_catalog(path)
    assert (await second.read(draft["draft_id"])) == {**draft, "pending_ids": ["k1"]}
    assert (await second.ack("k1", accept=True)).form["name"] == "pending"


def test_reseeding_is_idempotent_and_takes_new_spellings(tmp_path):
    path = tmp_path / "catalog.sqlite3"
    data = tmp_path / "reference.yaml"
    data.write_text("providers: [Acme]\n")
    create_app(path, reference_data=data).state.database.close()
    create_app(path, reference_data=data).state.database.close()
    data.write_text("providers: [ACME, Other]\n")
    create_app(path, reference_data=data).state.database.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, label FROM resources WHERE kind = 'providers'").fetchall()
    assert sorted(rows) == sorted(
        [(resource_id("providers", "acme"), "ACME"), (resource_id("providers", "Other"), "Other")]
    )


def test_catalog_file_uses_wal_mode(tmp_path):
    path = tmp_path / "catalog.sqlite3"
    create_app(path).state.database.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_catalog_file_in_a_missing_directory_is_created(tmp_path):
    path = tmp_path / "deep" / "dir" / "catalog.sqlite3"
    create_app(path).state.database.close()
    assert path.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("providers: [A, a]\n", "duplicate label"),
        ("colours: [red]\n", "unknown keys colours"),
        ("providers: OpenAI\n", "expected a list"),
        ("providers: [A]\nproviders: [B]\n", "duplicate key 'providers'"),
        ("providers: [A\n", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        ("providers: ['', B]\n", "non-empty strings"),
        ("providers: [yes]\n", "non-empty strings"),
        ("flags:\n  model_active: [on, off]\n", "built-in boolean flag"),
        ("flags:\n  tier: []\n", "expected a list"),
        ("flags: [tier]\n", "mapping of flag names"),
    ],
)
def test_bad_reference_file_is_a_clear_error(tmp_path, text, expected):
    data = tmp_path / "reference.yaml"
    data.write_text(text)
    with pytest.raises(ReferenceDataError, match=expected) as caught:
        load_reference_data(data)
    assert str(data) in str(caught.value)


def test_missing_reference_file_is_a_clear_error(tmp_path):
    with pytest.raises(ReferenceDataError, match="cannot read reference data"):
        create_app(tmp_path / "c.sqlite3", reference_data=tmp_path / "missing.yaml")
