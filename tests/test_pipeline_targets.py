"""--target and --exclude: keys, patterns, folders, files; a pattern matching nothing fails."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.apply.state import ModelRecord, StateDocument
from reconciler.cli.pipeline import check_targets
from reconciler.errors import UsageError
from reconciler.manifests.model import SourceLocation
from tests.plan_builders import desired


def _models(tmp_path):
    models = []
    for folder, key in (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude")):
        path = tmp_path / "manifests" / folder / f"{key}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        model = desired(key, name=key)
        models.append(dataclasses.replace(model, source=SourceLocation(str(path), 1)))
    doc = StateDocument(lineage="l", models={"retired": ModelRecord(draft_id="d-9")})
    return models, doc


def test_no_target_and_no_exclude_chooses_everything(tmp_path):
    models, doc = _models(tmp_path)
    assert check_targets((), models, doc) is None


def test_a_shell_pattern_chooses_every_matching_key(tmp_path):
    models, doc = _models(tmp_path)
    assert check_targets(("gpt-4o*",), models, doc) == {"gpt-4o", "gpt-4o-mini"}


def test_a_folder_chooses_the_models_written_under_it(tmp_path):
    models, doc = _models(tmp_path)
    folder = f"{tmp_path}/manifests/openai/"
    assert check_targets((folder,), models, doc) == {"gpt-4o", "gpt-4o-mini"}


def test_a_manifest_file_chooses_the_models_it_describes(tmp_path):
    models, doc = _models(tmp_path)
    file = tmp_path / "manifests" / "openai" / "gpt-4o-mini.yaml"
    assert check_targets((str(file),), models, doc) == {"gpt-4o-mini"}
    assert check_targets((), models, doc, (str(file),)) == {"gpt-4o", "claude", "retired"}


def test_exclude_is_the_inverse_of_target_and_combines_with_it(tmp_path):
    models, doc = _models(tmp_path)
    assert check_targets((), models, doc, ("gpt-4o*",)) == {"claude", "retired"}
    assert check_targets(("gpt-4o*",), models, doc, ("*-mini",)) == {"gpt-4o"}


@pytest.mark.parametrize(
    ("targets", "excludes", "named"),
    [
        (("nothing*",), (), "--target nothing*"),
        ((), ("nope",), "--exclude nope"),
    ],
)
def test_a_pattern_that_matches_nothing_is_an_error(tmp_path, targets, excludes, named):
    models, doc = _models(tmp_path)
    with pytest.raises(UsageError, match="matches no model") as caught:
        check_targets(targets, models, doc, excludes)
    assert named in str(caught.value)
