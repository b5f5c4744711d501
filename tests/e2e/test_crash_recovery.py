"""A process killed at each step of an apply, then rerun, converges with no duplicates."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.e2e.conftest import Workspace
from tests.e2e.test_apply import CLAUDE, GPT, MISTRAL, assert_converged

MODELS = (GPT, CLAUDE, MISTRAL)
# Each model takes two writes (soft patch, ack); kill after every one of them.
STEPS = range(1, 2 * len(MODELS) + 1)


def _kill_after_writes(ws: Workspace, writes: int) -> None:
    process = ws.spawn(["apply", "--auto-approve", "--parallelism", "1"])
    deadline = time.monotonic() + 60
    try:
        while ws.catalog.faults.writes < writes:
            if process.poll() is not None:
                out, err = process.communicate()
                pytest.fail(f"apply ended before write {writes}: {out}\n{err}")
            if time.monotonic() > deadline:
                pytest.fail(f"apply never reached write {writes}")
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    # The catalog finishes what the killed run had sent (its key stays in flight until
    # then), as it has by the time anyone reruns: a rerun racing it would meet 409s that
    # its retries, with full jitter, may on a loaded machine all spend within that time.
    while ws.catalog.faults.in_flight and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.parametrize("writes", STEPS)
def test_apply_killed_after_each_write_converges_on_rerun(workspace, writes):
    workspace.write_models(*MODELS)
    # Slow writes keep the kill inside the apply instead of after it.
    workspace.catalog.faults.latency = 0.2
    _kill_after_writes(workspace, writes)
    workspace.catalog.faults.latency = 0.0
    before = workspace.state() if workspace.state_path.exists() else {"models": {}}
    result = workspace.cli(["apply", "--auto-approve", "--format", "json"])
    assert result.exit_code == 0, result.output
    # What the killed run left and the rerun did add up: settled models are counted too.
    assert json.loads(result.stdout)["summary"]["created"] == len(MODELS) - len(before["models"])
    assert_converged(workspace, len(MODELS))


def test_proposal_no_longer_wanted_after_a_crash_is_rejected(workspace):
    workspace.write_models(GPT)
    workspace.catalog.faults.latency = 0.3
    _kill_after_writes(workspace, 1)
    workspace.catalog.faults.latency = 0.0
    assert list(workspace.state()["journal"]) == ["gpt-4o-mini"]
    renamed = {**GPT, "spec": {**GPT["spec"], "name": "GPT-4o mini v2"}}
    workspace.write_models(renamed)
    result = workspace.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert "no longer wanted" in result.stderr
    assert_converged(workspace, 1)
    (draft_id,) = workspace.catalog.drafts()
    assert workspace.read(draft_id).name == "GPT-4o mini v2"
