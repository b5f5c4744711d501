"""Merging two copies of one state by model (reconciler.apply.state_merge), and the
``reconciler state merge`` command that writes the result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.apply.state import JournalEntry, ModelRecord, StateDocument, StateStore
from reconciler.apply.state_merge import merge_states
from reconciler.cli import main
from reconciler.errors import StateError
from reconciler.render.remedies import describe

LINEAGE = "5d1c6a8e-0000-4000-8000-000000000001"


def record(draft: str, name: str = "A model") -> ModelRecord:
    return ModelRecord(draft_id=draft, last_applied={"name": name}, applied_at="2026-01-01")


def journal(key: str) -> JournalEntry:
    return JournalEntry(
        model_key=key,
        idempotency_key=f"key-{key}",
        request={"name": key},
        desired_digest="d",
        action="create",
        created_at="2026-01-01",
    )


def doc(serial: int = 1, catalog: str | None = "catalog.example:443", **models) -> StateDocument:
    return StateDocument(lineage=LINEAGE, serial=serial, catalog=catalog, models=models)


# --- the pure merge -------------------------------------------------------------------------


def test_models_added_on_each_side_are_both_kept():
    base = doc(3, a=record("d-a"))
    ours = doc(5, a=record("d-a"), b=record("d-b"))  # the apply created b
    theirs = doc(4, a=record("d-a"), c=record("d-c"))  # an import adopted c
    merged = merge_states(ours, theirs, base)
    assert list(merged.models) == ["a", "b", "c"]
    assert merged.models["b"].draft_id == "d-b"
    assert merged.models["c"].draft_id == "d-c"
    assert merged.lineage == LINEAGE
    assert merged.catalog == "catalog.example:443"


def test_the_merged_serial_is_greater_than_both():
    assert merge_states(doc(7), doc(9)).serial == 10
    assert merge_states(doc(9), doc(7)).serial == 10


def test_a_change_on_one_side_wins_over_the_unchanged_other():
    base = doc(1, a=record("d-a", "Old"))
    ours = doc(2, a=record("d-a", "New"))
    merged = merge_states(ours, base.model_copy(update={"serial": 2}), base)
    assert merged.models["a"].last_applied == {"name": "New"}
    merged = merge_states(base.model_copy(update={"serial": 2}), ours, base)
    assert merged.models["a"].last_applied == {"name": "New"}


def test_with_a_base_a_model_removed_on_one_side_stays_removed():
    base = doc(1, a=record("d-a"), b=record("d-b"))
    ours = doc(2, a=record("d-a"), b=record("d-b"), c=record("d-c"))
    theirs = doc(2, a=record("d-a"))  # `state rm b` merged meanwhile
    assert list(merge_states(ours, theirs, base).models) == ["a", "c"]


def test_without_a_base_a_model_on_one_side_is_kept_rather_than_guessed_away():
    ours = doc(2, a=record("d-a"), b=record("d-b"))
    theirs = doc(2, a=record("d-a"))
    assert list(merge_states(ours, theirs).models) == ["a", "b"]


def test_a_model_changed_differently_on_both_sides_is_refused_with_every_conflict():
    base = doc(1, a=record("d-a"), b=record("d-b", "Old"))
    ours = doc(2, a=record("d-a"), b=record("d-b", "Ours"), x=record("d-x1"))
    theirs = doc(2, a=record("d-a"), b=record("d-b", "Theirs"), x=record("d-x2"))
    with pytest.raises(StateError) as caught:
        merge_states(ours, theirs, base)
    message = str(caught.value)
    assert "changed the same models differently" in message
    assert "model b: draft d-b in both, with different recorded values" in message
    assert "model x: draft d-x1 in ours, draft d-x2 in theirs" in message
    assert "model a" not in message


def test_removed_on_one_side_and_changed_on_the_other_is_a_conflict():
    base = doc(1, b=record("d-b", "Old"))
    with pytest.raises(StateError, match="model b: removed in ours, draft d-b in theirs"):
        merge_states(doc(2), doc(2, b=record("d-b", "New")), base)


def test_journal_entries_merge_like_models():
    ours = doc(2).model_copy(update={"journal": {"b": journal("b")}})
    theirs = doc(2).model_copy(update={"journal": {"c": journal("c")}})
    assert list(merge_states(ours, theirs).journal) == ["b", "c"]
    clash = doc(2).model_copy(update={"journal": {"b": journal("other")}})
    with pytest.raises(StateError, match="pending proposal of model b"):
        merge_states(ours, clash)


def test_different_lineages_are_refused():
    other = doc(2).model_copy(update={"lineage": "another"})
    with pytest.raises(StateError, match="different lineages"):
        merge_states(doc(2), other)
    with pytest.raises(StateError, match="not the ancestor"):
        merge_states(doc(2), doc(3), other)


def test_different_catalogs_are_refused_and_an_unset_one_takes_the_other():
    with pytest.raises(StateError, match="different catalogs"):
        merge_states(doc(2, catalog="one:443"), doc(2, catalog="two:443"))
    assert merge_states(doc(2, catalog=None), doc(2, catalog="two:443")).catalog == "two:443"
    base = doc(1, catalog="one:443")
    assert merge_states(doc(2, catalog="one:443"), doc(2, catalog="moved:443"), base).catalog == (
        "moved:443"
    )


def test_every_field_of_the_state_has_a_merge_rule():
    # merge_states builds the result field by field: a field added to the state later
    # must get a rule there, or a merge would silently drop it.
    assert set(StateDocument.model_fields) == {
        "format_version",
        "accepting_batch",
        "lineage",
        "serial",
        "catalog",
        "models",
        "journal",
    }


def test_the_inputs_are_left_as_they_were():
    ours = doc(2, b=record("d-b"))
    theirs = doc(3, c=record("d-c"))
    before = (ours.model_dump(), theirs.model_dump())
    merge_states(ours, theirs)
    assert (ours.model_dump(), theirs.model_dump()) == before


# --- reconciler state merge -----------------------------------------------------------------


def write(path: Path, document: StateDocument) -> Path:
    path.write_text(document.model_dump_json(indent=2), encoding="utf-8")
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, ["state", "merge", *args])


def test_merge_writes_both_sides_into_the_state_file(tmp_path):
    state = write(tmp_path / "reconciler.state.json", doc(4, a=record("d-a"), c=record("d-c")))
    other = write(tmp_path / "applied.json", doc(5, a=record("d-a"), b=record("d-b")))
    base = write(tmp_path / "base.json", doc(3, a=record("d-a")))
    result = invoke(str(other), "--base", str(base), "--state", str(state))
    assert result.exit_code == 0, result.output
    assert "3 models, serial 6" in result.stderr
    written = json.loads(state.read_text(encoding="utf-8"))
    assert written["serial"] == 6
    assert {key: m["draft_id"] for key, m in written["models"].items()} == {
        "a": "d-a",
        "b": "d-b",
        "c": "d-c",
    }
    # What it wrote reads back as a state.
    assert StateStore(state).load().serial == 6


def test_a_refused_merge_changes_nothing_and_says_why_without_a_traceback(tmp_path):
    state = write(tmp_path / "reconciler.state.json", doc(4, a=record("d-1")))
    before = state.read_text(encoding="utf-8")
    other = write(tmp_path / "applied.json", doc(5, a=record("d-2")))
    result = invoke(str(other), "--state", str(state))
    assert result.exit_code == 1
    assert f"model a: draft d-1 in {state}, draft d-2 in {other}" in result.stderr
    assert "Traceback" not in result.output
    assert state.read_text(encoding="utf-8") == before


def test_merge_refuses_a_missing_file_rather_than_an_invented_empty_state(tmp_path):
    other = write(tmp_path / "applied.json", doc(5))
    result = invoke(str(other), "--state", str(tmp_path / "missing.json"))
    assert result.exit_code == 1
    assert "no state file" in result.stderr
    assert not (tmp_path / "missing.json").exists()


def test_merge_reports_an_unreadable_state_with_its_file(tmp_path):
    state = write(tmp_path / "reconciler.state.json", doc(4))
    broken = tmp_path / "applied.json"
    broken.write_text('{"format_version": 1, <<<<<<< HEAD\n', encoding="utf-8")
    result = invoke(str(broken), "--state", str(state))
    assert result.exit_code == 1
    assert f"{broken}:1:" in result.stderr
    assert "not valid JSON" in result.stderr


def test_a_merge_that_would_put_one_draft_under_two_keys_is_refused():
    # Both copies renamed model m0005 (draft d-5), one to x and the other to y.
    base = doc(3, m0005=record("d-5"), a=record("d-a"))
    ours = doc(4, x=record("d-5"), a=record("d-a"))
    theirs = doc(4, y=record("d-5"), a=record("d-a"))
    with pytest.raises(StateError) as caught:
        merge_states(ours, theirs, base, names=("E.json", "F.json"))
    message = describe(caught.value)
    assert "draft d-5 would be held by two models: x (from E.json) and y (from F.json)" in message
    assert "`reconciler state rm" in message


def test_the_merge_command_refuses_two_renames_of_one_model_and_changes_nothing(tmp_path):
    state = write(tmp_path / "E.json", doc(4, x=record("d-5"), a=record("d-a")))
    other = write(tmp_path / "F.json", doc(4, y=record("d-5"), a=record("d-a")))
    base = write(tmp_path / "base.json", doc(3, m0005=record("d-5"), a=record("d-a")))
    before = state.read_bytes()
    result = invoke(str(other), "--base", str(base), "--state", str(state))
    assert result.exit_code == 1, result.output
    assert "draft d-5 would be held by two models" in result.stderr
    assert "Traceback" not in result.output
    assert state.read_bytes() == before


def test_merging_a_state_into_itself_changes_nothing_and_keeps_the_serial(tmp_path):
    state = write(tmp_path / "reconciler.state.json", doc(4, a=record("d-a")))
    before = state.read_bytes()
    result = invoke(str(state), "--state", str(state))
    assert result.exit_code == 0, result.output
    assert "Nothing to merge" in result.stderr
    assert state.read_bytes() == before


def test_a_merge_that_adds_nothing_to_the_state_leaves_it_as_it_is(tmp_path):
    # The other copy is an older one: everything it has, the state has too.
    state = write(tmp_path / "reconciler.state.json", doc(6, a=record("d-a"), b=record("d-b")))
    other = write(tmp_path / "old.json", doc(5, a=record("d-a"), b=record("d-b")))
    base = write(tmp_path / "base.json", doc(5, a=record("d-a"), b=record("d-b")))
    before = state.read_bytes()
    result = invoke(str(other), "--base", str(base), "--state", str(state))
    assert result.exit_code == 0, result.output
    assert "Nothing to merge" in result.stderr
    assert state.read_bytes() == before
