"""What the state loader refuses (reconciler.apply.state_checks): a hand edit, a bad merge or
a bug that would otherwise give a wrong plan, a wrong display or an endless apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.apply.state import StateStore
from reconciler.cli import main
from reconciler.errors import StateError
from reconciler.render.remedies import describe

LINEAGE = "5d1c6a8e-0000-4000-8000-000000000001"
BATCH = "0123456789abcdef0123456789abcdef"


def state_file(tmp_path: Path, **changes) -> Path:
    raw = {
        "format_version": 1,
        "lineage": LINEAGE,
        "serial": 5,
        "catalog": "embedded",
        "models": {
            "m": {
                "draft_id": "d-1",
                "last_applied": {
                    "name": "M",
                    "pricing": [
                        {
                            "label": "cached input",
                            "unit": "1M tokens",
                            "amount": "0.6",
                            "currency": "USD",
                        },
                    ],
                },
                "applied_at": "2026-01-01",
            },
            "n": {"draft_id": "d-2", "last_applied": {}, "applied_at": None},
        },
        "journal": {},
        "accepting_batch": None,
    }
    raw.update(changes)
    path = tmp_path / "reconciler.state.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(StateError) as caught:
        StateStore(path).load()
    return describe(caught.value)


def test_a_valid_state_loads(tmp_path):
    doc = StateStore(state_file(tmp_path, accepting_batch=BATCH)).load()
    assert doc.models["m"].draft_id == "d-1"
    assert doc.accepting_batch == BATCH


# --- one draft under two keys ---------------------------------------------------------------


def test_a_draft_held_by_two_models_is_refused_naming_both_keys_the_draft_and_the_fix(tmp_path):
    path = state_file(tmp_path)
    raw = json.loads(path.read_text())
    raw["models"]["x"] = {**raw["models"]["m"]}  # a hand edit copied m under another key
    path.write_text(json.dumps(raw))
    message = refusal(path)
    assert str(path) in message
    assert "models m and x both hold draft d-1" in message
    assert "`reconciler state rm m`" in message
    assert "`reconciler state rm x`" in message


def test_state_rm_repairs_a_state_with_a_shared_draft(tmp_path):
    path = state_file(tmp_path)
    raw = json.loads(path.read_text())
    raw["models"]["x"] = {**raw["models"]["m"]}
    path.write_text(json.dumps(raw))
    listed = CliRunner().invoke(main, ["state", "list", "--state", str(path)])
    assert listed.exit_code == 0, listed.output  # to see what is there before removing
    assert "x\td-1" in listed.stdout
    result = CliRunner().invoke(main, ["state", "rm", "x", "--state", str(path)])
    assert result.exit_code == 0, result.output
    assert sorted(StateStore(path).load().models) == ["m", "n"]


def test_every_other_command_refuses_a_shared_draft(tmp_path):
    path = state_file(tmp_path)
    raw = json.loads(path.read_text())
    raw["models"]["x"] = {**raw["models"]["m"]}
    path.write_text(json.dumps(raw))
    before = path.read_bytes()
    result = CliRunner().invoke(main, ["state", "show", "m", "--state", str(path)])
    assert result.exit_code == 1
    assert "both hold draft d-1" in result.stderr
    assert "Traceback" not in result.output
    assert path.read_bytes() == before


# --- fields the state holds -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("abc", "is not a decimal number"),
        ("1e3", "with digits and at most one point"),
        ("-1", "is negative"),
    ],
)
def test_a_malformed_last_applied_amount_is_refused_with_its_path(tmp_path, amount, words):
    path = state_file(tmp_path)
    raw = json.loads(path.read_text())
    raw["models"]["m"]["last_applied"]["pricing"][0]["amount"] = amount
    path.write_text(json.dumps(raw))
    message = refusal(path)
    assert f"{path}: invalid state at models.m.last_applied.pricing[0].amount: " in message
    assert words in message


@pytest.mark.parametrize("serial", [-5, -1])
def test_a_negative_serial_is_refused(tmp_path, serial):
    message = refusal(state_file(tmp_path, serial=serial))
    assert "invalid state at serial:" in message
    assert str(serial) in message


@pytest.mark.parametrize("batch", ["yes", "", BATCH.upper(), BATCH[:-1]])
def test_an_accepting_batch_that_is_no_batch_id_is_refused(tmp_path, batch):
    message = refusal(state_file(tmp_path, accepting_batch=batch))
    assert "invalid state at accepting_batch:" in message
    assert "32 lowercase hexadecimal digits" in message


def test_a_journal_entry_whose_batch_is_no_batch_id_is_refused(tmp_path):
    entry = {
        "model_key": "m",
        "idempotency_key": "k",
        "request": {"name": "M"},
        "desired_digest": "d",
        "action": "update",
        "created_at": "2026-01-01",
        "batch": "yes",
    }
    message = refusal(state_file(tmp_path, journal={"m": entry}))
    assert "invalid state at journal.m.batch:" in message


def test_a_journal_entry_filed_under_another_model_is_refused(tmp_path):
    entry = {
        "model_key": "n",
        "idempotency_key": "k",
        "request": {"name": "M"},
        "desired_digest": "d",
        "action": "update",
        "created_at": "2026-01-01",
    }
    message = refusal(state_file(tmp_path, journal={"m": entry}))
    assert "invalid state at journal.m.model_key:" in message


@pytest.mark.parametrize("key", ["", "Has Space", "-dash-first"])
def test_a_model_key_a_manifest_could_not_have_is_refused(tmp_path, key):
    path = state_file(tmp_path)
    raw = json.loads(path.read_text())
    raw["models"][key] = raw["models"].pop("n")
    path.write_text(json.dumps(raw))
    message = refusal(path)
    assert f"invalid state at models[{json.dumps(key)}]: " in message
    assert "a key is 1 to 128 characters" in message


def test_the_cli_reports_a_bad_state_once_without_a_traceback(tmp_path):
    path = state_file(tmp_path, serial=-5)
    result = CliRunner().invoke(main, ["state", "list", "--state", str(path)])
    assert result.exit_code == 1
    assert result.stderr.count("Error:") == 1
    assert "invalid state at serial" in result.stderr
    assert "Traceback" not in result.output


_ENTRY = {"label": "input", "unit": "1M tokens", "amount": "0.6", "currency": "USD"}
_VALUES = {
    "name": ["M", "", None, 3, True, ["M"], {"a": "b"}, 1.5],
    "active": [True, False, None, 1, 0, "true", [True]],
    "departments": [["A", "B"], [], None, "A", ["A", 2], [None], [["A"]], {"A": 1}],
    "pricing": [
        [_ENTRY],
        [],
        None,
        [{**_ENTRY, "id": "p-1"}],
        [{**_ENTRY, "id": None}],
        [{**_ENTRY, "id": 7}],
        [{**_ENTRY, "amount": "abc"}],
        [{**_ENTRY, "amount": "1e3"}],
        [{**_ENTRY, "amount": 0.6}],
        [{**_ENTRY, "amount": None}],
        [{**_ENTRY, "extra": 1}],
        [{"label": "input", "unit": "1M tokens", "amount": "0.6"}],
        [{**_ENTRY, "currency": 1}],
        [_ENTRY, "input"],
        {"label": "input"},
        "0.6",
    ],
    "no_such_field": ["x"],
}


def _field_by_field(where, fields):
    """The checks as they were before the plain-type shortcut: every value through pydantic."""
    from pydantic import ValidationError

    from reconciler.apply import state_checks

    for name, value in fields.items():
        adapter = state_checks._FIELD_TYPES.get(name)
        if adapter is None:
            yield f"{where}.{name}: not a model field"
            continue
        try:
            adapter.validate_python(value, strict=True)
        except ValidationError as exc:
            first = exc.errors()[0]
            inner = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
            yield f"{where}.{name}{inner}: {first['msg']}"
            continue
        if name == "pricing":
            for index, entry in enumerate(value or ()):
                try:
                    state_checks._AMOUNT.validate_python(entry["amount"])
                except ValidationError as exc:
                    yield f"{where}.pricing[{index}].amount: {exc.errors()[0]['msg']}"


@pytest.mark.parametrize(
    ("name", "value"), [(name, value) for name, values in _VALUES.items() for value in values]
)
def test_the_plain_type_shortcut_finds_exactly_what_pydantic_finds(name, value):
    from reconciler.apply import state_checks

    fields = {name: value, "description": "D"}
    expected = list(_field_by_field("w", fields))
    assert list(state_checks._last_applied_problems("w", fields)) == expected
    # With amounts already found good earlier in the document, too.
    good = {"0.6"}
    assert list(state_checks._last_applied_problems("w", fields, good)) == expected
