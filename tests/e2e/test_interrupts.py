"""SIGINT and SIGTERM during apply: a spawned CLI, a live catalog made slow to answer."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import time

import pytest

from reconciler.apply.state import StateStore
from tests.e2e.conftest import Workspace
from tests.e2e.test_apply import assert_converged

COUNT = 12


def _models(count: int = COUNT) -> list[dict]:
    return [
        {"key": f"model-{i:02d}", "spec": {"name": f"Model {i}", "provider": "Meta"}}
        for i in range(count)
    ]


def _wait_for_writes(ws: Workspace, process: subprocess.Popen[str], writes: int) -> None:
    deadline = time.monotonic() + 30
    while ws.catalog.faults.writes < writes:
        if process.poll() is not None:
            pytest.fail(f"apply ended before write {writes}: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"apply never reached write {writes}")
        time.sleep(0.005)


def _finish(process: subprocess.Popen[str], within: float) -> tuple[str, str, float]:
    started = time.monotonic()
    out, err = process.communicate(timeout=within + 30)
    return out, err, time.monotonic() - started


def _assert_consistent(ws: Workspace) -> None:
    """Every draft the catalog holds is in the state, nothing is pending or journalled."""
    state = ws.state()
    assert state["journal"] == {}
    assert ws.catalog.pending() == []
    assert {record["draft_id"] for record in state["models"].values()} == set(ws.catalog.drafts())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_partial_first_interrupt_finishes_what_is_in_flight_and_exits_130(workspace, signum):
    workspace.write_models(*_models())
    workspace.catalog.faults.latency = 0.3
    process = workspace.spawn(["apply", "--auto-approve", "--partial", "--parallelism", "2"])
    _wait_for_writes(workspace, process, 3)
    process.send_signal(signum)
    out, err, _ = _finish(process, within=10)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "Interrupt received: starting no new model" in err
    assert "Interrupted at" in out
    # The models in flight were finished and recorded; the rest were never started.
    _assert_consistent(workspace)
    done = len(workspace.state()["models"])
    assert 1 <= done < COUNT
    assert f"{COUNT - done} models not started" in out
    workspace.catalog.faults.latency = 0.0
    rerun = workspace.cli(["apply", "--auto-approve"])
    assert rerun.exit_code == 0, rerun.output
    assert f"{COUNT - done} created" in rerun.stdout
    assert_converged(workspace, COUNT)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_first_interrupt_while_staging_accepts_nothing_and_exits_130(workspace, signum):
    workspace.write_models(*_models())
    workspace.catalog.faults.latency = 0.3
    process = workspace.spawn(["apply", "--auto-approve", "--parallelism", "2"])
    _wait_for_writes(workspace, process, 3)
    process.send_signal(signum)
    out, err, _ = _finish(process, within=10)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "Interrupt received: starting no new model" in err
    # All or nothing: the soft patches in flight finished, then every staged proposal
    # was rejected; nothing was accepted and no reserved draft is left.
    assert "nothing was accepted (all or nothing)" in out
    assert "Apply stopped before accepting any change: nothing applied" in out
    _assert_consistent(workspace)
    assert workspace.state()["models"] == {}
    assert workspace.catalog.drafts() == {}
    not_started = int(out.split(" models not started")[0].rsplit(" ", 1)[1])
    assert 0 < not_started < COUNT
    workspace.catalog.faults.latency = 0.0
    rerun = workspace.cli(["apply", "--auto-approve"])
    assert rerun.exit_code == 0, rerun.output
    assert f"Apply complete: {COUNT} created" in rerun.stdout
    assert_converged(workspace, COUNT)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_first_interrupt_while_accepting_leaves_the_rest_to_the_next_run(workspace, signum):
    workspace.write_models(*_models())
    workspace.catalog.faults.latency = 0.3
    process = workspace.spawn(["apply", "--auto-approve", "--parallelism", "2"])
    # Every soft patch, then the first accepts.
    _wait_for_writes(workspace, process, COUNT + 3)
    process.send_signal(signum)
    out, err, _ = _finish(process, within=10)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    state = workspace.state()
    done, left = len(state["models"]), sorted(state["journal"])
    assert 1 <= done < COUNT
    assert done + len(left) == COUNT
    # The batch was accepted before the interrupt: the accepts not started stay
    # journalled under it, pending in the catalog, for the next run to accept.
    assert state["accepting_batch"] is not None
    assert len(workspace.catalog.pending()) == len(left)
    assert "Interrupted at" in out
    assert f"{len(left)} models not started" in out
    workspace.catalog.faults.latency = 0.0
    rerun = workspace.cli(["apply", "--auto-approve", "--format", "json"])
    assert rerun.exit_code == 0, rerun.output
    document = json.loads(rerun.stdout)
    assert sorted(o["key"] for o in document["outcomes"] if o["status"] == "settled") == left
    assert document["summary"]["created"] == len(left)
    assert_converged(workspace, COUNT)
    assert workspace.state()["accepting_batch"] is None


@pytest.mark.parametrize("mode", [[], ["--partial"]], ids=["all-or-nothing", "partial"])
def test_second_interrupt_exits_at_once_naming_what_is_left(workspace, mode):
    workspace.write_models(*_models(4))
    # Each request takes longer than the 5 s allowed: only an exit at once is in time.
    workspace.catalog.faults.latency = 8.0
    process = workspace.spawn(["apply", "--auto-approve", *mode, "--parallelism", "2"])
    _wait_for_writes(workspace, process, 2)
    time.sleep(0.3)  # the two soft patches are journalled before they are sent
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert time.monotonic() - started < 5
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "Second interrupt: exiting now" in err
    journal = sorted(workspace.state()["journal"])
    assert len(journal) == 2
    assert f"may be left in flight: {', '.join(journal)}" in err
    assert "the next apply settles them" in err
    workspace.catalog.faults.latency = 0.0
    time.sleep(8.5)  # let the server finish the requests it was still holding
    rerun = workspace.cli(["apply", "--auto-approve"])
    assert rerun.exit_code == 0, rerun.output
    # Partial: the two proposals left are settled (accepted) and counted as created.
    assert "Apply complete: 4 created" in rerun.stdout
    if not mode:
        # Staged, never accepted: the rerun rejects both, then applies the whole plan.
        assert "4 created, 0 updated, 0 deactivated, 2 interrupted proposals withdrawn" in (
            rerun.stdout
        )
    assert_converged(workspace, 4)


def _wait_for_line(process: subprocess.Popen[str], words: str) -> None:
    """Read the process's stderr until a line holds ``words`` (it keeps running)."""
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"apply never said {words!r}"
        ready, _, _ = select.select([process.stderr], [], [], remaining)
        if ready:
            line = process.stderr.readline()
            assert line, f"apply ended before saying {words!r}: {process.communicate()}"
            if words in line:
                return


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_before_any_request_sends_nothing(workspace, signum):
    workspace.write_models(*_models(3))
    store = StateStore(workspace.state_path)
    with store.lock(5, operation="test"):
        process = workspace.spawn(["apply", "--auto-approve", "--lock-timeout", "60"])
        # It waits for the lock: past start-up, before any request.
        _wait_for_line(process, "waiting up to 60s")
        process.send_signal(signum)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "Interrupted." in err
    assert workspace.catalog.faults.writes == 0
    assert workspace.catalog.drafts() == {}
