"""Strict YAML reading: safe tags only, no duplicate keys, bounded aliases, every value located.

PyYAML composes the node tree (libyaml's ``CSafeLoader`` where present, the
pure-Python loader otherwise); this module then builds plain Python values from
it, itself, so that the checks are the same whichever parser ran: nothing is
ever constructed from a tag outside the safe set, a duplicate key is an error
(PyYAML keeps the last one silently), and alias expansion has a budget, so a
"billion laughs" file fails fast with bounded memory. Every value keeps the
position of its key and of itself, so later checks can point at it.
"""

from __future__ import annotations

import codecs
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import ManifestProblem
from reconciler.manifests.yaml_block import block_value
from reconciler.manifests.yaml_compose import (
    HAVE_LIBYAML,
    QUICK_RESOLVE,
    compose_documents,
    parse_error_problem,
    too_deep_message,
)
from reconciler.manifests.yaml_quick import CONSTRUCT_ERRORS, Irregular, quick_value

YamlPath = tuple[str | int, ...]

_PREFIX = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(
    f"{_PREFIX}{t}" for t in ("null", "bool", "int", "float", "str", "timestamp")
)
_STR, _NULL, _MERGE = f"{_PREFIX}str", f"{_PREFIX}null", f"{_PREFIX}merge"
_SEQ, _MAP = f"{_PREFIX}seq", f"{_PREFIX}map"
_CONSTRUCTOR = SafeConstructor()
_KIND_WORDS = {
    "bool": "a boolean",
    "int": "a number",
    "float": "a number",
    "null": "null",
    "timestamp": "a date",
    "seq": "a list",
    "map": "a mapping",
}


@dataclass(frozen=True)
class YamlLimits:
    """Bounds on what one manifest file may cost to read."""

    max_file_bytes: int = 1024 * 1024
    max_alias_nodes: int = 10_000
    max_depth: int = 32


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based position in a file."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Located:
    """Where one value sits, and how YAML read it (for hints such as "quote it")."""

    value: Mark
    key: Mark | None
    tag: str
    plain: bool
    text: str | None


# Where one value was read: its line and column, its key's (0, 0 without a key), its
# tag, whether it was a plain scalar, and a scalar's text. Kept instead of PyYAML's
# nodes: a node holds its whole subtree and two position objects, several times the
# memory of the document itself, and every document of a run is held until all are
# checked (10,000 manifests kept ~150 MiB of nodes).
Spot = tuple[int, int, int, int, str, bool, str | None]


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One YAML document as plain Python values, with the position of every value.

    ``nodes`` maps each key path to where its value (and key) sit, as a compact
    ``Spot``; a ``Located`` is built only when a problem asks for one, since almost
    every document is valid.
    """

    value: Any
    start: Mark
    # The spots, or how to find them again: a document read from a file keeps the
    # file's text and reads its positions only when a problem needs one (10,000
    # manifests held ~80 MiB of spots, and almost none is ever asked for).
    spots: dict[YamlPath, Spot] | Callable[[], dict[YamlPath, Spot]]
    rejected: frozenset[YamlPath] = field(default_factory=frozenset)
    flawed: bool = False  # reading it found a problem (e.g. a duplicate key)

    @property
    def nodes(self) -> dict[YamlPath, Spot]:
        return self.spots if isinstance(self.spots, dict) else self.spots()

    def locate(self, path: YamlPath) -> tuple[YamlPath, Located]:
        """The deepest located prefix of ``path`` and its position."""
        for end in range(len(path), -1, -1):
            found = self.nodes.get(path[:end])
            if found is not None:
                line, column, key_line, key_column, tag, plain, text = found
                key = Mark(key_line, key_column) if key_line else None
                where = Located(Mark(line, column), key, short_tag(tag), plain, text)
                return path[:end], where
        return (), Located(self.start, None, "map", True, None)


def format_path(path: YamlPath) -> str:
    """``('spec', 'pricing', 0, 'amount')`` -> ``spec.pricing[0].amount``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:bool`` -> ``bool``; other tags as written (``!!python/...``)."""
    return tag[len(_PREFIX) :] if tag.startswith(_PREFIX) else tag


def kind_words(tag: str) -> str:
    """How a person would name what YAML read: "a boolean", "a number", "a list"."""
    return _KIND_WORDS.get(tag, "text" if tag == "str" else f"a {tag} value")


def read_yaml_file(
    path: str | Path, file: str, limits: YamlLimits, *, libyaml: bool = HAVE_LIBYAML
) -> tuple[list[YamlDocument], list[ManifestProblem]]:
    """Read one file: size limit, UTF-8, then strict YAML; problems instead of exceptions."""
    try:
        # The descriptor itself, not a file object: no buffer and no object for each
        # of many small files.
        descriptor = os.open(path, os.O_RDONLY)
        try:
            # Read up to one byte over the limit, but ask for no more than the file
            # holds: a read of the limit itself allocates it (1 MiB) for every file.
            wanted = limits.max_file_bytes + 1
            status = os.fstat(descriptor)
            size = status.st_size
            # A regular file that gave as many bytes as its size is at its end: no
            # read just to see that (one system call of five per file).
            end = size if stat.S_ISREG(status.st_mode) else -1
            data = _read_up_to(descriptor, min(size + 1, wanted), end)
            if len(data) > size:  # it grew since, or has no size (a pipe): read on
                data += _read_up_to(descriptor, wanted - len(data))
        finally:
            os.close(descriptor)
    except OSError as exc:
        return [], [ManifestProblem(file, 1, 1, "", f"cannot read the file: {exc.strerror}")]
    if len(data) > limits.max_file_bytes:
        limit = _size(limits.max_file_bytes)
        message = f"the file is larger than {limit}, the limit for one manifest file: split it"
        return [], [ManifestProblem(file, 1, 1, "", message)]
    text, problem = decode_utf8(data, file)
    if problem is not None:
        return [], [problem]
    return parse_yaml(text, file, limits, libyaml=libyaml)


def _read_up_to(descriptor: int, count: int, end: int = -1) -> bytes:
    """``count`` bytes from ``descriptor``, or fewer at the end of the file.

    The end is where a read gives nothing, or where ``end`` bytes have been read (the
    size of a regular file: asked one byte more, a file that grew meanwhile gives it).
    """
    parts = []
    total = 0
    while count > 0:
        part = os.read(descriptor, count)
        if not part:
            break
        parts.append(part)
        count -= len(part)
        total += len(part)
        if total == end:
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


def decode_utf8(data: bytes, file: str) -> tuple[str, ManifestProblem | None]:
    """The text of a UTF-8 file (a leading BOM dropped), or where it stops being UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "", ManifestProblem(file, 1, 1, "", "the file is UTF-16: save it as UTF-8")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8", errors="replace")) + 1
        message = f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x}): save it as UTF-8"
        return "", ManifestProblem(file, line, column, "", message)


def parse_yaml(
    text: str, file: str, limits: YamlLimits, *, libyaml: bool = HAVE_LIBYAML, quick: bool = True
) -> tuple[list[YamlDocument], list[ManifestProblem]]:
    """Compose and build every document of ``text``; empty documents are skipped.

    ``quick`` tries the quick build (``yaml_quick``) first where it can apply; the
    result is the same either way (the tests compare the two).
    """
    if quick and libyaml and QUICK_RESOLVE:
        # Most manifests are plain block YAML, read without composing (``yaml_block``);
        # only with libyaml, so the pure parser's own tests still compose every text.
        block = block_value(text, limits.max_depth)
        if block is not None:
            value, line = block
            source = _Source(text, file, limits, libyaml)
            return [YamlDocument(value, Mark(line, 1), partial(source.spots, 0))], []
    nodes, error = compose_documents(text, limits.max_depth, libyaml=libyaml)
    # Without an anchor no value can be an alias: a document may then be built quickly.
    builder = _Builder(file, limits, record=False, quick=quick and "&" not in text)
    source = _Source(text, file, limits, libyaml)
    built = (
        builder.document(node, partial(source.spots, index)) for index, node in enumerate(nodes)
    )
    documents = [doc for doc in built if doc is not None]
    if error is not None:
        problem = parse_error_problem(error, text, file, len(nodes), limits.max_depth)
        builder.problems.append(problem)
    return documents, builder.problems


class _Source:
    """A file's text, kept to read its documents' positions again if a problem needs them.

    Reading again is the same composition and the same build as the first time, so
    the spots are exactly those the first read would have recorded.
    """

    __slots__ = ("_spots", "file", "libyaml", "limits", "text")

    def __init__(self, text: str, file: str, limits: YamlLimits, libyaml: bool) -> None:
        self.text, self.file, self.limits, self.libyaml = text, file, limits, libyaml
        self._spots: list[dict[YamlPath, Spot]] | None = None

    def spots(self, index: int) -> dict[YamlPath, Spot]:
        if self._spots is None:
            nodes, _ = compose_documents(self.text, self.limits.max_depth, libyaml=self.libyaml)
            builder = _Builder(self.file, self.limits, record=True)
            self._spots = []
            for node in nodes:
                document = builder.document(node, {})
                self._spots.append(document.nodes if document is not None else {})
        return self._spots[index]


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MiB" if count % (1024 * 1024) == 0 else f"{count} bytes"


def _spot(node: Node, key: Node | None) -> Spot:
    start = node.start_mark
    text = node.value if isinstance(node, ScalarNode) else None
    # libyaml says '' for a plain scalar, the pure parser None.
    plain = not getattr(node, "style", None)
    # One string per distinct tag, not one per value.
    tag = sys.intern(node.tag)
    if key is None:
        return (start.line + 1, start.column + 1, 0, 0, tag, plain, text)
    at = key.start_mark
    return (start.line + 1, start.column + 1, at.line + 1, at.column + 1, tag, plain, text)


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Abort(Exception):
    """Stops building a document whose cost or shape is out of bounds."""

    def __init__(self, node: Node, path: YamlPath, message: str, *, whole_file: bool) -> None:
        super().__init__(message)
        self.node, self.path, self.message, self.whole_file = node, path, message, whole_file


@dataclass
class _Walk:
    """What building one document collects."""

    nodes: dict[YamlPath, Spot] = field(default_factory=dict)
    rejected: set[YamlPath] = field(default_factory=set)
    ancestors: set[int] = field(default_factory=set)


class _Builder:
    """Builds plain values from composed nodes, applying every strictness rule."""

    def __init__(
        self, file: str, limits: YamlLimits, *, record: bool = True, quick: bool = False
    ) -> None:
        self.file, self.limits = file, limits
        self._record = record  # whether to keep each value's spot
        # Whether to try the quick build first (yaml_quick): only for a text without
        # anchors, and never when recording spots, which the quick build does not keep.
        self._quick = quick and not record
        self.problems: list[ManifestProblem] = []
        self._seen: set[int] = set()
        self._alias_nodes = 0
        self._exhausted = False

    def _problem(self, node: Node, path: YamlPath, message: str) -> None:
        mark = _mark(node)
        self.problems.append(
            ManifestProblem(self.file, mark.line, mark.column, format_path(path), message)
        )

    def document(
        self, root: Node, spots: Callable[[], dict[YamlPath, Spot]] | dict[YamlPath, Spot]
    ) -> YamlDocument | None:
        """The document of ``root``, or None when it is empty or had to be abandoned.

        Its spots are those recorded now, or (not recording) ``spots``.
        """
        if self._exhausted or (isinstance(root, ScalarNode) and root.tag == _NULL):
            return None
        if self._quick:
            try:
                value = quick_value(root, self.limits.max_depth)
            except Irregular:
                pass  # built again below, strictly, to find and place what is irregular
            else:
                return YamlDocument(value, _mark(root), spots)
        walk = _Walk()
        before = len(self.problems)
        try:
            value = self._build(walk, root, (), root, None, 1, None)
        except _Abort as abort:
            self._problem(abort.node, abort.path, abort.message)
            self._exhausted = abort.whole_file
            return None
        flawed = len(self.problems) > before
        kept = walk.nodes if self._record else spots
        return YamlDocument(value, _mark(root), kept, frozenset(walk.rejected), flawed)

    def _build(
        self,
        walk: _Walk,
        node: Node,
        path: YamlPath,
        near: Node,
        key: Node | None,
        depth: int,
        alias: tuple[YamlPath, Node] | None,
    ) -> Any:
        """Build ``node``; ``near`` is the closest key above it, ``alias`` where an alias began."""
        ident = id(node)
        if ident in walk.ancestors:
            raise _Abort(near, path, "recursive alias: it contains itself", whole_file=False)
        if alias is None and ident in self._seen:
            alias = (path, near)  # the same node again: an alias starts expanding here
        self._seen.add(ident)
        if alias is not None:
            self._alias_nodes += 1
            if self._alias_nodes > self.limits.max_alias_nodes:
                limit = self.limits.max_alias_nodes
                message = f"aliases expand to more than {limit} values: write the values out"
                raise _Abort(alias[1], alias[0], message, whole_file=True)
        if self._record:
            walk.nodes[path] = _spot(node, key)
        tag = node.tag
        if isinstance(node, ScalarNode):
            if tag not in _SCALAR_TAGS:
                return self._reject(walk, node, path)
            return self._scalar(walk, node, path)
        if depth > self.limits.max_depth:
            # No path: the pure parser can only find this spot from its event stream.
            raise _Abort(node, (), too_deep_message(self.limits.max_depth), whole_file=False)
        if tag not in (_SEQ, _MAP):
            return self._reject(walk, node, path)
        walk.ancestors.add(ident)
        try:
            if isinstance(node, SequenceNode):
                return [
                    self._build(walk, item, (*path, i), near, None, depth + 1, alias)
                    for i, item in enumerate(node.value)
                ]
            return self._mapping(walk, node, path, depth, alias)
        finally:
            walk.ancestors.discard(ident)

    def _mapping(
        self,
        walk: _Walk,
        node: MappingNode,
        path: YamlPath,
        depth: int,
        alias: tuple[YamlPath, Node] | None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first: dict[str, Node] = {}
        for key_node, value_node in node.value:
            name = self._key(key_node, path)
            if name is None:
                continue
            if name in first:
                seen = _mark(first[name])
                message = (
                    f"duplicate key '{name}' (first at line {seen.line}, column {seen.column}):"
                    " YAML would silently keep only the last one"
                )
                self._problem(key_node, (*path, name), message)
                continue
            first[name] = key_node
            result[name] = self._build(
                walk, value_node, (*path, name), key_node, key_node, depth + 1, alias
            )
        return result

    def _key(self, node: Node, path: YamlPath) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _STR:
            return str(node.value)
        if node.tag == _MERGE:
            message = "merge keys ('<<') are not supported: write the fields out, or use Defaults"
        elif isinstance(node, ScalarNode) and node.tag in _SCALAR_TAGS:
            read_as = kind_words(short_tag(node.tag))
            message = f"the key '{node.value}' is read as {read_as}: keys are text, quote it"
        elif isinstance(node, ScalarNode):
            message = f"the tag {_display(node.tag)} is not allowed on a key"
        else:
            message = f"a key must be text, not {kind_words(short_tag(node.tag))}"
        self._problem(node, path, message)
        return None

    def _scalar(self, walk: _Walk, node: ScalarNode, path: YamlPath) -> Any:
        if node.tag == _STR:
            return node.value
        try:
            return _CONSTRUCTOR.yaml_constructors[node.tag](_CONSTRUCTOR, node)
        except CONSTRUCT_ERRORS:
            # An explicit tag on text it does not fit, e.g. ``!!int twelve``.
            walk.rejected.add(path)
            read_as = kind_words(short_tag(node.tag))
            self._problem(node, path, f"'{node.value}' cannot be read as {read_as}")
            return None

    def _reject(self, walk: _Walk, node: Node, path: YamlPath) -> None:
        walk.rejected.add(path)
        message = (
            f"the tag {_display(node.tag)} is not allowed: manifests use plain YAML"
            " (text, numbers, booleans, lists and mappings)"
        )
        self._problem(node, path, message)


def _display(tag: str) -> str:
    return f"!!{tag[len(_PREFIX) :]}" if tag.startswith(_PREFIX) else tag
