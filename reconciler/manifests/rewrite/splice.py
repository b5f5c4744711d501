"""The second strategy: splice each edit into the original text at its node's position.

Still structural (each span is one node's), never a search for text; everything
outside those spans stays byte for byte.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import RewriteError
from reconciler.manifests.rewrite.edits import (
    AppendItem,
    DeleteKey,
    Edit,
    InsertKey,
    Path,
    RemoveItem,
    Scalar,
    SetValue,
)


@dataclass(frozen=True)
class _Splice:
    start: int
    end: int
    text: str
    order: int = 0


def splice_edits(
    text: str, nodes: list[Node], edits: Mapping[int, Sequence[Edit]], where: str
) -> str:
    newline = "\r\n" if "\r\n" in text else "\n"
    splices: list[_Splice] = []
    for index, doc_edits in edits.items():
        for order, edit in enumerate(_anchored(nodes[index], doc_edits)):
            splice = _splice_for(text, nodes[index], edit, newline, where)
            splices.append(_Splice(splice.start, splice.end, splice.text, order))
    # From the end of the file backwards, so each span is still at its original place.
    out = text
    for splice in sorted(splices, key=lambda s: (s.start, s.end, s.order), reverse=True):
        out = out[: splice.start] + splice.text + out[splice.end :]
    return out


def _anchored(root: Node, edits: Sequence[Edit]) -> list[Edit]:
    """The edits with each inserted key placed after a key of the original text.

    A key inserted after another inserted key (``departments`` after a new ``active``)
    has no node of its own to follow: it follows whatever its predecessor follows, and
    the edits' order keeps the two in sequence at that place.
    """
    inserted = {(e.path, e.key): e.after for e in edits if isinstance(e, InsertKey)}
    out: list[Edit] = []
    for edit in edits:
        if isinstance(edit, InsertKey) and edit.after is not None:
            node = _node_at(root, edit.path)
            original = {k.value for k, _ in node.value} if isinstance(node, MappingNode) else set()
            after: str | None = edit.after
            seen: set[str] = set()
            while after is not None and after not in original and after not in seen:
                seen.add(after)
                after = inserted.get((edit.path, after))
            edit = dataclasses.replace(edit, after=after)
        out.append(edit)
    return out


def _splice_for(text: str, root: Node, edit: Edit, newline: str, where: str) -> _Splice:
    if isinstance(edit, SetValue):
        node = _node_at(root, edit.path)
        if not isinstance(node, ScalarNode):
            raise RewriteError(f"{where}: {_dotted(edit.path)} is not a single value")
        rendered = scalar_text(edit.value, node.style)
        end = node.end_mark.index
        if node.style in ("|", ">"):
            end = _last_content_end(text, node)
        return _Splice(node.start_mark.index, end, rendered)
    if isinstance(edit, DeleteKey):
        mapping = _node_at(root, edit.path)
        pairs = mapping.value
        position = next(i for i, (k, _v) in enumerate(pairs) if k.value == edit.key)
        key, value = pairs[position]
        if mapping.flow_style:
            return _flow_removal(pairs, position)
        start = _own_line_start(text, key.start_mark.index, where, edit.path)
        return _Splice(start, _line_end(text, _leaf_end(text, value)), "")
    if isinstance(edit, RemoveItem):
        seq = _node_at(root, edit.path)
        if seq.flow_style:
            return _flow_removal(seq.value, edit.index)
        item = seq.value[edit.index]
        start = _own_line_start(text, item.start_mark.index, where, edit.path, dash=True)
        return _Splice(start, _line_end(text, _leaf_end(text, item)), "")
    if isinstance(edit, InsertKey):
        mapping = _node_at(root, edit.path)
        return _insert_key(text, mapping, edit, newline)
    seq = _node_at(root, edit.path)
    return _append_item(text, seq, edit, newline)


def _flow_removal(items: list[Any], position: int) -> _Splice:
    def first(item: Any) -> Node:
        return item[0] if isinstance(item, tuple) else item

    def last(item: Any) -> Node:
        return item[1] if isinstance(item, tuple) else item

    this = items[position]
    if position + 1 < len(items):
        return _Splice(
            first(this).start_mark.index, first(items[position + 1]).start_mark.index, ""
        )
    if position > 0:
        return _Splice(last(items[position - 1]).end_mark.index, last(this).end_mark.index, "")
    return _Splice(first(this).start_mark.index, last(this).end_mark.index, "")


def _insert_key(text: str, mapping: MappingNode, edit: InsertKey, newline: str) -> _Splice:
    pairs = mapping.value
    if mapping.flow_style or not pairs:
        rendered = f"{edit.key}: {_flow_text(edit.value)}"
        if not pairs:
            at = mapping.end_mark.index - 1  # before the closing brace
            return _Splice(at, at, rendered)
        if edit.after is None:
            return _Splice(
                pairs[0][0].start_mark.index, pairs[0][0].start_mark.index, rendered + ", "
            )
        after = next(v for k, v in pairs if k.value == edit.after)
        return _Splice(after.end_mark.index, after.end_mark.index, ", " + rendered)
    column = pairs[0][0].start_mark.column
    block = _block_entry(text, edit.key, edit.value, column, mapping, newline)
    if edit.after is None:
        at = _line_start(text, pairs[0][0].start_mark.index)
        return _Splice(at, at, block)
    after = next(v for k, v in pairs if k.value == edit.after)
    at = _line_end(text, _leaf_end(text, after))
    prefix = "" if text[at - 1 : at] == "\n" else newline
    return _Splice(at, at, prefix + block)


def _block_entry(text: str, key: str, value: Any, column: int, context: Node, newline: str) -> str:
    pad = " " * column
    if isinstance(value, Mapping):
        inner = column + _child_indent(context, default=2)
        body = "".join(_block_entry(text, k, v, inner, context, newline) for k, v in value.items())
        return f"{pad}{key}:{newline}{body}"
    if isinstance(value, list) and value and any(isinstance(v, Mapping) for v in value):
        dash = " " * (column + _dash_offset(text, context))
        items = "".join(f"{dash}- {_flow_text(item)}{newline}" for item in value)
        return f"{pad}{key}:{newline}{items}"
    return f"{pad}{key}: {_flow_text(value)}{newline}"


def _append_item(text: str, seq: SequenceNode, edit: AppendItem, newline: str) -> _Splice:
    items = seq.value
    if seq.flow_style or not items:
        sibling = items[-1] if items else None
        rendered = _item_text(edit.value, sibling, text)
        if not items:
            at = seq.end_mark.index - 1  # before the closing bracket
            return _Splice(at, at, rendered)
        return _Splice(items[-1].end_mark.index, items[-1].end_mark.index, ", " + rendered)
    last = items[-1]
    line_start = _line_start(text, last.start_mark.index)
    dash_column = text.index("-", line_start) - line_start
    at = _line_end(text, _leaf_end(text, last))
    prefix = "" if text[at - 1 : at] == "\n" else newline
    pad = " " * dash_column
    if isinstance(edit.value, Mapping) and isinstance(last, MappingNode) and not last.flow_style:
        lines = []
        for position, (key, item) in enumerate(_ordered_like(edit.value, last).items()):
            lead = f"{pad}- " if position == 0 else pad + "  "
            lines.append(f"{lead}{key}: {scalar_text(item, _style_of(last, key))}{newline}")
        return _Splice(at, at, prefix + "".join(lines))
    return _Splice(at, at, f"{prefix}{pad}- {_item_text(edit.value, last, text)}{newline}")


def _item_text(value: Any, sibling: Node | None, text: str) -> str:
    if isinstance(value, Mapping) and isinstance(sibling, MappingNode):
        ordered = _ordered_like(value, sibling)
        parts = [f"{k}: {scalar_text(v, _style_of(sibling, k))}" for k, v in ordered.items()]
        return "{" + ", ".join(parts) + "}"
    return _flow_text(value)


def _ordered_like(value: Mapping[str, Any], sibling: MappingNode) -> dict[str, Any]:
    order = [k.value for k, _v in sibling.value]
    return {
        k: value[k]
        for k in sorted(value, key=lambda k: (k not in order, order.index(k) if k in order else 0))
    }


def _style_of(mapping: MappingNode, key: str) -> str | None:
    for k, v in mapping.value:
        if k.value == key and isinstance(v, ScalarNode):
            return v.style
    return None


def _flow_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_flow_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow_text(v) for v in value) + "]"
    return scalar_text(value, None)


_SAFE = YAML(typ="safe", pure=True)


def scalar_text(value: Scalar, style: str | None) -> str:
    """``value`` as YAML text: in ``style`` when it can carry the value, else double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    double = json.dumps(value, ensure_ascii=False)
    if style == '"':
        return double
    if style == "'":
        return "'" + value.replace("'", "''") + "'" if "\n" not in value else double
    if value and value == value.strip() and "\n" not in value and _reads_back(value):
        return value
    return double


def _reads_back(plain: str) -> bool:
    # Plain in both contexts it may land in: a block value and a flow item.
    try:
        return _SAFE.load(f"k: {plain}") == {"k": plain} and _SAFE.load(f"[{plain}]") == [plain]
    except YAMLError:
        return False


def _node_at(root: Node, path: Path) -> Any:
    node: Any = root
    for step in path:
        if isinstance(node, MappingNode):
            node = next(v for k, v in node.value if k.value == step)
        else:
            node = node.value[step]
    return node


def _leaf_end(text: str, node: Node) -> int:
    """Where a value's own text ends (a block collection's end mark is the next token's)."""
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        return _leaf_end(text, node.value[-1][1])
    if isinstance(node, SequenceNode) and not node.flow_style and node.value:
        return _leaf_end(text, node.value[-1])
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        return _last_content_end(text, node)
    return node.end_mark.index


def _last_content_end(text: str, node: ScalarNode) -> int:
    # A block scalar's end mark lies past its trailing newline (and blank lines).
    end = node.end_mark.index
    while end > node.start_mark.index and text[end - 1] in "\r\n ":
        end -= 1
    return end


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """The index just past the newline that ends the line holding ``index``."""
    found = text.find("\n", index)
    return len(text) if found < 0 else found + 1


def _own_line_start(text: str, index: int, where: str, path: Path, *, dash: bool = False) -> int:
    start = _line_start(text, index)
    lead = text[start:index].strip()
    if lead not in (("-", "") if dash else ("",)):
        raise RewriteError(
            f"{where}: {_dotted(path)} shares its line with another value; "
            "put it on a line of its own to let reconciler rewrite it"
        )
    return start


def _child_indent(node: Node, default: int) -> int:
    if isinstance(node, MappingNode):
        for _k, v in node.value:
            if isinstance(v, MappingNode) and not v.flow_style and v.value:
                return v.value[0][0].start_mark.column - node.value[0][0].start_mark.column
    return default


def _dash_offset(text: str, node: Node) -> int:
    """How far a block sequence's dash sits right of its key, as this document writes it."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, MappingNode):
            for key, value in current.value:
                if isinstance(value, SequenceNode) and not value.flow_style:
                    return value.start_mark.column - key.start_mark.column
                stack.append(value)
    return 2


def _dotted(path: Path) -> str:
    return re.sub(r"\.(\d+)", r"[\1]", ".".join(str(p) for p in path))


def touched_lines(text: str, root: Node, edit: Edit) -> set[int]:
    """The original lines (0-based) an edit may change: those of the values it replaces."""
    if isinstance(edit, SetValue):
        node = _node_at(root, edit.path)
        return _lines(node.start_mark.line, text, _leaf_end(text, node))
    if isinstance(edit, DeleteKey):
        mapping = _node_at(root, edit.path)
        key, value = next((k, v) for k, v in mapping.value if k.value == edit.key)
        if mapping.flow_style:
            return _lines(mapping.start_mark.line, text, mapping.end_mark.index)
        return _lines(key.start_mark.line, text, _leaf_end(text, value))
    target = _node_at(root, edit.path)
    if getattr(target, "flow_style", False):
        return _lines(target.start_mark.line, text, target.end_mark.index)
    if isinstance(edit, RemoveItem):
        item = target.value[edit.index]
        return _lines(item.start_mark.line, text, _leaf_end(text, item))
    return set()


def _lines(first: int, text: str, end: int) -> set[int]:
    last = text.count("\n", 0, max(end - 1, 0))
    return set(range(first, max(first, last) + 1))
