"""Composing YAML text into node trees with libyaml or pure Python, and wording parse errors.

Both parsers give the same report: libyaml words its errors differently, so a
file it rejects is read again by the pure parser, whose message is used. The
pure parser is guarded against deep flow nesting, which would cost it
quadratic time; nesting past the limit is an error in any case.
"""

from __future__ import annotations

import operator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import ManifestProblem

HAVE_LIBYAML: bool = bool(getattr(yaml, "__with_libyaml__", False))


def too_deep_message(max_depth: int) -> str:
    """The one wording of the nesting rule, wherever it is found."""
    return f"nested more than {max_depth} levels deep"


# What PyYAML's safe resolver answers: a plain scalar's tag from the regexes
# registered for its first character, else the default tag of the node's kind.
_IMPLICIT = yaml.CSafeLoader.yaml_implicit_resolvers if HAVE_LIBYAML else {}
_DEFAULT_TAGS: dict[type, str] = {
    ScalarNode: yaml.SafeLoader.DEFAULT_SCALAR_TAG,
    SequenceNode: yaml.SafeLoader.DEFAULT_SEQUENCE_TAG,
    MappingNode: yaml.SafeLoader.DEFAULT_MAPPING_TAG,
}


class _QuickResolver(yaml.CSafeLoader if HAVE_LIBYAML else object):  # type: ignore[misc]
    """libyaml's safe loader, asking a shorter resolver for each node's tag.

    libyaml composes in C but calls three Python methods for every node: PyYAML's
    ``descend_resolver`` and ``ascend_resolver`` (which return at once, as the safe
    loader registers no path resolvers) and ``resolve`` (which also copies two lists
    per scalar and checks for path resolvers). A third of the composing time of a
    manifest went there. Here the first two are C calls that do nothing, and
    ``resolve`` keeps only what the safe loader can reach; it gives exactly PyYAML's
    tags (a property test compares them), and is used only while the safe loader has
    no wildcard and no path resolvers (``QUICK_RESOLVE``).
    """

    descend_resolver = staticmethod(operator.is_)  # called with (parent, index)
    ascend_resolver = staticmethod(tuple)  # called with nothing

    def resolve(self, kind: type, value: Any, implicit: Any) -> str | None:
        if kind is ScalarNode and implicit[0]:
            return plain_tag(value)
        return _DEFAULT_TAGS.get(kind)


# The tags of plain scalars met so far, up to a bound: the first texts of a run are
# its keys and common values, and a bound keeps the memory of unique ones small.
_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_KEPT = 4096


def plain_tag(value: str) -> str:
    """The tag PyYAML's safe resolver gives a plain scalar written ``value``, remembered.

    A plain scalar's tag depends on its text alone, and most texts of a catalog recur
    (keys, units, currencies, levels): each is matched once. Exactly PyYAML's tag only
    where ``QUICK_RESOLVE`` holds.
    """
    tag = _PLAIN_TAGS.get(value)
    if tag is None:
        tag = _plain_tag(value)
        if len(_PLAIN_TAGS) < _PLAIN_TAGS_KEPT:
            _PLAIN_TAGS[value] = tag
    return tag


def _plain_tag(value: str) -> str:
    """The tag PyYAML's safe resolver gives a plain scalar written ``value``."""
    resolvers = _IMPLICIT.get(value[:1])  # '' for the empty scalar, as PyYAML's
    if resolvers is not None:
        for tag, regexp in resolvers:
            if regexp.match(value):
                return tag
    return _DEFAULT_TAGS[ScalarNode]


# The quick resolver reproduces PyYAML's only without these, which the safe loader has
# never registered; if a PyYAML version did, its own resolver is used.
QUICK_RESOLVE: bool = (
    HAVE_LIBYAML and None not in _IMPLICIT and not yaml.CSafeLoader.yaml_path_resolvers
)


class _TooDeep(yaml.MarkedYAMLError):
    """The pure scanner met a flow collection nested deeper than the limit."""


class _PureLoader(yaml.SafeLoader):
    """The pure-Python loader, refusing deep flow nesting before it costs quadratic time.

    PyYAML's scanner keeps one possible simple key per open flow level and checks
    them all on every token, so ``[[[[...`` a megabyte deep would run for hours.
    """

    max_depth = 32

    def fetch_flow_collection_start(self, token_class: type) -> None:
        # Open block collections are the scanner's indents; this one is one level more.
        if len(self.indents) + self.flow_level + 1 > self.max_depth:
            raise _TooDeep(problem="too deep", problem_mark=self.get_mark())
        super().fetch_flow_collection_start(token_class)


# The loader composing with libyaml (where it is present).
_LIBYAML_LOADER: type = _QuickResolver if QUICK_RESOLVE else getattr(yaml, "CSafeLoader", object)


def compose_documents(
    text: str, max_depth: int, *, libyaml: bool = HAVE_LIBYAML
) -> tuple[list[Node], BaseException | None]:
    """The node tree of each document, up to the first error (returned, not raised)."""
    nodes, error = _compose(text, _LIBYAML_LOADER if libyaml else _PureLoader, max_depth)
    if error is not None and libyaml:
        pure_nodes, pure_error = _compose(text, _PureLoader, max_depth)
        if pure_error is not None:
            nodes, error = pure_nodes, pure_error
    return nodes, error


def parse_error_problem(
    error: BaseException, text: str, file: str, document: int, max_depth: int
) -> ManifestProblem:
    """The located problem for a parse error met in document number ``document``."""
    if isinstance(error, _TooDeep) and error.problem_mark is not None:
        mark = error.problem_mark
        return ManifestProblem(
            file, mark.line + 1, mark.column + 1, "", too_deep_message(max_depth)
        )
    if isinstance(error, RecursionError):
        # The pure composer recursed too deep into block collections: find the spot as
        # the depth rule would, from the event stream, which needs no recursion.
        line, column = _deep_position(text, document, max_depth)
        return ManifestProblem(file, line, column, "", too_deep_message(max_depth))
    if isinstance(error, yaml.reader.ReaderError):
        before = text[: error.position]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        message = f"character U+{error.character:04X} is not allowed in YAML text"
        return ManifestProblem(file, line, column, "", message)
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        context = ""
        if error.context and error.context_mark is not None:
            where = f"line {error.context_mark.line + 1}, column {error.context_mark.column + 1}"
            context = f" ({error.context} at {where})"
        message = f"invalid YAML: {error.problem}{context}"
        return ManifestProblem(file, mark.line + 1, mark.column + 1, "", message)
    return ManifestProblem(file, 1, 1, "", f"invalid YAML: {error}")


def _compose(
    text: str, loader_class: type, max_depth: int
) -> tuple[list[Node], BaseException | None]:
    nodes: list[Node] = []
    try:
        # The pure loader checks for unprintable characters already when it is created.
        loader = loader_class(text)
    except yaml.YAMLError as exc:
        return nodes, exc
    loader.max_depth = max_depth
    try:
        while loader.check_node():
            nodes.append(loader.get_node())
    except (yaml.YAMLError, RecursionError) as exc:
        return nodes, exc
    finally:
        loader.dispose()
    return nodes, None


def _deep_position(text: str, document: int, max_depth: int) -> tuple[int, int]:
    index, depth = -1, 0
    loader = (yaml.CSafeLoader if HAVE_LIBYAML else _PureLoader)(text)
    loader.max_depth = max_depth
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                index += 1
            elif isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth and index >= document:
                    return event.start_mark.line + 1, event.start_mark.column + 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except _TooDeep as exc:
        if exc.problem_mark is not None:
            return exc.problem_mark.line + 1, exc.problem_mark.column + 1
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    return 1, 1
