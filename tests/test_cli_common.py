"""What the catalog commands share: settings read from the flags and the environment."""

from __future__ import annotations

from pathlib import Path

from reconciler.cli.common import settings_from

TOKEN = "tok-common-Vq7-do-not-leak"


def test_the_token_is_read_from_the_environment_and_kept_out_of_the_settings_repr(monkeypatch):
    monkeypatch.setenv("CATALOG_TOKEN", TOKEN)
    settings = settings_from(None, Path("reconciler.state.json"), 10, 10.0, True)
    assert settings.token == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)
