"""Labels: ``provider`` (one label) and the label lists (``departments``, ``voices``...).

The server matches a label case-insensitively after trimming. Normalized labels keep
their spelling (plans read well and the state stays legible); only the comparable form
folds case.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.planning.fields.base import FieldKind
from reconciler.planning.fields.text import Text


def label_key(label: str) -> str:
    """How the server matches a label: case-insensitive after trimming."""
    return label.strip().casefold()


class Label(Text):
    """One label, trimmed; a string that "" clears, like text."""

    def normalize(self, value: Any, *, with_ids: bool) -> Any:
        if value is None or value == "":
            return None
        return value.strip()

    def comparable(self, value: Any) -> Any:
        return label_key(value)


class LabelList(FieldKind):
    """A set of labels: duplicates under case folding dropped, sorted by their key."""

    is_list = True

    def normalize(self, value: Any, *, with_ids: bool) -> Any:
        if value is None:
            return None
        unique: dict[str, str] = {}
        for label in value:
            trimmed = label.strip()
            unique.setdefault(trimmed.casefold(), trimmed)  # label_key, inlined
        return [unique[k] for k in sorted(unique)]

    def comparable(self, value: Any) -> Any:
        return frozenset(label_key(v) for v in value)

    def items(self, side: Iterable[Any], wanted: set[Any]) -> tuple[Any, ...]:
        return tuple(v for v in side if label_key(v) in wanted)
