import re

from plan_builders import fixed_plan

from reconciler.planning.plan import ModelChange, Plan
from reconciler.render import render
from reconciler.render.text import format_price, format_value, render_text

EXPECTED = """\
Changes made outside reconciler since the last apply:

  ~ gpt-4o (draft d-1)
      name: "GPT-4o" -> "GPT 4o"

reconciler will perform the following actions:

  <= adopt claude (draft d-7)
      (nothing to send; only the state changes)
  ~ update gpt-4o (draft d-1, manifests/openai.yaml:1:1)
      name: "GPT-4o" -> "GPT-4o (2024)"
      departments:
        + "support"
        - "Legal"
      pricing:
        + output 0.7 USD / 1M tokens
        - output 0.6 USD / 1M tokens
  + create mini (manifests/openai.yaml:20:1)
      name: "Mini"
      active: true
      voices: []
      modalities:
        + "text"

Deactivations (the catalog has no delete; these models are set inactive):

  -/ deactivate old (draft d-9)
      active: true -> false

Warnings:

  - gpt-4o: draft d-1 has pending proposals not made by this plan: k-1
  - model legacy is in the state but has no manifest; run with --prune to deactivate it

Plan: 1 to adopt, 1 to create, 1 to update, 1 to deactivate.
"""

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_a_fixed_plan_renders_exactly():
    assert render_text(fixed_plan()) == EXPECTED


def test_no_colour_unless_asked():
    assert "\x1b[" not in render_text(fixed_plan())
    assert render(fixed_plan(), "text") == EXPECTED


def test_colour_marks_symbols_and_changes_nothing_else():
    coloured = render_text(fixed_plan(), color=True)
    assert "\x1b[32m+\x1b[0m create mini" in coloured
    assert "\x1b[31m-/\x1b[0m deactivate old" in coloured
    assert '\x1b[31m-\x1b[0m "Legal"' in coloured
    assert ANSI.sub("", coloured) == EXPECTED


def test_a_plan_without_changes_says_so():
    plan = Plan(changes=(ModelChange(key="a", action="noop", draft_id="d"),), managed_models=1)
    assert render_text(plan) == "No changes. The catalog matches the manifests.\n"


def test_a_plan_made_without_refresh_or_for_targets_says_so():
    plan = Plan(refreshed=False, targets=("a", "b"))
    assert render_text(plan) == (
        "Note: planned from the state without reading the live drafts.\n"
        "\n"
        "Note: planned for the targeted models only: a, b.\n"
        "\n"
        "No changes. The catalog matches the manifests.\n"
    )


def test_rendering_is_deterministic():
    assert render_text(fixed_plan()) == render_text(fixed_plan())


def test_values_are_shown_as_json_and_prices_in_words():
    assert format_value(None) == "null"
    assert format_value("Ünïcode") == '"Ünïcode"'
    assert format_value(["a", "b"]) == '["a", "b"]'
    price = {"label": "input", "unit": "image", "amount": "2", "currency": "EUR"}
    assert format_price(price) == "input 2 EUR / image"
    assert format_value([price]) == "[input 2 EUR / image]"
