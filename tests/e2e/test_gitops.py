"""The GitOps loop as the workflows run it: their step scripts, the installed CLI, and the
local catalog over real HTTP: a pull request's staged plan, unstaged on the next push and
on close, the apply on merge replaying it with its state commit, drift in shards with a
catalog edit adopted into the manifests, a model without manifest left to the drift issue;
and a state commit that races an import merged meanwhile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import TOKEN, Workspace
from tests.e2e.test_apply import CLAUDE, GPT
from tests.e2e.test_stage import _renamed
from tests.test_workflow_steps import StepRun, git, run_issue_script, run_step

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


def _shards(workspace: Workspace, reports: Path, total: int) -> StepRun:
    """Every shard's drift step, as the matrix runs them, then the merge of their reports."""
    for shard in range(1, total + 1):
        out = reports / "shards" / f"reconciler-drift-shard-{shard}"
        run = _step(workspace, "drift.yml", "Detect drift", SHARD=str(shard),
                    SHARDS=str(total), OUT=str(out))  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
    merged = run_step("drift.yml", "Merge the reports", reports, env={"OUT": str(reports / "out")})
    assert merged.returncode == 0, merged.stdout + merged.stderr
    return merged


def test_staged_pull_request_then_apply_then_close_then_drift_adopted(checkout, tmp_path):
    origin = tmp_path / "origin.git"
    catalog = checkout.catalog
    saved = tmp_path / "artifacts"
    saved.mkdir()

    # First push of a pull request: validate, then stage the plan; nothing is live yet.
    validate = _step(checkout, "plan.yml", "Validate manifests")
    assert validate.returncode == 0, validate.stderr
    plan = _step(checkout, "plan.yml", "Plan", HEAD_SHA="b" * 40)
    assert plan.returncode == 0, plan.stderr
    assert plan.outputs == {"staged": "true", "exitcode": "2", "changes": "true"}
    comment = (checkout.root / "comment.md").read_text(encoding="utf-8")
    assert "gpt-4o-mini" in comment
    assert "1 of 1 changes validated by the catalog" in comment
    assert "reconciler staged plan of bbbbbbbbbbbb merged into its base" in comment
    assert TOKEN not in comment
    assert catalog.drafts() == {}
    first = catalog.pending()
    assert len(first) == 1
    (saved / "push-1.json").write_bytes((checkout.root / "plan.json").read_bytes())

    # Second push: the first push's plan is unstaged before the new one is staged.
    checkout.write_models(*_renamed([GPT], " (v2)"))
    unstaged = _step(checkout, "plan.yml", "Unstage the previous plan",
                     PLAN_PATH=str(saved / "push-1.json"))  # fmt: skip
    assert unstaged.returncode == 0, unstaged.stderr
    assert "Unstaged: 1 rejected" in unstaged.summary
    assert catalog.pending() == []
    again = _step(checkout, "plan.yml", "Plan", HEAD_SHA="c" * 40)
    assert again.outputs["exitcode"] == "2", again.stderr
    second = catalog.pending()
    assert len(second) == 1
    assert second != first
    (saved / "push-2.json").write_bytes((checkout.root / "plan.json").read_bytes())
    git(checkout.root, "commit", "--quiet", "-am", "Rename GPT-4o mini")
    git(checkout.root, "push", "--quiet", "origin", "HEAD:main")

    # Merge: the apply replays what was staged and accepts it; no artifact needed.
    writes = catalog.faults.writes
    apply = _step(checkout, "apply.yml", "Apply")
    assert apply.returncode == 0, apply.stderr
    assert "gpt-4o-mini" in apply.summary
    assert catalog.pending() == []
    # One replayed soft patch and one ack: the stage's proposal, not a new one.
    assert catalog.faults.writes - writes == 2
    persist = _step(checkout, "apply.yml", "Commit the state to main", TARGET_BRANCH="main")
    assert persist.returncode == 0, persist.stderr
    committed = json.loads(git(origin, "show", "main:reconciler.state.json"))
    draft_id = committed["models"]["gpt-4o-mini"]["draft_id"]
    assert list(catalog.drafts()) == [draft_id]
    assert checkout.read(draft_id).name == "GPT-4o mini (v2)"

    # The pull request closes (merged): unstaging its last plan after the apply is no error.
    closed = _step(checkout, "unstage.yml", "Unstage the previous plan",
                   PLAN_PATH=str(saved / "push-2.json"))  # fmt: skip
    assert closed.returncode == 0, closed.stderr
    assert "1 already accepted" in closed.summary
    assert checkout.read(draft_id).name == "GPT-4o mini (v2)"

    # Nightly, in two shards: clean.
    clean = _shards(checkout, tmp_path / "night-1", 2)
    assert clean.outputs == {"status": "clean"}

    # Someone edits the draft in the catalog: drift, and adopt writes it into the manifest.
    checkout.send(draft_id=draft_id, name="GPT-4o mini (edited in the catalog)")
    drifted = _shards(checkout, tmp_path / "night-2", 2)
    assert drifted.outputs == {"status": "drift"}
    report = tmp_path / "night-2" / "out"
    assert "edited in the catalog" in (report / "drift.md").read_text(encoding="utf-8")
    adopt = _step(checkout, "drift.yml", "Adopt the catalog's edits", REPORT=str(report))
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    assert adopt.outputs == {"adopted": "true", "leftover": "false"}
    body = (report / "pull-request.md").read_text(encoding="utf-8")
    assert "edited in the catalog" in body
    assert TOKEN not in body
    # What create-pull-request commits (add-paths: manifests) is the manifest alone.
    changed = git(checkout.root, "status", "--porcelain", "--", "manifests")
    assert changed == "M manifests/models.yaml"

    # The adopt pull request is merged: its apply sends nothing, and drift is gone.
    git(checkout.root, "switch", "--quiet", "-c", "reconciler/adopt-catalog-edits")
    git(checkout.root, "commit", "--quiet", "-m", "Adopt catalog edits", "--", "manifests")
    git(checkout.root, "push", "--quiet", "origin", "HEAD:main")
    writes = catalog.faults.writes
    merged = _step(checkout, "apply.yml", "Apply")
    assert merged.returncode == 0, merged.stderr
    assert catalog.faults.writes == writes
    restored = _shards(checkout, tmp_path / "night-3", 2)
    assert restored.outputs == {"status": "clean"}
    pulls = [{"number": 9, "state": "open", "comments": [],
              "head": {"ref": "reconciler/adopt-catalog-edits",
                       "label": "acme:reconciler/adopt-catalog-edits"}}]  # fmt: skip
    github = run_issue_script("Close the adopt pull request", checkout.root, issues=[],
                              pulls=pulls, branches=["reconciler/adopt-catalog-edits"])  # fmt: skip
    assert github["pulls"][0]["state"] == "closed"
    assert github["branches"] == []


def test_a_model_without_manifest_is_left_to_the_drift_issue(checkout, tmp_path):
    assert _step(checkout, "apply.yml", "Apply").returncode == 0
    checkout.write_models(CLAUDE)
    assert _step(checkout, "apply.yml", "Apply").returncode == 0
    # GPT's manifest is gone while its draft stays active: drift, and nothing to adopt.
    drifted = _shards(checkout, tmp_path / "night", 3)
    assert drifted.outputs == {"status": "drift"}, drifted.stdout
    report = tmp_path / "night" / "out"
    assert (report / "without-manifest.txt").read_text(encoding="utf-8") == "gpt-4o-mini\n"
    adopt = _step(checkout, "drift.yml", "Adopt the catalog's edits", REPORT=str(report))
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    assert adopt.outputs == {"adopted": "false", "leftover": "true"}
    reports = tmp_path / "issue-job"
    (reports / "reports").mkdir(parents=True)
    for name in ("drift.md", "leftover.md"):
        (reports / "reports" / name).write_bytes((report / name).read_bytes())
    assert run_step("drift.yml", "Write the issue", reports).returncode == 0
    github = run_issue_script("Open or update the drift issue", reports, issues=[])
    [issue] = github["issues"]
    assert "- `gpt-4o-mini`" in issue["body"]
    assert "has no manifest to adopt into" in issue["body"]
    assert TOKEN not in issue["body"]


def test_with_staging_off_a_pull_request_reads_only_what_it_changes(checkout):
    assert _step(checkout, "apply.yml", "Apply").returncode == 0
    checkout.write_models(GPT, CLAUDE)
    writes = checkout.catalog.faults.writes
    plan = _step(checkout, "plan.yml", "Plan", HEAD_SHA="e" * 40, STAGE="false")
    assert plan.returncode == 0, plan.stderr
    assert plan.outputs == {"staged": "false", "exitcode": "2", "changes": "true"}
    assert "claude-3-5-haiku" in (checkout.root / "comment.md").read_text(encoding="utf-8")
    assert checkout.catalog.faults.writes == writes
    assert checkout.catalog.pending() == []


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
    assert again.outputs == {"staged": "true", "exitcode": "0", "changes": "false"}, again.stderr
    assert git(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads") == "main"
