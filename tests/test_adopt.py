"""Adoption of drifted values into the manifests, one test per shape of value."""

from __future__ import annotations

from reconciler.catalog.wire import PricingDraftValue
from tests.adopt_helpers import adopt, applied, edited, replan, write_files

HEAD = "# yaml-language-server: $schema=../manifest.schema.json\n"
DEFAULTS = (
    HEAD
    + """\
apiVersion: reconciler/v1
kind: Defaults
spec:
  provider: OpenAI            # every model here is OpenAI's
  departments: [Research, Engineering]
"""
)
GPT = (
    HEAD
    + """\
apiVersion: reconciler/v1
kind: Model
metadata:
  key: gpt-4o

# The flagship.
spec:
  name: 'GPT-4o'   # shown in the picker
  description: Flagship model
  departments: [Support, research]
  modalities:
    - text     # always
    - image
  pricing:
    - {label: input,  unit: 1M tokens, amount: "2.50", currency: USD}
    - {label: output, unit: 1M tokens, amount: "10.00", currency: USD}
lifecycle:
  ignore_changes: [description]   # the catalog team writes it
"""
)


def _setup(tmp_path):
    root = tmp_path / "manifests"
    write_files(root, {"openai/_defaults.yaml": DEFAULTS, "openai/gpt-4o.yaml": GPT})
    drafts, records = applied(root)
    return root, drafts, records


def _adopted(tmp_path, **changes):
    root, drafts, records = _setup(tmp_path)
    live = edited(drafts, {"gpt-4o": changes})
    plan = adopt(root, records, live)
    again = replan(root, records, live)
    assert not again.has_changes, again
    return plan, (root / "openai/gpt-4o.yaml").read_text(), (root / "openai/_defaults.yaml")


def test_a_changed_scalar_moves_only_its_line_and_keeps_its_quotes(tmp_path):
    plan, text, _ = _adopted(tmp_path, name="GPT-4o (ui)")
    assert text == GPT.replace("name: 'GPT-4o'   #", "name: 'GPT-4o (ui)'   #")
    (adoption,) = plan.adoptions
    assert (adoption.field, adoption.before, adoption.after) == ("name", "GPT-4o", "GPT-4o (ui)")


def test_a_list_keeps_its_items_and_comments_drops_and_appends(tmp_path):
    _, text, _ = _adopted(tmp_path, modalities=["text", "audio"])
    assert text == GPT.replace("    - image\n", "    - audio\n")


def test_labels_in_another_case_keep_the_manifests_spelling(tmp_path):
    # The catalog matches labels case-insensitively: only the new label is written.
    _, text, _ = _adopted(tmp_path, departments=["support", "RESEARCH", "Legal"])
    assert text == GPT.replace("[Support, research]", "[Support, research, Legal]")


def test_a_pricing_amount_is_changed_in_the_entry_in_the_old_amounts_spelling(tmp_path):
    root, drafts, records = _setup(tmp_path)
    prices = [p.model_copy() for p in drafts["gpt-4o"].pricing]
    prices[0] = prices[0].model_copy(update={"amount": "3"})
    prices.append(
        PricingDraftValue(label="cached input", unit="1M tokens", amount="1.25", currency="USD")
    )
    live = edited(drafts, {"gpt-4o": {"pricing": prices}})
    adopt(root, records, live)
    assert not replan(root, records, live).has_changes
    text = (root / "openai/gpt-4o.yaml").read_text()
    assert text == GPT.replace('"2.50"', '"3.00"').replace(
        'amount: "10.00", currency: USD}\n',
        'amount: "10.00", currency: USD}\n'
        '    - {label: cached input, unit: 1M tokens, amount: "1.25", currency: USD}\n',
    ).replace("input,  unit", "input, unit")


def test_a_dropped_price_leaves_the_list(tmp_path):
    root, drafts, records = _setup(tmp_path)
    live = edited(drafts, {"gpt-4o": {"pricing": drafts["gpt-4o"].pricing[:1]}})
    adopt(root, records, live)
    text = (root / "openai/gpt-4o.yaml").read_text()
    assert text == GPT.replace(
        '    - {label: output, unit: 1M tokens, amount: "10.00", currency: USD}\n', ""
    )


def test_a_value_from_defaults_is_overridden_in_the_model_never_in_the_defaults(tmp_path):
    plan, text, defaults = _adopted(tmp_path, provider="Azure")
    assert defaults.read_text() == DEFAULTS
    assert text == GPT.replace(
        "  description: Flagship model\n", "  description: Flagship model\n  provider: Azure\n"
    )
    (adoption,) = plan.adoptions
    assert (adoption.how, adoption.before, adoption.after) == ("overridden", "OpenAI", "Azure")


def test_an_override_equal_to_the_inherited_value_is_removed(tmp_path):
    plan, text, defaults = _adopted(tmp_path, departments=["Research", "Engineering"])
    assert defaults.read_text() == DEFAULTS
    assert text == GPT.replace("  departments: [Support, research]\n", "")
    assert plan.adoptions[0].how == "inherited"


def test_an_ignored_field_is_never_adopted(tmp_path):
    root, drafts, records = _setup(tmp_path)
    live = edited(drafts, {"gpt-4o": {"description": "Rewritten by the catalog team"}})
    plan = adopt(root, records, live)
    assert plan.adoptions == ()
    assert (root / "openai/gpt-4o.yaml").read_text() == GPT


def test_active_defaults_to_true_so_a_deactivation_is_written_as_an_override(tmp_path):
    _, text, _ = _adopted(tmp_path, active=False)
    assert "  active: false\n" in text
    assert text.replace("  active: false\n", "") == GPT


def test_a_file_ruamel_would_reformat_is_spliced_and_its_other_document_kept(tmp_path):
    root = tmp_path / "manifests"
    other = "apiVersion: reconciler/v1\nkind: Model\nmetadata: {key: b}\nspec: {name: B}\n"
    text = (
        "# yaml-language-server: $schema=../manifest.schema.json\n---\n"
        "apiVersion: reconciler/v1\nkind: Model\nmetadata:\n  key: a\nspec:\n"
        "  name: A\n  modalities: [ text ]\n...\n---\n" + other
    )
    write_files(root, {"models.yaml": text})
    drafts, records = applied(root)
    live = edited(drafts, {"a": {"modalities": ["text", "image"]}, "b": {"name": "B2"}})
    adopt(root, records, live)
    assert not replan(root, records, live).has_changes
    assert (root / "models.yaml").read_text() == text.replace(
        "[ text ]", "[ text, image ]"
    ).replace("{name: B}", "{name: B2}")


def test_a_block_list_emptied_in_the_catalog_becomes_an_empty_list_in_its_place(tmp_path):
    _, text, _ = _adopted(tmp_path, modalities=[])
    assert text == GPT.replace(
        "  modalities:\n    - text     # always\n    - image\n", "  modalities: []\n"
    )
