"""Labels: ``provider`` (one label) and the label lists (``departments``, ``voices``...).

The server matches a label case-insensitively after trimming. Normalized labels keep
their spelling (plans read well and the state stays legible); only the comparable form
folds case.
"""

from __future__ import annotations

import functools
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
        # Drafts share a few label lists (the same departments, modalities...) over and
        # over: worked out once per list, and a new list given each time.
        try:
            return list(_unique_labels(tuple(value)))
        except TypeError:  # an unhashable item: the general path says what is wrong
            return list(_unique_labels.__wrapped__(value))

    def comparable(self, value: Any) -> Any:
        return frozenset(label_key(v) for v in value)

    def items(self, side: Iterable[Any], wanted: set[Any]) -> tuple[Any, ...]:
        return tuple(v for v in side if label_key(v) in wanted)


@functools.lru_cache(maxsize=4096)
def _unique_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """The labels trimmed, one per key (the first), sorted by key."""
    unique: dict[str, str] = {}
    for label in labels:
        trimmed = label.strip()
        unique.setdefault(trimmed.casefold(), trimmed)  # label_key, trimming once
    return tuple(unique[k] for k in sorted(unique))
