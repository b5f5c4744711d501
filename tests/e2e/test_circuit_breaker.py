"""The catalog dies mid-apply: the run stops early with one message; a rerun converges."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from reconciler.server import FaultInjector, create_app
from tests.e2e.conftest import TOKEN, Catalog, Workspace, _free_port
from tests.e2e.test_apply import assert_converged

COUNT = 50


class Restartable:
    """A catalog server that a test can stop (as if it died) and start again on its port."""

    def __init__(self, db_path: Path) -> None:
        self.catalog = Catalog("", FaultInjector(), db_path)
        self.port = _free_port()
        self.catalog.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        app = create_app(self.catalog.db_path, token=TOKEN, faults=self.catalog.faults)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="critical", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the catalog server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.should_exit = self._server.force_exit = True
        self._thread.join(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Restartable]:
    live = Restartable(tmp_path / "catalog.sqlite3")
    live.start()
    yield live
    if live._thread is not None and live._thread.is_alive():
        live.stop()


def _workspace(tmp_path: Path, server: Restartable) -> Workspace:
    root = tmp_path / "repo"
    root.mkdir()
    ws = Workspace(root, server.catalog)
    ws.write_models(
        *[
            {"key": f"model-{i:02d}", "spec": {"name": f"M {i}", "provider": "Meta"}}
            for i in range(COUNT)
        ]
    )
    return ws


def _stop_the_catalog_at(
    ws: Workspace, server: Restartable, mode: list[str], writes: int
) -> tuple[str, str]:
    """Apply, stop the catalog at its ``writes``-th write; the run's output once it ends."""
    server.catalog.faults.latency = 0.05
    process = ws.spawn(["apply", "--auto-approve", *mode, "--parallelism", "4"])
    deadline = time.monotonic() + 30
    while server.catalog.faults.writes < writes:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.005)
    server.stop()
    started = time.monotonic()
    out, err = process.communicate(timeout=120)
    elapsed = time.monotonic() - started
    assert process.returncode == 1, err
    assert "Traceback" not in out + err
    # Bounded: the models in flight give up after their retries, and no other model starts
    # (without the breaker every remaining model retried for seconds, one after another).
    assert elapsed < 20, elapsed
    assert (out + err).count("stopped answering") == 1
    assert "models not started; rerun apply." in out
    failed_lines = [line for line in err.splitlines() if "could not connect" in line]
    assert len(failed_lines) <= 8, err
    return out, err


@pytest.mark.parametrize("mode", [[], ["--partial"]], ids=["all-or-nothing", "partial"])
def test_a_dead_catalog_stops_the_run_once_and_the_rerun_converges(tmp_path, server, mode):
    ws = _workspace(tmp_path, server)
    out, _ = _stop_the_catalog_at(ws, server, mode, 20)
    state = ws.state()
    if not mode:
        # All or nothing, stopped while staging: nothing was accepted, and the proposals
        # staged could not be rejected, so they are journalled for the next run.
        assert "Nothing was accepted (all or nothing)." in out
        assert state["models"] == {}
        assert state["accepting_batch"] is None
        assert state["journal"]
    server.start()
    rerun = ws.cli(["apply", "--auto-approve"])
    assert rerun.exit_code == 0, rerun.output
    assert_converged(ws, COUNT)


def test_a_catalog_dead_while_accepting_leaves_the_rest_to_the_next_run(tmp_path, server):
    ws = _workspace(tmp_path, server)
    # Every soft patch, then some accepts.
    out, _ = _stop_the_catalog_at(ws, server, [], COUNT + 8)
    assert "Nothing was accepted" not in out
    state = ws.state()
    assert state["accepting_batch"] is not None
    done, left = sorted(state["models"]), sorted(state["journal"])
    assert done
    assert len(done) + len(left) == COUNT
    server.start()
    rerun = ws.cli(["apply", "--auto-approve", "--format", "json"])
    assert rerun.exit_code == 0, rerun.output
    document = json.loads(rerun.stdout)
    # What the stopped run had not accepted is settled by the rerun, and reported.
    assert sorted(o["key"] for o in document["outcomes"] if o["status"] == "settled") == left
    assert document["summary"]["created"] == len(left)
    assert_converged(ws, COUNT)
