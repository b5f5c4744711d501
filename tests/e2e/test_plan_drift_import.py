"""plan, saved plans, drift, prune and import against the local catalog over real HTTP."""

from __future__ import annotations

import json

from tests.e2e.test_apply import CLAUDE, GPT, assert_converged


def test_plan_shows_creates_and_its_exit_code_says_changes(workspace):
    workspace.write_models(GPT, CLAUDE)
    result = workspace.cli(["plan", "--detailed-exitcode"])
    assert result.exit_code == 2, result.output
    assert "Plan: 2 to create, 0 to update, 0 to deactivate." in result.stdout
    assert workspace.catalog.faults.writes == 0


def test_saved_plan_applies_when_current(workspace, tmp_path):
    workspace.write_models(GPT)
    plan_file = tmp_path / "plan.json"
    assert workspace.cli(["plan", "--out", str(plan_file)]).exit_code == 0
    shown = workspace.cli(["show", str(plan_file)])
    assert "Plan: 1 to create" in shown.stdout
    result = workspace.cli(["apply", "--plan", str(plan_file)])
    assert result.exit_code == 0, result.output
    assert_converged(workspace, 1)


def test_a_plan_file_that_cannot_be_written_is_an_error_not_a_bug(workspace, tmp_path):
    workspace.write_models(GPT)
    result = workspace.cli(["plan", "--out", str(tmp_path / "missing" / "plan.json")])
    assert result.exit_code == 1
    assert "cannot write the plan file" in result.stderr
    assert "No such file or directory" in result.stderr
    assert "internal error" not in result.stderr


def test_saved_plan_is_refused_when_the_draft_changed_since(workspace, tmp_path):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    workspace.write_models({**GPT, "spec": {**GPT["spec"], "name": "GPT-4o mini v2"}})
    plan_file = tmp_path / "plan.json"
    assert workspace.cli(["plan", "--out", str(plan_file)]).exit_code == 0
    draft_id = workspace.state()["models"]["gpt-4o-mini"]["draft_id"]
    workspace.send(draft_id=draft_id, description="edited by hand")
    writes = workspace.catalog.faults.writes
    result = workspace.cli(["apply", "--plan", str(plan_file)])
    assert result.exit_code == 1
    assert "stale" in result.stderr
    assert "gpt-4o-mini" in result.stderr
    assert workspace.catalog.faults.writes == writes


def test_saved_plan_is_refused_when_the_state_changed_since(workspace, tmp_path):
    workspace.write_models(GPT)
    plan_file = tmp_path / "plan.json"
    assert workspace.cli(["plan", "--out", str(plan_file)]).exit_code == 0
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    result = workspace.cli(["apply", "--plan", str(plan_file)])
    assert result.exit_code == 1
    assert "the state changed" in result.stderr
    assert len(workspace.catalog.drafts()) == 1


def test_a_refused_token_is_blamed_on_the_catalog_not_on_one_model(workspace, monkeypatch):
    workspace.write_models(GPT, CLAUDE)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    env = workspace.env()
    monkeypatch.setattr(workspace, "env", lambda: {**env, "CATALOG_TOKEN": "not-the-token"})
    result = workspace.cli(["plan"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the catalog refused the credentials")
    assert "Set CATALOG_TOKEN" in result.stderr
    assert "model " not in result.stderr


def test_a_wrong_endpoint_is_blamed_on_the_endpoint_not_on_one_model(workspace, monkeypatch):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    env = workspace.env()
    wrong = workspace.catalog.url + "/v2"
    monkeypatch.setattr(workspace, "env", lambda: {**env, "CATALOG_ENDPOINT": wrong})
    result = workspace.cli(["plan"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {wrong} has no catalog API")
    assert "model " not in result.stderr


def test_drift_reports_changes_made_outside_and_apply_restores(workspace):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    assert workspace.cli(["drift"]).exit_code == 0
    draft_id = workspace.state()["models"]["gpt-4o-mini"]["draft_id"]
    workspace.send(draft_id=draft_id, name="Renamed by hand", departments=["Legal"])
    result = workspace.cli(["drift", "--format", "json"])
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    (entry,) = document["drift"]
    assert entry["key"] == "gpt-4o-mini"
    assert {change["field"] for change in entry["field_changes"]} == {"name", "departments"}
    report = workspace.cli(["drift", "--format", "markdown"])
    assert report.exit_code == 2
    assert report.stdout.startswith("## reconciler drift\n")
    assert "Renamed by hand" in report.stdout
    text = workspace.cli(["drift"])
    assert "To match the manifests, `reconciler apply` would:" in text.stdout
    assert "will perform" not in text.stdout
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    assert workspace.cli(["drift"]).exit_code == 0
    assert_converged(workspace, 1)


def test_prune_deactivates_a_model_whose_manifest_is_gone(workspace):
    workspace.write_models(GPT, CLAUDE)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    claude_draft = workspace.state()["models"]["claude-3-5-haiku"]["draft_id"]
    workspace.write_models(GPT)
    result = workspace.cli(["plan", "--detailed-exitcode"])
    assert result.exit_code == 0
    assert "--prune" in result.stdout
    result = workspace.cli(["apply", "--auto-approve", "--prune"])
    assert result.exit_code == 0, result.output
    assert "1 deactivated" in result.stdout
    assert workspace.read(claude_draft).active is False
    assert list(workspace.state()["models"]) == ["gpt-4o-mini"]


def test_import_adopts_a_draft_and_prints_its_manifest(workspace):
    draft_id = workspace.send(name="Command R+", provider="cohere", modalities=["text"]).draft_id
    result = workspace.cli(["import", "command-r-plus", draft_id])
    assert result.exit_code == 0, result.output
    assert workspace.state()["models"]["command-r-plus"]["draft_id"] == draft_id
    assert "provider: Cohere" in result.stdout
    (workspace.root / "manifests").mkdir(exist_ok=True)
    (workspace.root / "manifests" / "command-r-plus.yaml").write_text(result.stdout)
    result = workspace.cli(["plan", "--detailed-exitcode"])
    assert result.exit_code == 0, result.output
    assert len(workspace.catalog.drafts()) == 1


def test_an_imported_manifest_matches_its_draft_even_below_defaults(workspace):
    draft_id = workspace.send(name="Command R+", provider="cohere", modalities=["text"]).draft_id
    folder = workspace.root / "manifests" / "cohere"
    folder.mkdir(parents=True)
    (folder / "_defaults.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Defaults\nspec:\n"
        "  description: A Cohere model\n  departments: [Sales]\n"
        "  temperature_levels: [balanced]\n  pricing:\n"
        '    - {label: input, unit: 1M tokens, amount: "2.5", currency: USD}\n'
    )
    result = workspace.cli(["import", "command-r-plus", draft_id])
    assert result.exit_code == 0, result.output
    (folder / "command-r-plus.yaml").write_text(result.stdout)
    result = workspace.cli(["plan", "--detailed-exitcode"])
    assert result.exit_code == 0, result.output
    assert "No changes." in result.stdout


def test_import_refuses_a_key_no_manifest_could_have(workspace):
    draft_id = workspace.send(name="Command R+", provider="cohere").draft_id
    result = workspace.cli(["import", "Command R+", draft_id])
    assert result.exit_code == 1
    assert "metadata.key" in result.stderr
    assert "did you mean" in result.stderr
    assert not workspace.state_path.exists()


def test_import_of_an_unknown_draft_fails_and_changes_nothing(workspace):
    result = workspace.cli(["import", "ghost", "00000000-0000-0000-0000-000000000000"])
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    assert not workspace.state_path.exists()


def test_a_manifest_with_draft_id_adopts_that_draft_instead_of_creating_one(workspace):
    draft_id = workspace.send(name="Llama 3.1 8B", provider="Meta").draft_id
    workspace.write_models(
        {
            "key": "llama-3.1-8b",
            "metadata": {"draft_id": draft_id},
            "spec": {"name": "Llama 3.1 8B Instruct", "provider": "meta"},
        }
    )
    result = workspace.cli(["plan"])
    assert "Plan: 1 to adopt, 0 to create, 0 to update, 0 to deactivate." in result.stdout
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert workspace.state()["models"]["llama-3.1-8b"]["draft_id"] == draft_id
    assert workspace.read(draft_id).name == "Llama 3.1 8B Instruct"
    assert_converged(workspace, 1)


def test_refresh_false_plans_from_the_state_without_reading_the_catalog(workspace):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    workspace.catalog.faults.rate_limit_next(100, retry_after=3600)
    result = workspace.cli(["plan", "--refresh=false", "--detailed-exitcode"])
    assert result.exit_code == 0, result.output
    assert "No changes" in result.stdout
    workspace.write_models({**GPT, "spec": {**GPT["spec"], "name": "Offline rename"}})
    result = workspace.cli(["plan", "--refresh=false", "--detailed-exitcode"])
    assert result.exit_code == 2, result.output
    assert '"Offline rename"' in result.stdout


def test_target_limits_the_plan_to_the_named_models(workspace):
    workspace.write_models(GPT, CLAUDE)
    result = workspace.cli(["plan", "--target", "gpt-4o-mini", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [c["key"] for c in json.loads(result.stdout)["changes"]] == ["gpt-4o-mini"]
    unknown = workspace.cli(["plan", "--target", "nope"])
    assert unknown.exit_code == 1
    assert "--target nope" in unknown.stderr


def test_a_saved_plan_made_without_refresh_is_refused_for_what_it_is(workspace, tmp_path):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    workspace.write_models({**GPT, "spec": {**GPT["spec"], "name": "GPT-4o mini v2"}})
    plan_file = tmp_path / "plan.json"
    assert workspace.cli(["plan", "--refresh=false", "--out", str(plan_file)]).exit_code == 0
    writes = workspace.catalog.faults.writes
    result = workspace.cli(["apply", "--plan", str(plan_file)])
    assert result.exit_code == 1
    # Nothing changed the draft: the plan never read it, which is the reason to give.
    assert "--refresh=false" in result.stderr
    assert "live drafts changed" not in result.stderr
    assert workspace.catalog.faults.writes == writes


def test_a_state_kept_for_one_catalog_is_refused_against_another(workspace):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    assert workspace.state()["catalog"] == workspace.catalog.url.removeprefix("http://")
    for command in (["plan"], ["drift"], ["apply", "--auto-approve"]):
        result = workspace.cli([*command, "--endpoint", "http://127.0.0.1:9"])
        assert result.exit_code == 1, command
        assert "belongs to the catalog 127.0.0.1:" in result.stderr
        assert "this run talks to 127.0.0.1:9" in result.stderr
        assert "could not connect" not in result.stderr


def test_refresh_false_needs_no_catalog_at_all(workspace, monkeypatch):
    workspace.write_models(GPT)
    monkeypatch.setattr(workspace, "env", lambda: {"NO_COLOR": "1", "CATALOG_ENDPOINT": ""})
    result = workspace.cli(["plan", "--refresh=false"])
    assert result.exit_code == 0, result.output
    assert "Plan: 1 to create" in result.stdout
    assert not (workspace.root / ".reconciler").exists()
    assert "embedded" not in result.stderr


def _apply_two_then_drift_claude(workspace) -> None:
    workspace.write_models(GPT, CLAUDE)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    claude = workspace.state()["models"]["claude-3-5-haiku"]["draft_id"]
    workspace.send(draft_id=claude, name="Renamed by hand")


def test_refresh_changed_reads_only_the_models_the_manifests_change(workspace):
    _apply_two_then_drift_claude(workspace)
    workspace.write_models({**GPT, "spec": {**GPT["spec"], "name": "GPT-4o mini v2"}}, CLAUDE)
    result = workspace.cli(["plan", "--refresh=changed", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    changed = [c for c in document["changes"] if c["action"] != "noop"]
    assert [(c["key"], c["action"]) for c in changed] == [("gpt-4o-mini", "update")]
    # Claude was not read, so its drift is not in this plan, and the plan says why.
    assert document["drift"] == []
    (note,) = [w for w in document["warnings"] if "--refresh=changed" in w]
    assert "1 managed model(s)" in note
    assert "reconciler drift" in note
    assert document["not_refreshed"] == 1
    # One note for the plan, not one warning per model that was not read.
    claude = next(c for c in document["changes"] if c["key"] == "claude-3-5-haiku")
    assert claude["warnings"] == []
    full = json.loads(workspace.cli(["plan", "--format", "json"]).stdout)
    assert [entry["key"] for entry in full["drift"]] == ["claude-3-5-haiku"]
    applied = workspace.cli(["apply", "--auto-approve", "--refresh=changed"])
    assert applied.exit_code == 0, applied.output
    gpt = workspace.state()["models"]["gpt-4o-mini"]["draft_id"]
    assert workspace.read(gpt).name == "GPT-4o mini v2"
    assert workspace.cli(["drift"]).exit_code == 2


def test_refresh_changed_with_nothing_changed_plans_no_change_and_says_what_it_skipped(workspace):
    _apply_two_then_drift_claude(workspace)
    result = workspace.cli(["plan", "--refresh=changed", "--detailed-exitcode"])
    assert result.exit_code == 0, result.output
    assert "2 managed model(s) the manifests do not change were not read" in result.stdout


def test_refresh_takes_a_boolean_or_changed_only(workspace):
    result = workspace.cli(["plan", "--refresh=maybe"])
    assert result.exit_code == 1
    assert "'maybe' is not one of true, false, changed" in result.stderr


def test_drift_shards_split_the_models_and_each_reports_its_own(workspace):
    from reconciler.catalog.refresh import in_shard

    _apply_two_then_drift_claude(workspace)
    drifted_shard = 1 if in_shard("claude-3-5-haiku", 1, 2) else 2
    for index in (1, 2):
        result = workspace.cli(["drift", "--shard", f"{index}/2", "--format", "json"])
        document = json.loads(result.stdout)
        keys = [entry["key"] for entry in document["drift"]]
        if index == drifted_shard:
            assert (result.exit_code, keys) == (2, ["claude-3-5-haiku"])
        else:
            assert (result.exit_code, keys) == (0, [])
        assert any(w.startswith(f"shard {index}/2: checked ") for w in document["warnings"])
    for bad in ("0/2", "3/2", "1/0", "half"):
        refused = workspace.cli(["drift", "--shard", bad])
        assert refused.exit_code == 1
        assert "is not I/N" in refused.stderr


def test_shards_are_disjoint_cover_every_key_and_do_not_depend_on_the_process():
    import subprocess
    import sys

    from reconciler.catalog.refresh import in_shard

    keys = [f"model-{i}" for i in range(400)]
    shards = [{k for k in keys if in_shard(k, i, 4)} for i in range(1, 5)]
    assert sum(len(s) for s in shards) == len(keys)
    assert set().union(*shards) == set(keys)
    assert all(60 < len(s) < 140 for s in shards)
    probe = (
        "from reconciler.catalog.refresh import in_shard;"
        "print(sorted(k for k in (f'model-{i}' for i in range(400)) if in_shard(k, 1, 4)))"
    )
    other = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert other.stdout.strip() == str(sorted(shards[0]))
