"""A state write that fails mid-apply loses nothing the catalog accepted.

During an apply the state is written as appends to its log (``StateStore.log``) and
compacted into the file when the run ends (``StateStore.save``); either may fail.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

from reconciler.apply.state import StateDocument, StateStore
from reconciler.errors import StateError
from tests.e2e.conftest import Workspace
from tests.e2e.test_apply import assert_converged

COUNT = 10
EMERGENCY = "reconciler.state.json.emergency"


def _models() -> list[dict]:
    return [
        {"key": f"model-{i:02d}", "spec": {"name": f"Model {i}", "provider": "Meta"}}
        for i in range(COUNT)
    ]


def _fill_the_disk(
    monkeypatch: pytest.MonkeyPatch, full_when: Callable[[StateDocument, int], bool]
) -> None:
    """Every state write fails once ``full_when(doc, appends so far)`` held for a log append."""
    real_log, real_write = StateStore.log, StateStore.write
    appends = []
    full = []

    def log(self: StateStore, doc: StateDocument, keys, *, batch: bool = False) -> None:
        appends.append(keys)
        if full or full_when(doc, len(appends)):
            full.append(True)
            raise StateError(f"cannot write the state log {self.wal_path}: No space left on device")
        real_log(self, doc, keys, batch=batch)

    def write(self: StateStore, text: str) -> None:
        if full:
            raise StateError(f"cannot write the state file {self.path}: No space left on device")
        real_write(self, text)

    monkeypatch.setattr(StateStore, "log", log)
    monkeypatch.setattr(StateStore, "write", write)


def _assert_rescued(ws: Workspace, result) -> dict:
    """The run stopped with one message, kept the state aside and released the lock."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"the state it could not save is in {EMERGENCY}" in result.stderr
    assert f"mv {EMERGENCY} reconciler.state.json" in result.stderr
    rescued = json.loads((ws.root / EMERGENCY).read_text())
    with StateStore(ws.state_path).lock(0, operation="test"):
        on_disk = StateStore(ws.state_path).load()
    assert rescued["lineage"] == on_disk.lineage
    return rescued


def _restore_and_rerun(ws: Workspace) -> None:
    (ws.root / EMERGENCY).replace(ws.state_path)
    rerun = ws.cli(["apply", "--auto-approve"])
    assert rerun.exit_code == 0, rerun.output
    assert_converged(ws, COUNT)


def test_partial_a_failed_log_append_keeps_the_state_in_an_emergency_file(workspace, monkeypatch):
    workspace.write_models(*_models())
    _fill_the_disk(monkeypatch, lambda doc, appends: len(doc.models) >= 3)
    result = workspace.cli(["apply", "--auto-approve", "--partial", "--parallelism", "2"])
    monkeypatch.undo()
    rescued = _assert_rescued(workspace, result)
    # The log holds the models recorded before the disk filled; the emergency file more.
    on_disk = StateStore(workspace.state_path).load()
    assert 1 <= len(on_disk.models) < len(rescued["models"])
    _restore_and_rerun(workspace)


def test_a_failed_append_while_accepting_keeps_what_was_accepted(workspace, monkeypatch):
    workspace.write_models(*_models())
    _fill_the_disk(monkeypatch, lambda doc, appends: len(doc.models) >= 3)
    result = workspace.cli(["apply", "--auto-approve", "--parallelism", "2"])
    monkeypatch.undo()
    rescued = _assert_rescued(workspace, result)
    # All or nothing had committed to the batch: what was not accepted stays journalled
    # under it, and the rerun's settling accepts it.
    assert rescued["accepting_batch"] is not None
    assert len(rescued["models"]) >= 3
    assert len(rescued["models"]) + len(rescued["journal"]) == COUNT
    on_disk = StateStore(workspace.state_path).load()
    assert len(on_disk.models) < len(rescued["models"])
    _restore_and_rerun(workspace)


def test_a_failed_append_while_staging_accepts_nothing(workspace, monkeypatch):
    workspace.write_models(*_models())
    _fill_the_disk(monkeypatch, lambda doc, appends: appends > 4)
    result = workspace.cli(["apply", "--auto-approve", "--parallelism", "2"])
    monkeypatch.undo()
    rescued = _assert_rescued(workspace, result)
    assert rescued["models"] == {}
    assert rescued["accepting_batch"] is None
    # Nothing was accepted: no draft is live.
    assert not any(draft["active"] for draft in workspace.catalog.drafts().values())
    _restore_and_rerun(workspace)


def test_a_failed_compaction_keeps_the_state_in_an_emergency_file(workspace, monkeypatch):
    models = _models()
    workspace.write_models(models[0])
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    workspace.write_models(*models)

    def save(self: StateStore, doc: StateDocument) -> None:
        raise StateError(f"cannot write the state file {self.path}: Read-only file system")

    monkeypatch.setattr(StateStore, "save", save)
    result = workspace.cli(["apply", "--auto-approve"])
    monkeypatch.undo()
    rescued = _assert_rescued(workspace, result)
    assert "Read-only file system" in result.stderr
    assert len(rescued["models"]) == COUNT
    assert rescued["journal"] == {}
    # The file was not compacted: it still says one model, and its log says the rest.
    assert len(json.loads(workspace.state_path.read_text())["models"]) == 1
    assert len(StateStore(workspace.state_path).load().models) == COUNT
    _restore_and_rerun(workspace)


def _limit_file_size() -> None:
    # A file too large: writes past the limit fail with EFBIG instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))


@pytest.mark.parametrize("mode", [[], ["--partial"]], ids=["all-or-nothing", "partial"])
def test_when_no_file_can_be_written_the_state_is_printed_to_restore(workspace, mode):
    workspace.write_models(*_models())
    env = {**os.environ, **workspace.env()}
    process = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve", *mode],
        cwd=workspace.root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_file_size,
        check=False,
    )
    assert process.returncode == 1, process.stderr
    assert "Traceback" not in process.stderr
    assert "File too large" in process.stderr
    assert "could not be written beside it either:" in process.stderr
    text = process.stderr.split("either:\n", 1)[1].split("\nOnce the state file", 1)[0]
    rescued = json.loads(text)
    assert rescued["models"] or rescued["journal"]
    workspace.state_path.write_text(text)
    rerun = workspace.cli(["apply", "--auto-approve"])
    assert rerun.exit_code == 0, rerun.output
    assert_converged(workspace, COUNT)
