"""``desired_digest``'s shortcut (pydantic's JSON of the sorted plain fields) is the digest
of ``canonical_json`` of ``to_plain`` fields, the form saved plans and the state's journal
record: the same string for every model, whatever its values."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.manifests.model import DesiredModel, SourceLocation
from reconciler.planning.normalize import canonical_json, desired_digest, to_plain


def digest_as_written(model: DesiredModel) -> str:
    """The digest as first defined: canonical JSON of the model with its plain fields."""
    value = {
        "key": model.key,
        "draft_id": model.draft_id,
        "fields": to_plain(model.fields),
        "ignore_changes": sorted(model.ignore_changes),
    }
    return "sha256:" + hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


# Any text: unicode, quotes, backslashes, control characters, U+2028, astral characters.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
PRICE = st.fixed_dictionaries(
    {
        "label": TEXT,
        "unit": st.sampled_from(["1M tokens", "image", "minute"]),
        "amount": st.decimals(min_value=0, max_value=1000, places=3).map(str),
        "currency": st.sampled_from(["USD", "EUR", "jpy"]),
    },
    optional={"id": TEXT},
)
SCALARS = st.one_of(st.none(), st.booleans(), TEXT)
# What a manifest holds, and what a DesiredModel built elsewhere may: numbers, decimals,
# tuples, sets, mappings that are not dicts, keys that are not strings.
ODD = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.frozensets(TEXT, max_size=3),
    st.tuples(TEXT, TEXT),
    st.dictionaries(st.one_of(st.integers(), st.booleans(), st.none()), TEXT, max_size=2),
    st.dictionaries(TEXT, TEXT, max_size=2).map(MappingProxyType),
)


def field_values(odd: bool) -> st.SearchStrategy[Any]:
    values = st.one_of(SCALARS, st.lists(TEXT, max_size=4), st.lists(PRICE, max_size=3))
    if odd:
        values = st.one_of(values, ODD, st.lists(ODD, max_size=2))
    return values


def models(odd: bool) -> st.SearchStrategy[DesiredModel]:
    names = st.one_of(
        st.sampled_from(["name", "provider", "departments", "pricing", "active"]), TEXT
    )
    return st.builds(
        DesiredModel,
        key=TEXT,
        fields=st.dictionaries(names, field_values(odd), max_size=8),
        draft_id=st.one_of(st.none(), TEXT),
        ignore_changes=st.frozensets(TEXT, max_size=3),
        source=st.just(SourceLocation("manifests/m.yaml", 1)),
    )


@given(models(odd=False))
def test_the_digest_of_a_manifest_model_is_the_canonical_one(model):
    assert desired_digest(model) == digest_as_written(model)


@given(models(odd=True))
def test_the_digest_of_any_model_is_the_canonical_one_or_its_error(model):
    try:
        expected: str | type[Exception] = digest_as_written(model)
    except (TypeError, ValueError) as exc:  # a Decimal is not JSON, nor are mixed keys
        expected = type(exc)
    if isinstance(expected, str):
        assert desired_digest(model) == expected
    else:
        with pytest.raises(expected):
            desired_digest(model)


def test_a_mapping_that_is_not_a_dict_is_digested_as_its_plain_dict():
    fields: Mapping[str, Any] = MappingProxyType({"name": "x", "pricing": [{"b": "1", "a": "2"}]})
    model = DesiredModel(key="m", fields=fields)
    assert desired_digest(model) == digest_as_written(model)
    assert desired_digest(model) == desired_digest(DesiredModel(key="m", fields=dict(fields)))


@pytest.mark.parametrize(
    "value", [1, 1.5, 1e16, 1e-7, float("inf"), {1: "a", 2: "b"}, {True: "a"}, {None: "a"}]
)
def test_numbers_and_keys_json_spells_apart_take_the_general_path(value):
    model = DesiredModel(key="m", fields={"name": value, "description": "é"})
    assert desired_digest(model) == digest_as_written(model)


def test_a_string_utf8_cannot_encode_fails_as_before():
    model = DesiredModel(key="m", fields={"name": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        digest_as_written(model)
    with pytest.raises(UnicodeEncodeError):
        desired_digest(model)


def test_a_decimal_fails_as_before():
    model = DesiredModel(key="m", fields={"name": Decimal("0.6")})
    with pytest.raises(TypeError, match="Decimal"):
        desired_digest(model)
