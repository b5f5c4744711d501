"""A rerun that settles an interrupted apply reports the settled models like applied ones."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Workspace
from tests.e2e.test_apply import CLAUDE, GPT, assert_converged

MODES = pytest.mark.parametrize("mode", [[], ["--partial"]], ids=["all-or-nothing", "partial"])


def _interrupt_after_the_soft_patch(ws: Workspace, mode: list[str]) -> None:
    """The soft patch is accepted, every ack fails: the proposal stays journalled.

    All or nothing: the batch was accepted before the ack, so the rerun accepts it.
    """
    ws.write_models(GPT)
    ws.catalog.faults.fail_writes.update(range(2, 200))
    assert ws.cli(["apply", "--auto-approve", *mode]).exit_code == 1
    assert list(ws.state()["journal"]) == ["gpt-4o-mini"]
    ws.catalog.faults.reset()


@MODES
def test_a_settled_create_is_reported_in_text(workspace, mode):
    _interrupt_after_the_soft_patch(workspace, mode)
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "No changes" not in result.stdout
    assert "Apply complete: 1 created, 0 updated, 0 deactivated." in result.stdout
    assert_converged(workspace, 1)


@MODES
def test_a_settled_create_is_an_outcome_in_json(workspace, mode):
    _interrupt_after_the_soft_patch(workspace, mode)
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


@MODES
def test_a_settled_create_is_a_row_in_markdown(workspace, mode):
    _interrupt_after_the_soft_patch(workspace, mode)
    result = workspace.cli(["apply", "--auto-approve", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert "**Apply complete: 1 created, 0 updated, 0 deactivated.**" in result.stdout
    assert "| `gpt-4o-mini` | create | ✓ interrupted change completed |" in result.stdout


def _fail_while_staging(ws: Workspace) -> None:
    """All or nothing: the first soft patch lands, then the catalog fails every write.

    Nothing is accepted and neither proposal can be rejected: both stay journalled
    under a batch that was never accepted.
    """
    ws.write_models(GPT, CLAUDE)
    ws.catalog.faults.fail_writes.update(range(2, 200))
    assert ws.cli(["apply", "--auto-approve", "--parallelism", "1"]).exit_code == 1
    state = ws.state()
    assert state["models"] == {}
    assert state["accepting_batch"] is None
    assert sorted(state["journal"]) == ["claude-3-5-haiku", "gpt-4o-mini"]
    ws.catalog.faults.reset()


def test_proposals_of_a_batch_never_accepted_are_reported_withdrawn_in_text(workspace):
    _fail_while_staging(workspace)
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "No changes" not in result.stdout
    summary = (
        "Apply complete: 2 created, 0 updated, 0 deactivated, 2 interrupted proposals withdrawn."
    )
    assert summary in result.stdout
    assert_converged(workspace, 2)


def test_proposals_of_a_batch_never_accepted_are_outcomes_in_json(workspace):
    _fail_while_staging(workspace)
    result = workspace.cli(["apply", "--auto-approve", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    withdrawn = [o for o in document["outcomes"] if o["status"] == "discarded"]
    assert sorted(o["key"] for o in withdrawn) == ["claude-3-5-haiku", "gpt-4o-mini"]
    assert all("all-or-nothing plan was interrupted" in o["message"] for o in withdrawn)
    assert document["summary"]["withdrawn"] == 2
    assert document["summary"]["created"] == 2
    assert_converged(workspace, 2)


def test_proposals_of_a_batch_never_accepted_are_rows_in_markdown(workspace):
    _fail_while_staging(workspace)
    result = workspace.cli(["apply", "--auto-approve", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert "2 interrupted proposals withdrawn.**" in result.stdout
    assert "| `gpt-4o-mini` | create | ✓ interrupted proposal rejected: its all-or-nothing" in (
        result.stdout
    )
    assert_converged(workspace, 2)
