"""Reading the plain block YAML most manifests are written in, without composing nodes.

A generated or hand-kept manifest is mostly ``key: value`` lines, ``- item`` lines
and short ``[a, b]`` lists, in ASCII, one document to a file. Such a text is read
here, line by line, into exactly the value libyaml's composer and the quick build
(``yaml_quick``) would give, at a fraction of the cost: composing makes two marks
and a node object per value and calls the resolver for each (10,000 manifests:
about 0.4 s of composing and quick building; this reading about 0.15 s).

Only a text of the narrow shape below is read here; for anything else ``block_value``
answers None and the text is composed as before, so every problem, and where it is,
still comes from the composer and the strict builder. The shape: ASCII; no tab,
carriage return or other control character; one document (no ``---``, ``...`` or
``%`` directive); a root mapping at column 1; every line blank, a comment, or
``key:``, ``key: value``, ``- value`` or ``- key: value`` at an indentation the
block structure expects, with an optional `` # comment``; keys plain text that
YAML reads as text, each once; values plain (starting with a letter, digit or
``_``, without ``:`` or ``#``, ending without a space), single- or double-quoted
without escapes, or ``[a, b]`` lists of such values. Plain values get PyYAML's
tags (``yaml_compose``'s resolver) and the constructors the quick build uses. The
tests compare this reading with composing and building on generated texts.
"""

from __future__ import annotations

import re
from typing import Any

from yaml.nodes import ScalarNode

from reconciler.manifests.yaml_compose import plain_tag
from reconciler.manifests.yaml_quick import CONSTRUCT_ERRORS, CONSTRUCTOR, SCALAR_CONSTRUCTORS

_STR = "tag:yaml.org,2002:str"

# A plain value: a letter, digit or '_' first, no ':' or '#' (so never "key: " or
# " # comment" inside), no trailing space. In a [list] also no ',' or brackets.
_PLAIN_END = r"A-Za-z0-9_.,/()+=;@~%*&!?<>|'\"`^$\\{}\[\]-"
_FLOW_END = r"A-Za-z0-9_./()+=;@~%*&!?<>|'\"`^$\\-"
_PLAIN = rf"[A-Za-z0-9_](?:[ {_PLAIN_END}]*[{_PLAIN_END}])?"
_FLOW_PLAIN = rf"[A-Za-z0-9_](?:[ {_FLOW_END}]*[{_FLOW_END}])?"
# Quoted values without their own quote, a backslash or (in a list) a comma.
_SINGLE = r"'[^'\x00-\x1f\x7f-\U0010ffff]*'"
_DOUBLE = r'"[^"\\\x00-\x1f\x7f-\U0010ffff]*"'
_FLOW_SINGLE = r"'[^',\x00-\x1f\x7f-\U0010ffff]*'"
_FLOW_DOUBLE = r'"[^",\\\x00-\x1f\x7f-\U0010ffff]*"'
_FLOW_ITEM = rf"(?:{_FLOW_PLAIN}|{_FLOW_SINGLE}|{_FLOW_DOUBLE})"
_VALUE = rf"(?:{_PLAIN}|{_SINGLE}|{_DOUBLE}|\[(?:{_FLOW_ITEM}(?:, {_FLOW_ITEM})*)?\])"
_COMMENT = r"(?: +#[ -~]*)?"
# One line: its indentation, "- " if it is an item, a key, and a value; or a comment.
# A blank line matches with all but the (empty) indentation missing.
_LINE = re.compile(
    rf"( *)(- )?(?:([A-Za-z_][A-Za-z0-9_-]*):(?: ({_VALUE}))?|({_VALUE}))?{_COMMENT}| *#[ -~]*"
)

# What a value written on a line is: none (a key waiting for a nested block or null),
# a scalar (kept built: scalars are immutable), or a [list] (built for each document).
_NONE, _SCALAR, _LIST = 0, 1, 2
# A line read: indentation, whether an item, its key ('' for none), the kind of its
# value and the value (or the list as written); () for a blank or comment line.
_Line = tuple[int, bool, str, int, Any] | tuple[()]
# The lines read so far, up to a bound: most lines of a catalog recur in every file
# ("kind: Model", "  - label: input", "    currency: USD"), so each is matched once.
_LINES: dict[str, _Line] = {}
_LINES_KEPT = 4096


class _Shape(Exception):
    """The text is not of the shape read here: it is composed instead."""


def block_value(text: str, max_depth: int) -> tuple[Any, int] | None:
    """The value of a plain block document and its first line, or None for any other text.

    The value is the one composing ``text`` and building it quickly gives; the line
    (1-based) is where its root mapping starts, at column 1.
    """
    if not text.isascii():
        return None
    try:
        return _build(text.split("\n"), max_depth)
    except _Shape:
        return None


def _read_line(line: str) -> _Line:
    """What one line says; raises ``_Shape`` for a line of any other form."""
    match = _LINE.fullmatch(line)
    if match is None:
        raise _Shape
    spaces, dash, key, key_value, item = match.groups()
    if not (dash or key or item):
        return ()  # blank or a comment
    if key and plain_tag(key) != _STR:
        raise _Shape  # a key read as something other than text
    written = key_value if key else item
    if not written:
        return (len(spaces), bool(dash), key or "", _NONE, None)
    if written[0] == "[":
        return (len(spaces), bool(dash), key or "", _LIST, written)
    return (len(spaces), bool(dash), key or "", _SCALAR, _scalar(written))


def _build(lines: list[str], max_depth: int) -> tuple[Any, int]:
    root: dict[str, Any] = {}
    first = 0
    # Open collections, innermost last: (indentation, the collection, whether a mapping).
    stack: list[tuple[int, Any, bool]] = []
    # A key written without a value: its mapping and indentation, until the next line
    # says whether a nested block follows or the value is null.
    pending: tuple[dict[str, Any], str, int] | None = None
    seen = _LINES.get
    for number, line in enumerate(lines, 1):
        read = seen(line)
        if read is None:
            read = _read_line(line)
            if len(_LINES) < _LINES_KEPT:
                _LINES[line] = read
        if not read:
            continue  # blank or a comment
        indent, dash, key, kind, value = read
        if not stack:
            if indent or dash or not key:
                raise _Shape  # the root is a mapping at column 1
            stack.append((0, root, True))
            first = number
        if pending is not None:
            mapping, name, at = pending
            pending = None
            if indent > at or (indent == at and dash):
                # A nested block (a list may sit at its key's indentation).
                if len(stack) >= max_depth:
                    raise _Shape  # the strict builder words and places the nesting problem
                nested: Any = [] if dash else {}
                mapping[name] = nested
                stack.append((indent, nested, not dash))
        at, collection, is_mapping = stack[-1]
        # A line less indented closes what is open; so does a key at the indentation of
        # a list sitting at its key's indentation.
        while at > indent or (at == indent and not is_mapping and not dash):
            stack.pop()
            if not stack:
                raise _Shape
            at, collection, is_mapping = stack[-1]
        if at != indent:
            raise _Shape
        if kind == _LIST:
            if len(stack) + (not is_mapping and bool(key)) >= max_depth:
                raise _Shape
            value = _flow_list(value)
        if is_mapping:
            if dash or not key:
                raise _Shape
        elif not dash:
            raise _Shape
        elif key:
            # "- key: value" opens a mapping at the key's column.
            if len(stack) >= max_depth:
                raise _Shape
            collection.append(entry := {})
            stack.append((indent + 2, entry, True))
            collection, indent = entry, indent + 2
        elif kind == _NONE:
            raise _Shape  # "-" alone: a nested block item
        else:
            collection.append(value)
            continue
        if key in collection:
            raise _Shape  # a duplicate key: the strict builder reports it
        collection[key] = value  # None holds a key's place until the next line
        if kind == _NONE:
            pending = collection, key, indent
    if not stack:
        raise _Shape  # no document: composing says what there is
    return root, first


def _flow_list(written: str) -> list[Any]:
    inner = written[1:-1]
    return [_scalar(item) for item in inner.split(", ")] if inner else []


def _scalar(written: str) -> Any:
    """The value of a scalar written on one line."""
    first = written[0]
    if first == "'" or first == '"':
        return written[1:-1]
    tag = plain_tag(written)
    if tag == _STR:
        return written
    construct = SCALAR_CONSTRUCTORS.get(tag)
    if construct is None:
        raise _Shape
    try:
        return construct(CONSTRUCTOR, ScalarNode(tag, written))
    except CONSTRUCT_ERRORS:
        raise _Shape from None
