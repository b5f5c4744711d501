"""Renders the outcome of an apply (text, JSON, Markdown): what was done, what failed."""

from __future__ import annotations

import json

from reconciler.apply.applier import ApplyResult, ModelOutcome
from reconciler.apply.outcome import Stop

RESULT_FORMAT_VERSION = 1
_COUNTED = (("create", "created"), ("update", "updated"), ("deactivate", "deactivated"))


def stop_line(stop: Stop, *, rolled_back: bool = False) -> str:
    """Why the run stopped early, said once for every model it did not start.

    ``rolled_back``: an all-or-nothing run that stopped while staging accepted nothing.
    """
    count = len(stop.not_started)
    models = f"{count} model{'s' if count != 1 else ''} not started"
    if stop.reason == "catalog_gone":
        line = f"The catalog stopped answering at {stop.at}: {models}; rerun apply."
        if rolled_back:
            line += " Nothing was accepted (all or nothing)."
        return line
    if rolled_back:
        return (
            f"Interrupted at {stop.at}: {models}; nothing was accepted (all or nothing). "
            "Rerun apply to finish."
        )
    return (
        f"Interrupted at {stop.at}: {models}; the changes in flight were finished and "
        "recorded. Rerun apply to finish."
    )


def summary_line(result: ApplyResult) -> str:
    """``Apply complete: 1 created, 2 updated, 0 deactivated.`` (and what failed)."""
    if result.stopped is not None and result.rolled_back:
        return "Apply stopped before accepting any change: nothing applied (all or nothing)."
    if result.stopped is not None:
        parts = [f"{result.count(action)} {verb}" for action, verb in _COUNTED]
        return f"Apply stopped: {', '.join(parts)}, {len(result.failed)} failed."
    if not result.outcomes:
        return "No changes. The catalog matches the manifests."
    if result.rolled_back:
        # Only the plan's changes: proposals settled before it are reported beside them.
        planned = [o for o in result.outcomes if o.status in ("failed", "withdrawn")]
        refused = sum(1 for o in planned if o.status == "failed")
        left = sum(1 for o in planned if o.journalled)
        if left:
            return (
                f"Nothing applied: {refused} of {len(planned)} changes refused or not staged "
                f"(all or nothing); {left} staged proposal(s) could not be rejected now and "
                "stay journalled: the next apply rejects them."
            )
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
    if result.stopped is not None:
        lines += ["", stop_line(result.stopped, rolled_back=result.rolled_back)]
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
        "stopped": None
        if result.stopped is None
        else {
            "reason": result.stopped.reason,
            "at": result.stopped.at,
            "message": stop_line(result.stopped, rolled_back=result.rolled_back),
            "not_started": list(result.stopped.not_started),
        },
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def render_markdown(result: ApplyResult) -> str:
    """A heading, the summary and a table of outcomes, for a job summary."""
    lines = ["## reconciler apply", "", f"**{summary_line(result)}**", ""]
    if result.stopped is not None:
        lines += [stop_line(result.stopped, rolled_back=result.rolled_back), ""]
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
