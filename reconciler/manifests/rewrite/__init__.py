"""Edits manifest files the way a careful person would: only the changed values' lines move.

The edits are structural (set this scalar, drop that key, append an item to
that list), addressed by paths inside one YAML document. They are made first
with ruamel.yaml's round-trip mode, configured to the file's own indentation,
no line wrapping and quotes preserved. Round-trip mode still re-emits a few
things its own way (a comment before ``---``, padding inside ``[ a, b ]``,
aligned flow mappings, mixed sequence indentation), so its output is accepted
only when every line that differs from the original is a line of an edited
value. Otherwise the edits are spliced into the original text at the node
positions ruamel's composer reports: still structural (each span is one
node's), never a search for text, and everything outside those spans stays
byte for byte. Either way the result is parsed again and must hold exactly
the data the edits describe, or nothing is returned.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.errors import RewriteError
from reconciler.manifests.rewrite.edits import (
    AppendItem,
    DeleteKey,
    Edit,
    InsertKey,
    RemoveItem,
    Rewritten,
    SetValue,
    walk,
)
from reconciler.manifests.rewrite.roundtrip import edit_order, round_trip
from reconciler.manifests.rewrite.splice import splice_edits, touched_lines

__all__ = [
    "AppendItem",
    "DeleteKey",
    "Edit",
    "InsertKey",
    "RemoveItem",
    "Rewritten",
    "SetValue",
    "rewrite",
]


def rewrite(text: str, edits: Mapping[int, Sequence[Edit]], *, source: str = "") -> Rewritten:
    """Apply ``edits`` (document index -> edits) to a YAML file's text."""
    where = source or "the manifest"
    try:
        nodes = list(YAML(typ="rt").compose_all(text))
        expected = [_plain(doc) for doc in YAML(typ="safe", pure=True).load_all(text)]
    except YAMLError as exc:
        raise RewriteError(f"{where}: cannot be read for rewriting: {exc}") from None
    for index, doc_edits in edits.items():
        for edit in edit_order(doc_edits):
            _apply_plain(expected[index], edit)
    allowed: set[int] = set()
    for index, doc_edits in edits.items():
        for edit in doc_edits:
            allowed |= touched_lines(text, nodes[index], edit)

    result = round_trip(text, edits)
    if result is not None and _only_lines(text, result, allowed) and _holds(result, expected):
        return Rewritten(result, "round-trip")
    spliced = splice_edits(text, nodes, edits, where)
    if not _holds(spliced, expected):
        raise RewriteError(f"{where}: the rewritten file would not hold the adopted values")
    return Rewritten(spliced, "splice")


def _only_lines(before: str, after: str, allowed: set[int]) -> bool:
    """Whether every original line that differs in ``after`` is one of ``allowed`` (0-based)."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag != "equal" and not set(range(i1, i2)) <= allowed:
            return False
    return True


def _holds(text: str, expected: list[Any]) -> bool:
    try:
        got = [_plain(doc) for doc in YAML(typ="safe", pure=True).load_all(text)]
    except YAMLError:
        return False
    return got == expected


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _apply_plain(doc: Any, edit: Edit) -> None:
    if isinstance(edit, SetValue):
        walk(doc, edit.path[:-1])[edit.path[-1]] = edit.value
    elif isinstance(edit, DeleteKey):
        del walk(doc, edit.path)[edit.key]
    elif isinstance(edit, InsertKey):
        walk(doc, edit.path)[edit.key] = _plain(edit.value)
    elif isinstance(edit, RemoveItem):
        del walk(doc, edit.path)[edit.index]
    else:
        walk(doc, edit.path).append(_plain(edit.value))
