"""The loader: every rule located in its broken fixture, Defaults layering, the example catalog."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
import yaml

from reconciler.errors import ManifestError
from reconciler.manifests import loader
from reconciler.manifests.loader import load_manifests, load_report, manifest_files
from reconciler.manifests.model import DesiredModel, SourceLocation
from reconciler.manifests.yaml_strict import HAVE_LIBYAML, YamlLimits

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "manifests"
BROKEN = FIXTURES / "broken"
BROKEN_DIRS = FIXTURES / "broken_dirs"
LAYERED = FIXTURES / "layered"
CATALOG = ROOT / "manifests"
LOADERS = [
    pytest.param(
        True, id="libyaml", marks=pytest.mark.skipif(not HAVE_LIBYAML, reason="no libyaml")
    ),
    pytest.param(False, id="pure"),
]

# fixture -> (line, column, key path, the message, or a distinctive part of it)
BROKEN_CASES: dict[str, tuple[int, int, str, str]] = {
    "syntax_error.yaml": (
        8,
        7,
        "",
        "invalid YAML: expected ',' or ']', but got ':'"
        " (while parsing a flow sequence at line 7, column 16)",
    ),
    "duplicate_key.yaml": (
        9,
        3,
        "spec.name",
        "duplicate key 'name' (first at line 7, column 3):"
        " YAML would silently keep only the last one",
    ),
    "unsafe_tag.yaml": (
        8,
        10,
        "spec.value",
        "the tag !!python/object/apply:os.system is not allowed",
    ),
    "billion_laughs.yaml": (
        10,
        3,
        "spec.xd[7]",
        "aliases expand to more than 10000 values: write the values out",
    ),
    "not_utf8.yaml": (7, 12, "", "the file is not UTF-8 text (byte 0xe9): save it as UTF-8"),
    "merge_key.yaml": (
        7,
        3,
        "spec",
        "merge keys ('<<') are not supported: write the fields out, or use Defaults",
    ),
    "non_text_key.yaml": (
        8,
        3,
        "spec",
        "the key 'on' is read as a boolean: keys are text, quote it",
    ),
    "unknown_field.yaml": (7, 3, "spec.nmae", "unknown field 'nmae'; did you mean 'name'?"),
    "misplaced_field.yaml": (
        8,
        3,
        "spec.ignore_changes",
        "unknown field 'ignore_changes' here: it belongs under lifecycle:",
    ),
    "not_boolean.yaml": (7, 11, "spec.active", "expected true or false, got 'maybe'"),
    "number_for_text.yaml": (
        7,
        9,
        "spec.name",
        'expected text, but YAML reads 12 as a number: quote it, "12"',
    ),
    "yaml11_boolean.yaml": (
        8,
        10,
        "spec.value",
        'expected text, but YAML reads no as a boolean (YAML 1.1): quote it, "no"',
    ),
    "unquoted_amount.yaml": (
        8,
        47,
        "spec.pricing[0].amount",
        'expected text, but YAML reads 0.60 as a number: quote it, "0.60"',
    ),
    "list_as_text.yaml": (
        7,
        16,
        "spec.departments",
        "expected a list, got 'Research': write [Research]",
    ),
    "null_value.yaml": (
        8,
        15,
        "spec.description",
        'an empty value (null) is not allowed: remove the field, or write "" to clear it',
    ),
    "wrong_api_version.yaml": (
        2,
        13,
        "apiVersion",
        "apiVersion must be 'reconciler/v1' (got 'reconciler/v2')",
    ),
    "wrong_kind.yaml": (
        3,
        7,
        "kind",
        "unknown kind 'Modle': expected Model or Defaults; did you mean 'Model'?",
    ),
    "missing_kind.yaml": (2, 1, "", "missing required field 'kind' (Model or Defaults)"),
    "missing_key.yaml": (5, 3, "metadata.key", "missing required field 'key'"),
    "not_a_mapping.yaml": (
        2,
        1,
        "",
        "a manifest document is a mapping: apiVersion, kind, metadata, spec",
    ),
    "label_and_id.yaml": (
        8,
        3,
        "spec.provider_id",
        "give provider or provider_id, not both: they are two forms of one field",
    ),
    "duplicate_label.yaml": (
        7,
        36,
        "spec.departments[2]",
        "'research' is listed twice: same as spec.departments[0] (labels match case-insensitively)",
    ),
    "duplicate_id.yaml": (
        7,
        34,
        "spec.department_ids[2]",
        "'dep-1' is listed twice: same as spec.department_ids[0]",
    ),
    "duplicate_price.yaml": (
        9,
        7,
        "spec.pricing[1]",
        "a second price for Input per 1M tokens in USD: same as spec.pricing[0]",
    ),
    "bad_amount.yaml": (
        8,
        47,
        "spec.pricing[0].amount",
        "the amount '$0.60' is not a decimal number: write it like \"0.60\"",
    ),
    "negative_amount.yaml": (
        8,
        47,
        "spec.pricing[0].amount",
        "the amount '-0.60' is negative: a price is zero or more",
    ),
    "bad_currency.yaml": (
        8,
        65,
        "spec.pricing[0].currency",
        "'USS' is not an ISO 4217 currency code; did you mean 'USD'?",
    ),
    "pricing_id.yaml": (
        8,
        8,
        "spec.pricing[0].id",
        "pricing entries have no id in a manifest: they are matched by their content",
    ),
    "pending_ids.yaml": (
        8,
        3,
        "spec.pending_ids",
        "pending_ids is not managed: the reconciler never sends it",
    ),
    "bad_key.yaml": (
        5,
        8,
        "metadata.key",
        "a key is 1 to 128 characters: lowercase letters, digits, '.', '-' and '_',"
        " starting with a letter or digit (got 'GPT 4o'); did you mean 'gpt-4o'?",
    ),
    "flag_ids_and_boolean.yaml": (
        8,
        3,
        "spec.active",
        "active cannot be set when flag_ids is given (here): flag_ids is the complete,"
        " canonical flag selection",
    ),
    "unknown_ignored_field.yaml": (
        9,
        20,
        "lifecycle.ignore_changes[0]",
        "'descripton' is not a spec field; did you mean 'description'?",
    ),
}


def test_every_broken_fixture_has_a_case():
    assert sorted(path.name for path in BROKEN.iterdir()) == sorted(BROKEN_CASES)


@pytest.mark.parametrize("libyaml", LOADERS)
@pytest.mark.parametrize("fixture", sorted(BROKEN_CASES))
def test_broken_manifest_is_reported_at_its_location(fixture, libyaml):
    line, column, path, message = BROKEN_CASES[fixture]
    report = load_report([BROKEN / fixture], libyaml=libyaml)
    assert report.models == ()
    (problem,) = report.problems
    assert (problem.file, problem.line, problem.column, problem.path) == (
        str(BROKEN / fixture),
        line,
        column,
        path,
    )
    assert message in problem.message


@pytest.mark.parametrize(
    "fixture",
    [*sorted(BROKEN.iterdir()), *sorted(BROKEN_DIRS.iterdir()), LAYERED, CATALOG],
    ids=lambda path: path.name,
)
@pytest.mark.skipif(not HAVE_LIBYAML, reason="no libyaml to compare with")
def test_libyaml_and_pure_loader_report_the_same(fixture):
    with_libyaml = load_report([fixture], libyaml=True)
    pure = load_report([fixture], libyaml=False)
    assert with_libyaml == pure


def test_duplicate_model_key_names_both_locations():
    (problem,) = load_report([BROKEN_DIRS / "duplicate_model_key"]).problems
    first = BROKEN_DIRS / "duplicate_model_key" / "a.yaml"
    assert (problem.file, problem.line, problem.column, problem.path) == (
        str(BROKEN_DIRS / "duplicate_model_key" / "b.yaml"),
        5,
        8,
        "metadata.key",
    )
    assert problem.message == (
        f"the key 'shared-key' is already used at {first}:5:8: keys must be unique"
    )


def test_duplicate_draft_id_names_both_locations():
    (problem,) = load_report([BROKEN_DIRS / "duplicate_draft_id"]).problems
    file = BROKEN_DIRS / "duplicate_draft_id" / "models.yaml"
    assert (problem.line, problem.column, problem.path) == (14, 13, "metadata.draft_id")
    assert problem.message == (
        f"the draft_id '6f1c2d3e-draft' is already adopted at {file}:6:13:"
        " two models cannot manage one draft"
    )


def test_second_defaults_in_one_directory_names_the_first():
    (problem,) = load_report([BROKEN_DIRS / "two_defaults"]).problems
    first = BROKEN_DIRS / "two_defaults" / "_defaults.yaml"
    assert (problem.file, problem.line, problem.column) == (
        str(BROKEN_DIRS / "two_defaults" / "more_defaults.yaml"),
        3,
        7,
    )
    assert f"(the first is at {first}:2:1)" in problem.message


def test_flag_boolean_under_defaults_flag_ids_is_a_conflict():
    (problem,) = load_report([BROKEN_DIRS / "defaults_flag_conflict"]).problems
    defaults = BROKEN_DIRS / "defaults_flag_conflict" / "_defaults.yaml"
    assert (problem.file, problem.line, problem.column, problem.path) == (
        str(BROKEN_DIRS / "defaults_flag_conflict" / "team" / "model.yaml"),
        8,
        3,
        "spec.active",
    )
    assert f"active cannot be set when flag_ids is given (by the Defaults at {defaults}:2:1)" in (
        problem.message
    )


def test_every_problem_in_every_file_is_reported_in_one_run():
    paths = [BROKEN / "unknown_field.yaml", BROKEN / "bad_currency.yaml", BROKEN_DIRS]
    with pytest.raises(ManifestError) as caught:
        load_manifests(paths)
    problems = caught.value.problems
    assert len(problems) == 6
    assert {Path(p.file).name for p in problems} == {
        "unknown_field.yaml",
        "bad_currency.yaml",
        "b.yaml",
        "models.yaml",
        "more_defaults.yaml",
        "model.yaml",
    }
    assert str(caught.value).endswith("6 manifest problems found.")


def test_several_problems_in_one_document_are_all_reported(tmp_path):
    (tmp_path / "m.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Model\nmetadata:\n  key: many\nspec:\n"
        "  name: 12\n  active: maybe\n  departments: [Research, research]\n"
        "  provider: OpenAI\n  provider_id: p-1\n"
    )
    report = load_report([tmp_path])
    assert [(p.line, p.path) for p in report.problems] == [
        (6, "spec.name"),
        (7, "spec.active"),
        (8, "spec.departments[1]"),
        (10, "spec.provider_id"),
    ]


def test_layered_defaults_merge_field_by_field():
    models = {model.key: model for model in load_manifests([LAYERED])}
    assert list(models) == ["root-model", "team-model", "flagged-model", "voice-model"]
    assert models["root-model"] == DesiredModel(
        key="root-model",
        fields={
            "name": "Root model",
            "provider": "OpenAI",
            "active": True,
            "modalities_enabled": True,
            "pricing_enabled": True,
            "departments": ["Research"],
        },
        ignore_changes=frozenset({"description"}),
        source=SourceLocation(str(LAYERED / "root-model.yaml"), 1, 1),
    )
    # The inner Defaults replace departments and the provider's form; the model's own
    # provider label replaces the inner provider_id; ignore_changes lists are united.
    assert models["team-model"].fields == {
        "name": "Team model",
        "provider": "Anthropic",
        "active": False,
        "modalities_enabled": True,
        "pricing_enabled": True,
        "departments": ["Support", "Sales"],
        "pricing": [{"label": "input", "unit": "1M tokens", "amount": "0.60", "currency": "USD"}],
    }
    assert models["team-model"].draft_id == "draft-team-model"
    assert models["team-model"].ignore_changes == {"description", "departments", "name"}


def test_flag_ids_replaces_every_inherited_flag_boolean_and_gets_no_active_default():
    models = {model.key: model for model in load_manifests([LAYERED])}
    assert models["flagged-model"].fields == {
        "name": "Flagged model",
        "provider_id": "provider-team",
        "flag_ids": ["opt-active-true", "opt-modalities-true"],
        "departments": ["Support", "Sales"],
    }


def test_nested_defaults_three_levels_deep_and_a_yml_file():
    models = {model.key: model for model in load_manifests([LAYERED])}
    voice = models["voice-model"]
    assert voice.fields["voices"] == ["alloy", "verse"]
    assert voice.fields["voices_enabled"] is True
    assert voice.fields["active"] is False
    assert voice.source == SourceLocation(str(LAYERED / "team" / "speech" / "voice.yml"), 1, 1)


def test_models_do_not_share_their_defaults_lists():
    models = {model.key: model for model in load_manifests([LAYERED])}
    assert (
        models["team-model"].fields["departments"]
        is not models["voice-model"].fields["departments"]
    )


def test_active_defaults_to_true_and_amounts_stay_as_written(tmp_path):
    (tmp_path / "m.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Model\nmetadata:\n  key: plain\nspec:\n"
        '  pricing:\n    - {label: output, unit: 1M tokens, amount: "0.60", currency: USD}\n'
    )
    (model,) = load_manifests([tmp_path])
    assert model.fields == {
        "active": True,
        "pricing": [{"label": "output", "unit": "1M tokens", "amount": "0.60", "currency": "USD"}],
    }
    assert model.ignore_changes == frozenset()
    assert model.draft_id is None


def test_explicit_active_false_is_kept(tmp_path):
    (tmp_path / "m.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Model\nmetadata:\n  key: retired\n"
        "spec:\n  active: false\n"
    )
    (model,) = load_manifests([tmp_path])
    assert model.fields == {"active": False}


def test_a_key_that_yaml_reads_as_a_boolean_must_be_quoted(tmp_path):
    (tmp_path / "m.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Model\nmetadata:\n  key: off\n"
    )
    (problem,) = load_report([tmp_path]).problems
    assert (problem.line, problem.column, problem.path) == (4, 8, "metadata.key")
    assert problem.message == (
        'expected text, but YAML reads off as a boolean (YAML 1.1): quote it, "off"'
    )


def test_defaults_outside_the_given_paths_do_not_apply(tmp_path):
    (model,) = load_manifests([LAYERED / "root-model.yaml"])
    assert model.fields == {"name": "Root model", "active": True}


def test_files_are_every_yaml_and_yml_under_the_paths_sorted(tmp_path):
    for name in ["b/z.yaml", "b/a.yml", "a.yaml", "notes.txt", "c/d/e.YAML.bak", "c/d/deep.yaml"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    files, problems = manifest_files([tmp_path / "b", tmp_path])
    assert problems == []
    assert [display for display, _ in files] == [
        str(tmp_path / "a.yaml"),
        str(tmp_path / "b" / "a.yml"),
        str(tmp_path / "b" / "z.yaml"),
        str(tmp_path / "c" / "d" / "deep.yaml"),
    ]


def test_a_file_named_explicitly_is_read_whatever_its_suffix(tmp_path):
    (tmp_path / "model.txt").write_text(
        "apiVersion: reconciler/v1\nkind: Model\nmetadata:\n  key: named\n"
    )
    assert [m.key for m in load_manifests([tmp_path / "model.txt"])] == ["named"]


def test_missing_path_and_empty_directory_are_problems(tmp_path):
    (tmp_path / "empty").mkdir()
    report = load_report([tmp_path / "nope", tmp_path / "empty"])
    assert [(p.file, p.message) for p in report.problems] == [
        (str(tmp_path / "empty"), "no .yaml or .yml files in this directory"),
        (str(tmp_path / "nope"), "no such file or directory"),
    ]


def test_file_over_the_size_limit_is_a_problem(tmp_path):
    (tmp_path / "big.yaml").write_text("# " + "x" * 200 + "\n")
    report = load_report([tmp_path], limits=YamlLimits(max_file_bytes=100))
    (problem,) = report.problems
    assert (problem.line, problem.column) == (1, 1)
    assert problem.message.startswith("the file is larger than 100 bytes")


def test_example_catalog_validates_with_twenty_or_more_models():
    report = load_report([CATALOG])
    assert report.problems == ()
    assert len(report.models) >= 20
    assert len({model.key for model in report.models}) == len(report.models)
    providers = {model.fields.get("provider") for model in report.models}
    assert providers == {"OpenAI", "Anthropic", "Google", "Mistral", "Meta", "Cohere"}


def test_example_catalog_uses_only_the_local_servers_reference_data():
    reference = yaml.safe_load((ROOT / "reconciler" / "server" / "reference_data.yaml").read_text())
    fields = {
        "provider": "providers",
        "departments": "departments",
        "modalities": "modalities",
        "qualities": "qualities",
        "reasoning_levels": "reasoning_levels",
        "temperature_levels": "temperature_levels",
        "voices": "voices",
    }
    for model in load_manifests([CATALOG]):
        for field, kind in fields.items():
            value = model.fields.get(field, [])
            labels = [value] if isinstance(value, str) else value
            assert set(labels) <= set(reference[kind]), (model.key, field, labels)


def test_example_catalog_shows_each_kind_of_model():
    models = {model.key: model for model in load_manifests([CATALOG])}
    assert models["o3-mini"].fields["reasoning_levels"] == ["low", "medium", "high"]
    assert models["tts-1"].fields["voices"] == ["alloy", "echo"]
    assert models["dall-e-3"].fields["qualities"] == ["standard", "hd"]
    assert models["gpt-4o-mini"].fields["pricing"][2] == {
        "label": "output",
        "unit": "1M tokens",
        "amount": "0.60",
        "currency": "USD",
    }
    assert models["llama-3.1-405b"].fields["pricing"] == []


def test_hundreds_of_models_in_many_files_all_load(tmp_path):
    document = (
        "apiVersion: reconciler/v1\nkind: Model\nmetadata:\n  key: model-{n}\nspec:\n"
        "  name: Model {n}\n  provider: OpenAI\n  departments: [Research, Support]\n"
        '  pricing:\n    - {{label: input, unit: 1M tokens, amount: "0.15", currency: USD}}\n'
    )
    for file in range(50):
        docs = [document.format(n=file * 10 + i) for i in range(10)]
        (tmp_path / f"models-{file:02}.yaml").write_text("---\n".join(docs))
    models = load_manifests([tmp_path])
    assert [m.key for m in models] == [f"model-{n}" for n in range(500)]


def test_loading_leaves_the_collector_thresholds_as_it_found_them(tmp_path, monkeypatch):
    seen = []
    real_read = loader.read_yaml_file

    def read_and_note(*args, **kwargs):
        seen.append(gc.get_threshold())
        return real_read(*args, **kwargs)

    monkeypatch.setattr(loader, "read_yaml_file", read_and_note)
    (tmp_path / "bad.yaml").write_text("a: [unclosed\n")
    (tmp_path / "ok.yaml").write_text("kind: Model\n")
    original = gc.get_threshold()
    try:
        raised = [((700, 10, 10), (50_000, 20, 1_000)), ((60_000, 3, 2_000), (60_000, 20, 2_000))]
        for before, while_reading in raised:
            gc.set_threshold(*before)
            seen.clear()
            report = load_report([tmp_path])
            assert report.problems
            assert gc.get_threshold() == before
            # While reading, each generation is collected less often (never more often
            # than the caller asked), and young objects still are.
            assert seen == [while_reading] * 2
    finally:
        gc.set_threshold(*original)


def test_walked_files_resolve_as_each_file_resolved_on_its_own(tmp_path):
    # A walked file that is no symbolic link is resolved through its directory only;
    # links, broken links and special files still get their own resolve and message.
    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (real / "a.yaml").write_text("a: 1\n")
    (real / "sub" / "b.yml").write_text("b: 1\n")
    (tmp_path / "elsewhere.yaml").write_text("c: 1\n")
    (real / "sub" / "to-elsewhere.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    (real / "sub" / "to-a.yaml").symlink_to(real / "a.yaml")
    (real / "sub" / "broken.yaml").symlink_to(tmp_path / "gone.yaml")
    os.mkfifo(real / "sub" / "pipe.yaml")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    files, problems = manifest_files([tmp_path / "link"])
    walked = sorted(
        Path(directory, name)
        for directory, _, names in os.walk(tmp_path / "link")
        for name in names
    )
    expected = {}
    for path in walked:
        if path.is_file():
            expected.setdefault(path.resolve(strict=True), str(path))
    assert sorted(files) == sorted((display, resolved) for resolved, display in expected.items())
    assert dict(files)[str(tmp_path / "link" / "a.yaml")] == real / "a.yaml"
    assert [(p.file, p.message) for p in problems] == [
        (
            str(tmp_path / "link" / "sub" / "broken.yaml"),
            "a symbolic link to a file that does not exist",
        ),
        (
            str(tmp_path / "link" / "sub" / "pipe.yaml"),
            "not a regular file (a named pipe); only regular files are read",
        ),
    ]


def test_the_walk_lists_what_os_walk_lists_in_the_same_order(tmp_path):
    # The loader's own walk keeps os.walk's order and choices: subdirectories sorted,
    # links to directories not followed, a directory named *.yaml not a file.
    real = tmp_path / "real"
    for name in ["z/b.yaml", "z/a.yml", "a/x.yaml", "a/deep/y.yaml", "m.yaml", "n.txt"]:
        (real / name).parent.mkdir(parents=True, exist_ok=True)
        (real / name).write_text("a: 1\n")
    (real / "dir.yaml").mkdir()
    (real / "dir.yaml" / "inner.yaml").write_text("b: 1\n")
    (real / "linked").symlink_to(real / "a", target_is_directory=True)
    (real / "z" / "same.yaml").symlink_to(real / "m.yaml")
    (real / "z" / "gone.yaml").symlink_to(tmp_path / "gone.yaml")
    os.mkfifo(real / "pipe.yaml")
    for top in [real, tmp_path, Path(os.path.relpath(real))]:
        expected: dict[Path, str] = {}
        expected_problems = []
        for directory, subdirectories, names in os.walk(top):
            subdirectories.sort()
            for name in names:
                path = Path(directory) / name
                if not name.endswith((".yaml", ".yml")):
                    continue
                if not path.is_file():  # a broken link, a pipe: each a problem
                    expected_problems.append(str(path))
                else:
                    expected.setdefault(path.resolve(strict=True), str(path))
        files, problems = manifest_files([top])
        assert files == sorted((display, resolved) for resolved, display in expected.items())
        assert sorted(p.file for p in problems) == sorted(expected_problems)
