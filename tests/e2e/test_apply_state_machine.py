"""A stateful property test of apply over the local catalog (real HTTP, real SQLite).

Rules edit the manifests, apply, kill an apply at a random write, interrupt one
(SIGINT) at a random write, drift a draft by hand and rerun; after every step no
model has two drafts and nothing is left journalled without being settled, and
after every successful apply the catalog equals the manifests with no proposal
pending. Each apply is the default one (all or nothing) or, as drawn, --partial.
RECONCILER_STATEFUL_EXAMPLES sets how many runs Hypothesis tries (default 3, short
enough for CI); raise it for a longer search.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.e2e.conftest import Workspace
from tests.e2e.test_circuit_breaker import Restartable

KEYS = ("alpha", "beta", "gamma")
# Mostly the default apply (all or nothing); sometimes each model on its own.
MODES = st.sampled_from(((), (), ("--partial",)))
EXAMPLES = int(os.environ.get("RECONCILER_STATEFUL_EXAMPLES", "3"))


class ApplyMachine(RuleBasedStateMachine):
    """The manifests, the catalog and the state, driven the way people and faults do."""

    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        root = Path(self._dir.name)
        self.server = Restartable(root / "catalog.sqlite3")
        self.server.start()
        (root / "repo").mkdir()
        self.ws = Workspace(root / "repo", self.server.catalog)
        self.names: dict[str, str] = {}
        self.ever: set[str] = set()

    def teardown(self) -> None:
        self.server.stop()
        self._dir.cleanup()

    def _write(self) -> None:
        self.ever |= set(self.names)
        models = [
            {"key": key, "spec": {"name": name, "provider": "Meta"}}
            for key, name in sorted(self.names.items())
        ]
        self.ws.write_models(*models)

    @rule(key=st.sampled_from(KEYS), version=st.integers(0, 3))
    def edit_manifest(self, key: str, version: int) -> None:
        self.names[key] = f"{key} v{version}"
        self._write()

    @rule(mode=MODES)
    def apply(self, mode: tuple[str, ...]) -> None:
        if not self.names:
            return
        result = self.ws.cli(["apply", "--auto-approve", *mode])
        assert result.exit_code == 0, result.output
        state = self.ws.state()
        assert state["journal"] == {}
        assert self.server.catalog.pending() == []
        assert sorted(state["models"]) == sorted(self.names)
        for key, name in self.names.items():
            assert self.ws.read(state["models"][key]["draft_id"]).name == name

    def _signal_apply_at_a_write(
        self, after: int, mode: tuple[str, ...], signum: signal.Signals
    ) -> subprocess.Popen[str]:
        faults = self.server.catalog.faults
        target = faults.writes + after
        faults.latency = 0.05
        process = self.ws.spawn(["apply", "--auto-approve", *mode, "--parallelism", "1"])
        deadline = time.monotonic() + 30
        while faults.writes < target and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signum)
        return process

    @rule(after=st.integers(1, 6), mode=MODES)
    def kill_apply_at_a_write(self, after: int, mode: tuple[str, ...]) -> None:
        if not self.names:
            return
        process = self._signal_apply_at_a_write(after, mode, signal.SIGKILL)
        process.communicate(timeout=30)
        self.server.catalog.faults.latency = 0.0

    @rule(after=st.integers(1, 6), mode=MODES)
    def interrupt_apply_at_a_write(self, after: int, mode: tuple[str, ...]) -> None:
        if not self.names:
            return
        process = self._signal_apply_at_a_write(after, mode, signal.SIGINT)
        _, err = process.communicate(timeout=30)
        self.server.catalog.faults.latency = 0.0
        # Finished before the signal (0), or stopped after what was in flight (130).
        assert process.returncode in (0, 130), err
        assert "Traceback" not in err

    @rule(key=st.sampled_from(KEYS))
    def drift_by_hand(self, key: str) -> None:
        if not self.ws.state_path.exists():
            return
        record = self.ws.state()["models"].get(key)
        if record is not None:
            self.ws.send(draft_id=record["draft_id"], name=f"{key} edited by hand")

    @invariant()
    def no_model_has_two_drafts(self) -> None:
        assert len(self.server.catalog.drafts()) <= len(self.ever)


ApplyMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_apply_state_machine = ApplyMachine.TestCase
