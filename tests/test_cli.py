"""The CLI's one place for errors: our errors, bugs and interrupts end without a traceback."""

from __future__ import annotations

import subprocess
import sys

import click
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
