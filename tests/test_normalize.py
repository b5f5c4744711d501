import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from plan_builders import desired, live, price

from reconciler.catalog.wire import MODEL_FIELDS
from reconciler.planning.diff import compare
from reconciler.planning.normalize import (
    LIST_FIELDS,
    canonical_json,
    comparable,
    desired_digest,
    live_fingerprint,
    managed_fields,
    manifests_digest,
    normalize_amount,
    normalize_desired,
    normalize_live,
    to_plain,
)


def same(model, draft) -> bool:
    """Whether the live draft matches the desired model on every managed field."""
    wanted = normalize_desired(model)
    return compare(normalize_live(draft, wanted), wanted, wanted) == ()


def test_labels_match_case_insensitively_after_trimming():
    model = desired(provider="  openai ", departments=["research", "SUPPORT"])
    draft = live(provider="OpenAI", departments=["Research", "Support"])
    assert same(model, draft)
    assert normalize_desired(model)["provider"] == "openai"


def test_normalized_labels_keep_their_spelling_sorted_case_insensitively():
    model = desired(departments=["support", "Legal", "research"])
    assert normalize_desired(model)["departments"] == ["Legal", "research", "support"]


def test_label_lists_are_sets():
    assert same(desired(modalities=["text", "image"]), live(modalities=["image", "text"]))
    assert not same(desired(modalities=["text"]), live(modalities=["image", "text"]))


def test_identifier_lists_are_sets_and_sorted():
    model = desired(department_ids=["b", "a"], flag_ids=["f2", "f1"])
    assert normalize_desired(model) == {"department_ids": ["a", "b"], "flag_ids": ["f1", "f2"]}
    assert same(model, live(department_ids=["a", "b"], flag_ids=["f1", "f2"]))


def test_identifiers_are_compared_exactly():
    assert not same(desired(provider_id="P1"), live(provider_id="p1"))


def test_text_none_and_empty_string_are_equal():
    assert same(desired(description=""), live(description=None))
    assert same(desired(description=None), live(description=""))
    assert normalize_desired(desired(description=""))["description"] is None


def test_text_is_compared_exactly():
    assert not same(desired(name="GPT-4o"), live(name="gpt-4o"))
    assert not same(desired(name="GPT-4o "), live(name="GPT-4o"))


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("0.60", "0.6"),
        ("0.6", "0.6"),
        ("10", "10"),
        ("10.00", "10"),
        ("100", "100"),
        ("0.000", "0"),
        ("-0.0", "0"),
        ("1E+1", "10"),
        (" 2.50 ", "2.5"),
        ("not a number", "not a number"),
        ("NaN", "NaN"),
    ],
)
def test_amounts_are_normalized_by_value(written, normal):
    assert normalize_amount(written) == normal


def test_pricing_entries_compare_by_content_not_id():
    model = desired(pricing=[price("output", "0.60", "usd"), price("input", "0.15")])
    draft = live(
        pricing=[price("input", "0.150", id="p-9"), price("output", "0.6", id="p-3")],
        pricing_ids=["p-3", "p-9"],
    )
    assert same(model, draft)


def test_live_pricing_entries_keep_their_ids():
    draft = live(pricing=[price("input", "0.15", id="p-9")], pricing_ids=["p-9"])
    assert normalize_live(draft, ["pricing"])["pricing"] == [
        {"label": "input", "unit": "1M tokens", "amount": "0.15", "currency": "USD", "id": "p-9"}
    ]


def test_pricing_is_a_multiset():
    two = desired(pricing=[price("input", "1"), price("input", "1")])
    one = live(pricing=[price("input", "1", id="p-1")], pricing_ids=["p-1"])
    assert not same(two, one)


def test_pricing_label_and_unit_are_compared_exactly():
    assert not same(
        desired(pricing=[price("Input", "1")]),
        live(pricing=[price("input", "1", id="p-1")], pricing_ids=["p-1"]),
    )


def test_unmanaged_fields_are_neither_normalized_nor_compared():
    model = desired(name="A")
    assert normalize_desired(model) == {"name": "A"}
    assert same(model, live(name="A", provider="Anything", departments=["X"]))


def test_ignored_fields_are_dropped_from_the_desired_form():
    model = desired(name="A", description="kept by the catalog", ignore=("description",))
    assert managed_fields(model) == ("name",)
    assert normalize_desired(model) == {"name": "A"}
    assert same(model, live(name="A", description="edited in the catalog"))


def test_pending_ids_are_never_managed():
    model = desired(name="A", pending_ids=["k"])
    assert managed_fields(model) == ("name",)
    assert normalize_live(live(pending_ids=["k"]), ["pending_ids", "name"]) == {"name": None}


def test_normalize_live_refuses_an_unknown_field():
    with pytest.raises(ValueError, match="'colour' is not a model field"):
        normalize_live(live(), ["colour"])


def test_every_model_field_has_a_comparison_kind():
    draft = live()
    fields = [f for f in MODEL_FIELDS if f != "pending_ids"]
    assert set(normalize_live(draft, fields)) == set(fields)


def test_the_live_form_round_trips_through_json_and_still_compares():
    model = desired(
        provider="openai", departments=["support"], active=True, pricing=[price("in", "0.60")]
    )
    draft = live(
        provider="OpenAI",
        departments=["Support"],
        active=True,
        pricing=[price("in", "0.6", id="p-1")],
        pricing_ids=["p-1"],
    )
    stored = json.loads(json.dumps(normalize_live(draft, model.fields)))
    assert compare(stored, normalize_desired(model), model.fields) == ()
    assert stored == normalize_live(draft, model.fields)


def test_live_fingerprint_ignores_pending_proposals():
    assert live_fingerprint(live(name="A")) == live_fingerprint(live(name="A", pending_ids=["k"]))


def test_live_fingerprint_changes_with_the_live_state():
    assert live_fingerprint(live(name="A")) != live_fingerprint(live(name="B"))
    assert live_fingerprint(live(name="A")).startswith("sha256:")


def test_desired_digest_covers_fields_and_ignore_changes_but_not_the_file():
    base = desired(name="A")
    moved = desired(name="A", line=40)
    assert desired_digest(base) == desired_digest(moved)
    assert desired_digest(base) != desired_digest(desired(name="a"))
    assert desired_digest(base) != desired_digest(desired(name="A", ignore=("name",)))
    assert desired_digest(base) != desired_digest(desired(name="A", draft_id="d-1"))


def test_manifests_digest_does_not_depend_on_file_order():
    a, b = desired("a", name="A"), desired("b", name="B")
    assert manifests_digest([a, b]) == manifests_digest([b, a])
    assert manifests_digest([a]) != manifests_digest([a, b])


def test_desired_digest_treats_tuples_as_lists():
    model = desired(departments=("a", "b"))
    assert desired_digest(model) == desired_digest(desired(departments=["a", "b"]))


# --- properties -------------------------------------------------------------------------------

labels = st.lists(
    st.text(alphabet="abcdefgh XYZ", min_size=1, max_size=8).filter(str.strip),
    max_size=6,
    unique_by=lambda s: s.strip().casefold(),
)


def _recase(text: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if flips[i % len(flips)] else c for i, c in enumerate(text)).center(
        len(text) + 2
    )


@given(labels, st.randoms(use_true_random=False), st.lists(st.booleans(), min_size=1))
def test_label_lists_compare_equal_under_permutation_case_and_padding(items, rnd, flips):
    shuffled = [_recase(x, flips) for x in items]
    rnd.shuffle(shuffled)
    assert same(desired(voices=items), live(voices=shuffled))


@given(labels, labels)
def test_label_lists_compare_equal_only_when_they_name_the_same_labels(a, b):
    expected = {x.strip().casefold() for x in a} == {x.strip().casefold() for x in b}
    assert same(desired(voices=a), live(voices=b)) is expected


amounts = st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False)


def _padded(text: str, zeros: int = 1) -> str:
    """The same decimal with trailing zeros after the point."""
    return text + ("0" * zeros if "." in text else "." + "0" * zeros)


@given(amounts, st.integers(min_value=1, max_value=3))
def test_amounts_with_trailing_zeros_are_equal(value, zeros):
    text = format(value, "f")
    assert normalize_amount(_padded(text, zeros)) == normalize_amount(text)


@given(amounts, amounts)
def test_amounts_are_equal_exactly_when_their_values_are(a, b):
    assert (normalize_amount(format(a, "f")) == normalize_amount(format(b, "f"))) is (a == b)


entries = st.lists(
    st.tuples(
        st.sampled_from(["input", "output", "cached"]),
        st.sampled_from(["1M tokens", "image"]),
        amounts,
        st.sampled_from(["USD", "EUR"]),
    ),
    max_size=5,
)


@given(entries, st.randoms(use_true_random=False))
def test_pricing_compares_equal_whatever_the_order_ids_and_currency_case(items, rnd):
    wanted = [price(lbl, format(a, "f"), cur, unit) for lbl, unit, a, cur in items]
    shown = [
        price(lbl, _padded(format(a, "f")), cur.lower(), unit, id=f"p-{i}")
        for i, (lbl, unit, a, cur) in enumerate(items)
    ]
    rnd.shuffle(shown)
    draft = live(pricing=shown, pricing_ids=[e["id"] for e in shown])
    assert same(desired(pricing=wanted), draft)


@given(st.sampled_from(sorted(LIST_FIELDS - {"pricing"})), labels)
def test_comparable_list_values_are_hashable_sets(field, items):
    assert comparable(field, items) == comparable(field, list(reversed(items)))


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("1.00000000000000000000000000001", "1.00000000000000000000000000001"),
        ("1.000000000000000000000000000010", "1.00000000000000000000000000001"),
        (
            "12345678901234567890.123456789012345678901",
            "12345678901234567890.123456789012345678901",
        ),
        (
            "100000000000000000000000000000000000000000",
            "100000000000000000000000000000000000000000",
        ),
        (
            "0.000000000000000000000000000000000000000010",
            "0.00000000000000000000000000000000000000001",
        ),
    ],
)
def test_amounts_keep_every_digit_beyond_the_decimal_context(written, normal):
    # The decimal context rounds to 28 significant digits; amounts are never rounded.
    assert normalize_amount(written) == normal


@given(st.integers(min_value=0, max_value=10**60), st.integers(min_value=0, max_value=60))
def test_amounts_are_exact_at_any_length(digits, scale):
    text = str(digits).rjust(scale + 1, "0")
    written = f"{text[:-scale]}.{text[-scale:]}" if scale else text
    normal = normalize_amount(written)
    assert Decimal(normal) == Decimal(written)
    assert normalize_amount(_padded(written)) == normal


def test_desired_digest_does_not_depend_on_key_order():
    # YAML maps keep the order they are written in; the digest must not.
    entry = price("input", "0.60")
    a = desired(name="N", active=True, pricing=[entry])
    b = desired(pricing=[dict(reversed(list(entry.items())))], active=True, name="N")
    assert list(a.fields) != list(b.fields)
    assert desired_digest(a) == desired_digest(b)


def test_digests_are_a_stable_format():
    # Saved plans and the apply journal carry these digests: the same model and draft
    # must give the same text in every release, or every saved plan is refused.
    model = desired(
        name="Modèle", pricing=[price("input", "0.60")], draft_id="d-1", ignore=("description",)
    )
    assert desired_digest(model) == (
        "sha256:9edaea44b8c30ea38390d466df65c7ae9150b7eba9d6b8be8bd38fb8aab60ced"
    )
    draft = live(
        name="Modèle",
        pricing=[price("input", "0.6", id="p-1")],
        pricing_ids=["p-1"],
        pending_ids=["k-1"],
    )
    assert live_fingerprint(draft) == (
        "sha256:67c44109e95384c0b4b4f8f07726871ef5b5c77918033940ef7d5fbafa1c6090"
    )


def test_canonical_json_is_compact_sorted_and_keeps_unicode():
    assert canonical_json({"b": [1, {"é": True}], "a": None}) == '{"a":null,"b":[1,{"é":true}]}'


def test_plain_copies_sort_sets_and_turn_tuples_into_lists():
    assert to_plain({"ids": {"c", "a", "b"}, "pair": (2, 1), 3: frozenset({2, 1})}) == {
        "ids": ["a", "b", "c"],
        "pair": [2, 1],
        "3": [1, 2],
    }


def test_live_prices_of_equal_content_are_ordered_by_id():
    entries = [price("input", "1", id="p-2"), price("input", "1.0", id="p-1")]
    normal = normalize_live(live(pricing=entries, pricing_ids=["p-1", "p-2"]), ["pricing"])
    assert [e["id"] for e in normal["pricing"]] == ["p-1", "p-2"]
