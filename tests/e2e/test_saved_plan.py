"""apply --plan against the local catalog: a saved plan is applied only as the manifests give it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Workspace

GPT = {
    "key": "gpt-4o-mini",
    "spec": {
        "name": "GPT-4o mini",
        "provider": "OpenAI",
        "pricing_enabled": True,
        "pricing": [
            {"label": "input", "unit": "1M tokens", "amount": "0.15", "currency": "USD"},
        ],
    },
}
LLAMA = {"key": "llama-3", "spec": {"name": "Llama 3", "provider": "Meta"}}


def _save(ws: Workspace, plan_file: Path, *args: str) -> dict:
    result = ws.cli(["plan", "--out", str(plan_file), *args])
    assert result.exit_code == 0, result.output
    return json.loads(plan_file.read_text())


def _edit(plan_file: Path, data: dict) -> None:
    plan_file.write_text(json.dumps(data, indent=2))


def _change(data: dict, key: str) -> dict:
    return next(c for c in data["plan"]["changes"] if c["key"] == key)


def test_an_edited_patch_of_an_update_is_refused_naming_model_and_field(workspace, tmp_path):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    workspace.write_models({**GPT, "spec": {**GPT["spec"], "name": "GPT-4o mini (new)"}})
    plan_file = tmp_path / "plan.json"
    data = _save(workspace, plan_file)
    _change(data, "gpt-4o-mini")["patch"]["name"] = "HACKED"
    _edit(plan_file, data)
    draft_id = workspace.state()["models"]["gpt-4o-mini"]["draft_id"]

    result = workspace.cli(["apply", "--plan", str(plan_file)])

    assert result.exit_code == 1
    assert "does not follow from the manifests" in result.stderr
    assert 'model gpt-4o-mini: patch.name is "HACKED" in the plan' in result.stderr
    assert '"GPT-4o mini (new)"' in result.stderr
    assert "Traceback" not in result.output
    assert workspace.read(draft_id).name == "GPT-4o mini"
    assert workspace.catalog.pending() == []


def test_an_edited_price_of_a_create_is_refused_and_nothing_is_created(workspace, tmp_path):
    workspace.write_models(GPT)
    plan_file = tmp_path / "plan.json"
    data = _save(workspace, plan_file)
    _change(data, "gpt-4o-mini")["patch"]["pricing"][0]["amount"] = "0.01"
    _edit(plan_file, data)

    result = workspace.cli(["apply", "--plan", str(plan_file)])

    assert result.exit_code == 1
    assert "model gpt-4o-mini: patch.pricing" in result.stderr
    assert not workspace.catalog.drafts()
    assert not workspace.state_path.exists() or workspace.state()["models"] == {}


def test_a_change_added_to_a_saved_plan_is_refused(workspace, tmp_path):
    workspace.write_models(GPT, LLAMA)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    workspace.write_models({**GPT, "spec": {**GPT["spec"], "name": "GPT-4o mini (new)"}}, LLAMA)
    plan_file = tmp_path / "plan.json"
    data = _save(workspace, plan_file)
    llama = _change(data, "llama-3")
    assert llama["action"] == "noop"
    llama.update(action="update", patch={"name": "Sneaked in"})
    _edit(plan_file, data)
    llama_draft = workspace.state()["models"]["llama-3"]["draft_id"]

    result = workspace.cli(["apply", "--plan", str(plan_file)])

    assert result.exit_code == 1
    assert "model llama-3: action" in result.stderr
    assert workspace.read(llama_draft).name == "Llama 3"


def test_an_unedited_saved_plan_with_update_and_prune_applies(workspace, tmp_path):
    workspace.write_models(GPT, LLAMA)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    workspace.write_models({**GPT, "spec": {**GPT["spec"], "name": "GPT-4o mini (new)"}})
    plan_file = tmp_path / "plan.json"
    data = _save(workspace, plan_file, "--prune")
    assert data["plan"]["prune"] is True
    llama_draft = workspace.state()["models"]["llama-3"]["draft_id"]

    result = workspace.cli(["apply", "--plan", str(plan_file)])

    assert result.exit_code == 0, result.output
    assert workspace.read(llama_draft).active is False
    assert "llama-3" not in workspace.state()["models"]
    assert workspace.cli(["plan", "--detailed-exitcode"]).exit_code == 0


def test_a_change_deleted_from_a_saved_plan_is_refused_not_applied_as_no_changes(
    workspace, tmp_path
):
    workspace.write_models(GPT, LLAMA)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    workspace.write_models({**GPT, "spec": {**GPT["spec"], "name": "GPT-4o mini (new)"}}, LLAMA)
    plan_file = tmp_path / "plan.json"
    data = _save(workspace, plan_file, "--target", "gpt-4o-mini")
    data["plan"]["changes"] = []
    _edit(plan_file, data)

    result = workspace.cli(["apply", "--plan", str(plan_file)])

    assert result.exit_code == 1
    assert "No changes" not in result.stdout
    assert "model gpt-4o-mini: action is absent in the plan, the manifests give 'update'" in (
        result.stderr
    )


def test_a_key_edited_in_a_saved_plan_is_named_as_an_edit_not_as_a_live_change(workspace, tmp_path):
    workspace.write_models(GPT, LLAMA)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    workspace.write_models({**GPT, "spec": {**GPT["spec"], "name": "GPT-4o mini (new)"}}, LLAMA)
    plan_file = tmp_path / "plan.json"
    data = _save(workspace, plan_file)
    _change(data, "gpt-4o-mini")["key"] = "llama-3"
    data["plan"]["changes"] = [c for c in data["plan"]["changes"] if c["action"] != "noop"]
    _edit(plan_file, data)

    result = workspace.cli(["apply", "--plan", str(plan_file)])

    assert result.exit_code == 1
    assert "does not follow from the manifests" in result.stderr
    assert "model llama-3: draft_id" in result.stderr
    assert "live drafts changed" not in result.stderr
