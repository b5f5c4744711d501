"""Flags: the booleans (``active``, ``pricing_enabled``...)."""

from __future__ import annotations

from typing import Any

from reconciler.planning.fields.base import FieldKind


class Flag(FieldKind):
    """True or false; null means not given."""

    def normalize(self, value: Any, *, with_ids: bool) -> Any:
        return None if value is None else bool(value)
