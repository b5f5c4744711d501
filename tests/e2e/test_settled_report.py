"""A rerun that settles an interrupted apply reports the settled models like applied ones."""

from __future__ import annotations

import json

from tests.e2e.conftest import Workspace
from tests.e2e.test_apply import GPT, assert_converged


def _interrupt_after_the_soft_patch(ws: Workspace) -> None:
    """The soft patch is accepted, every ack fails: the proposal stays journalled."""
    ws.write_models(GPT)
    ws.catalog.faults.fail_writes.update(range(2, 200))
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 1
    assert list(ws.state()["journal"]) == ["gpt-4o-mini"]
    ws.catalog.faults.reset()


def test_a_settled_create_is_reported_in_text(workspace):
    _interrupt_after_the_soft_patch(workspace)
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "No changes" not in result.stdout
    assert "Apply complete: 1 created, 0 updated, 0 deactivated." in result.stdout
    assert_converged(workspace, 1)


def test_a_settled_create_is_an_outcome_in_json(workspace):
    _interrupt_after_the_soft_patch(workspace)
    result = workspace.cli(["apply", "--auto-approve", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    (outcome,) = document["outcomes"]
    assert outcome["key"] == "gpt-4o-mini"
    assert outcome["action"] == "create"
    assert outcome["status"] == "settled"
    assert outcome["draft_id"] == workspace.state()["models"]["gpt-4o-mini"]["draft_id"]
    assert document["summary"]["created"] == 1
    assert document["summary"]["failed"] == 0


def test_a_settled_create_is_a_row_in_markdown(workspace):
    _interrupt_after_the_soft_patch(workspace)
    result = workspace.cli(["apply", "--auto-approve", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert "**Apply complete: 1 created, 0 updated, 0 deactivated.**" in result.stdout
    assert "| `gpt-4o-mini` | create | ✓ interrupted change completed |" in result.stdout
