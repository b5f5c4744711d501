"""Strict YAML reading: the same strictness and the same report from libyaml and pure Python."""

from __future__ import annotations

import contextlib
import os
import threading
from datetime import date

import pytest

from benchmarks.yaml_limits import billion_laughs
from reconciler.manifests.yaml_strict import (
    HAVE_LIBYAML,
    YamlLimits,
    format_path,
    parse_yaml,
    read_yaml_file,
)

LIMITS = YamlLimits()
LOADERS = [
    pytest.param(
        True, id="libyaml", marks=pytest.mark.skipif(not HAVE_LIBYAML, reason="no libyaml")
    ),
    pytest.param(False, id="pure"),
]


def problems_of(text: str, libyaml: bool, limits: YamlLimits = LIMITS) -> list[str]:
    return [str(p) for p in parse_yaml(text, "f.yaml", limits, libyaml=libyaml)[1]]


@pytest.mark.parametrize("libyaml", LOADERS)
def test_plain_yaml_builds_python_values_with_yaml_1_1_typing(libyaml):
    text = "a: text\nb: 12\nc: 0.60\nd: no\ne: 2024-01-01\nf: ~\ng: [x, 'y']\nh: {i: on}\n"
    documents, problems = parse_yaml(text, "f.yaml", LIMITS, libyaml=libyaml)
    assert problems == []
    assert documents[0].value == {
        "a": "text",
        "b": 12,
        "c": 0.6,
        "d": False,
        "e": date(2024, 1, 1),
        "f": None,
        "g": ["x", "y"],
        "h": {"i": True},
    }


@pytest.mark.parametrize("libyaml", LOADERS)
def test_positions_read_again_on_demand_are_each_documents_own(libyaml):
    # Positions are read again from the text only when asked for: an empty document
    # between two others must not shift which document's positions are returned.
    text = "a: 1\n---\n---\nb:\n  - x\n  - y\n---\nc: &v [1]\nd: *v\n"
    documents, problems = parse_yaml(text, "f.yaml", LIMITS, libyaml=libyaml)
    assert problems == []
    assert [d.value for d in documents] == [
        {"a": 1},
        {"b": ["x", "y"]},
        {"c": [1], "d": [1]},
    ]
    assert documents[0].locate(("a",))[1].value.line == 1
    found, where = documents[1].locate(("b", 1))
    assert found == ("b", 1)
    assert (where.value.line, where.value.column) == (6, 5)
    found, where = documents[2].locate(("d", 0))
    assert found == ("d", 0)
    assert where.value.line == 8


@pytest.mark.parametrize("libyaml", LOADERS)
def test_every_value_and_key_is_located_one_based(libyaml):
    text = "spec:\n  pricing:\n    - {label: input, amount: '0.60'}\n"
    (document,), _ = parse_yaml(text, "f.yaml", LIMITS, libyaml=libyaml)
    found, where = document.locate(("spec", "pricing", 0, "amount"))
    assert found == ("spec", "pricing", 0, "amount")
    assert (where.value.line, where.value.column) == (3, 30)
    assert where.key is not None
    assert (where.key.line, where.key.column) == (3, 22)
    assert (where.tag, where.plain, where.text) == ("str", False, "0.60")


@pytest.mark.parametrize("libyaml", LOADERS)
def test_locate_falls_back_to_the_deepest_located_ancestor(libyaml):
    (document,), _ = parse_yaml("spec:\n  name: x\n", "f.yaml", LIMITS, libyaml=libyaml)
    found, where = document.locate(("spec", "missing", 3))
    assert found == ("spec",)
    assert (where.value.line, where.value.column) == (2, 3)


@pytest.mark.parametrize("libyaml", LOADERS)
def test_unquoted_scalar_records_that_yaml_chose_its_type(libyaml):
    (document,), _ = parse_yaml("value: no\n", "f.yaml", LIMITS, libyaml=libyaml)
    _, where = document.locate(("value",))
    assert (where.tag, where.plain, where.text) == ("bool", True, "no")


@pytest.mark.parametrize("libyaml", LOADERS)
def test_duplicate_key_names_both_locations(libyaml):
    text = "spec:\n  name: a\n  value: b\n  name: c\n"
    documents, problems = parse_yaml(text, "f.yaml", LIMITS, libyaml=libyaml)
    assert [str(p) for p in problems] == [
        "f.yaml:4:3: spec.name: duplicate key 'name' (first at line 2, column 3):"
        " YAML would silently keep only the last one"
    ]
    assert documents[0].value == {"spec": {"name": "a", "value": "b"}}


@pytest.mark.parametrize("libyaml", LOADERS)
def test_python_tag_is_reported_and_never_executed(libyaml, tmp_path):
    marker = tmp_path / "pwned"
    text = f'value: !!python/object/apply:os.system ["touch {marker}"]\n'
    documents, problems = parse_yaml(text, "f.yaml", LIMITS, libyaml=libyaml)
    assert not marker.exists()
    assert [(p.line, p.column, p.path) for p in problems] == [(1, 8, "value")]
    assert "!!python/object/apply:os.system is not allowed" in problems[0].message
    assert documents[0].rejected == frozenset({("value",)})


@pytest.mark.parametrize("libyaml", LOADERS)
@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("v: !!python/name:os.system\n", "!!python/name:os.system"),
        ("v: !!binary aGVsbG8=\n", "!!binary"),
        ("v: !!set {a: null}\n", "!!set"),
        ("v: !!omap [a: 1]\n", "!!omap"),
        ("v: !custom thing\n", "!custom"),
    ],
)
def test_only_safe_tags_are_allowed(libyaml, text, tag):
    (problem,) = parse_yaml(text, "f.yaml", LIMITS, libyaml=libyaml)[1]
    assert problem.message.startswith(f"the tag {tag} is not allowed")


@pytest.mark.parametrize("libyaml", LOADERS)
def test_explicit_str_tag_is_text(libyaml):
    documents, problems = parse_yaml("v: !!str 12\n", "f.yaml", LIMITS, libyaml=libyaml)
    assert (documents[0].value, problems) == ({"v": "12"}, [])


@pytest.mark.parametrize("libyaml", LOADERS)
def test_explicit_tag_that_does_not_fit_its_text_is_reported(libyaml):
    assert problems_of("v: !!int twelve\n", libyaml) == [
        "f.yaml:1:4: v: 'twelve' cannot be read as a number"
    ]


@pytest.mark.parametrize("libyaml", LOADERS)
def test_keys_must_be_text(libyaml):
    assert problems_of("on: 1\n2: x\n? [a]\n: y\n<<: {b: 1}\n", libyaml) == [
        "f.yaml:1:1: the key 'on' is read as a boolean: keys are text, quote it",
        "f.yaml:2:1: the key '2' is read as a number: keys are text, quote it",
        "f.yaml:3:3: a key must be text, not a list",
        "f.yaml:5:1: merge keys ('<<') are not supported: write the fields out, or use Defaults",
    ]


@pytest.mark.parametrize("libyaml", LOADERS)
def test_alias_within_budget_is_expanded(libyaml):
    text = "base: &d [Research, Support]\nother: *d\n"
    documents, problems = parse_yaml(text, "f.yaml", LIMITS, libyaml=libyaml)
    assert problems == []
    assert documents[0].value["other"] == ["Research", "Support"]


@pytest.mark.parametrize("libyaml", LOADERS)
def test_billion_laughs_is_refused_by_the_alias_budget(libyaml):
    # Time and memory of this are measured in benchmarks/yaml_limits.py, not here.
    documents, problems = parse_yaml(billion_laughs(), "f.yaml", LIMITS, libyaml=libyaml)
    assert documents == []
    assert [p.message for p in problems] == [
        "aliases expand to more than 10000 values: write the values out"
    ]


@pytest.mark.parametrize("libyaml", LOADERS)
def test_alias_budget_covers_the_whole_file_and_stops_reading_it(libyaml):
    limits = YamlLimits(max_alias_nodes=25)
    documents = "\n---\n".join(["a: &a [1, 2, 3, 4, 5]\nb: [*a, *a]"] * 4)
    built, problems = parse_yaml(documents, "f.yaml", limits, libyaml=libyaml)
    # Each document expands 12 aliased values: the third crosses 25 at its first alias.
    assert len(built) == 2
    assert [(p.line, p.column, p.path) for p in problems] == [(8, 1, "b[0]")]


@pytest.mark.parametrize("libyaml", LOADERS)
def test_recursive_alias_is_reported(libyaml):
    assert problems_of("a: &x [1, *x]\n", libyaml) == [
        "f.yaml:1:1: a[1]: recursive alias: it contains itself"
    ]


@pytest.mark.parametrize("libyaml", LOADERS)
@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param("a: " + "[" * 33 + "]" * 33 + "\n", "1:35", id="flow-33"),
        pytest.param("a: " + "[" * 1500 + "]" * 1500 + "\n", "1:35", id="flow-1500"),
        pytest.param("- " * 40 + "x\n", "1:65", id="block-sequences"),
        pytest.param("".join(" " * i + "k:\n" for i in range(40)), "33:33", id="block-mappings"),
        pytest.param("a:\n  - " + "[{b: " * 40 + "\n", "2:80", id="mixed"),
    ],
)
def test_deep_nesting_is_reported_at_the_same_place_by_both_parsers(libyaml, text, where):
    # The root collection is level 1: the 33rd level is the first one too deep.
    assert problems_of(text, libyaml) == [f"f.yaml:{where}: nested more than 32 levels deep"]


@pytest.mark.parametrize("libyaml", LOADERS)
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a: " + "[" * 500_000, id="flow"),
        pytest.param("a: " + "{a: " * 250_000, id="flow-mappings"),
        pytest.param("- " * 500_000 + "x", id="block"),
    ],
)
def test_a_megabyte_of_nesting_is_refused_at_the_depth_limit(libyaml, text):
    # PyYAML's pure scanner is quadratic in flow depth (libyaml stops at 1000 levels):
    # the guard stops both at 32. benchmarks/yaml_limits.py measures how fast.
    (problem,) = parse_yaml(text, "f.yaml", LIMITS, libyaml=libyaml)[1]
    assert problem.message == "nested more than 32 levels deep"


@pytest.mark.parametrize("libyaml", LOADERS)
def test_nesting_up_to_the_limit_is_fine(libyaml):
    text = "a: " + "[" * 31 + "]" * 31 + "\n"
    assert problems_of(text, libyaml) == []


@pytest.mark.parametrize("libyaml", LOADERS)
def test_syntax_error_is_worded_the_same_by_both_parsers(libyaml):
    assert problems_of("a: [1, 2\nb: 3\n", libyaml) == [
        "f.yaml:2:2: invalid YAML: expected ',' or ']', but got ':'"
        " (while parsing a flow sequence at line 1, column 4)"
    ]


@pytest.mark.parametrize("libyaml", LOADERS)
def test_documents_before_a_syntax_error_are_kept(libyaml):
    documents, problems = parse_yaml("a: 1\n---\nb: [\n", "f.yaml", LIMITS, libyaml=libyaml)
    assert [d.value for d in documents] == [{"a": 1}]
    assert len(problems) == 1
    assert problems[0].message.startswith("invalid YAML")


@pytest.mark.parametrize("libyaml", LOADERS)
def test_control_character_is_reported_where_it_is(libyaml):
    assert problems_of("a: b\nc: d\x07\n", libyaml) == [
        "f.yaml:2:5: character U+0007 is not allowed in YAML text"
    ]


@pytest.mark.parametrize("libyaml", LOADERS)
def test_empty_documents_are_skipped(libyaml):
    documents, problems = parse_yaml(
        "---\n# only a comment\n---\na: 1\n---\n", "f.yaml", LIMITS, libyaml=libyaml
    )
    assert ([d.value for d in documents], problems) == ([{"a": 1}], [])


def test_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 100 + "\n")
    limits = YamlLimits(max_file_bytes=50)
    documents, problems = read_yaml_file(path, "big.yaml", limits)
    assert documents == []
    assert [str(p) for p in problems] == [
        "big.yaml:1:1: the file is larger than 50 bytes, the limit for one manifest file: split it"
    ]


def test_default_size_limit_is_one_mebibyte(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * (1024 * 1024) + b"\n")
    (problem,) = read_yaml_file(path, "big.yaml", LIMITS)[1]
    assert "larger than 1 MiB" in problem.message


def test_file_at_the_size_limit_is_read(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("a: 1\n")
    assert read_yaml_file(path, "ok.yaml", YamlLimits(max_file_bytes=5))[1] == []


def test_text_that_is_not_utf8_is_located(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: 1\nname: Café\n".encode("latin-1"))
    assert [str(p) for p in read_yaml_file(path, "latin1.yaml", LIMITS)[1]] == [
        "latin1.yaml:2:10: the file is not UTF-8 text (byte 0xe9): save it as UTF-8"
    ]


def test_utf16_file_is_named_as_such(tmp_path):
    path = tmp_path / "utf16.yaml"
    path.write_text("a: 1\n", encoding="utf-16")
    (problem,) = read_yaml_file(path, "utf16.yaml", LIMITS)[1]
    assert problem.message == "the file is UTF-16: save it as UTF-8"


def test_utf8_with_bom_and_non_ascii_text_is_read(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: Caf\xc3\xa9\n")
    documents, problems = read_yaml_file(path, "bom.yaml", LIMITS)
    assert (documents[0].value, problems) == ({"name": "Café"}, [])


def test_unreadable_file_is_a_problem_not_an_exception(tmp_path):
    documents, problems = read_yaml_file(tmp_path, "dir.yaml", LIMITS)
    assert documents == []
    assert problems[0].message.startswith("cannot read the file")


def test_key_paths_read_as_written():
    assert format_path(("spec", "pricing", 0, "amount")) == "spec.pricing[0].amount"
    assert format_path(()) == ""
    assert format_path(("metadata",)) == "metadata"


@pytest.mark.parametrize("libyaml", LOADERS)
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!bool maybe\n", "'maybe' cannot be read as a boolean"),
        ("a: !!int ''\n", "'' cannot be read as a number"),
        ("a: !!float ''\n", "'' cannot be read as a number"),
    ],
)
def test_an_explicit_tag_whose_constructor_fails_on_a_lookup_is_a_problem(libyaml, text, message):
    # PyYAML raises KeyError / IndexError here, which once ended as an internal error.
    assert problems_of(text, libyaml) == [f"f.yaml:1:4: a: {message}"]


@pytest.mark.parametrize(
    ("limit", "values", "problems"),
    [
        (1024, [{"a": 1, "b": 2}], []),
        (6, [], ["p.yaml:1:1: the file is larger than 6 bytes, the limit for one manifest file"]),
    ],
)
def test_a_file_without_a_size_is_read_in_pieces_to_its_end_or_the_limit(
    tmp_path, limit, values, problems
):
    # A named pipe has no size: what arrives in several writes is read on to the end.
    pipe = tmp_path / "p.yaml"
    os.mkfifo(pipe)

    def write() -> None:
        with contextlib.suppress(BrokenPipeError), pipe.open("wb") as stream:
            for piece in (b"a: 1\n", b"b: 2\n"):
                stream.write(piece)
                stream.flush()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        documents, found = read_yaml_file(pipe, "p.yaml", YamlLimits(max_file_bytes=limit))
    finally:
        writer.join()
    assert [d.value for d in documents] == values
    assert [str(p).removesuffix(": split it") for p in found] == problems


def _sized_as(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """Make ``fstat`` report ``size`` bytes: the file changed since its size was taken."""
    real_fstat = os.fstat

    def fstat(descriptor: int) -> os.stat_result:
        status = list(real_fstat(descriptor))
        status[6] = size  # st_size
        return os.stat_result(status)

    monkeypatch.setattr(os, "fstat", fstat)


def _reads_in_pieces(monkeypatch: pytest.MonkeyPatch, piece: int) -> list[int]:
    """Make each ``read`` give at most ``piece`` bytes; the sizes asked are noted."""
    real_read = os.read
    asked: list[int] = []

    def read(descriptor: int, count: int) -> bytes:
        asked.append(count)
        return real_read(descriptor, min(count, piece))

    monkeypatch.setattr(os, "read", read)
    return asked


TEXT = b"a: 1\nb: [x, y]\nc: text of forty-odd bytes\n"


@pytest.mark.parametrize("size", [0, 1, 10, len(TEXT) - 1])
def test_a_file_that_grew_since_its_size_was_taken_is_read_to_its_end(tmp_path, monkeypatch, size):
    path = tmp_path / "grew.yaml"
    path.write_bytes(TEXT)
    _sized_as(monkeypatch, size)
    (document,), problems = read_yaml_file(path, "grew.yaml", LIMITS)
    assert (document.value, problems) == (
        {"a": 1, "b": ["x", "y"], "c": "text of forty-odd bytes"},
        [],
    )


@pytest.mark.parametrize("size", [0, 10, 20])
def test_a_file_that_grew_past_the_limit_since_its_size_was_taken_is_refused(
    tmp_path, monkeypatch, size
):
    path = tmp_path / "grew.yaml"
    path.write_bytes(TEXT)
    _sized_as(monkeypatch, size)
    documents, problems = read_yaml_file(path, "grew.yaml", YamlLimits(max_file_bytes=20))
    assert documents == []
    assert [str(p) for p in problems] == [
        "grew.yaml:1:1: the file is larger than 20 bytes, the limit for one manifest file: split it"
    ]


@pytest.mark.parametrize("size", [len(TEXT) + 1, len(TEXT) + 100, 10_000])
def test_a_file_that_shrank_since_its_size_was_taken_is_read_as_it_is(tmp_path, monkeypatch, size):
    path = tmp_path / "shrank.yaml"
    path.write_bytes(TEXT)
    _sized_as(monkeypatch, size)
    (document,), problems = read_yaml_file(path, "shrank.yaml", YamlLimits(max_file_bytes=60))
    assert (document.value["c"], problems) == ("text of forty-odd bytes", [])


@pytest.mark.parametrize("piece", [1, 7, len(TEXT) - 1, len(TEXT)])
def test_a_file_read_in_short_pieces_is_read_whole_and_no_further(tmp_path, monkeypatch, piece):
    path = tmp_path / "pieces.yaml"
    path.write_bytes(TEXT)
    asked = _reads_in_pieces(monkeypatch, piece)
    (document,), problems = read_yaml_file(path, "pieces.yaml", LIMITS)
    assert (document.value["b"], problems) == (["x", "y"], [])
    # Never more than one byte past the size asked for, whatever arrives per read.
    assert asked[0] == len(TEXT) + 1
    assert max(asked) == len(TEXT) + 1


def test_a_file_at_the_limit_is_read_and_one_byte_over_it_is_refused_in_pieces(
    tmp_path, monkeypatch
):
    path = tmp_path / "edge.yaml"
    path.write_bytes(TEXT)
    _reads_in_pieces(monkeypatch, 5)
    assert read_yaml_file(path, "edge.yaml", YamlLimits(max_file_bytes=len(TEXT)))[1] == []
    (problem,) = read_yaml_file(path, "edge.yaml", YamlLimits(max_file_bytes=len(TEXT) - 1))[1]
    assert problem.message.startswith(f"the file is larger than {len(TEXT) - 1} bytes")
