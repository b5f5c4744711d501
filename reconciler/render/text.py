"""The human plan, Terraform-like: ``+`` create, ``~`` update, ``<=`` adopt, ``-/`` deactivate."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from reconciler.planning.plan import FieldChange, ModelChange, Plan
from reconciler.render.remedies import plan_warnings

# Wraps text in the ANSI style named (or returns it unchanged without colour).
_Paint = Callable[[str, str], str]

SYMBOLS = {"create": "+", "update": "~", "adopt": "<=", "deactivate": "-/"}

_RESET = "\x1b[0m"
_STYLES = {
    "bold": "\x1b[1m",
    "create": "\x1b[32m",
    "update": "\x1b[33m",
    "adopt": "\x1b[36m",
    "deactivate": "\x1b[31m",
    "added": "\x1b[32m",
    "removed": "\x1b[31m",
    "warning": "\x1b[33m",
}


ACTIONS_HEADING = "reconciler will perform the following actions:"


def render_text(plan: Plan, *, color: bool = False, actions_heading: str = ACTIONS_HEADING) -> str:
    """The plan for a terminal or a log; ANSI colour only when ``color`` is set."""
    return "\n".join(text_lines(plan, color=color, actions_heading=actions_heading)) + "\n"


def text_lines(
    plan: Plan, *, color: bool = False, actions_heading: str = ACTIONS_HEADING
) -> Iterator[str]:
    """``render_text``'s lines one at a time: a plan of 10,000 creates is 150,000 lines,
    which a caller can write as they come rather than hold at once."""

    def paint(style: str, text: str) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if color else text

    if not plan.refreshed:
        yield from ["Note: planned from the state without reading the live drafts.", ""]
    if plan.targets is not None:
        yield from [f"Note: planned for the targeted models only: {', '.join(plan.targets)}.", ""]
    if plan.drift:
        yield from [paint("bold", "Changes made outside reconciler since the last apply:"), ""]
        for entry in plan.drift:
            yield f"  {paint('update', '~')} {entry.key} (draft {entry.draft_id})"
            yield from _field_lines(entry.field_changes, paint, creating=False)
        yield ""
    if plan.without_manifest:
        title = "In the state and active in the catalog, but no manifest:"
        yield from [paint("bold", title), ""]
        for entry in plan.without_manifest:
            yield f"  {paint('warning', '!')} {entry.key} (draft {entry.draft_id})"
        yield from ["", "  Restore their manifests, or run with --prune to deactivate them.", ""]
    if plan.conflicts:
        title = "Conflicts: changed in git and in the catalog since the last apply (git wins):"
        yield from [paint("warning", title), ""]
        for conflict in plan.conflicts:
            yield from [
                f"  {paint('warning', '!')} {conflict.key}.{conflict.field}",
                f"      last applied: {format_value(conflict.last_applied)}",
                f"      catalog:      {format_value(conflict.catalog)}",
                f"      git:          {format_value(conflict.git)}",
            ]
        yield ""
    main = [c for c in plan.changes if c.action in ("adopt", "create", "update")]
    if main:
        yield from [paint("bold", actions_heading), ""]
        for change in main:
            yield from _change_lines(change, paint)
        yield ""
    deactivations = [c for c in plan.changes if c.action == "deactivate"]
    if deactivations:
        title = "Deactivations (the catalog has no delete; these models are set inactive):"
        yield from [paint("bold", title), ""]
        for change in deactivations:
            yield from _change_lines(change, paint)
        yield ""
    warnings = plan_warnings(plan)
    if warnings:
        yield from [paint("warning", "Warnings:"), ""]
        yield from [f"  - {w}" for w in warnings]
        yield ""
    if plan.missing_line:
        yield from [paint("warning", plan.missing_line), ""]
    if plan.stage is not None:
        yield from _stage_lines(plan, paint)
    yield paint("bold", plan.summary.line())


def _stage_lines(plan: Plan, paint: _Paint) -> list[str]:
    """The catalog's verdicts: the headline, then each refusal with its fields."""
    style = "warning" if plan.refusals else "bold"
    out = [paint(style, f"Staged: {plan.stage_line()}"), ""]
    for verdict in plan.refusals:
        out.append(f"  {paint('removed', '✗')} {verdict.key}: {verdict.verdict}: {verdict.message}")
        out += [f"      {field}: {message}" for field, message in verdict.field_errors]
    if plan.refusals:
        out.append("")
    return out


def format_value(value: Any) -> str:
    """A value as plans show it: JSON for strings, lists and literals; prices in words."""
    if isinstance(value, Mapping):
        return format_price(value)
    if isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def format_price(entry: Mapping[str, Any]) -> str:
    """A pricing entry in words: ``input 0.15 USD / 1M tokens``."""
    return f"{entry['label']} {entry['amount']} {entry['currency']} / {entry['unit']}"


def change_heading(change: ModelChange) -> str:
    """``update KEY (draft ID, file:line:col)`` without its symbol."""
    where = [f"draft {change.draft_id}"] if change.draft_id else []
    if change.source:
        where.append(change.source)
    suffix = f" ({', '.join(where)})" if where else ""
    return f"{change.action} {change.key}{suffix}"


def _change_lines(change: ModelChange, paint: _Paint) -> list[str]:
    symbol = paint(change.action, SYMBOLS[change.action])
    lines = [f"  {symbol} {change_heading(change)}"]
    if not change.field_changes:
        lines.append("      (nothing to send; only the state changes)")
    lines += _field_lines(change.field_changes, paint, creating=change.action == "create")
    return lines


def _field_lines(changes: Iterable[FieldChange], paint: _Paint, *, creating: bool) -> list[str]:
    lines = []
    for fc in changes:
        if fc.added or fc.removed:
            lines.append(f"      {fc.field}:")
            lines += [f"        {paint('added', '+')} {format_value(v)}" for v in fc.added]
            lines += [f"        {paint('removed', '-')} {format_value(v)}" for v in fc.removed]
        elif creating:
            lines.append(f"      {fc.field}: {format_value(fc.after)}")
        else:
            lines.append(f"      {fc.field}: {format_value(fc.before)} -> {format_value(fc.after)}")
    return lines
