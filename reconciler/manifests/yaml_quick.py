"""The quick build of a regular YAML document: plain values, no bookkeeping, or nothing.

Almost every manifest is regular: text keys, each once, safe tags, scalars that
construct, no aliases, shallow. Such a document needs none of the strict
builder's bookkeeping (alias budget, ancestors, key paths, first positions of
keys), so it is built here with none. Anything else stops the quick build
(``Irregular``) and the strict builder (``yaml_strict``) builds the document
from the start, so every problem, and where it is, comes from that one place.

The quick build is only asked for a text without ``&``: without an anchor no
node can appear twice, so there is no alias to expand or to recurse.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_PREFIX = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP = f"{_PREFIX}str", f"{_PREFIX}seq", f"{_PREFIX}map"
CONSTRUCTOR = SafeConstructor()
# The safe scalar tags other than text, and how each is constructed: the same
# constructors the strict builder calls, so a value is the same from either.
SCALAR_CONSTRUCTORS = {
    f"{_PREFIX}{name}": SafeConstructor.yaml_constructors[f"{_PREFIX}{name}"]
    for name in ("null", "bool", "int", "float", "timestamp")
}
# What a constructor raises on text its explicit tag does not fit, which the strict
# builder turns into a problem: ``!!int ''`` and ``!!bool maybe`` raise LookupErrors.
CONSTRUCT_ERRORS = (
    ValueError,
    TypeError,
    AttributeError,
    OverflowError,
    LookupError,
    yaml.YAMLError,
)


class Irregular(Exception):
    """The document needs the strict builder: it may hold a problem, or an alias."""


def quick_value(root: Node, max_depth: int) -> Any:
    """The plain value of a regular document; raises ``Irregular`` for any other."""
    return _value(root, 1, max_depth)


def _value(node: Node, depth: int, max_depth: int) -> Any:
    # Exact classes, not isinstance: the composer makes these, and anything else is
    # the strict builder's to judge.
    kind = node.__class__
    if kind is ScalarNode:
        tag = node.tag
        if tag == _STR:
            return node.value
        construct = SCALAR_CONSTRUCTORS.get(tag)
        if construct is None:
            raise Irregular
        try:
            return construct(CONSTRUCTOR, node)
        except CONSTRUCT_ERRORS:
            raise Irregular from None
    if depth > max_depth:
        raise Irregular  # the strict builder words and places the nesting problem
    if kind is MappingNode and node.tag == _MAP:
        result: dict[str, Any] = {}
        for key, value in node.value:
            if key.__class__ is not ScalarNode or key.tag != _STR:
                raise Irregular
            name = key.value
            if name in result:
                raise Irregular
            result[name] = _value(value, depth + 1, max_depth)
        return result
    if kind is SequenceNode and node.tag == _SEQ:
        return [_value(item, depth + 1, max_depth) for item in node.value]
    raise Irregular
