"""Defaults layering: outer Defaults, then inner ones, then the model's own spec.

Pure: specs in, one merged spec out. Each layer replaces a field of the layers
before it as a whole, both forms of it at once (a model's ``provider_id``
replaces a Defaults ``provider``), so that merging never produces a field
given twice. ``flag_ids`` is the complete flag selection: it replaces every
flag boolean above it, and a boolean below it is a conflict, not an override.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.catalog.wire import FLAG_BOOLEANS
from reconciler.manifests.model import FIELD_FORMS, SPEC_FIELDS

_FORMS: dict[str, frozenset[str]] = {
    **{label: frozenset({label, ident}) for label, ident in FIELD_FORMS.items()},
    **{ident: frozenset({label, ident}) for label, ident in FIELD_FORMS.items()},
    "flag_ids": frozenset({"flag_ids", *FLAG_BOOLEANS}),
}


@dataclass(frozen=True)
class MergeConflict:
    """A flag boolean in layer ``layer`` under the ``flag_ids`` of layer ``flag_ids_layer``."""

    layer: int
    field: str
    flag_ids_layer: int


def merge_specs(layers: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], list[MergeConflict]]:
    """Merge specs from the outermost Defaults to the model's own; later layers win.

    The merged spec has its own lists and pricing entries from every layer but the
    last: the Defaults are shared by many models, the model's own spec is its own.
    """
    last = len(layers) - 1
    merged: dict[str, Any] = {}
    origin: dict[str, int] = {}
    conflicts: list[MergeConflict] = []
    for index, spec in enumerate(layers):
        for name in spec:
            for replaced in _FORMS.get(name, (name,)):
                merged.pop(replaced, None)
        for name, value in spec.items():
            outer_flags = origin.get("flag_ids", index)
            if name in FLAG_BOOLEANS and "flag_ids" in merged and outer_flags < index:
                conflicts.append(MergeConflict(index, name, outer_flags))
                continue
            merged[name] = value if index == last else _copy(value)
            origin[name] = index
    ordered = {name: merged[name] for name in SPEC_FIELDS if name in merged}
    return ordered, conflicts


def effective_fields(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The managed fields of a merged spec: ``active`` defaults to true unless flag_ids rules."""
    fields = dict(spec)
    if "flag_ids" not in fields:
        fields.setdefault("active", True)
    return {name: fields[name] for name in SPEC_FIELDS if name in fields}


def _copy(value: Any) -> Any:
    # Models share their Defaults' values: give each its own lists and pricing entries.
    if isinstance(value, list):
        return [dict(item) if isinstance(item, dict) else item for item in value]
    return value
