"""Composing with either parser: the same nodes, the same error wording, no quadratic blow-up."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from reconciler.manifests import yaml_compose
from reconciler.manifests.yaml_compose import (
    _LIBYAML_LOADER,
    HAVE_LIBYAML,
    _QuickResolver,
    compose_documents,
    parse_error_problem,
)

needs_libyaml = pytest.mark.skipif(not HAVE_LIBYAML, reason="no libyaml")


@pytest.mark.parametrize("libyaml", [pytest.param(True, marks=needs_libyaml), False])
def test_documents_compose_up_to_the_first_error(libyaml):
    nodes, error = compose_documents("a: 1\n---\nb: 2\n---\nc: [\n", 32, libyaml=libyaml)
    assert [node.value[0][0].value for node in nodes] == ["a", "b"]
    assert isinstance(error, yaml.YAMLError)


@needs_libyaml
def test_a_libyaml_error_is_worded_by_the_pure_parser():
    _, error = compose_documents("a: b: c\n", 32, libyaml=True)
    problem = parse_error_problem(error, "a: b: c\n", "f.yaml", 0, 32)
    # libyaml itself says "mapping values are not allowed in this context".
    assert problem.message == "invalid YAML: mapping values are not allowed here"
    assert (problem.line, problem.column) == (1, 5)


def test_pure_parser_stops_at_the_flow_depth_limit():
    text = "a: " + "[" * 200_000
    nodes, error = compose_documents(text, 32, libyaml=False)
    problem = parse_error_problem(error, text, "f.yaml", len(nodes), 32)
    assert (problem.line, problem.column, problem.message) == (
        1,
        35,
        "nested more than 32 levels deep",
    )


def test_flow_nesting_within_the_limit_composes():
    text = "a: " + "[" * 31 + "]" * 31 + "\n"
    assert compose_documents(text, 32, libyaml=False)[1] is None


def test_an_unknown_error_still_becomes_a_problem():
    problem = parse_error_problem(ValueError("odd"), "", "f.yaml", 0, 32)
    assert (problem.line, problem.column, problem.message) == (1, 1, "invalid YAML: odd")


# --- The quick resolver gives PyYAML's tags ----------------------------------------------------

# Text shaped like what YAML 1.1 resolves (booleans, nulls, numbers in every base, dates,
# merge and value keys), near misses of it, and any text at all.
_LOOK_ALIKES = st.one_of(
    st.sampled_from(
        [
            "",
            "~",
            "null",
            "Null",
            "NULL",
            "nULL",
            "y",
            "Y",
            "yes",
            "No",
            "oN",
            "OFF",
            "true",
            "tRUE",
            "<<",
            "<",
            "=",
            ".",
            ".inf",
            "-.Inf",
            ".NaN",
            ".nan",
            "0",
            "-0",
            "+12",
            "0x1F",
            "0b101",
            "017",
            "0o17",
            "1_000",
            "1:30:00",
            "190:20:30.15",
            "1e3",
            "1.0e+3",
            "6.8523015e+5",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            "2002-1-1",
            "!x",
            "&a",
            "*a",
        ]
    ),
    st.from_regex(r"\A[-+]?[0-9_.:]{0,12}([eE][-+]?[0-9]{1,3})?\Z"),
    st.from_regex(r"\A[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9: .+-]{0,16})?\Z"),
    st.text(max_size=12),
)


@needs_libyaml
@settings(max_examples=2000, deadline=None)
@given(
    value=_LOOK_ALIKES,
    implicit=st.tuples(st.booleans(), st.booleans()),
    extra=st.sampled_from(["", "\n", " ", "x", "0"]),
)
def test_the_quick_resolver_tags_every_scalar_as_pyyaml_does(value, implicit, extra):
    ours, theirs = _QuickResolver(""), yaml.CSafeLoader("")
    try:
        for text in (value, value + extra, extra + value):
            expected = theirs.resolve(ScalarNode, text, implicit)
            # Twice: the first answer may be worked out, the second one remembered.
            assert ours.resolve(ScalarNode, text, implicit) == expected
            assert ours.resolve(ScalarNode, text, implicit) == expected
    finally:
        ours.dispose()
        theirs.dispose()


@needs_libyaml
def test_the_quick_resolver_remembers_a_bounded_number_of_texts(monkeypatch):
    monkeypatch.setattr(yaml_compose, "_PLAIN_TAGS", {})
    monkeypatch.setattr(yaml_compose, "_PLAIN_TAGS_KEPT", 2)
    loader = _QuickResolver("")
    try:
        tags = [loader.resolve(ScalarNode, text, (True, False)) for text in ["no", "12", "x", "~"]]
    finally:
        loader.dispose()
    assert tags == [f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "str", "null")]
    assert yaml_compose._PLAIN_TAGS == {
        "no": "tag:yaml.org,2002:bool",
        "12": "tag:yaml.org,2002:int",
    }


@needs_libyaml
@pytest.mark.parametrize("kind", [SequenceNode, MappingNode])
@pytest.mark.parametrize("implicit", [True, False])
def test_the_quick_resolver_tags_collections_as_pyyaml_does(kind, implicit):
    assert _QuickResolver("").resolve(kind, None, implicit) == yaml.CSafeLoader("").resolve(
        kind, None, implicit
    )


def _tree(node: yaml.Node) -> tuple:
    """Everything a composed node says: its class, tag, style, positions and children."""
    marks = (node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column)
    if isinstance(node, yaml.ScalarNode):
        children: object = node.value
    elif isinstance(node, yaml.SequenceNode):
        children = [_tree(item) for item in node.value]
    else:
        children = [(_tree(key), _tree(value)) for key, value in node.value]
    return (type(node).__name__, node.tag, getattr(node, "style", None), marks, children)


_PLAIN = _LOOK_ALIKES.filter(lambda s: s and s.strip() == s and "\n" not in s)
_WRITTEN = st.one_of(
    _PLAIN.map(lambda s: yaml.safe_dump(s)),  # quoted where plain would read otherwise
    st.lists(_PLAIN, max_size=4).map(lambda items: "- " + "\n- ".join(items or ["x"]) + "\n"),
    st.dictionaries(_PLAIN, _PLAIN, max_size=4).map(
        lambda d: "".join(f"{k!r}: {v}\n" for k, v in d.items()) or "{}\n"
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.dates() | _LOOK_ALIKES,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_PLAIN, inner, max_size=3),
        max_leaves=12,
    ).map(lambda value: yaml.safe_dump(value, default_flow_style=None)),
)


@needs_libyaml
@settings(max_examples=400, deadline=None)
@given(text=_WRITTEN)
def test_composing_with_the_quick_resolver_gives_pyyamls_nodes(text):
    assert _LIBYAML_LOADER is _QuickResolver  # the loader compose_documents uses
    ours, ours_error = compose_documents(text, 32, libyaml=True)
    theirs: list[yaml.Node] = []
    loader = yaml.CSafeLoader(text)
    try:
        while loader.check_node():
            theirs.append(loader.get_node())
    except yaml.YAMLError:
        assert ours_error is not None
    finally:
        loader.dispose()
    assert [_tree(node) for node in ours] == [_tree(node) for node in theirs]
