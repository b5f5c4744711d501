"""The GitOps loop as the workflows run it: their step scripts, the installed CLI, and the
local catalog over real HTTP: a pull request's plan, the apply on merge with its state
commit, and the drift issue opened on a change made outside and closed once restored; and a
state commit that races an import merged meanwhile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import TOKEN, Workspace
from tests.e2e.test_apply import CLAUDE, GPT
from tests.test_workflow_steps import git, run_issue_script, run_step

pytestmark = pytest.mark.slow


@pytest.fixture
def checkout(workspace: Workspace, tmp_path: Path) -> Workspace:
    """The workspace as a runner's checkout of a repository whose main holds one model."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "--quiet", str(origin), str(workspace.root))
    workspace.write_models(GPT)
    git(workspace.root, "add", ".")
    git(workspace.root, "commit", "--quiet", "-m", "Add GPT-4o mini")
    git(workspace.root, "push", "--quiet", "origin", "HEAD:main")
    return workspace


def _step(workspace: Workspace, workflow: str, step: str, **env: str):
    catalog = {"CATALOG_ENDPOINT": workspace.catalog.url, "CATALOG_TOKEN": TOKEN}
    run = run_step(workflow, step, workspace.root, env={**catalog, **env}, real_cli=True)
    for text in (run.stdout, run.stderr, run.summary):
        assert TOKEN not in text
    return run


def test_pull_request_plan_then_apply_on_merge_then_drift_issue_lifecycle(checkout, tmp_path):
    origin = tmp_path / "origin.git"

    # Pull request: validate, then a plan with changes, saved and commented.
    validate = _step(checkout, "plan.yml", "Validate manifests")
    assert validate.returncode == 0, validate.stderr
    plan = _step(checkout, "plan.yml", "Plan", HEAD_SHA="b" * 40)
    assert plan.returncode == 0, plan.stderr
    assert plan.outputs == {"exitcode": "2", "changes": "true"}
    assert json.loads((checkout.root / "plan.json").read_text(encoding="utf-8"))
    comment = (checkout.root / "comment.md").read_text(encoding="utf-8")
    assert "gpt-4o-mini" in comment
    assert "bbbbbbbbbbbb merged into its base" in comment
    assert TOKEN not in comment
    assert checkout.catalog.faults.writes == 0

    # Merge: apply, then the state goes to main in a [skip ci] commit.
    apply = _step(checkout, "apply.yml", "Apply")
    assert apply.returncode == 0, apply.stderr
    assert "gpt-4o-mini" in apply.summary
    persist = _step(checkout, "apply.yml", "Commit the state to main", TARGET_BRANCH="main")
    assert persist.returncode == 0, persist.stderr
    committed = json.loads(git(origin, "show", "main:reconciler.state.json"))
    assert committed["models"]["gpt-4o-mini"]["draft_id"]
    assert git(origin, "log", "-1", "--format=%s", "main").endswith("[skip ci]")
    assert TOKEN not in git(origin, "show", "main:reconciler.state.json")

    # The next pull request's plan sees nothing to do.
    again = _step(checkout, "plan.yml", "Plan", HEAD_SHA="c" * 40)
    assert again.outputs == {"exitcode": "0", "changes": "false"}

    # Nightly: clean; then someone edits the draft by hand, and drift opens an issue.
    clean = _step(checkout, "drift.yml", "Detect drift")
    assert clean.outputs == {"status": "clean"}, clean.stderr
    draft_id = committed["models"]["gpt-4o-mini"]["draft_id"]
    checkout.send(draft_id=draft_id, name="GPT-4o mini (edited by hand)")
    drifted = _step(checkout, "drift.yml", "Detect drift")
    assert drifted.returncode == 0, drifted.stderr
    assert drifted.outputs == {"status": "drift"}
    github = run_issue_script("Open or update the drift issue", checkout.root, issues=[])
    [issue] = github["issues"]
    assert "gpt-4o-mini" in issue["body"]
    assert TOKEN not in issue["body"]

    # Re-applying restores the manifests' values; the next drift run closes the issue.
    reapply = _step(checkout, "apply.yml", "Apply")
    assert reapply.returncode == 0, reapply.stderr
    restored = _step(checkout, "drift.yml", "Detect drift")
    assert restored.outputs == {"status": "clean"}, restored.stdout
    github = run_issue_script("Close the drift issue", checkout.root, issues=github["issues"])
    assert github["issues"][0]["state"] == "closed"


def test_invalid_manifests_fail_validation_with_annotations_on_the_diff(checkout):
    broken = checkout.root / "manifests" / "broken.yaml"
    broken.write_text(
        "apiVersion: reconciler/v1\nkind: Model\nmetadata:\n  key: broken\n"
        "spec:\n  name: Broken\n  actve: true\n",
        encoding="utf-8",
    )
    run = _step(checkout, "plan.yml", "Validate manifests", GITHUB_ACTIONS="true")
    assert run.returncode == 1
    assert "::error file=manifests/broken.yaml,line=7," in run.stdout + run.stderr


def test_an_apply_racing_an_import_merged_meanwhile_keeps_every_draft(checkout, tmp_path):
    origin = tmp_path / "origin.git"
    # A first apply puts the state on main.
    assert _step(checkout, "apply.yml", "Apply").returncode == 0
    first = _step(checkout, "apply.yml", "Commit the state to main", TARGET_BRANCH="main")
    assert first.returncode == 0, first.stderr

    # A pull request adding Claude is merged; its apply starts on that commit.
    checkout.write_models(GPT, CLAUDE)
    git(checkout.root, "commit", "--quiet", "-am", "Add Claude")
    git(checkout.root, "push", "--quiet", "origin", "HEAD:main")

    # Meanwhile a teammate adopts a draft made by hand, and that import is merged first.
    teammate = Workspace(tmp_path / "teammate", checkout.catalog)
    git(tmp_path, "clone", "--quiet", str(origin), str(teammate.root))
    adopted = checkout.send(name="Command R+", provider="cohere", modalities=["text"]).draft_id
    imported = teammate.cli(["import", "command-r-plus", adopted])
    assert imported.exit_code == 0, imported.output
    git(teammate.root, "commit", "--quiet", "-am", "Import Command R+")
    git(teammate.root, "push", "--quiet", "origin", "HEAD:main")

    apply = _step(checkout, "apply.yml", "Apply")
    assert apply.returncode == 0, apply.stderr
    persist = _step(checkout, "apply.yml", "Commit the state to main", TARGET_BRANCH="main")
    assert persist.returncode == 0, persist.stdout + persist.stderr
    assert "merging the two by model" in persist.stderr

    # main's state knows all three drafts, and the catalog holds exactly those three.
    on_main = json.loads(git(origin, "show", "main:reconciler.state.json"))
    drafts = {key: model["draft_id"] for key, model in on_main["models"].items()}
    assert set(drafts) == {"gpt-4o-mini", "claude-3-5-haiku", "command-r-plus"}
    assert drafts["command-r-plus"] == adopted
    assert set(checkout.catalog.drafts()) == set(drafts.values())
    # The next plan on main has nothing to do (the adopted model still needs its manifest).
    git(checkout.root, "pull", "--quiet", "--rebase", "origin", "main")
    again = _step(checkout, "plan.yml", "Plan", HEAD_SHA="d" * 40)
    assert again.outputs == {"exitcode": "0", "changes": "false"}, again.stderr
    assert git(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads") == "main"
