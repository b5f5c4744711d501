"""The plan in GitHub Markdown, for pull-request comments and ``$GITHUB_STEP_SUMMARY``.

A summary line and a table of changed models, then each model's changes in a
collapsible ``<details>`` block. The document is kept under a size limit
(GitHub's comment limit by default): details blocks go first, from the end;
only if the tables alone do not fit are their rows cut, always between rows
and with a note saying how many were left out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from reconciler.planning.plan import DriftEntry, FieldChange, ModelChange, Plan, StageVerdict
from reconciler.render.remedies import plan_warnings
from reconciler.render.text import change_heading, format_value

GITHUB_COMMENT_LIMIT = 65_536
_SEE = "see the job summary or the plan artifact"

DEFAULT_TITLE = "reconciler plan"


def render_markdown(
    plan: Plan, *, limit: int = GITHUB_COMMENT_LIMIT, title: str = DEFAULT_TITLE
) -> str:
    """The plan as Markdown of at most ``limit`` characters (when the summary alone fits)."""
    changed = [c for c in plan.changes if c.is_change]
    head = [f"## {title}\n\n", f"**{plan.summary.line()}**\n\n"]
    verdicts = {v.key: v for v in plan.stage or ()}
    if plan.stage is not None:
        mark = "✗" if plan.refusals else "✓"
        head.append(f"**{mark} {plan.stage_line()}**\n\n")
        # Refusals first: they are what a reviewer must act on.
        changed.sort(key=lambda c: c.key not in {v.key for v in plan.refusals})
    if not plan.refreshed:
        head.append("> Planned from the state without reading the live drafts.\n\n")
    if plan.targets is not None:
        head.append(f"> Planned for the targeted models only: {_codes(plan.targets)}.\n\n")
    if plan.missing_line:
        head.append(f"> **{_inline(plan.missing_line)}**\n\n")
    sections = [
        _Section(
            title="",
            header="| Model | Action | Fields changed |\n|---|---|---|\n"
            if plan.stage is None
            else "| Model | Action | Fields changed | Catalog verdict |\n|---|---|---|---|\n",
            rows=[
                f"| `{c.key}` | {c.action} | {_codes(f.field for f in c.field_changes)} |"
                + ("" if plan.stage is None else f" {_verdict_cell(verdicts.get(c.key))} |")
                + "\n"
                for c in changed
            ],
            rows_what="models not listed here",
            details=[_change_details(c) for c in changed],
            details_what="models' details omitted",
        ),
        _Section(
            title="### Conflicts: changed in git and in the catalog (git wins)\n\n",
            header="| Model | Field | Last applied | Catalog | Git |\n|---|---|---|---|---|\n",
            rows=[
                f"| `{c.key}` | `{c.field}` | {_cell(c.last_applied)} | {_cell(c.catalog)} | "
                f"{_cell(c.git)} |\n"
                for c in plan.conflicts
            ],
            rows_what="conflicts not listed here",
        ),
        _Section(
            title="### Changes made outside reconciler\n\n",
            header="| Model | Draft | Fields changed outside reconciler |\n|---|---|---|\n",
            rows=[
                f"| `{d.key}` | `{d.draft_id}` | {_codes(f.field for f in d.field_changes)} |\n"
                for d in plan.drift
            ],
            rows_what="drifted models not listed here",
            details=[_drift_details(d) for d in plan.drift],
            details_what="drifted models' details omitted",
        ),
        _Section(
            title="### In the state and active in the catalog, but no manifest\n\n",
            header="| Model | Draft |\n|---|---|\n",
            rows=[f"| `{e.key}` | `{e.draft_id}` |\n" for e in plan.without_manifest],
            rows_what="models without manifest not listed here",
        ),
        _Section(
            title="### Warnings\n\n",
            header="",
            rows=[f"- {_inline(w)}\n" for w in plan_warnings(plan)],
            rows_what="warnings",
        ),
    ]

    def layout(rows: int, kept: int) -> list[str | _Run]:
        pieces: list[str | _Run] = list(head)
        before = 0  # details blocks of earlier sections: blocks are dropped from the end
        for section in sections:
            if section.rows:
                pieces += section.layout(rows, max(0, kept - before))
            before += len(section.details)
        return pieces

    # Drop details blocks from the end first; cut table rows only if the tables do not fit.
    all_rows = max(len(s.rows) for s in sections)
    kept = sum(len(s.details) for s in sections)
    while kept > 0 and _size(layout(all_rows, kept)) > limit:
        kept -= 1
    rows = all_rows
    while rows > 0 and _size(layout(rows, kept)) > limit:
        rows -= 1
    text = "".join(p if isinstance(p, str) else p.text() for p in layout(rows, kept))
    text = text.rstrip("\n") + "\n"
    if len(text) > limit:
        # Not even the headings and notes fit: the summary line is the least a reader needs.
        text = "".join(head).rstrip("\n") + f"\n\nThe plan is too large to show here; {_SEE}.\n"
    return text


class _Run:
    """The first ``count`` of a list of chunks, measured without joining them."""

    def __init__(self, items: Sequence[str], sums: Sequence[int], count: int) -> None:
        self.items, self.sums, self.count = items, sums, count

    def size(self) -> int:
        return self.sums[self.count]

    def text(self) -> str:
        return "".join(self.items[: self.count])


@dataclass
class _Section:
    """A table (or list) whose rows may be cut, and details blocks that may be dropped."""

    title: str
    header: str
    rows: list[str]
    rows_what: str
    details: list[str] = field(default_factory=list)
    details_what: str = ""

    def __post_init__(self) -> None:
        self.row_sums = [0, *accumulate(len(r) for r in self.rows)]
        self.detail_sums = [0, *accumulate(len(d) for d in self.details)]

    def layout(self, rows: int, details: int) -> list[str | _Run]:
        shown, kept = min(rows, len(self.rows)), min(details, len(self.details))
        return [
            self.title,
            self.header,
            _Run(self.rows, self.row_sums, shown),
            "\n",
            _note(len(self.rows) - shown, self.rows_what),
            _Run(self.details, self.detail_sums, kept),
            _note(len(self.details) - kept, self.details_what, lead=""),
        ]


def _size(pieces: Iterable[str | _Run]) -> int:
    return sum(len(p) if isinstance(p, str) else p.size() for p in pieces)


def _note(missing: int, what: str, *, lead: str = "…and ") -> str:
    if missing <= 0:
        return ""
    if missing == 1:
        what = what.replace("models'", "model's").replace("models", "model")
        what = what.replace("warnings", "warning")
    return f"_{lead}{missing} more {what}; {_SEE}._\n\n"


def _change_details(change: ModelChange) -> str:
    lines = [_diff_line(change, fc) for fc in change.field_changes]
    if not lines:
        lines = ["  (nothing to send; only the state changes)"]
    lines += [f"! {w}" for w in change.warnings]
    return _details(html.escape(change_heading(change)), "\n".join(lines))


def _drift_details(entry: DriftEntry) -> str:
    lines = [_diff_line(None, fc) for fc in entry.field_changes]
    summary = f"{html.escape(entry.key)}: changed outside reconciler (draft {entry.draft_id})"
    return _details(html.escape(summary), "\n".join(lines))


def _diff_line(change: ModelChange | None, fc: FieldChange) -> str:
    """Lines GitHub colours as a diff: ``+`` what the field becomes, ``-`` what it was."""
    if fc.added or fc.removed:
        items = [f"+   {format_value(v)}" for v in fc.added]
        items += [f"-   {format_value(v)}" for v in fc.removed]
        return "\n".join([f"  {fc.field}:", *items])
    if change is not None and change.action == "create":
        return f"+ {fc.field}: {format_value(fc.after)}"
    return f"- {fc.field}: {format_value(fc.before)}\n+ {fc.field}: {format_value(fc.after)}"


def _details(summary: str, body: str) -> str:
    # A fence longer than any backtick run in the body cannot be closed by it.
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return (
        f"<details><summary>{summary}</summary>\n\n{fence}diff\n{body}\n{fence}\n\n</details>\n\n"
    )


def _verdict_cell(verdict: StageVerdict | None) -> str:
    if verdict is None:
        return "nothing to send"
    if verdict.verdict == "staged":
        return "✓ staged"
    fields = "; ".join(f"`{f}`: {_inline(m)}" for f, m in verdict.field_errors)
    detail = fields or _inline(verdict.message)
    return f"✗ {verdict.verdict}: {detail}".replace("|", "\\|")


def _cell(value: object) -> str:
    # A table cell: the value as plans show it, on one line, with no pipe to end it early.
    text = " ".join(format_value(value).split())
    return html.escape(text, quote=False).replace("|", "\\|")


def _codes(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names) or "—"


def _inline(text: str) -> str:
    # One bullet per warning: no line breaks, and no HTML taken from a server message.
    return html.escape(" ".join(text.split()), quote=False)
