"""state list, show and rm on a state written by a real apply."""

from __future__ import annotations

import json

from tests.e2e.test_apply import CLAUDE, GPT


def test_list_prints_each_model_and_its_draft(workspace):
    workspace.write_models(GPT, CLAUDE)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    models = workspace.state()["models"]
    result = workspace.cli(["state", "list"])
    assert result.exit_code == 0
    assert result.stdout == "".join(f"{key}\t{models[key]['draft_id']}\n" for key in sorted(models))


def test_list_without_a_state_file_says_so_on_stderr(workspace):
    result = workspace.cli(["state", "list", "--state", "typo.state.json"])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No state file typo.state.json yet" in result.stderr


def test_show_prints_the_record_as_json(workspace):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    key = GPT["key"]
    shown = json.loads(workspace.cli(["state", "show", key]).stdout)
    assert shown["key"] == key
    assert shown["draft_id"] == workspace.state()["models"][key]["draft_id"]


def test_rm_forgets_the_model_and_leaves_its_draft(workspace):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    key = GPT["key"]
    draft_id = workspace.state()["models"][key]["draft_id"]
    result = workspace.cli(["state", "rm", key])
    assert result.exit_code == 0
    assert key not in workspace.state()["models"]
    assert workspace.read(draft_id).draft_id == draft_id
    again = workspace.cli(["state", "rm", key])
    assert again.exit_code == 1
    assert f"not in the state reconciler.state.json: {key}" in again.stderr


def test_rm_refuses_a_model_whose_proposal_is_still_journalled(workspace):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    renamed = {**GPT, "spec": {**GPT["spec"], "name": "Renamed"}}
    workspace.write_models(renamed)
    workspace.catalog.faults.fail_writes.update(range(1, 200))
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 1
    assert list(workspace.state()["journal"]) == [GPT["key"]]
    result = workspace.cli(["state", "rm", GPT["key"]])
    assert result.exit_code == 1
    assert "run `reconciler apply` to settle it first" in result.stderr
    assert GPT["key"] in workspace.state()["models"]


def test_a_hand_edited_state_with_two_keys_on_one_draft_is_refused_until_one_is_removed(
    workspace,
):
    # Left alone, every apply would move the draft back and forth between the two models.
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    raw = workspace.state()
    draft_id = raw["models"][GPT["key"]]["draft_id"]
    raw["models"]["gpt-copy"] = raw["models"][GPT["key"]]
    workspace.state_path.write_text(json.dumps(raw, indent=2))
    workspace.write_models(GPT, {**GPT, "key": "gpt-copy", "spec": {**GPT["spec"], "name": "Copy"}})
    before = workspace.state_path.read_bytes()
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = workspace.cli(command)
        assert result.exit_code == 1, result.output
        assert f"models gpt-4o-mini and gpt-copy both hold draft {draft_id}" in result.stderr
        assert "`reconciler state rm gpt-copy`" in result.stderr
        assert "Traceback" not in result.output
    assert workspace.state_path.read_bytes() == before
    assert workspace.read(draft_id).name == "GPT-4o mini"
    assert workspace.cli(["state", "rm", "gpt-copy"]).exit_code == 0
    plan = workspace.cli(["plan"])
    assert plan.exit_code in (0, 2), plan.output
