"""What the catalog commands share: settings read from the flags and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.common import emit, emit_lines, settings_from

TOKEN = "tok-common-Vq7-do-not-leak"


def test_the_token_is_read_from_the_environment_and_kept_out_of_the_settings_repr(monkeypatch):
    monkeypatch.setenv("CATALOG_TOKEN", TOKEN)
    settings = settings_from(None, Path("reconciler.state.json"), 10, 10.0, True)
    assert settings.token == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)


@pytest.mark.parametrize(
    "lines",
    [
        ["Plan: 1 to create"],
        ["a", "", "", "b", "", ""],
        # Across the chunks written at once, blank lines at a chunk's edge included.
        [*(f"line {i}" if i % 1999 else "" for i in range(5003)), "last", ""],
    ],
)
def test_lines_written_as_they_come_are_what_emit_writes_of_their_join(capsys, lines):
    emit("\n".join(lines))
    whole = capsys.readouterr().out
    emit_lines(iter(lines))
    assert capsys.readouterr().out == whole
