"""Import: the manifest document that describes an existing draft as it is."""

from __future__ import annotations

from typing import Any

from reconciler.catalog.wire import FLAG_BOOLEANS, DraftFormState
from reconciler.planning.fields import normalize_amount

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
    # Every field is written, empty ones as "" or []: a field left out would take the value
    # of the Defaults above wherever the manifest is put, and the first apply would change it.
    spec: dict[str, Any] = {field: getattr(live, field) or "" for field in _TEXT}
    for field in FLAG_BOOLEANS:
        spec[field] = getattr(live, field)
    for field in _LABEL_LISTS:
        spec[field] = list(getattr(live, field))
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
