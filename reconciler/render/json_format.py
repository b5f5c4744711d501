"""The JSON plan: a versioned document other tools build on (see docs/plan-format.md).

Named ``json_format`` so that ``import json`` inside this package stays the stdlib.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.planning.plan import FieldChange, ModelChange, Plan
from reconciler.render.remedies import own_warnings


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as the documented JSON document (a plain dict)."""
    summary = plan.summary
    document: dict[str, Any] = {
        "format_version": plan.format_version,
        "refreshed": plan.refreshed,
        "not_refreshed": plan.not_refreshed,
        "targets": list(plan.targets) if plan.targets is not None else None,
        "summary": {
            "adopt": summary.adopt,
            "create": summary.create,
            "update": summary.update,
            "deactivate": summary.deactivate,
            "noop": summary.noop,
            "recreate": summary.recreate,
            "conflicts": summary.conflicts,
            "managed_models": plan.managed_models,
            "has_changes": plan.has_changes,
            "line": summary.line(),
        },
        "changes": [_change(c) for c in plan.changes],
        "drift": [
            {
                "key": entry.key,
                "draft_id": entry.draft_id,
                "field_changes": [_field(fc) for fc in entry.field_changes],
            }
            for entry in plan.drift
        ],
        "missing_from_catalog": list(plan.missing_from_catalog),
        "without_manifest": [
            {"key": entry.key, "draft_id": entry.draft_id} for entry in plan.without_manifest
        ],
        "conflicts": [
            {
                "key": c.key,
                "field": c.field,
                "last_applied": c.last_applied,
                "catalog": c.catalog,
                "git": c.git,
            }
            for c in plan.conflicts
        ],
        "warnings": list(own_warnings(plan)),
    }
    if plan.stage is not None:
        # Only a staged plan has the key: the document of a plain plan is unchanged.
        document["stage"] = _stage(plan)
    return document


def render_json(plan: Plan, *, indent: int | None = 2) -> str:
    """The JSON document as text, with a final newline."""
    return json.dumps(plan_document(plan), indent=indent, ensure_ascii=False) + "\n"


def _change(change: ModelChange) -> dict[str, Any]:
    return {
        "key": change.key,
        "draft_id": change.draft_id,
        "action": change.action,
        "source": change.source,
        "field_changes": [_field(fc) for fc in change.field_changes],
        "patch": change.patch,
        "pending_ids": list(change.pending_ids),
        "warnings": list(change.warnings),
        "live_fingerprint": change.live_fingerprint,
        "desired_digest": change.desired_digest,
    }


def _field(fc: FieldChange) -> dict[str, Any]:
    return {
        "field": fc.field,
        "before": fc.before,
        "after": fc.after,
        "added": list(fc.added),
        "removed": list(fc.removed),
    }


def _stage(plan: Plan) -> dict[str, Any]:
    return {
        "line": plan.stage_line(),
        "verdicts": [
            {
                "key": v.key,
                "verdict": v.verdict,
                "idempotency_key": v.idempotency_key,
                "draft_id": v.draft_id,
                "message": v.message,
                "field_errors": [{"field": f, "message": m} for f, m in v.field_errors],
                "replayed": v.replayed,
            }
            for v in plan.stage or ()
        ],
    }
