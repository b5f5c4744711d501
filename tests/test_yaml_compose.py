"""Composing with either parser: the same nodes, the same error wording, no quadratic blow-up."""

from __future__ import annotations

import pytest
import yaml

from reconciler.manifests.yaml_compose import HAVE_LIBYAML, compose_documents, parse_error_problem

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
