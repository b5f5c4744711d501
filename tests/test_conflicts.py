"""Three-way plans: a field changed in git and in the catalog since the last apply."""

from __future__ import annotations

import json

import pytest

from reconciler.errors import ConflictingPlanError
from reconciler.planning.planner import build_plan
from reconciler.render import render_json, render_markdown, render_text
from reconciler.render.remedies import describe
from tests.plan_builders import desired, live, record


def _plan(git: str, catalog: str, **extra):
    applied = live(name="GPT-4o", modalities=["text"])
    model = desired(name="GPT-4o", modalities=["text"])
    state = {"gpt-4o": record(applied, model)}
    now = live(name=catalog, **extra)
    wanted = desired(name=git, modalities=extra.get("modalities", ["text"]))
    return build_plan([wanted], state, {"gpt-4o": now})


def test_a_field_changed_in_git_and_in_the_catalog_is_a_conflict():
    plan = _plan("GPT-4o (git)", "GPT-4o (ui)", modalities=["text"])
    (conflict,) = plan.conflicts
    assert (conflict.key, conflict.field) == ("gpt-4o", "name")
    assert (conflict.last_applied, conflict.catalog, conflict.git) == (
        "GPT-4o",
        "GPT-4o (ui)",
        "GPT-4o (git)",
    )
    assert plan.summary.line() == (
        "Plan: 0 to create, 1 to update, 0 to deactivate."
        " 1 conflict: git overwrites a catalog edit."
    )


def test_drift_alone_or_the_same_edit_on_both_sides_is_no_conflict():
    assert _plan("GPT-4o", "GPT-4o (ui)", modalities=["text"]).conflicts == ()  # only the catalog
    same = _plan("GPT-4o (ui)", "GPT-4o (ui)", modalities=["text"])  # adopted
    assert same.conflicts == ()
    assert not same.has_changes
    assert [c.key for c in same.refresh_only] == ["gpt-4o"]


def test_every_format_shows_the_three_values():
    plan = _plan("GPT-4o (git)", "GPT-4o (ui)", modalities=["text"])
    text = render_text(plan)
    assert "Conflicts: changed in git and in the catalog since the last apply (git wins):" in text
    assert (
        '  ! gpt-4o.name\n      last applied: "GPT-4o"\n      catalog:      "GPT-4o (ui)"\n' in text
    )
    assert '      git:          "GPT-4o (git)"\n' in text
    document = json.loads(render_json(plan))
    assert document["conflicts"] == [
        {
            "key": "gpt-4o",
            "field": "name",
            "last_applied": "GPT-4o",
            "catalog": "GPT-4o (ui)",
            "git": "GPT-4o (git)",
        }
    ]
    assert document["summary"]["conflicts"] == 1
    markdown = render_markdown(plan)
    assert "| Model | Field | Last applied | Catalog | Git |" in markdown
    assert '| `gpt-4o` | `name` | "GPT-4o" | "GPT-4o (ui)" | "GPT-4o (git)" |' in markdown
    assert "1 conflict: git overwrites a catalog edit." in markdown


def test_fail_on_conflict_refuses_with_the_fields_named():
    plan = _plan("GPT-4o (git)", "GPT-4o (ui)", modalities=["text"])
    with pytest.raises(ConflictingPlanError, match=r"gpt-4o\.name") as caught:
        plan.raise_if_conflicts()
    assert len(caught.value.conflicts) == 1
    assert "reconciler adopt" in describe(caught.value)
    _plan("GPT-4o", "GPT-4o (ui)", modalities=["text"]).raise_if_conflicts()
