"""The manifest document models: fields, strict types and the value rules."""

from __future__ import annotations

import re
import typing
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.catalog.wire import MODEL_FIELDS, PatchModelDraftApiRequest
from reconciler.manifests.iso4217 import ISO_4217_CODES, WITHDRAWN_CODES
from reconciler.manifests.model import (
    AMOUNT_PATTERN,
    SPEC_FIELDS,
    DefaultsDocument,
    ModelDocument,
    ModelSpec,
    PricingEntry,
)


def model(**spec: object) -> dict[str, object]:
    return {
        "apiVersion": "reconciler/v1",
        "kind": "Model",
        "metadata": {"key": "gpt-4o"},
        "spec": spec,
    }


def errors(data: dict[str, object]) -> list[tuple[tuple[object, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        ModelDocument.model_validate(data)
    return [(tuple(e["loc"]), e["type"]) for e in caught.value.errors()]


def price(**changes: str) -> dict[str, str]:
    return {"label": "input", "unit": "1M tokens", "amount": "0.60", "currency": "USD", **changes}


def test_spec_takes_every_model_field_of_the_api_but_pending_ids():
    assert set(MODEL_FIELDS) - set(SPEC_FIELDS) == {"pending_ids"}
    assert list(typing.get_type_hints(ModelSpec)) == list(SPEC_FIELDS)


def test_spec_field_types_follow_the_wire_model():
    hints = typing.get_type_hints(ModelSpec)
    wire = PatchModelDraftApiRequest.model_fields
    for name in SPEC_FIELDS:
        wire_type = typing.get_args(wire[name].annotation)[0]  # X | None -> X
        spec_type = hints[name]
        if name == "pricing":
            assert typing.get_origin(spec_type) is list
            continue
        assert typing.get_origin(spec_type) == typing.get_origin(wire_type), name
        assert (spec_type if typing.get_origin(spec_type) is None else list) == (
            wire_type if typing.get_origin(wire_type) is None else list
        ), name


def test_valid_document_keeps_only_the_fields_given():
    document = ModelDocument.model_validate(model(name="GPT-4o", departments=[]))
    assert document.spec == {"name": "GPT-4o", "departments": []}
    assert document.metadata.draft_id is None
    assert document.lifecycle.ignore_changes == []


def test_spec_and_lifecycle_are_optional():
    document = ModelDocument.model_validate(
        {"apiVersion": "reconciler/v1", "kind": "Model", "metadata": {"key": "bare"}}
    )
    assert document.spec == {}


@pytest.mark.parametrize(
    ("spec", "loc", "kind"),
    [
        ({"active": "maybe"}, ("spec", "active"), "bool_type"),
        ({"active": "true"}, ("spec", "active"), "bool_type"),
        ({"active": 1}, ("spec", "active"), "bool_type"),
        ({"name": 12}, ("spec", "name"), "string_type"),
        ({"name": None}, ("spec", "name"), "string_type"),
        ({"departments": "Research"}, ("spec", "departments"), "list_type"),
        ({"departments": [1]}, ("spec", "departments", 0), "string_type"),
        ({"departments": [""]}, ("spec", "departments", 0), "string_too_short"),
        ({"nmae": "x"}, ("spec", "nmae"), "extra_forbidden"),
        ({"pending_ids": []}, ("spec", "pending_ids"), "extra_forbidden"),
    ],
)
def test_types_are_strict_without_coercion(spec, loc, kind):
    assert errors(model(**spec)) == [(loc, kind)]


@pytest.mark.parametrize("amount", ["0", "0.60", "15", "0.0375", "1000000.5"])
def test_amount_accepts_plain_non_negative_decimals(amount):
    ModelDocument.model_validate(model(pricing=[price(amount=amount)]))


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("abc", "is not a decimal number"),
        ("$0.60", "is not a decimal number"),
        ("NaN", "is not a decimal number"),
        ("Infinity", "is not a decimal number"),
        ("-0.60", "is negative"),
        ("-0", "is negative"),
        ("1e3", "with digits and at most one point"),
        (" 1.5", "with digits and at most one point"),
        ("+1", "with digits and at most one point"),
        ("1_000", "with digits and at most one point"),
        (".5", "with digits and at most one point"),
    ],
)
def test_amount_rejects_anything_else(amount, words):
    with pytest.raises(ValidationError) as caught:
        ModelDocument.model_validate(model(pricing=[price(amount=amount)]))
    (error,) = caught.value.errors()
    assert error["loc"] == ("spec", "pricing", 0, "amount")
    assert words in error["msg"]


@settings(max_examples=500, deadline=None)
@given(
    amount=st.one_of(
        st.from_regex(AMOUNT_PATTERN, fullmatch=True),
        st.from_regex(r"\A[-+ ]?[0-9_.,eE]{0,8}[\n ]?\Z"),
        st.text(max_size=8),
    )
)
def test_an_amount_is_accepted_exactly_when_written_plainly(amount):
    # Digits and at most one point is always a finite, non-negative decimal, so the
    # quick acceptance of such text skips no rule that could refuse it.
    plain = re.fullmatch(AMOUNT_PATTERN, amount) is not None
    try:
        ModelDocument.model_validate(model(pricing=[price(amount=amount)]))
    except ValidationError:
        assert not plain
    else:
        assert plain
        number = Decimal(amount)
        assert number.is_finite()
        assert number >= 0


@pytest.mark.parametrize("currency", ["USD", "EUR", "JPY", "XCG", "ZWG"])
def test_currency_accepts_active_iso_4217_codes(currency):
    ModelDocument.model_validate(model(pricing=[price(currency=currency)]))


@pytest.mark.parametrize(
    ("currency", "message"),
    [
        ("usd", "'usd' is not an ISO 4217 currency code; write it as 'USD'"),
        ("USS", "'USS' is not an ISO 4217 currency code; did you mean 'USD'?"),
        ("HRK", "'HRK' is not an ISO 4217 currency code any more (withdrawn): use 'EUR'"),
        ("ang", "'ang' is not an ISO 4217 currency code any more (withdrawn): use 'XCG'"),
        ("ZZZ", "'ZZZ' is not an ISO 4217 currency code"),
        ("US", "'US' is not an ISO 4217 currency code; did you mean 'USD'?"),
    ],
)
def test_currency_rejects_other_codes_with_a_hint(currency, message):
    with pytest.raises(ValidationError) as caught:
        ModelDocument.model_validate(model(pricing=[price(currency=currency)]))
    assert caught.value.errors()[0]["msg"] == message


def test_iso_4217_list_holds_the_178_active_codes():
    assert len(ISO_4217_CODES) == 178
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in ISO_4217_CODES)
    assert {"ANG", "BGN", "CUC", "HRK", "SLL", "ZWL"}.isdisjoint(ISO_4217_CODES)
    assert set(WITHDRAWN_CODES).isdisjoint(ISO_4217_CODES)
    assert set(WITHDRAWN_CODES.values()) <= ISO_4217_CODES


def test_pricing_entries_have_no_id_and_need_every_part():
    assert errors(model(pricing=[price(id="p-1")])) == [
        (("spec", "pricing", 0, "id"), "extra_forbidden")
    ]
    assert errors(model(pricing=[{"label": "input"}])) == [
        (("spec", "pricing", 0, "unit"), "missing"),
        (("spec", "pricing", 0, "amount"), "missing"),
        (("spec", "pricing", 0, "currency"), "missing"),
    ]


@pytest.mark.parametrize("key", ["gpt-4o", "o1", "claude-3.5_sonnet", "0", "a" * 128])
def test_key_accepts_lowercase_names(key):
    ModelDocument.model_validate({**model(), "metadata": {"key": key}})


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("GPT 4o", "; did you mean 'gpt-4o'?"),
        ("-gpt", "; did you mean 'gpt'?"),
        ("", ""),
        ("a" * 129, ""),
        ("gpt/4o", "; did you mean 'gpt-4o'?"),
        ("Command R+", "; did you mean 'command-r'?"),
    ],
)
def test_key_rejects_other_names(key, hint):
    with pytest.raises(ValidationError) as caught:
        ModelDocument.model_validate({**model(), "metadata": {"key": key}})
    (error,) = caught.value.errors()
    assert error["loc"] == ("metadata", "key")
    assert error["msg"].endswith(f"(got '{key}'){hint}")


def test_ignore_changes_names_spec_fields_only():
    document = ModelDocument.model_validate(
        {**model(), "lifecycle": {"ignore_changes": ["description", "pricing"]}}
    )
    assert document.lifecycle.ignore_changes == ["description", "pricing"]
    assert errors({**model(), "lifecycle": {"ignore_changes": ["pending_ids"]}}) == [
        (("lifecycle", "ignore_changes", 0), "literal_error")
    ]


def test_api_version_and_kind_are_fixed():
    assert errors({**model(), "apiVersion": "v1"}) == [(("apiVersion",), "literal_error")]
    assert errors({**model(), "kind": "Defaults"}) == [(("kind",), "literal_error")]


def test_defaults_document_has_spec_and_lifecycle_but_no_metadata():
    document = DefaultsDocument.model_validate(
        {
            "apiVersion": "reconciler/v1",
            "kind": "Defaults",
            "spec": {"provider": "OpenAI"},
            "lifecycle": {"ignore_changes": ["departments"]},
        }
    )
    assert document.spec == {"provider": "OpenAI"}
    with pytest.raises(ValidationError):
        DefaultsDocument.model_validate(
            {"apiVersion": "reconciler/v1", "kind": "Defaults", "metadata": {"key": "x"}}
        )


def test_pricing_entry_is_a_plain_dict_in_wire_form():
    document = ModelDocument.model_validate(model(pricing=[price()]))
    assert document.spec["pricing"] == [price()]
    assert isinstance(document.spec["pricing"][0], dict)
    assert set(typing.get_type_hints(PricingEntry)) == {"label", "unit", "amount", "currency"}
