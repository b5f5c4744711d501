"""Id lists: ``flag_ids``, ``department_ids``... (``pricing_ids`` is pricing's, see pricing.py)."""

from __future__ import annotations

from typing import Any

from reconciler.planning.fields.base import FieldKind


class IdList(FieldKind):
    """A set of ids, compared exactly and kept sorted."""

    is_list = True

    def normalize(self, value: Any, *, with_ids: bool) -> Any:
        return None if value is None else sorted(set(value))

    def comparable(self, value: Any) -> Any:
        return frozenset(value)
