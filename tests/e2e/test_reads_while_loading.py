"""plan and drift read the state's drafts while the manifests load: the same plan as loading
first, over real HTTP against the local catalog.

Each case runs the command twice in the same workspace, once as it runs (reads started from
the state, the manifests loaded in a thread) and once with that path turned off (the
manifests loaded first, as before), and compares exit code, stdout and stderr.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.cli import drift as drift_module
from reconciler.cli import pipeline
from reconciler.cli import plan as plan_module
from tests.e2e.conftest import Workspace
from tests.e2e.test_apply import CLAUDE, GPT, MISTRAL


def both_ways(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, args: list[str], *, reads: bool = True
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """(exit code, stdout, stderr) with reads while loading, then with the manifests first."""
    calls = []
    with monkeypatch.context() as patch:
        for module in (plan_module, drift_module):
            real = module.read_while_loading
            patch.setattr(module, "read_while_loading", _counted(real, calls))
        overlapped = ws.cli(args)
    # With drafts in a readable state, the overlapped run really read while loading.
    assert len(calls) == (1 if reads else 0), args
    with monkeypatch.context() as patch:
        for module in (plan_module, drift_module):
            patch.setattr(module, "reads_while_loading", lambda *_: False)
        sequential = ws.cli(args)
    return (
        (overlapped.exit_code, overlapped.stdout, overlapped.stderr),
        (sequential.exit_code, sequential.stdout, sequential.stderr),
    )


def _counted(real: Callable[..., Any], calls: list[object]) -> Callable[..., Any]:
    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return await real(*args, **kwargs)

    return counted


def test_every_kind_of_model_plans_the_same_whichever_loads_first(workspace, monkeypatch):
    """A no-op, a drifted model with a three-way conflict, a model whose manifest now manages
    another field (its draft was kept for the old fields: read again), an adoption by
    metadata.draft_id and a model left in the state without a manifest."""
    ws = workspace
    ws.write_models(GPT, CLAUDE, MISTRAL)
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    models = ws.state()["models"]
    # Outside reconciler: GPT's description changes in the catalog, and git changes it too.
    ws.send(draft_id=models["gpt-4o-mini"]["draft_id"], description="edited by hand")
    orphan = ws.send(name="Adopted", provider="Meta", soft=False).draft_id
    gpt = {**GPT, "spec": {**GPT["spec"], "description": "edited in git"}}
    claude = {**CLAUDE, "spec": {**CLAUDE["spec"], "modalities": ["text"]}}
    adopted = {"key": "adopted", "metadata": {"draft_id": orphan}, "spec": {"name": "Adopted"}}
    ws.write_models(gpt, claude, adopted)  # MISTRAL now has no manifest
    for args in (["plan", "--format", "json"], ["plan"], ["drift", "--format", "json"]):
        overlapped, sequential = both_ways(ws, monkeypatch, args)
        assert overlapped == sequential, args
    plan = ws.cli(["plan", "--format", "json"]).stdout
    assert '"conflicts"' in plan
    assert "edited by hand" in plan
    assert "edited in git" in plan
    assert '"action": "adopt"' in plan
    assert "mistral-large" in plan


def test_each_model_is_planned_as_its_draft_arrives_with_the_same_plan(workspace, monkeypatch):
    """Planned ahead, while the reads are in flight: a drifted model with a three-way
    conflict, a model read again for its new fields and an adoption; the plan is the one
    planned after the reads, in every format and for drift."""
    ws = workspace
    ws.write_models(GPT, CLAUDE, MISTRAL)
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    models = ws.state()["models"]
    ws.send(draft_id=models["gpt-4o-mini"]["draft_id"], description="edited by hand")
    orphan = ws.send(name="Adopted", provider="Meta", soft=False).draft_id
    gpt = {**GPT, "spec": {**GPT["spec"], "description": "edited in git"}}
    claude = {**CLAUDE, "spec": {**CLAUDE["spec"], "modalities": ["text"]}}
    adopted = {"key": "adopted", "metadata": {"draft_id": orphan}, "spec": {"name": "Adopted"}}
    ws.write_models(gpt, claude, adopted)
    ahead: list[str] = []
    real = pipeline.plan_model

    def counted(model: Any, record: Any, live: Any) -> Any:
        ahead.append(model.key)
        return real(model, record, live)

    for args in (["plan", "--format", "json"], ["plan"], ["drift", "--format", "markdown"]):
        ahead.clear()
        with monkeypatch.context() as patch:
            patch.setattr(pipeline, "plan_model", counted)
            overlapped, sequential = both_ways(ws, monkeypatch, args)
        assert overlapped == sequential, args
        assert sorted(ahead) == ["adopted", "claude-3-5-haiku", "gpt-4o-mini"], args
    assert '"conflicts"' in ws.cli(["plan", "--format", "json"]).stdout


def test_a_shard_plans_the_same_whichever_loads_first(workspace, monkeypatch):
    ws = workspace
    ws.write_models(GPT, CLAUDE, MISTRAL)
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    ws.send(draft_id=ws.state()["models"]["claude-3-5-haiku"]["draft_id"], name="Renamed")
    for shard in ("1/2", "2/2"):
        overlapped, sequential = both_ways(ws, monkeypatch, ["drift", "--shard", shard])
        assert overlapped == sequential, shard


def test_a_broken_manifest_is_reported_before_a_failed_read(workspace, monkeypatch):
    ws = workspace
    ws.write_models(GPT)
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    (ws.root / "manifests" / "broken.yaml").write_text("kind: Model\nspec: [unclosed\n")
    overlapped, sequential = both_ways(ws, monkeypatch, ["plan"])
    assert overlapped == sequential
    assert overlapped[0] != 0
    assert "broken.yaml" in overlapped[2]
    # A refused token fails every read while the manifests load: the manifests still win.
    wrong = {"CATALOG_ENDPOINT": ws.catalog.url, "CATALOG_TOKEN": "wrong", "NO_COLOR": "1"}
    monkeypatch.setattr(Workspace, "env", lambda self: wrong)
    overlapped, sequential = both_ways(ws, monkeypatch, ["drift"])
    assert overlapped == sequential
    assert "broken.yaml" in overlapped[2]
    assert "token" not in overlapped[2].lower()


def test_a_broken_manifest_is_reported_before_a_broken_state(workspace, monkeypatch):
    ws = workspace
    ws.write_models(GPT)
    assert ws.cli(["apply", "--auto-approve"]).exit_code == 0
    (ws.root / "manifests" / "broken.yaml").write_text("kind: Model\nspec: [unclosed\n")
    ws.state_path.write_text("{not json")
    overlapped, sequential = both_ways(ws, monkeypatch, ["plan"], reads=False)
    assert overlapped == sequential
    assert "broken.yaml" in overlapped[2]
    assert "state" not in overlapped[2]


def test_the_collector_thresholds_are_restored_after_a_command(workspace):
    before = gc.get_threshold()
    workspace.write_models(GPT)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    assert workspace.cli(["plan"]).exit_code == 0
    assert workspace.cli(["drift"]).exit_code == 0
    assert gc.get_threshold() == before
