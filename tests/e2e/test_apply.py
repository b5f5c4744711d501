"""apply against the local catalog over real HTTP: happy paths, faults, rejections."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import TOKEN, Workspace

GPT = {
    "key": "gpt-4o-mini",
    "spec": {
        "name": "GPT-4o mini",
        "provider": "openai",
        "departments": ["Support", "research"],
        "modalities": ["text", "image"],
        "modalities_enabled": True,
        "pricing_enabled": True,
        "pricing": [
            {"label": "input", "unit": "1M tokens", "amount": "0.15", "currency": "USD"},
            {"label": "output", "unit": "1M tokens", "amount": "0.60", "currency": "USD"},
        ],
    },
}
CLAUDE = {
    "key": "claude-3-5-haiku",
    "spec": {
        "name": "Claude 3.5 Haiku",
        "provider": "Anthropic",
        "reasoning_levels": ["low", "high"],
        "reasoning_levels_enabled": True,
    },
}
MISTRAL = {
    "key": "mistral-large",
    "spec": {"name": "Mistral Large", "provider": "Mistral", "modalities": ["text"]},
}


def plan_json(ws: Workspace, *args: str) -> dict:
    result = ws.cli(["plan", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_converged(ws: Workspace, count: int) -> None:
    """Every model applied once: no duplicate drafts, nothing pending, an empty plan."""
    assert len(ws.catalog.drafts()) == count
    assert ws.catalog.pending() == []
    state = ws.state()
    assert state["journal"] == {}
    assert len(state["models"]) == count
    result = ws.cli(["plan", "--detailed-exitcode"])
    assert result.exit_code == 0, result.output
    assert "No changes" in result.stdout


def test_apply_creates_every_model_and_the_next_plan_is_empty(workspace):
    workspace.write_models(GPT, CLAUDE)
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "Apply complete: 2 created, 0 updated, 0 deactivated." in result.stdout
    assert_converged(workspace, 2)
    drafts = workspace.catalog.drafts()
    state = workspace.state()
    assert {record["draft_id"] for record in state["models"].values()} == set(drafts)


def test_update_sends_only_the_changed_fields(workspace):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    changed = {**GPT, "spec": {**GPT["spec"], "name": "GPT-4o mini (2024-07-18)"}}
    changed["spec"]["pricing"] = [
        {"label": "input", "unit": "1M tokens", "amount": "0.15", "currency": "USD"},
        {"label": "output", "unit": "1M tokens", "amount": "0.50", "currency": "USD"},
    ]
    workspace.write_models(changed)
    document = plan_json(workspace)
    (change,) = [c for c in document["changes"] if c["action"] != "noop"]
    assert change["action"] == "update"
    assert set(change["patch"]) == {"name", "pricing", "pricing_ids"}
    assert change["patch"]["pricing"] == [
        {"label": "output", "unit": "1M tokens", "amount": "0.50", "currency": "USD"}
    ]
    assert len(change["patch"]["pricing_ids"]) == 1
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "1 updated" in result.stdout
    assert_converged(workspace, 1)


def test_apply_without_a_terminal_refuses_unless_auto_approved(workspace):
    workspace.write_models(GPT)
    result = workspace.cli(["apply"])
    assert result.exit_code == 1
    assert "--auto-approve" in result.stderr
    assert workspace.catalog.drafts() == {}
    assert workspace.catalog.faults.writes == 0


@pytest.mark.parametrize(("fault", "label"), [(1, "soft patch"), (2, "ack")])
def test_lost_response_is_replayed_not_applied_twice(workspace, fault, label):
    workspace.write_models(GPT)
    workspace.catalog.faults.drop_responses.add(fault)
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, f"lost {label} response: {result.output}"
    assert_converged(workspace, 1)


def test_503s_are_retried_with_the_same_key(workspace):
    workspace.write_models(GPT, CLAUDE)
    workspace.catalog.faults.fail_next_writes(3)
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert_converged(workspace, 2)


def test_429_is_retried_after_retry_after(workspace):
    workspace.write_models(GPT)
    workspace.catalog.faults.rate_limit_next(2, retry_after=1)
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert_converged(workspace, 1)


def test_with_partial_a_rejected_model_is_reported_and_the_others_go_on(workspace):
    broken = {"key": "broken-model", "spec": {"name": "Broken", "provider": "NoSuchProvider"}}
    workspace.write_models(GPT, broken, CLAUDE)
    result = workspace.cli(["apply", "--auto-approve", "--partial"])
    assert result.exit_code == 1
    assert "broken-model" in result.stdout
    assert "provider" in result.stdout
    assert "NoSuchProvider" in result.stdout
    assert "Apply finished with errors: 2 created, 0 updated, 0 deactivated, 1 failed." in (
        result.stdout
    )
    state = workspace.state()
    assert sorted(state["models"]) == ["claude-3-5-haiku", "gpt-4o-mini"]
    assert state["journal"] == {}
    assert workspace.catalog.pending() == []
    assert len(workspace.catalog.drafts()) == 2


def test_token_appears_in_no_output_state_or_plan(workspace, tmp_path):
    workspace.write_models(GPT)
    outputs = [
        workspace.cli(["plan", "--out", str(tmp_path / "plan.json")]),
        workspace.cli(["apply", "--plan", str(tmp_path / "plan.json")]),
        workspace.cli(["drift", "--format", "json"]),
    ]
    for result in outputs:
        assert TOKEN not in result.output
    assert TOKEN not in workspace.state_path.read_text()
    assert TOKEN not in (tmp_path / "plan.json").read_text()


def _small_models(count: int, name: str = "Model") -> list[dict]:
    return [
        {"key": f"model-{i:02d}", "spec": {"name": f"{name} {i}", "provider": "Meta"}}
        for i in range(count)
    ]


def test_apply_refuses_to_update_too_large_a_share_unless_forced(workspace):
    workspace.write_models(*_small_models(10))
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    renamed = _small_models(10, name="Renamed")[:4] + _small_models(10)[4:]
    workspace.write_models(*renamed)
    writes = workspace.catalog.faults.writes
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 1
    assert "update 4 of 10 managed models (40%)" in result.stderr
    assert "--force" in result.stderr
    assert workspace.catalog.faults.writes == writes
    loosened = workspace.cli(["apply", "--auto-approve", "--max-update-share", "0.5"])
    assert loosened.exit_code == 0, loosened.output
    assert "4 updated" in loosened.stdout
    workspace.write_models(*_small_models(10))
    forced = workspace.cli(["apply", "--auto-approve", "--force"])
    assert forced.exit_code == 0, forced.output
    assert_converged(workspace, 10)


def test_catalog_down_mid_apply_fails_cleanly_and_the_next_apply_finishes(workspace):
    workspace.write_models(GPT)
    # Every write fails until the retries give up: the proposal stays journalled.
    workspace.catalog.faults.fail_writes.update(range(1, 200))
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "the next apply settles it" in result.stdout
    assert list(workspace.state()["journal"]) == ["gpt-4o-mini"]
    workspace.catalog.faults.reset()
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert_converged(workspace, 1)


def test_apply_without_a_terminal_refuses_before_settling_anything(workspace):
    workspace.write_models(GPT)
    workspace.catalog.faults.fail_writes.update(range(1, 200))
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 1
    workspace.catalog.faults.reset()
    writes = workspace.catalog.faults.writes
    result = workspace.cli(["apply"])
    assert result.exit_code == 1
    assert "--auto-approve" in result.stderr
    # Refused means nothing sent: the interrupted proposal waits for an approved apply.
    assert workspace.catalog.faults.writes == writes
    assert list(workspace.state()["journal"]) == ["gpt-4o-mini"]
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert_converged(workspace, 1)


def test_an_apply_with_nothing_to_do_still_reports_on_stdout(workspace):
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    text = workspace.cli(["apply", "--auto-approve"])
    assert text.exit_code == 0
    assert text.stdout == "No changes. The catalog matches the manifests.\n"
    document = json.loads(workspace.cli(["apply", "--auto-approve", "--format", "json"]).stdout)
    assert document["outcomes"] == []
    assert document["summary"]["failed"] == 0
    markdown = workspace.cli(["apply", "--auto-approve", "--format", "markdown"]).stdout
    assert "**No changes. The catalog matches the manifests.**" in markdown


def test_without_a_terminal_each_model_is_said_once_as_it_finishes(workspace):
    workspace.write_models(GPT, CLAUDE)
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("gpt-4o-mini: created") == 1
    assert "✓" not in result.stdout
    assert result.stdout.strip().endswith("Apply complete: 2 created, 0 updated, 0 deactivated.")


def test_a_saved_plan_for_another_catalog_is_refused_before_any_request(workspace, tmp_path):
    workspace.write_models(GPT)
    plan_file = tmp_path / "plan.json"
    assert workspace.cli(["plan", "--out", str(plan_file)]).exit_code == 0
    result = workspace.cli(["apply", "--plan", str(plan_file), "--endpoint", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "made against the catalog 127.0.0.1:" in result.stderr
    assert "CATALOG_ENDPOINT" in result.stderr
    assert "could not connect" not in result.stderr


def test_a_rollback_whose_reject_fails_says_the_proposal_is_left_for_the_next_apply(workspace):
    # All or nothing: the second change cannot be staged, so the first is rolled back; the
    # catalog then refuses that reject too. The run must not claim it was rejected.
    workspace.write_models(GPT, {**MISTRAL, "key": "z-model"})
    workspace.catalog.faults.fail_writes.update(range(2, 200))
    result = workspace.cli(["apply", "--auto-approve", "--parallelism", "1"])
    assert result.exit_code == 1
    assert "so every staged proposal was rejected" not in result.stdout
    assert "could not be rejected now and stay journalled" in result.stdout
    assert "rejecting its proposal failed" in result.stdout
    # Both stay journalled: the staged one, and the one whose soft patch may have landed.
    assert sorted(workspace.state()["journal"]) == ["gpt-4o-mini", "z-model"]
    assert len(workspace.catalog.pending()) == 1
    workspace.catalog.faults.reset()
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert_converged(workspace, 2)
