"""The first strategy: ruamel.yaml's round-trip mode, set to the file's own layout."""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from reconciler.manifests.rewrite.edits import (
    AppendItem,
    DeleteKey,
    Edit,
    InsertKey,
    Path,
    RemoveItem,
    Scalar,
    SetValue,
    walk,
)
from reconciler.manifests.rewrite.splice import scalar_text


def round_trip(text: str, edits: Mapping[int, Sequence[Edit]]) -> str | None:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 16  # never wrap a long line
    mapping, sequence, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    try:
        docs = list(yaml.load_all(text))
        for index, doc_edits in edits.items():
            placed: dict[tuple[Path, str | None], int] = {}
            for edit in edit_order(doc_edits):
                _apply_rt(docs[index], edit, placed)
        out = io.StringIO()
        yaml.dump_all(docs, out)
    except (YAMLError, KeyError, IndexError, TypeError):
        return None
    return out.getvalue()


def _indentation(text: str) -> tuple[int, int, int]:
    """The file's own mapping indent and block-sequence dash offset (house style: 2, 4, 2)."""
    mapping: int | None = None
    offset: int | None = None
    for previous, line in itertools.pairwise(text.splitlines()):
        head = previous.strip()
        if not head.endswith(":") or head.startswith("#"):
            continue
        stripped = line.lstrip(" ")
        indent, parent = len(line) - len(stripped), len(previous) - len(previous.lstrip(" "))
        if stripped.startswith("-") and offset is None:
            offset = indent - parent
        elif indent > parent and stripped and not stripped.startswith("#") and mapping is None:
            mapping = indent - parent
    mapping = mapping or 2
    offset = 2 if offset is None else offset
    return mapping, max(offset + 2, mapping), offset


def edit_order(edits: Sequence[Edit]) -> list[Edit]:
    """Edits in an order in which each one's path and index still mean the original's."""
    inserted = {(e.path, e.key) for e in edits if isinstance(e, InsertKey)}
    sets = [e for e in edits if isinstance(e, SetValue)]
    # A key replaced whole (deleted and inserted again) goes first, so the insert is a new key.
    replaced = [e for e in edits if isinstance(e, DeleteKey) and (e.path, e.key) in inserted]
    inserts = [e for e in edits if isinstance(e, InsertKey)]
    removals = sorted(
        (e for e in edits if isinstance(e, (RemoveItem, DeleteKey)) and e not in replaced),
        key=lambda e: e.index if isinstance(e, RemoveItem) else -1,
        reverse=True,
    )
    appends = [e for e in edits if isinstance(e, AppendItem)]
    return [*sets, *replaced, *inserts, *removals, *appends]


def _apply_rt(doc: Any, edit: Edit, placed: dict[tuple[Path, str | None], int]) -> None:
    if isinstance(edit, SetValue):
        parent = walk(doc, edit.path[:-1])
        old = parent[edit.path[-1]]
        parent[edit.path[-1]] = _styled_like(edit.value, old)
    elif isinstance(edit, DeleteKey):
        del walk(doc, edit.path)[edit.key]
    elif isinstance(edit, InsertKey):
        target = walk(doc, edit.path)
        keys = list(target)
        anchor = (edit.path, edit.after)
        position = keys.index(edit.after) + 1 if edit.after in keys else 0
        # Keys inserted after the same anchor keep the order of the edits.
        position += placed.get(anchor, 0)
        placed[anchor] = placed.get(anchor, 0) + 1
        target.insert(position, edit.key, _rt_value(edit.value, None))
    elif isinstance(edit, RemoveItem):
        del walk(doc, edit.path)[edit.index]
    else:
        seq = walk(doc, edit.path)
        seq.append(_rt_value(edit.value, seq[-1] if len(seq) else None))


def _styled_like(value: Scalar, old: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(old, DoubleQuotedScalarString):
        return DoubleQuotedScalarString(value)
    if isinstance(old, SingleQuotedScalarString) and "\n" not in value:
        return SingleQuotedScalarString(value)
    return value


def _rt_value(value: Any, sibling: Any) -> Any:
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            like = sibling.get(key) if isinstance(sibling, Mapping) else None
            out[key] = _styled_like(item, like) if like is not None else _quoted(item)
        flow = sibling.fa.flow_style() if isinstance(sibling, CommentedMap) else True
        out.fa.set_flow_style() if flow else out.fa.set_block_style()
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_rt_value(item, None) for item in value)
        if not any(isinstance(item, Mapping) for item in value):
            seq.fa.set_flow_style()
        return seq
    return value


def _quoted(value: Any) -> Any:
    # A value a plain scalar would turn into another type ("0.60" as a float) is quoted.
    if isinstance(value, str) and scalar_text(value, None) != value:
        return DoubleQuotedScalarString(value)
    return value
