"""Text: a single string (``name``, ``description``, ``value`` and every single ``*_id``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.manifests.model import DesiredModel
from reconciler.planning.fields.base import FieldKind, to_plain


class Text(FieldKind):
    """Compared exactly as written; null and "" both mean no value, and "" is what clears it."""

    def normalize(self, value: Any, *, with_ids: bool) -> Any:
        if value is None or value == "":
            return None
        return value

    def patch(self, field: str, model: DesiredModel, baseline: Mapping[str, Any]) -> dict[str, Any]:
        # Absent and null both mean "not given" on the wire; "" is what clears a string.
        value = model.fields[field]
        return {field: "" if value is None else to_plain(value)}
