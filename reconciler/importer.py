"""Import: the manifest document that describes an existing draft as it is."""

from __future__ import annotations

from typing import Any

from reconciler.normalize import normalize_amount
from reconciler.wire import FLAG_BOOLEANS, DraftFormState

_TEXT = ("name", "description", "value", "provider")
_LABEL_LISTS = (
    "departments",
    "modalities",
    "qualities",
    "reasoning_levels",
    "temperature_levels",
    "voices",
)


def manifest_for(key: str, live: DraftFormState) -> dict[str, Any]:
    """A ``kind: Model`` document for ``live``, by labels, adopting its draft."""
    spec: dict[str, Any] = {}
    for field in _TEXT:
        value = getattr(live, field)
        if value:
            spec[field] = value
    for field in FLAG_BOOLEANS:
        spec[field] = getattr(live, field)
    for field in _LABEL_LISTS:
        values = getattr(live, field)
        if values:
            spec[field] = list(values)
    if live.pricing:
        spec["pricing"] = [
            {
                "label": entry.label,
                "unit": entry.unit,
                "amount": normalize_amount(entry.amount),
                "currency": entry.currency,
            }
            for entry in live.pricing
        ]
    return {
        "apiVersion": "reconciler/v1",
        "kind": "Model",
        "metadata": {"key": key, "draft_id": live.draft_id},
        "spec": spec,
    }
