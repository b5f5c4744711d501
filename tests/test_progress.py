"""Progress on stderr: one line per finished item in line mode, nothing when quiet."""

from __future__ import annotations

import io

from rich.console import Console

from reconciler.cli.progress import Progress, ProgressMode


def _console(**options: object) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, soft_wrap=True, highlight=False, **options), out


def test_line_mode_numbers_each_finished_item_with_its_outcome():
    console, out = _console()
    with Progress(ProgressMode.LINES, console, "Applying", 10) as progress:
        progress.advance("model-a", "created")
        progress.advance("model-b")  # no outcome to say: counted, not shown
        progress.advance("model-c", "failed: rejected: name is required")
    assert out.getvalue().splitlines() == [
        "[ 1/10] model-a: created",
        "[ 3/10] model-c: failed: rejected: name is required",
    ]


def test_a_line_is_written_as_is_without_wrapping_or_markup():
    console, out = _console(width=20)
    message = "did not converge: tags is ['[bold]x[/bold]'], wanted ['y'] " + "z" * 40
    with Progress(ProgressMode.LINES, console, "Applying", 1) as progress:
        progress.advance("model-a", message)
    assert out.getvalue() == f"[1/1] model-a: {message}\n"


def test_control_codes_in_a_message_are_stripped_from_the_line():
    console, out = _console()
    with Progress(ProgressMode.LINES, console, "Settling", 1) as progress:
        progress.advance("model-a", "refused\rOK\x07 by the catalog\x08")
    assert out.getvalue() == "[1/1] model-a: refusedOK by the catalog\n"


def test_a_quiet_console_and_the_none_mode_write_nothing():
    quiet, quiet_out = _console(quiet=True)
    with Progress(ProgressMode.LINES, quiet, "Applying", 1) as progress:
        progress.advance("model-a", "created")
    console, out = _console()
    with Progress(ProgressMode.NONE, console, "Applying", 1) as progress:
        progress.advance("model-a", "created")
    assert quiet_out.getvalue() == out.getvalue() == ""
