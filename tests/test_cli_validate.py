"""``reconciler validate`` and ``reconciler schema`` through click, as a user runs them."""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli.validate import schema, validate
from reconciler.manifests.schema import manifest_json_schema
from reconciler.render import validation
from reconciler.render.validation import escape_data, escape_property

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "manifests"
BROKEN = Path(__file__).parent / "fixtures" / "manifests" / "broken"


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return CliRunner()


@pytest.fixture
def broken_copy(tmp_path, monkeypatch):
    """Two broken files under a relative path, as in a repository checkout."""
    monkeypatch.chdir(tmp_path)
    target = Path("manifests")
    target.mkdir()
    shutil.copy(BROKEN / "unknown_field.yaml", target / "a.yaml")
    shutil.copy(BROKEN / "bad_currency.yaml", target / "b.yaml")
    return target


def test_valid_catalog_exits_zero_with_a_summary(runner):
    result = runner.invoke(validate, [str(CATALOG)])
    assert result.exit_code == 0, result.output
    files = len(list(CATALOG.rglob("*.yaml")))
    assert result.stdout == f"36 models valid in {files} files.\n"


def test_default_path_is_manifests(runner, tmp_path, monkeypatch):
    shutil.copytree(CATALOG, tmp_path / "manifests")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(validate, [])
    assert result.exit_code == 0
    assert result.stdout.startswith("36 models valid in ")


def test_problems_exit_one_with_located_lines_and_no_traceback(runner, broken_copy):
    result = runner.invoke(validate, [str(broken_copy)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stdout.splitlines() == [
        "manifests/a.yaml:7:3: spec.nmae: unknown field 'nmae'; did you mean 'name'?",
        "manifests/b.yaml:8:65: spec.pricing[0].currency: 'USS' is not an ISO 4217 currency"
        " code; did you mean 'USD'?",
        "2 problems in 2 files (2 files read).",
    ]
    assert "Traceback" not in result.output


def test_missing_path_is_a_problem_not_a_crash(runner, tmp_path):
    result = runner.invoke(validate, [str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'nope'}:1:1: no such file or directory",
        "1 problem in 1 file (0 files read).",
    ]


def test_json_format_for_tools(runner, broken_copy):
    result = runner.invoke(validate, ["--format", "json", str(broken_copy)])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document == {
        "format_version": 1,
        "valid": False,
        "files": 2,
        "models": 0,
        "problems": [
            {
                "file": "manifests/a.yaml",
                "line": 7,
                "column": 3,
                "path": "spec.nmae",
                "message": "unknown field 'nmae'; did you mean 'name'?",
            },
            {
                "file": "manifests/b.yaml",
                "line": 8,
                "column": 65,
                "path": "spec.pricing[0].currency",
                "message": "'USS' is not an ISO 4217 currency code; did you mean 'USD'?",
            },
        ],
    }


def test_json_format_of_a_valid_catalog(runner):
    result = runner.invoke(validate, ["--format", "json", str(CATALOG)])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert (document["valid"], document["models"], document["problems"]) == (True, 36, [])


def test_github_actions_get_error_annotations(runner, broken_copy, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = runner.invoke(validate, [str(broken_copy)])
    assert result.exit_code == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotations == [
        "::error file=manifests/a.yaml,line=7,col=3,title=reconciler validate::"
        "spec.nmae: unknown field 'nmae'; did you mean 'name'?",
        "::error file=manifests/b.yaml,line=8,col=65,title=reconciler validate::"
        "spec.pricing[0].currency: 'USS' is not an ISO 4217 currency code; did you mean 'USD'?",
    ]


def test_github_annotations_keep_json_stdout_pure(runner, broken_copy, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = runner.invoke(validate, ["--format", "json", str(broken_copy)])
    assert json.loads(result.stdout)["valid"] is False
    assert result.stderr.count("::error file=") == 2


def test_no_annotations_outside_github_or_when_valid(runner, broken_copy, monkeypatch):
    assert "::error" not in runner.invoke(validate, [str(broken_copy)]).output
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert "::error" not in runner.invoke(validate, [str(CATALOG)]).output


def test_annotation_escapes_follow_the_workflow_command_rules(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    odd = Path("dir,with:odd%chars")
    odd.mkdir()
    (odd / "m.yaml").write_text("a: [1\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = runner.invoke(validate, [str(odd)])
    (annotation,) = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotation.startswith("::error file=dir%2Cwith%3Aodd%25chars/m.yaml,line=2,col=1,")
    assert "::invalid YAML: " in annotation


def test_escape_data_and_property():
    assert escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_schema_prints_the_json_schema(runner):
    result = runner.invoke(schema, [])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == manifest_json_schema()


def test_schema_out_writes_a_file(runner, tmp_path):
    out = tmp_path / "manifest.schema.json"
    result = runner.invoke(schema, ["--out", str(out)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(out.read_text()) == manifest_json_schema()


def test_schema_out_to_an_unwritable_place_is_one_clear_error(runner, tmp_path):
    result = runner.invoke(schema, ["--out", str(tmp_path / "missing" / "schema.json")])
    assert result.exit_code == 1
    assert "cannot write" in result.stderr
    assert "Traceback" not in result.output


def test_commands_are_registered_on_the_reconciler_group(runner):
    from reconciler.cli import main

    assert runner.invoke(main, ["validate", str(CATALOG)]).exit_code == 0
    assert json.loads(runner.invoke(main, ["schema"]).stdout) == manifest_json_schema()


@pytest.mark.parametrize("paths", [[str(CATALOG)], [str(BROKEN / "unknown_field.yaml")]])
@pytest.mark.parametrize("enabled", [True, False])
def test_validate_pauses_the_collector_until_it_ends_then_leaves_it_as_it_was(
    runner, monkeypatch, paths, enabled
):
    seen = []
    real_render = validation.render_text

    def render_and_note(report):
        seen.append(gc.isenabled())
        return real_render(report)

    monkeypatch.setattr("reconciler.cli.validate.render_text", render_and_note)
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        result = runner.invoke(validate, paths)
        assert result.exit_code in (0, 1), result.output
        # Paused while the report is shown: no pass over every document just read.
        assert seen == [False]
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
