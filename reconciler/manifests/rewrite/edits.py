"""The structural edits a rewrite makes, addressed by paths inside one YAML document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Path = tuple[str | int, ...]
Scalar = str | bool


@dataclass(frozen=True)
class SetValue:
    """Replace the scalar at ``path`` with ``value``, in the scalar's own quoting style."""

    path: Path
    value: Scalar


@dataclass(frozen=True)
class DeleteKey:
    """Remove ``key`` (and its value) from the mapping at ``path``."""

    path: Path
    key: str


@dataclass(frozen=True)
class InsertKey:
    """Add ``key: value`` to the mapping at ``path``, after the key ``after`` (None: first)."""

    path: Path
    key: str
    value: Any
    after: str | None


@dataclass(frozen=True)
class RemoveItem:
    """Remove item ``index`` (of the original document) from the sequence at ``path``."""

    path: Path
    index: int


@dataclass(frozen=True)
class AppendItem:
    """Append ``value`` (a scalar, or a mapping shaped like its siblings) to the sequence."""

    path: Path
    value: Any


Edit = SetValue | DeleteKey | InsertKey | RemoveItem | AppendItem
Strategy = Literal["round-trip", "splice"]


@dataclass(frozen=True)
class Rewritten:
    """The new text of a file, and which strategy produced it."""

    text: str
    strategy: Strategy


def walk(doc: Any, path: Path) -> Any:
    for step in path:
        doc = doc[step]
    return doc
