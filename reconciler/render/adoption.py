"""Renders what ``reconciler adopt`` wrote: one line per field, file, model, old -> new."""

from __future__ import annotations

import json
from typing import Any

from reconciler.planning.adopt import Adoption, AdoptionPlan

_HOW = {
    "changed": "",
    "overridden": "  (overrides the Defaults in the model's own document)",
    "inherited": "  (the model's own value removed: it inherits this one)",
}


def render_adoption(plan: AdoptionPlan) -> str:
    """The adopted fields, or a line saying there was nothing to adopt."""
    if not plan.adoptions:
        return "Nothing to adopt: the manifests already describe the catalog.\n"
    lines = [_line(adoption) for adoption in plan.adoptions]
    files = len({adoption.file for adoption in plan.adoptions})
    models = len({adoption.key for adoption in plan.adoptions})
    lines += [
        "",
        f"Adopted {len(plan.adoptions)} field(s) of {models} model(s) into {files} file(s). "
        "Review the change: merge it to keep the catalog's values, or discard it and run "
        "`reconciler apply` to restore the manifests' values.",
    ]
    return "\n".join(lines) + "\n"


def _line(adoption: Adoption) -> str:
    return (
        f"{adoption.file}: {adoption.key}: {adoption.field}: "
        f"{_value(adoption.before)} -> {_value(adoption.after)}{_HOW[adoption.how]}"
    )


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
