"""The example catalog applies cleanly to the embedded local catalog, and then plans empty."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import main

CATALOG = Path(__file__).resolve().parent.parent / "manifests"


def test_example_catalog_applies_cleanly_to_the_embedded_catalog(tmp_path, monkeypatch):
    shutil.copytree(CATALOG, tmp_path / "manifests")
    monkeypatch.chdir(tmp_path)
    for name in ("CATALOG_ENDPOINT", "CATALOG_TOKEN", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    applied = runner.invoke(main, ["apply", "--auto-approve", "--no-color"])
    assert applied.exit_code == 0, applied.output
    assert "Apply complete: 36 created, 0 updated, 0 deactivated." in applied.stdout

    planned = runner.invoke(main, ["plan", "--detailed-exitcode", "--no-color"])
    assert planned.exit_code == 0, planned.output
