"""Reading plain block YAML line by line gives what composing and building give, or gives way."""

from __future__ import annotations

import datetime
import functools
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.manifests import yaml_block
from reconciler.manifests.yaml_block import block_value
from reconciler.manifests.yaml_compose import HAVE_LIBYAML, QUICK_RESOLVE, compose_documents
from reconciler.manifests.yaml_quick import Irregular, quick_value
from reconciler.manifests.yaml_strict import YamlLimits, parse_yaml
from tests.test_yaml_quick import DUMPABLE, _same, assert_both_builds_agree

pytestmark = pytest.mark.skipif(not QUICK_RESOLVE, reason="read only with libyaml's resolver")

LIMITS = YamlLimits()


def _typed(value: Any) -> Any:
    """``value`` with every type and every mapping's key order made part of equality."""
    if isinstance(value, dict):
        return ("dict", [(key, _typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(item) for item in value])
    return (type(value).__name__, _same(value))


def assert_read_as_composed(text: str, max_depth: int) -> bool:
    """``block_value`` of ``text`` is what composing and the quick build give; True if read."""
    read = block_value(text, max_depth)
    # Every way of reading agrees, whichever path parse_yaml takes.
    assert_both_builds_agree(text, YamlLimits(max_depth=max_depth), libyaml=HAVE_LIBYAML)
    if read is None:
        return False
    value, line = read
    nodes, error = compose_documents(text, max_depth, libyaml=True)
    assert error is None
    (root,) = nodes
    assert _typed(value) == _typed(quick_value(root, max_depth))
    assert (line, 1) == (root.start_mark.line + 1, root.start_mark.column + 1)
    (document,), problems = parse_yaml(text, "f.yaml", YamlLimits(max_depth=max_depth))
    assert problems == []
    assert _typed(document.value) == _typed(value)
    return True


# --- Generated texts -------------------------------------------------------------------------

# Values as written: plain text, YAML 1.1's booleans, numbers, nulls and dates,
# quoted look-alikes, and near misses that must give way (':', '#', '&', tabs,
# escapes, trailing spaces, tags, anchors, quotes inside quotes).
REGULAR_VALUES = st.sampled_from(
    [
        "text",
        "Model name",
        "1M tokens",
        "reconciler/v1",
        "a-b_c.d",
        "R&D",
        "it's",
        'say "hi"',
        "a [b] {c}",
        "a, b",
        "no",
        "On",
        "yes",
        "null",
        "Null",
        "12",
        "0x1f",
        "0o17",
        "1_000",
        "0.60",
        "1e3",
        "1.5e3",
        "190:20:30",
        "2024-01-01",
        "'0.60'",
        "'no'",
        '"no"',
        "''",
        '""',
        "'a # b'",
        "[]",
        "[a, b]",
        "['x', \"y\", 1, no]",
        "'a, b'",
    ]
)
IRREGULAR_VALUES = st.sampled_from(
    [
        "2024-13-45",
        "2024-01-01 10:00:00",
        "'it''s'",
        '"a\\tb"',
        '"x, y"',
        "~",
        ".nan",
        "-.inf",
        "-1",
        "+1",
        "=",
        "a: b",
        "a #b",
        "a#b",
        "a:b",
        "&x a",
        "*x",
        "!!str 1",
        "!!int 1",
        "|",
        ">",
        "? x",
        "- x",
        "@x",
        "%x",
        "`x",
        "x\t",
        "x ",
        "Caf\u00e9",
        "a\rb",
        "[a,b]",
        "[ a ]",
        "[a, [b]]",
        "['a, b']",
        "[a, b # c]",
        "{a: 1}",
        "{}",
    ]
)


def _mostly(regular: st.SearchStrategy[str], irregular: st.SearchStrategy[str], one_in: int):
    """``irregular`` about once in ``one_in`` draws, ``regular`` otherwise (and when shrunk)."""
    return st.integers(0, one_in - 1).flatmap(lambda n: irregular if n == one_in - 1 else regular)


VALUES = _mostly(REGULAR_VALUES, IRREGULAR_VALUES, 25)
KEYS = _mostly(
    st.sampled_from(["name", "spec", "kind", "key", "pricing", "a", "b", "c", "_x", "a-b"]),
    st.sampled_from(["no", "yes", "On", "null", "12", "'q'", "<<", "a b", "x.y"]),
    25,
)
COMMENTS = _mostly(st.sampled_from(["", "", " # note", "  #", " #x: y"]), st.just("#tight"), 25)


# A block value's lines as (indentation, text) relative to its key; a value written on
# the key's own line is the one line (-1, text).
Lines = list[tuple[int, str]]


@functools.cache
def _block(depth: int, width: int) -> st.SearchStrategy[Lines]:
    """A block value nested ``depth`` levels, each level indented ``width`` more."""
    leaf = VALUES.map(lambda v: [(-1, v)])
    if depth >= 4:
        return leaf
    inner = _block(depth + 1, width)
    pairs = st.lists(st.tuples(KEYS, inner, COMMENTS), min_size=1, max_size=3, unique_by=_key)
    mappings = pairs.map(lambda p: _mapping(p, width))
    items = _mostly(st.one_of(leaf, mappings), inner, 8)
    sequences = st.lists(items, min_size=1, max_size=2).map(lambda i: _sequence(i, width))
    return st.one_of(leaf, mappings, sequences)


def _key(pair: tuple[str, Lines, str]) -> str:
    return pair[0]


def _mapping(pairs: list[tuple[str, Lines, str]], width: int) -> Lines:
    out = []
    for key, value, comment in pairs:
        if value[0][0] == -1:
            out.append((0, f"{key}: {value[0][1]}{comment}"))
        else:
            out.append((0, f"{key}:{comment}"))
            out += [(indent + width, text) for indent, text in value]
    return out


def _sequence(items: list[Lines], width: int) -> Lines:
    out = []
    for value in items:
        if value[0][0] == -1:
            out.append((0, f"- {value[0][1]}"))
        elif value[0][1].startswith("-"):
            out.append((0, "-"))  # a list in a list: given way on
            out += [(indent + width, text) for indent, text in value]
        else:
            # "- key: value": the mapping's first line shares the dash's line, the rest
            # of it sits at the key's column.
            (_, first), *rest = value
            out.append((0, f"- {first}"))
            out += [(indent + 2, text) for indent, text in rest]
    return out


@st.composite
def documents(draw: st.DrawFn) -> str:
    width = draw(st.sampled_from([2, 2, 4, 1, 3]))
    pairs = draw(
        st.lists(
            st.tuples(KEYS, _block(1, width), COMMENTS), min_size=1, max_size=5, unique_by=_key
        )
    )
    text = "\n".join(" " * indent + line for indent, line in _mapping(pairs, width)) + "\n"
    if draw(st.booleans()):
        # Lists at their key's indentation, as PyYAML dumps them.
        text = text.replace(":\n" + " " * width + "- ", ":\n- ")
    # Blank and comment lines, a missing final break, and single-character edits.
    if draw(st.booleans()):
        lines = text.split("\n")
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from(["", "# c", "  ", "  # c", "    #"])))
        text = "\n".join(lines)
    if draw(st.booleans()):
        text = text.rstrip("\n")
    if draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(1, len(text)))
        text = (
            text[:at] + draw(st.sampled_from([" ", "-", ":", "\t", "#", "'", "---\n"])) + text[at:]
        )
    start = ["", "", "", "", "", "", "# head\n", "\n", "---\n", "%YAML 1.1\n---\n"]
    return draw(st.sampled_from(start)) + text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=documents(), max_depth=st.sampled_from([2, 3, 4, 32]))
def test_a_block_text_reads_as_composing_and_building_it_does(text, max_depth):
    assert_read_as_composed(text, max_depth)


@settings(max_examples=150, deadline=None)
@given(
    value=DUMPABLE,
    width=st.sampled_from([2, 4]),
)
def test_a_dumped_value_reads_as_composing_and_building_it_does(value, width):
    text = yaml.safe_dump({"root": value}, default_flow_style=False, indent=width)
    assert_read_as_composed(text, LIMITS.max_depth)


def test_the_generated_texts_mostly_take_the_line_by_line_reading():
    # Guards the property test above against a generator that would never reach it.
    read = []

    @settings(max_examples=300, deadline=None, database=None)
    @given(text=documents())
    def count(text: str) -> None:
        read.append(block_value(text, 32) is not None)

    count()
    assert sum(read) >= len(read) // 6


# --- The shape read, and what gives way --------------------------------------------------------

MANIFEST = """\
# yaml-language-server: $schema=manifest.schema.json
apiVersion: reconciler/v1
kind: Model
metadata:
  key: gpt-4o-mini  # the key in git

spec:
  name: GPT-4o mini
  departments: [Research, 'Support']
  temperature_levels: []
  active: true
  modalities:
  - text
  - image
  pricing:
    - label: input
      unit: 1M tokens
      amount: "0.15"
      currency: USD
    - label: output
      unit: 1M tokens
      amount: '0.60'
      currency: USD
lifecycle:
  ignore_changes:
"""


def test_a_manifest_is_read_with_its_values_and_its_first_line():
    value, line = block_value(MANIFEST, 32)
    assert line == 2
    assert value == {
        "apiVersion": "reconciler/v1",
        "kind": "Model",
        "metadata": {"key": "gpt-4o-mini"},
        "spec": {
            "name": "GPT-4o mini",
            "departments": ["Research", "Support"],
            "temperature_levels": [],
            "active": True,
            "modalities": ["text", "image"],
            "pricing": [
                {"label": "input", "unit": "1M tokens", "amount": "0.15", "currency": "USD"},
                {"label": "output", "unit": "1M tokens", "amount": "0.60", "currency": "USD"},
            ],
        },
        "lifecycle": {"ignore_changes": None},
    }
    assert assert_read_as_composed(MANIFEST, 32)


GIVES_WAY = {
    "two documents": "a: 1\n---\nb: 2\n",
    "a document start": "---\na: 1\n",
    "a directive": "%YAML 1.1\n---\na: 1\n",
    "non-ASCII text": "name: Caf\u00e9\n",
    "a tab": "a:\t1\n",
    "a carriage return": "a: 1\r\nb: 2\r\n",
    "a trailing space": "a: 1 \n",
    "a duplicate key": "a: 1\na: 2\n",
    "a duplicate key in an item": "- a: 1\n  a: 2\n",
    "a key read as a boolean": "no: 1\n",
    "a key read as null": "null: 1\n",
    "an anchor": "a: &x 1\nb: *x\n",
    "a tag": "a: !!int 1\n",
    "a flow mapping": "a: {b: 1}\n",
    "a nested flow list": "a: [[b]]\n",
    "a multi-line plain value": "a: one\n  two\n",
    "a value on the next line": "a:\n  one\n",
    "a block scalar": "a: |\n  text\n",
    "an escape": 'a: "x\\ty"\n',
    "a quote in quotes": "a: 'it''s'\n",
    "a root list": "- a\n- b\n",
    "a root scalar": "text\n",
    "an indented root": "  a: 1\n",
    "an empty text": "",
    "only a comment": "# nothing\n",
    "an item without a value": "a:\n  -\n    b: 1\n",
    "an item under a scalar": "a: 1\n- b\n",
    "a key under a list": "a:\n  - b\n  c: 1\n",
    "too much indentation": "a:\n  b: 1\n   c: 2\n",
    "a date that does not construct": "a: 2024-13-45\n",
    "a time": "a: 10:00:00\n",
    "nesting past the limit": "a:\n  b:\n    c:\n      d: 1\n",
}


@pytest.mark.parametrize("text", list(GIVES_WAY.values()), ids=list(GIVES_WAY))
def test_any_other_text_gives_way_to_composing(text):
    limits = YamlLimits(max_depth=3)
    assert block_value(text, limits.max_depth) is None
    assert_both_builds_agree(text, limits, libyaml=True)


def test_depth_at_the_limit_is_read_and_past_it_gives_way():
    assert block_value("a:\n  b:\n    c: 1\n", 3) == ({"a": {"b": {"c": 1}}}, 1)
    assert block_value("a:\n  b: [1]\n", 3) == ({"a": {"b": [1]}}, 1)
    assert block_value("a:\n  b:\n    c: [1]\n", 3) is None
    assert block_value("a:\n- b: [1]\n", 3) is None
    assert block_value("a:\n- [1]\n", 3) == ({"a": [[1]]}, 1)


def test_the_lines_remembered_are_bounded_and_change_nothing(monkeypatch):
    monkeypatch.setattr(yaml_block, "_LINES", {})
    monkeypatch.setattr(yaml_block, "_LINES_KEPT", 3)
    text = "a: 1\nb: [x]\nc: 2024-01-01\nd: text\n"
    first = block_value(text, 32)
    assert len(yaml_block._LINES) == 3
    again = block_value(text, 32)
    assert (
        first
        == again
        == (
            {"a": 1, "b": ["x"], "c": datetime.date(2024, 1, 1), "d": "text"},
            1,
        )
    )
    # Lists are built for each document, never shared between two.
    assert first[0]["b"] is not again[0]["b"]


def test_an_irregular_text_still_fails_the_quick_build_it_reached():
    # The texts given way on are those the composer and the strict builder judge.
    (node,), _ = compose_documents("a: 1\na: 2\n", 32, libyaml=True)
    with pytest.raises(Irregular):
        quick_value(node, 32)
