"""The CLI's one place for errors: our errors, bugs and interrupts end without a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import _Group, main
from reconciler.errors import PlanFileError


def _group_raising(exc: BaseException) -> click.Group:
    @click.group(cls=_Group)
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        raise exc

    return group


def test_our_error_is_one_line_with_its_exit_code():
    result = CliRunner().invoke(_group_raising(PlanFileError("the plan is stale")), ["boom"])
    assert result.exit_code == 1
    assert result.stderr == "Error: the plan is stale\n"


def test_a_bug_is_reported_in_one_line_without_a_traceback(monkeypatch):
    monkeypatch.delenv("RECONCILER_DEBUG", raising=False)
    result = CliRunner().invoke(_group_raising(RuntimeError("oops")), ["boom"])
    assert result.exit_code == 1
    assert "internal error (RuntimeError: oops)" in result.stderr
    assert "RECONCILER_DEBUG=1" in result.stderr
    assert "Traceback" not in result.output


def test_debug_mode_lets_the_traceback_through(monkeypatch):
    monkeypatch.setenv("RECONCILER_DEBUG", "1")
    result = CliRunner().invoke(_group_raising(RuntimeError("oops")), ["boom"])
    assert isinstance(result.exception, RuntimeError)


def test_interrupt_exits_130():
    result = CliRunner().invoke(_group_raising(KeyboardInterrupt()), ["boom"])
    assert result.exit_code == 130
    assert "Interrupted." in result.stderr


def test_a_reader_that_goes_away_ends_the_command_quietly():
    result = CliRunner().invoke(_group_raising(BrokenPipeError()), ["boom"])
    assert result.exit_code == 1
    assert result.stderr == ""


def test_output_piped_into_a_closed_reader_is_not_reported_as_a_bug():
    # As `reconciler schema | head -0`: the pipe is closed before anything is written.
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "schema"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert stderr == ""


def test_a_usage_error_keeps_clicks_message_and_exits_1_not_the_changes_code_2():
    result = CliRunner().invoke(main, ["plan", "--detailed-exitcode", "--format", "yaml"])
    assert result.exit_code == 1
    assert "Invalid value for '--format'" in result.stderr


def test_a_mistyped_drift_option_is_an_error_not_drift():
    result = CliRunner().invoke(main, ["drift", "--prnue"])
    assert result.exit_code == 1
    assert "No such option '--prnue'" in result.stderr


def test_an_unknown_command_or_group_option_exits_1():
    for args in (["plna"], ["--bogus"], ["state", "bogus"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, args
        assert "Usage:" in result.stderr


def test_every_command_is_registered():
    assert set(main.list_commands(click.Context(main))) == {
        "validate",
        "schema",
        "plan",
        "show",
        "apply",
        "drift",
        "adopt",
        "import",
        "state",
        "serve",
        "unstage",
    }


def test_plan_and_drift_collect_rarely_while_running_and_restore_the_thresholds(
    tmp_path, monkeypatch
):
    # Everything a plan keeps is trees: the collector's passes would free nothing, so they
    # run about never during the command, and the caller's thresholds come back after it.
    import gc

    import reconciler.cli.drift as drift_command
    import reconciler.cli.plan as plan_command

    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Model\nmetadata:\n  key: m\nspec:\n  name: M\n"
    )
    monkeypatch.chdir(tmp_path)
    for name in ("CATALOG_ENDPOINT", "CATALOG_TOKEN", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    seen: list[tuple[int, int, int]] = []
    for module in (plan_command, drift_command):
        real = module.make_plan

        async def spying(*args, real=real, **kwargs):
            seen.append(gc.get_threshold())
            return await real(*args, **kwargs)

        monkeypatch.setattr(module, "make_plan", spying)
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        # Exit 2 from drift: the model is not applied yet, which it reports.
        for command, code in (("plan", 0), ("drift", 2)):
            result = CliRunner().invoke(main, [command, "--no-color"])
            assert result.exit_code == code, result.output
            assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)
    assert len(seen) == 2
    assert all(t[0] >= 1_000_000 and min(t[1:]) >= 1_000 for t in seen), seen


def _exit_now_in_a_child(code: str) -> subprocess.CompletedProcess[str]:
    # What the entry point does once a command is done, in a process of its own.
    script = (
        "import atexit, sys\n"
        "from reconciler.__main__ import exit_now\n"
        "atexit.register(lambda: print('exit functions ran', file=sys.stderr))\n"
        "print('buffered, not yet flushed', end='')\n"
        f"exit_now({code})\n"
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)


@pytest.mark.parametrize(
    ("code", "status", "said"),
    [("None", 0, ""), ("2", 2, ""), ("'a message'", 1, "a message\n")],
)
def test_exit_now_keeps_what_a_normal_exit_does(code, status, said):
    done = _exit_now_in_a_child(code)
    assert done.returncode == status
    assert done.stdout == "buffered, not yet flushed"
    assert done.stderr == said + "exit functions ran\n"


def test_a_command_run_by_the_entry_point_exits_with_its_code_and_all_its_output(tmp_path):
    state = str(tmp_path / "state.json")
    catalog = str(Path(__file__).resolve().parent.parent / "manifests")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler",
            "plan",
            "--refresh=false",
            "--detailed-exitcode",
            "--format",
            "json",
            "--state",
            state,
            catalog,
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    plan = json.loads(done.stdout)  # the whole document, flushed
    assert len(plan["changes"]) == 36
