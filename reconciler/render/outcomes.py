"""Renders the outcome of an apply (text, JSON, Markdown): what was done, what failed."""

from __future__ import annotations

import json

from reconciler.apply.applier import ApplyResult, ModelOutcome

RESULT_FORMAT_VERSION = 1
_COUNTED = (("create", "created"), ("update", "updated"), ("deactivate", "deactivated"))


def summary_line(result: ApplyResult) -> str:
    """``Apply complete: 1 created, 2 updated, 0 deactivated.`` (and what failed)."""
    if not result.outcomes:
        return "No changes. The catalog matches the manifests."
    if result.rolled_back:
        # Only the plan's changes: proposals settled before it are reported beside them.
        planned = [o for o in result.outcomes if o.status in ("failed", "withdrawn")]
        refused = sum(1 for o in planned if o.status == "failed")
        return (
            f"Nothing applied: {refused} of {len(planned)} changes refused or not "
            "staged, so every staged proposal was rejected (all or nothing)."
        )
    parts = [f"{result.count(action)} {verb}" for action, verb in _COUNTED]
    if result.count("adopt"):
        parts.insert(0, f"{result.count('adopt')} adopted")
    if result.count("refresh"):
        parts.append(f"{result.count('refresh')} catalog edits recorded without a write")
    discarded = sum(1 for o in result.outcomes if o.status == "discarded")
    if discarded:
        parts.append(f"{discarded} interrupted proposal{'s' if discarded != 1 else ''} withdrawn")
    failed = len(result.failed)
    if failed:
        return f"Apply finished with errors: {', '.join(parts)}, {failed} failed."
    return f"Apply complete: {', '.join(parts)}."


def render_text(result: ApplyResult, *, per_model: bool = True) -> str:
    """One line per model (unless progress lines said it already), the failures, the summary."""
    lines = [f"{_mark(o)} {o.key}: {o.message}" for o in result.outcomes] if per_model else []
    # Refusals first: with all or nothing, they are why the rest was withdrawn.
    failed = sorted(result.failed, key=lambda o: o.status == "withdrawn")
    if failed:
        lines += ["", "Failed:"]
        lines += [f"  {o.key} ({o.action}): {o.message}" for o in failed]
    lines += ["", summary_line(result)]
    return "\n".join(lines).lstrip("\n") + "\n"


def render_json(result: ApplyResult) -> str:
    """A versioned JSON document of every outcome and the summary."""
    document = {
        "format_version": RESULT_FORMAT_VERSION,
        "outcomes": [
            {
                "key": o.key,
                "action": o.action,
                "status": o.status,
                "draft_id": o.draft_id,
                "message": o.message,
            }
            for o in result.outcomes
        ],
        "summary": {
            **{verb: result.count(action) for action, verb in (("adopt", "adopted"), *_COUNTED)},
            "failed": len(result.failed),
            "rolled_back": result.rolled_back,
            "withdrawn": sum(1 for o in result.outcomes if o.status == "discarded"),
        },
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def render_markdown(result: ApplyResult) -> str:
    """A heading, the summary and a table of outcomes, for a job summary."""
    lines = ["## reconciler apply", "", f"**{summary_line(result)}**", ""]
    if result.outcomes:
        lines += ["| model | action | result |", "|---|---|---|"]
        lines += [
            f"| `{o.key}` | {o.action} | {_mark(o)} {_cell(o.message)} |" for o in result.outcomes
        ]
    return "\n".join(lines) + "\n"


def _mark(outcome: ModelOutcome) -> str:
    return "✓" if outcome.ok else "✗"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
