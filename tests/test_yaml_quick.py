"""The quick build agrees with the strict builder, and gives way to it on anything irregular."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.manifests.yaml_compose import HAVE_LIBYAML, compose_documents
from reconciler.manifests.yaml_quick import Irregular, quick_value
from reconciler.manifests.yaml_strict import YamlLimits, parse_yaml

LIMITS = YamlLimits()
LOADERS = [
    pytest.param(
        True, id="libyaml", marks=pytest.mark.skipif(not HAVE_LIBYAML, reason="no libyaml")
    ),
    pytest.param(False, id="pure"),
]


def _same(value: Any) -> Any:
    """A value with NaN made comparable (NaN is not equal to itself)."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _same(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_same(v) for v in value]
    return value


def assert_both_builds_agree(text: str, limits: YamlLimits, libyaml: bool) -> None:
    quick_docs, quick_problems = parse_yaml(text, "f.yaml", limits, libyaml=libyaml)
    strict_docs, strict_problems = parse_yaml(text, "f.yaml", limits, libyaml=libyaml, quick=False)
    assert quick_problems == strict_problems
    assert len(quick_docs) == len(strict_docs)
    for quick, strict in zip(quick_docs, strict_docs, strict=True):
        assert _same(quick.value) == _same(strict.value)
        assert type(quick.value) is type(strict.value)
        assert quick.start == strict.start
        assert quick.rejected == strict.rejected
        assert quick.flawed == strict.flawed
        assert quick.nodes == strict.nodes


def root_of(text: str, libyaml: bool) -> yaml.Node:
    (node,), error = compose_documents(text, LIMITS.max_depth, libyaml=libyaml)
    assert error is None
    return node


# --- Generated documents ---------------------------------------------------------------------

# Scalars as written. Regular ones: text, YAML 1.1's booleans, numbers, nulls and
# dates, quoted look-alikes, explicit safe tags that fit. Irregular ones, drawn less
# often so that most documents stay quick: tags that do not fit or are refused, and
# an '&' in the text, which sends the whole file to the strict builder.
REGULAR_SCALARS = st.sampled_from(
    [
        "text",
        "Model name",
        "no",
        "On",
        "yes",
        "12",
        "0x1f",
        "0o17",
        "1_000",
        "0.60",
        "1e3",
        ".nan",
        "-.inf",
        "~",
        "null",
        "2024-01-01",
        "2024-01-01 10:00:00",
        "'0.60'",
        '"no"',
        "''",
        "!!int 12",
        "!!str 12",
        "!!null ''",
    ]
)
IRREGULAR_SCALARS = st.sampled_from(
    [
        "!!int twelve",
        "!!float x",
        "!!bool maybe",
        "!!bool ''",
        "!!int ''",
        "!!float ''",
        "!!timestamp 2024-13-45",
        "!!binary aGk=",
        "!!python/name:os.system",
        "!custom x",
        "R&D",
        "'a & b'",
    ]
)


def _mostly(regular: st.SearchStrategy[str], irregular: st.SearchStrategy[str], one_in: int):
    """``irregular`` about once in ``one_in`` draws, ``regular`` otherwise (and when shrunk)."""
    return st.sampled_from([*[regular] * (one_in - 1), irregular]).flatmap(lambda s: s)


SCALARS = _mostly(REGULAR_SCALARS, IRREGULAR_SCALARS, 15)
# Keys as written: text (often repeated), and keys YAML reads as something else.
KEYS = _mostly(
    st.sampled_from(
        ["name", "spec", "kind", "key", "pricing", "a", "b", "c", "d", "e", "'12'", "!!str 1"]
    ),
    st.sampled_from(["no", "12", "~", "<<", "!!int 1", "? [x]"]),
    15,
)


def _block(depth: int) -> st.SearchStrategy[str]:
    """A block value indented ``depth`` levels, starting on its own line."""
    pad = "  " * depth
    leaf = SCALARS.map(lambda s: f" {s}\n")
    if depth >= 5:
        return leaf
    inner = st.deferred(lambda: _block(depth + 1))

    def mapping(pairs: list[tuple[str, str]]) -> str:
        out = "\n"
        for key, value in pairs:
            out += (
                f"{pad}? {key[2:]}\n{pad}:{value}"
                if key.startswith("? ")
                else f"{pad}{key}:{value}"
            )
        return out

    def sequence(items: list[str]) -> str:
        return "\n" + "".join(f"{pad}-{item}" for item in items)

    flow = st.lists(REGULAR_SCALARS.filter(lambda s: not s.startswith("!")), max_size=3).map(
        lambda items: f" [{', '.join(items)}]\n"
    )
    mappings = st.lists(st.tuples(KEYS, inner), min_size=1, max_size=4).map(mapping)
    sequences = st.lists(inner, min_size=1, max_size=3).map(sequence)
    # A mapping with an explicit tag: !!map fits, the others are refused or misfit.
    tagged = st.tuples(
        st.sampled_from(["!!map", "!!set", "!!omap", "!!seq", "!!python/object:x"]),
        st.lists(st.tuples(KEYS, inner), min_size=1, max_size=2),
    ).map(lambda t: f" {t[0]}" + mapping(t[1]))
    return _mostly(st.one_of(leaf, flow, mappings, sequences), tagged, 10)


DOCUMENTS = st.lists(
    st.lists(st.tuples(KEYS, _block(1)), min_size=1, max_size=5).map(
        lambda pairs: (
            "".join(f"{key}:{value}" for key, value in pairs if not key.startswith("? "))
            or "a: 1\n"
        )
    ),
    min_size=1,
    max_size=3,
).map(lambda docs: "---\n".join(docs))


@pytest.mark.parametrize("libyaml", LOADERS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=DOCUMENTS, max_depth=st.sampled_from([2, 3, 4, 8, 32]))
def test_quick_and_strict_builds_give_the_same_values_problems_and_positions(
    libyaml, text, max_depth
):
    assert_both_builds_agree(text, YamlLimits(max_depth=max_depth), libyaml)


# Any value ``yaml.safe_dump`` writes: scalars of every safe kind, nested lists and maps.
DUMPABLE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.dates(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("libyaml", LOADERS)
@settings(max_examples=150, deadline=None)
@given(
    value=DUMPABLE,
    flow=st.booleans(),
)
def test_quick_build_of_any_dumped_value_is_that_value(libyaml, value, flow):
    text = yaml.safe_dump({"root": value}, default_flow_style=flow, allow_unicode=True)
    assert_both_builds_agree(text, LIMITS, libyaml)
    if "&" not in text:
        # PyYAML's own safe load, not ``value``: a dump does not round-trip every character.
        assert quick_value(root_of(text, libyaml), LIMITS.max_depth) == yaml.safe_load(text)


# --- Each reason to give way to the strict builder -------------------------------------------

IRREGULAR = {
    "key read as a number": "12: x\n",
    "key read as a boolean": "no: x\n",
    "null key": "~: x\n",
    "key with an explicit tag": "!!str a: x\n!!int 1: y\n",
    "key that is a list": "? [a, b]\n: x\n",
    "key that is a mapping": "? {a: 1}\n: x\n",
    "merge key": "a: {x: 1}\nb:\n  <<: {y: 2}\n",
    "duplicate key": "a: 1\nb: 2\na: 3\n",
    "duplicate key in a nested mapping": "spec:\n  name: x\n  name: y\n",
    "refused scalar tag": "a: !!binary aGk=\n",
    "python tag": "a: !!python/name:os.system\n",
    "local tag": "a: !thing x\n",
    "refused collection tag": "a: !!set {x, y}\n",
    "mapping tagged as a list": "a: !!seq {x: 1}\n",
    "list tagged as a mapping": "a: !!map [x]\n",
    "int that does not construct": "a: !!int twelve\n",
    "float that does not construct": "a: !!float x\n",
    "date that does not construct": "a: !!timestamp 2024-13-45\n",
    "boolean that does not construct": "a: !!bool maybe\n",
    "empty int": "a: !!int ''\n",
}


@pytest.mark.parametrize("libyaml", LOADERS)
@pytest.mark.parametrize("text", list(IRREGULAR.values()), ids=list(IRREGULAR))
def test_anything_irregular_stops_the_quick_build_and_the_strict_one_reports_it(libyaml, text):
    with pytest.raises(Irregular):
        quick_value(root_of(text, libyaml), LIMITS.max_depth)
    assert_both_builds_agree(text, LIMITS, libyaml)


@pytest.mark.parametrize("libyaml", LOADERS)
def test_depth_past_the_limit_stops_the_quick_build_and_depth_at_it_does_not(libyaml):
    limits = YamlLimits(max_depth=3)
    at_limit = "a:\n  b:\n    c: 1\n"  # three mappings deep
    past = "a:\n  b:\n    c:\n      d: 1\n"  # four
    assert quick_value(root_of(at_limit, libyaml), 3) == {"a": {"b": {"c": 1}}}
    with pytest.raises(Irregular):
        quick_value(root_of(past, libyaml), 3)
    problems = parse_yaml(past, "f.yaml", limits, libyaml=libyaml)[1]
    assert [(p.line, p.column, p.message) for p in problems] == [
        (4, 7, "nested more than 3 levels deep")
    ]
    assert_both_builds_agree(past, limits, libyaml)
    assert_both_builds_agree("[[[[1]]]]\n", limits, libyaml)


@pytest.mark.parametrize("libyaml", LOADERS)
def test_a_text_with_an_anchor_is_built_strictly_and_aliases_keep_their_budget(libyaml):
    text = "a: &x [1, 2]\nb: *x\nc: *x\n"
    limits = YamlLimits(max_alias_nodes=6)
    (document,), problems = parse_yaml(text, "f.yaml", limits, libyaml=libyaml)
    assert document.value == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}
    assert problems == []
    tight = YamlLimits(max_alias_nodes=5)
    documents, problems = parse_yaml(text, "f.yaml", tight, libyaml=libyaml)
    assert documents == []
    assert [(p.line, p.column, p.path) for p in problems] == [(3, 1, "c")]
    assert "aliases expand to more than 5 values" in problems[0].message


@pytest.mark.parametrize("libyaml", LOADERS)
def test_one_irregular_document_leaves_the_others_of_the_file_quick(libyaml):
    text = "a: 1\n---\nb: 1\nb: 2\n---\nc: [x]\n"
    documents, problems = parse_yaml(text, "f.yaml", LIMITS, libyaml=libyaml)
    assert [d.value for d in documents] == [{"a": 1}, {"b": 1}, {"c": ["x"]}]
    assert [d.flawed for d in documents] == [False, True, False]
    assert [(p.line, p.path) for p in problems] == [(4, "b")]
    assert "duplicate key 'b' (first at line 3, column 1)" in problems[0].message
    assert documents[2].locate(("c", 0))[1].value.line == 6
    assert_both_builds_agree(text, LIMITS, libyaml)
