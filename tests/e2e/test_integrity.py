"""Integrity against the local catalog over real HTTP: no wrong result, no silent pass."""

from __future__ import annotations

import json
import subprocess
import time

from tests.e2e.conftest import Workspace
from tests.e2e.test_apply import CLAUDE, GPT, MISTRAL, assert_converged


def test_import_refuses_a_draft_another_key_already_manages(workspace):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    draft_id = workspace.state()["models"]["gpt-4o-mini"]["draft_id"]
    before = workspace.state_path.read_text()
    result = workspace.cli(["import", "gpt-4o-mini-copy", draft_id])
    assert result.exit_code == 1
    assert f"draft {draft_id} is already in the state as model gpt-4o-mini" in result.stderr
    assert "state rm gpt-4o-mini" in result.stderr
    assert workspace.state_path.read_text() == before


def test_importing_a_draft_again_under_its_own_key_is_still_allowed(workspace):
    draft_id = workspace.send(name="Command R+", provider="cohere").draft_id
    assert workspace.cli(["import", "command-r-plus", draft_id]).exit_code == 0
    result = workspace.cli(["import", "command-r-plus", draft_id])
    assert result.exit_code == 0, result.output


def _lose_every_draft(ws: Workspace) -> None:
    """Point every model of the state at a draft the catalog does not have (a wrong edit)."""
    state = ws.state()
    for number, record in enumerate(state["models"].values()):
        record["draft_id"] = f"00000000-0000-4000-8000-{number:012d}"
    ws.state_path.write_text(json.dumps(state))


def test_models_missing_from_the_catalog_are_said_plainly_in_every_format(workspace):
    workspace.write_models(GPT, CLAUDE, MISTRAL)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    _lose_every_draft(workspace)
    line = "3 models recorded in the state are missing from the catalog"
    text = workspace.cli(["plan"])
    assert text.exit_code == 0, text.output
    assert line in text.stdout
    document = json.loads(workspace.cli(["plan", "--format", "json"]).stdout)
    assert document["missing_from_catalog"] == ["claude-3-5-haiku", "gpt-4o-mini", "mistral-large"]
    assert document["summary"]["recreate"] == 3
    assert line in workspace.cli(["plan", "--format", "markdown"]).stdout


def test_recreating_models_the_state_says_exist_is_refused_above_the_share(workspace):
    workspace.write_models(GPT, CLAUDE, MISTRAL)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    _lose_every_draft(workspace)
    writes = workspace.catalog.faults.writes
    result = workspace.cli(["apply", "--auto-approve", "--safety-min-models", "3"])
    assert result.exit_code == 1
    assert "recreate 3 of 3 managed models (100%)" in result.stderr
    assert "--force" in result.stderr
    assert workspace.catalog.faults.writes == writes
    assert len(workspace.catalog.drafts()) == 3
    allowed = ["--safety-min-models", "3", "--max-recreate-share", "1"]
    result = workspace.cli(["apply", "--auto-approve", *allowed])
    assert result.exit_code == 0, result.output
    assert len(workspace.catalog.drafts()) == 6


def test_plan_with_nothing_to_read_still_proves_the_token(workspace, monkeypatch):
    workspace.write_models(GPT, CLAUDE)
    env = workspace.env()
    monkeypatch.setattr(workspace, "env", lambda: {**env, "CATALOG_TOKEN": "not-the-token"})
    for command in (["plan"], ["drift"], ["apply", "--auto-approve"]):
        result = workspace.cli(command)
        assert result.exit_code == 1, command
        assert result.stderr.startswith("Error: the catalog refused the credentials"), command
        assert "00000000" not in result.stderr
    assert workspace.catalog.faults.writes == 0
    assert not workspace.state_path.exists()


def test_plan_with_nothing_to_read_still_proves_the_endpoint(workspace, monkeypatch):
    workspace.write_models(GPT)
    env = workspace.env()
    wrong = workspace.catalog.url + "/api"
    monkeypatch.setattr(workspace, "env", lambda: {**env, "CATALOG_ENDPOINT": wrong})
    result = workspace.cli(["plan"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {wrong} has no catalog API")
    assert "Plan:" not in result.stdout


def test_plan_with_nothing_to_read_fails_when_nothing_listens(workspace, monkeypatch):
    workspace.write_models(GPT)
    env = workspace.env()
    monkeypatch.setattr(workspace, "env", lambda: {**env, "CATALOG_ENDPOINT": "http://127.0.0.1:9"})
    result = workspace.cli(["plan"])
    assert result.exit_code == 1
    assert "could not connect to the catalog" in result.stderr
    assert "Plan:" not in result.stdout


def test_plan_without_refresh_promises_no_catalog_contact(workspace, monkeypatch):
    workspace.write_models(GPT)
    env = workspace.env()
    monkeypatch.setattr(workspace, "env", lambda: {**env, "CATALOG_TOKEN": "not-the-token"})
    result = workspace.cli(["plan", "--refresh=false"])
    assert result.exit_code == 0, result.output
    assert "Plan: 1 to create" in result.stdout


def test_an_endpoint_with_the_api_path_is_a_usage_error_saying_to_drop_it(workspace, monkeypatch):
    workspace.write_models(GPT)
    env = workspace.env()
    pasted = workspace.catalog.url + "/model/draft"
    monkeypatch.setattr(workspace, "env", lambda: {**env, "CATALOG_ENDPOINT": pasted})
    result = workspace.cli(["plan"])
    assert result.exit_code == 1
    assert "drop the path" in result.stderr
    assert repr(workspace.catalog.url) in result.stderr


def test_drift_reports_a_model_whose_manifest_is_gone_but_is_still_active(workspace):
    workspace.write_models(GPT, CLAUDE)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    workspace.write_models(GPT)
    text = workspace.cli(["drift"])
    assert text.exit_code == 2, text.output
    assert "In the state and active in the catalog, but no manifest:" in text.stdout
    assert "claude-3-5-haiku" in text.stdout
    # Not "No changes. The catalog matches the manifests.", which would contradict exit 2.
    assert "No changes. The catalog matches" not in text.stdout
    assert "1 model is active in the catalog without a manifest" in text.stdout
    document = workspace.cli(["drift", "--format", "json"])
    assert document.exit_code == 2
    (entry,) = json.loads(document.stdout)["without_manifest"]
    assert entry["key"] == "claude-3-5-haiku"
    assert entry["draft_id"] == workspace.state()["models"]["claude-3-5-haiku"]["draft_id"]
    markdown = workspace.cli(["drift", "--format", "markdown"])
    assert markdown.exit_code == 2
    assert "### In the state and active in the catalog, but no manifest" in markdown.stdout
    assert "`claude-3-5-haiku`" in markdown.stdout
    assert "No changes. The catalog matches" not in markdown.stdout


def test_drift_is_clean_once_the_model_without_manifest_is_pruned(workspace):
    workspace.write_models(GPT, CLAUDE)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve", "--prune"]).exit_code == 0
    result = workspace.cli(["drift"])
    assert result.exit_code == 0, result.output


def _wait_for(predicate, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _lock_holder(ws: Workspace) -> dict:
    try:
        return json.loads((ws.root / "reconciler.state.json.lock").read_text() or "{}")
    except FileNotFoundError:
        return {}


def _slow_apply(ws: Workspace) -> subprocess.Popen[str]:
    """An apply of many models against a slow catalog, started as its own process."""
    models = [
        {"key": f"model-{n:02d}", "spec": {"name": f"Model {n}", "provider": "Meta"}}
        for n in range(10)
    ]
    ws.write_models(*models)
    ws.catalog.faults.latency = 0.2
    process = ws.spawn(["apply", "--auto-approve", "--parallelism", "1"])
    _wait_for(lambda: _lock_holder(ws).get("operation") == "apply")
    _wait_for(lambda: ws.state_path.exists() and ws.state()["journal"] != {})
    return process


def test_plan_during_an_apply_says_an_apply_is_running_not_interrupted(workspace):
    process = _slow_apply(workspace)
    try:
        result = workspace.cli(["plan", "--refresh=false"])
    finally:
        process.wait(60)
    assert f"an apply is running (pid {process.pid}" in result.stderr
    assert "interrupted" not in result.stderr
    assert process.returncode == 0


def test_deleting_the_lock_file_during_an_apply_does_not_let_a_second_one_in(workspace):
    process = _slow_apply(workspace)
    try:
        (workspace.root / "reconciler.state.json.lock").unlink()
        second = workspace.spawn(["apply", "--auto-approve", "--lock-timeout", "0.5"])
        _, err = second.communicate(timeout=60)
        # The first apply still runs: the second was refused while it held the lock.
        assert process.poll() is None
    finally:
        process.wait(60)
    assert second.returncode == 1
    assert "locked by apply" in err
    assert process.returncode == 0
    workspace.catalog.faults.latency = 0
    assert_converged(workspace, 10)


def test_apply_without_a_terminal_says_to_use_auto_approve(workspace):
    workspace.write_models(GPT)
    process = workspace.spawn(["apply"])
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "no terminal" in err
    assert "--auto-approve" in err
    assert workspace.catalog.faults.writes == 0
