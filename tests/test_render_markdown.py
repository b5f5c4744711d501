import re

import pytest
from plan_builders import fixed_plan

from reconciler.planning.plan import DriftEntry, FieldChange, ModelChange, Plan
from reconciler.render import GITHUB_COMMENT_LIMIT, render
from reconciler.render.markdown import render_markdown

EXPECTED = """\
## reconciler plan

**Plan: 1 to adopt, 1 to create, 1 to update, 1 to deactivate.**

| Model | Action | Fields changed |
|---|---|---|
| `claude` | adopt | — |
| `gpt-4o` | update | `name`, `departments`, `pricing` |
| `mini` | create | `name`, `active`, `voices`, `modalities` |
| `old` | deactivate | `active` |

<details><summary>adopt claude (draft d-7)</summary>

```diff
  (nothing to send; only the state changes)
```

</details>

<details><summary>update gpt-4o (draft d-1, manifests/openai.yaml:1:1)</summary>

```diff
- name: "GPT-4o"
+ name: "GPT-4o (2024)"
  departments:
+   "support"
-   "Legal"
  pricing:
+   output 0.7 USD / 1M tokens
-   output 0.6 USD / 1M tokens
! draft d-1 has pending proposals not made by this plan: k-1
```

</details>

<details><summary>create mini (manifests/openai.yaml:20:1)</summary>

```diff
+ name: "Mini"
+ active: true
+ voices: []
  modalities:
+   "text"
```

</details>

<details><summary>deactivate old (draft d-9)</summary>

```diff
- active: true
+ active: false
```

</details>

### Changes made outside reconciler

| Model | Draft | Fields changed outside reconciler |
|---|---|---|
| `gpt-4o` | `d-1` | `name` |

<details><summary>gpt-4o: changed outside reconciler (draft d-1)</summary>

```diff
- name: "GPT-4o"
+ name: "GPT 4o"
```

</details>

### Warnings

- gpt-4o: draft d-1 has pending proposals not made by this plan: k-1
- model legacy is in the state but has no manifest; run with --prune to deactivate it
"""


def many_updates(count: int) -> Plan:
    changes = tuple(
        ModelChange(
            key=f"model-{i:04d}",
            action="update",
            draft_id=f"d-{i}",
            field_changes=(
                FieldChange(field="description", before="old " * 20, after="new " * 20),
            ),
            patch={"description": "new " * 20},
        )
        for i in range(count)
    )
    return Plan(changes=changes, managed_models=count)


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def assert_tables_whole(text: str) -> None:
    # A table is header, separator, rows, then a blank line: every row has the header's cells.
    for block in re.findall(r"(?:^\|.*\n)+", text, flags=re.MULTILINE):
        lines = block.splitlines()
        assert len(lines) >= 2
        assert all(line.count("|") == lines[0].count("|") for line in lines), block
        assert all(line.endswith("|") for line in lines), block
        following = text[text.index(block) + len(block) :]
        assert following == "" or following.startswith("\n")


def test_a_fixed_plan_renders_exactly():
    assert render_markdown(fixed_plan()) == EXPECTED
    assert render(fixed_plan(), "markdown") == EXPECTED


def test_a_plan_without_changes_has_the_summary_only():
    plan = Plan(changes=(ModelChange(key="a", action="noop", draft_id="d"),), managed_models=1)
    assert render_markdown(plan, title="Catalog plan") == (
        "## Catalog plan\n\n**No changes. The catalog matches the manifests.**\n"
    )


def test_drift_alone_is_shown_under_its_own_heading():
    plan = Plan(
        drift=(
            DriftEntry(
                key="a",
                draft_id="d-1",
                field_changes=(FieldChange(field="active", before=True, after=False),),
            ),
        ),
        refreshed=True,
    )
    text = render_markdown(plan)
    assert "| `a` | `d-1` | `active` |" in text
    assert "- active: true\n+ active: false" in text


def test_details_blocks_are_dropped_from_the_end_first():
    full = render_markdown(fixed_plan())
    text = render_markdown(fixed_plan(), limit=len(full) - 1)
    assert len(text) <= len(full) - 1
    assert "changed outside reconciler (draft d-1)</summary>" not in text
    assert (
        "_1 more drifted model's details omitted; see the job summary or the plan artifact._"
        in (text)
    )
    assert "<summary>deactivate old (draft d-9)</summary>" in text
    assert table_lines(text) == table_lines(full)


def test_when_no_details_fit_every_table_row_is_still_there():
    plan = many_updates(40)
    text = render_markdown(plan, limit=2100)
    assert len(text) <= 2100
    assert "<details>" not in text
    assert "_40 more models' details omitted; see the job summary or the plan artifact._" in text
    assert len(table_lines(text)) == 2 + 40


def test_when_the_table_does_not_fit_its_rows_are_cut_between_rows_with_a_count():
    plan = many_updates(200)
    text = render_markdown(plan, limit=3000)
    assert len(text) <= 3000
    assert_tables_whole(text)
    rows = len(table_lines(text)) - 2
    assert 0 < rows < 200
    assert f"_…and {200 - rows} more models not listed here; see the job summary" in text
    assert "**Plan: 0 to create, 200 to update, 0 to deactivate.**" in text


def test_a_limit_too_small_for_any_table_keeps_the_summary():
    text = render_markdown(many_updates(200), limit=200)
    assert len(text) <= 200
    assert text == (
        "## reconciler plan\n\n"
        "**Plan: 0 to create, 200 to update, 0 to deactivate.**\n\n"
        "The plan is too large to show here; see the job summary or the plan artifact.\n"
    )


@pytest.mark.parametrize("limit", range(300, 4200, 97))
def test_every_limit_is_honoured_and_never_cuts_a_table(limit):
    text = render_markdown(fixed_plan(), limit=limit)
    assert len(text) <= limit
    assert_tables_whole(text)
    assert "**Plan: 1 to adopt, 1 to create, 1 to update, 1 to deactivate.**" in text


def test_a_large_plan_fits_a_github_comment_by_default():
    text = render_markdown(many_updates(1500))
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert len(table_lines(text)) == 2 + 1500
    assert "models' details omitted" in text


def test_a_backtick_fence_in_a_value_cannot_close_the_code_block():
    plan = Plan(
        changes=(
            ModelChange(
                key="a",
                action="update",
                draft_id="d",
                field_changes=(FieldChange(field="description", before="x", after="```\nboom"),),
                patch={"description": "```\nboom"},
            ),
        )
    )
    text = render_markdown(plan)
    assert "````diff\n" in text
    assert "\n````\n" in text


def test_warnings_are_one_line_each_and_cannot_inject_html():
    plan = Plan(warnings=("line one\nline <b>two</b>",))
    assert "- line one line &lt;b&gt;two&lt;/b&gt;\n" in render_markdown(plan)
