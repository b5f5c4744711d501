"""The manifest model: what a user writes in YAML, and the desired models it yields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceLocation:
    """Where a manifest document starts (1-based line and column)."""

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class DesiredModel:
    """One model as the manifests want it, Defaults merged.

    ``fields`` holds only the managed fields, in wire form and as the user wrote
    them: labels or identifiers, strings, booleans, lists of strings, and for
    ``pricing`` a list of ``{label, unit, amount, currency}`` dicts without ids.
    ``active`` is present (default ``True``) unless ``flag_ids`` manages the flags.
    """

    key: str
    fields: Mapping[str, Any]
    draft_id: str | None = None
    ignore_changes: frozenset[str] = field(default_factory=frozenset)
    source: SourceLocation | None = None
