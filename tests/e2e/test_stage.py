"""plan --stage, all-or-nothing apply and unstage against the local catalog over real HTTP.

The catalog here runs behind a request log (an ASGI wrapper), so a test can count
exactly which soft patches were replays and how many acks were sent.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from reconciler.server import FaultInjector, create_app
from tests.e2e.conftest import TOKEN, Catalog, Workspace, _free_port
from tests.e2e.test_apply import CLAUDE, GPT, MISTRAL, _small_models, assert_converged


class RequestLog:
    """Wraps the catalog app and records each request body with its status and replay header."""

    def __init__(self, app) -> None:
        self.app = app
        self.entries: list[dict] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        record: dict = {}

        async def receive_body():
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def send_recording(message):
            if message["type"] == "http.response.start":
                headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
                record["status"] = message["status"]
                record["replayed"] = headers.get("idempotent-replayed") == "true"
                # Recorded before the client can see the answer: a test that clears the log
                # once the CLI returned must never have a late entry of the run before.
                record["body"] = json.loads(b"".join(chunks) or b"{}")
                self.entries.append(record)
            await send(message)

        await self.app(scope, receive_body, send_recording)

    def writes(self) -> list[dict]:
        """Soft patches and acks, in arrival order (reads left out)."""
        return [e for e in self.entries if e["body"].get("soft") or "accept" in e["body"]]


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[tuple[Catalog, RequestLog]]:
    faults = FaultInjector()
    db_path = tmp_path / "catalog.sqlite3"
    log = RequestLog(create_app(db_path, token=TOKEN, faults=faults))
    port = _free_port()
    config = uvicorn.Config(log, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the catalog server did not start"
        time.sleep(0.01)
    yield Catalog(f"http://127.0.0.1:{port}", faults, db_path), log
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def ws(tmp_path: Path, logged) -> Workspace:
    root = tmp_path / "repo"
    root.mkdir()
    return Workspace(root, logged[0])


def _proposals(catalog: Catalog) -> int:
    with sqlite3.connect(catalog.db_path) as db:
        return db.execute("SELECT COUNT(*) FROM proposals").fetchone()[0]


def _renamed(models, suffix: str) -> list[dict]:
    return [{**m, "spec": {**m["spec"], "name": m["spec"]["name"] + suffix}} for m in models]


BROKEN = {"key": "model-25", "spec": {"name": "Broken", "provider": "NoSuchProvider"}}


def _fifty_with_one_refused() -> list[dict]:
    return [BROKEN if m["key"] == "model-25" else m for m in _small_models(50)]


def test_stage_then_apply_replays_each_soft_patch_then_acks_it(ws, logged, tmp_path):
    _, log = logged
    plan_file = tmp_path / "staged.json"
    for models in ([GPT, CLAUDE, MISTRAL], _renamed([GPT, CLAUDE, MISTRAL], " v2")):
        ws.write_models(*models)
        staged = ws.cli(["plan", "--stage", "--out", str(plan_file), "--detailed-exitcode"])
        assert staged.exit_code == 2, staged.output
        assert "3 of 3 changes validated by the catalog." in staged.stdout
        saved = json.loads(plan_file.read_text())
        verdicts = saved["plan"]["stage"]
        assert [v["verdict"] for v in verdicts] == ["staged"] * 3
        assert sorted(ws.catalog.pending()) == sorted(v["idempotency_key"] for v in verdicts)
        proposals = _proposals(ws.catalog)
        log.entries.clear()
        result = ws.cli(["apply", "--auto-approve"])
        assert result.exit_code == 0, result.output
        writes = log.writes()
        soft = [w for w in writes if w["body"].get("soft")]
        acks = [w for w in writes if "accept" in w["body"]]
        # Per model: one soft patch, a replay of the stage's, and one accepting ack.
        assert len(soft) == 3
        assert all(w["replayed"] for w in soft)
        assert len(acks) == 3
        assert all(w["body"]["accept"] is True for w in acks)
        assert {w["body"]["idempotency_key"] for w in soft} == {
            v["idempotency_key"] for v in verdicts
        }
        assert _proposals(ws.catalog) == proposals  # no new proposal was staged
        assert_converged(ws, 3)


def test_a_stage_changes_nothing_live_and_writes_no_state(ws):
    ws.write_models(GPT, CLAUDE)
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    before = ws.state_path.read_text()
    drafts = ws.catalog.drafts()
    ws.write_models(*_renamed([GPT, CLAUDE], " v2"))
    result = ws.cli(["plan", "--stage", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["stage"]["line"] == "2 of 2 changes validated by the catalog."
    assert ws.state_path.read_text() == before
    assert ws.catalog.drafts() == drafts
    assert len(ws.catalog.pending()) == 2


def test_stage_names_the_refused_change_among_fifty_and_changes_nothing(ws, tmp_path):
    ws.write_models(*_fifty_with_one_refused())
    plan_file = tmp_path / "staged.json"
    result = ws.cli(["plan", "--stage", "--out", str(plan_file), "--format", "markdown"])
    assert result.exit_code == 1, result.output
    assert "49 of 50 changes validated by the catalog; 1 refused." in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| `model-")]
    # Refusals first, with the field and the catalog's message.
    assert rows[0].startswith("| `model-25` | create |")
    assert "✗ refused: `provider`:" in rows[0]
    assert "NoSuchProvider" in rows[0]
    assert all("✓ staged" in row for row in rows[1:])
    assert ws.catalog.drafts() == {}
    assert not ws.state_path.exists()
    text = ws.cli(["plan", "--stage"])
    assert text.exit_code == 1
    assert "model-25: refused:" in text.stdout
    assert "provider" in text.stdout
    unstaged = ws.cli(["unstage", str(plan_file)])
    assert unstaged.exit_code == 0, unstaged.output
    assert "Unstaged: 49 rejected" in unstaged.stdout
    assert ws.catalog.pending() == []


def test_all_or_nothing_apply_with_one_refusal_among_fifty_lands_nothing(ws):
    ws.write_models(*_small_models(50))
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    drafts = ws.catalog.drafts()
    # Forty-nine renames and one refused provider, plus a new model whose draft is reserved.
    changed = _renamed(_small_models(50), " v2")
    changed[25] = {**BROKEN, "spec": {**BROKEN["spec"]}}
    ws.write_models(*changed, {"key": "new-model", "spec": {"name": "New", "provider": "Meta"}})
    before = ws.state()
    result = ws.cli(["apply", "--auto-approve", "--force"])
    assert result.exit_code == 1, result.output
    assert "Nothing applied: 1 of 51 changes refused or not staged" in result.stdout
    assert "model-25 (update): refused by the catalog" in result.stdout
    assert "NoSuchProvider" in result.stdout
    assert ws.catalog.drafts() == drafts  # nothing live changed, no new draft
    assert ws.catalog.pending() == []
    after = ws.state()
    assert after["models"] == before["models"]
    assert after["journal"] == {}
    assert after["accepting_batch"] is None


def test_a_refused_all_or_nothing_apply_leaves_the_state_file_byte_for_byte(ws, tmp_path):
    # The serial feeds the idempotency keys: had the refused run bumped it, the keys of a
    # pull request's `plan --stage` would no longer be the ones apply sends.
    ws.write_models(*_small_models(5))
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    changed = _renamed(_small_models(5), " v2")
    changed[2] = {"key": "model-02", "spec": {"name": "Broken", "provider": "NoSuchProvider"}}
    ws.write_models(*changed)
    before = ws.state_path.read_bytes()
    result = ws.cli(["apply", "--auto-approve", "--force"])
    assert result.exit_code == 1, result.output
    assert "Nothing applied" in result.stdout
    assert ws.state_path.read_bytes() == before
    assert not ws.state_path.with_name(ws.state_path.name + ".wal").exists()
    assert ws.catalog.pending() == []


def test_partial_apply_lands_every_change_but_the_refused_one(ws):
    ws.write_models(*_fifty_with_one_refused())
    result = ws.cli(["apply", "--auto-approve", "--partial"])
    assert result.exit_code == 1
    assert len(ws.catalog.drafts()) == 49
    assert ws.catalog.pending() == []


def test_when_main_moves_after_the_stage_apply_stages_afresh_and_leaves_nothing_pending(ws):
    ws.write_models(GPT, CLAUDE)
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    # The pull request renames both, and stages.
    ws.write_models(*_renamed([GPT, CLAUDE], " (PR)"))
    assert ws.cli(["plan", "--stage"]).exit_code == 0
    staged = ws.catalog.pending()
    assert len(staged) == 2
    # Meanwhile another change lands on main: Claude's description (state serial moves).
    on_main = {**CLAUDE, "spec": {**CLAUDE["spec"], "description": "landed first"}}
    ws.write_models(GPT, on_main)
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    # The merge: both changes together.
    merged = _renamed([GPT, on_main], " (PR)")
    ws.write_models(*merged)
    result = ws.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert ws.catalog.pending() == []
    assert_converged(ws, 2)


def test_unstage_is_idempotent_and_leaves_accepted_proposals_alone(ws, tmp_path):
    ws.write_models(GPT, CLAUDE)
    plan_file = tmp_path / "staged.json"
    assert ws.cli(["plan", "--stage", "--out", str(plan_file)]).exit_code == 0
    first = ws.cli(["unstage", str(plan_file)])
    assert first.exit_code == 0, first.output
    assert "Unstaged: 2 rejected, 0 already accepted" in first.stdout
    assert ws.catalog.pending() == []
    assert ws.catalog.drafts() == {}
    again = ws.cli(["unstage", str(plan_file)])
    assert again.exit_code == 0, again.output
    assert ws.catalog.pending() == []
    # Staged again and applied: unstaging afterwards is not an error and changes nothing.
    assert ws.cli(["plan", "--stage", "--out", str(plan_file)]).exit_code == 0
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    after = ws.cli(["unstage", str(plan_file)])
    assert after.exit_code == 0, after.output
    assert_converged(ws, 2)


def test_unstage_takes_target_and_exclude_and_refuses_another_catalogs_plan(ws, tmp_path):
    ws.write_models(GPT, CLAUDE)
    plan_file = tmp_path / "staged.json"
    assert ws.cli(["plan", "--stage", "--out", str(plan_file)]).exit_code == 0
    other = ws.cli(["unstage", str(plan_file), "--endpoint", "http://127.0.0.1:9"])
    assert other.exit_code == 1
    assert "made against the catalog" in other.stderr
    assert len(ws.catalog.pending()) == 2
    one = ws.cli(["unstage", str(plan_file), "--exclude", GPT["key"]])
    assert one.exit_code == 0, one.output
    assert "Unstaged: 1 rejected" in one.stdout
    assert len(ws.catalog.pending()) == 1
    rest = ws.cli(["unstage", str(plan_file), "--target", "gpt-*"])
    assert rest.exit_code == 0, rest.output
    assert ws.catalog.pending() == []
    nothing = ws.cli(["unstage", str(plan_file), "--target", "nope*"])
    assert nothing.exit_code == 1
    assert "--target nope*: matches no model" in nothing.stderr


def test_drift_reports_pending_proposals_and_unstage_stale_rejects_ours(ws):
    ws.write_models(GPT)
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    draft_id = next(iter(ws.state()["models"].values()))["draft_id"]
    ws.write_models(*_renamed([GPT], " v2"))
    assert ws.cli(["plan", "--stage"]).exit_code == 0
    (key,) = ws.catalog.pending()
    ws.write_models(GPT)
    current = ws.cli(["drift"])
    assert "Pending proposals on managed drafts:" in current.stdout
    assert f"{key} [reconciler, age unknown, current]" in current.stdout
    assert current.exit_code == 0, current.output
    # The draft moves under the proposal: it can never be accepted now.
    ws.send(draft_id=draft_id, description="edited elsewhere")
    stale = ws.cli(["drift", "--format", "json"])
    assert stale.exit_code == 2
    (pending,) = json.loads(stale.stdout)["pending_proposals"]
    assert pending == {
        "model": GPT["key"],
        "draft_id": draft_id,
        "idempotency_key": key,
        "ours": True,
        "stale": True,
        "staged_at": None,
    }
    result = ws.cli(["unstage", "--stale"])
    assert result.exit_code == 0, result.output
    assert "Unstaged: 1 rejected" in result.stdout
    assert ws.catalog.pending() == []


def _kill_when(ws: Workspace, ready, args=("apply", "--auto-approve", "--parallelism", "1")):
    process = ws.spawn(list(args))
    deadline = time.monotonic() + 60
    try:
        while True:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the phase was never reached"
            try:
                state = ws.state()
            except (FileNotFoundError, ValueError):
                state = None
            if state is not None and ready(state):
                break
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
        process.communicate()
    assert process.returncode == -signal.SIGKILL


@pytest.mark.parametrize("phase", ["staging", "accepting"])
def test_apply_killed_while_staging_or_accepting_converges_on_rerun(ws, phase):
    ws.write_models(*_small_models(12))
    ws.catalog.faults.latency = 0.05
    if phase == "staging":
        _kill_when(ws, lambda s: len(s["journal"]) >= 4 and s["accepting_batch"] is None)
        # Killed before any accept: nothing is live.
        assert ws.catalog.drafts() == {}
    else:
        _kill_when(ws, lambda s: s["accepting_batch"] is not None and len(s["models"]) >= 3)
    ws.catalog.faults.latency = 0.0
    result = ws.cli(["apply", "--auto-approve"])
    assert result.exit_code == 0, result.output
    assert_converged(ws, 12)
    assert ws.state()["accepting_batch"] is None
