"""The shortcut in ``diff.compare``: a field equal as plans show it is not compared further.

Sound because showing a value (``display``) only drops what comparing ignores: for every
field kind, two normalized values shown alike compare alike. Pricing is the one kind whose
display is not the value itself (entries without their ids); the others are checked too.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconciler.planning.diff import compare, drift
from reconciler.planning.fields import KINDS, comparable, display, normalize

LABELS = ["input", "output", "cached input"]
UNITS = ["1M tokens", "image"]
AMOUNTS = ["0.15", "0.150", "0.6", "0.60", "1", "1.0", "10"]
CURRENCIES = ["USD", "usd", " EUR "]


@st.composite
def pricing(draw: st.DrawFn, *, ids: bool) -> list[dict[str, str]]:
    entries = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "label": st.sampled_from(LABELS),
                    "unit": st.sampled_from(UNITS),
                    "amount": st.sampled_from(AMOUNTS),
                    "currency": st.sampled_from(CURRENCIES),
                }
            ),
            max_size=4,
        )
    )
    if ids:
        entries = [{**e, "id": f"p-{draw(st.integers(0, 3))}-{i}"} for i, e in enumerate(entries)]
    return entries


def values(field: str) -> st.SearchStrategy[object]:
    kind = type(KINDS[field]).__name__
    if kind == "Pricing":
        return st.one_of(st.none(), pricing(ids=True), pricing(ids=False))
    if kind in ("LabelList", "IdList", "PricingIds"):
        return st.one_of(st.none(), st.lists(st.sampled_from(["a", "A", " b", "c"]), max_size=3))
    if kind == "Flag":
        return st.one_of(st.none(), st.booleans())
    return st.one_of(st.none(), st.sampled_from(["x", "X", " y", ""]))


@st.composite
def field_and_pair(draw: st.DrawFn) -> tuple[str, object, object]:
    field = draw(st.sampled_from(sorted(KINDS)))
    pair = [draw(values(field)) for _ in range(2)]
    a, b = (normalize(field, v, with_ids=True) for v in pair)
    return field, a, b


@given(field_and_pair())
def test_shown_alike_means_compared_alike(case):
    field, a, b = case
    if display(field, a) == display(field, b):
        assert comparable(field, a) == comparable(field, b)


@given(pricing(ids=True), pricing(ids=False))
def test_compare_of_live_pricing_against_desired_is_the_comparable_verdict(live, wanted):
    before = {"pricing": normalize("pricing", live, with_ids=True), "name": "n"}
    after = {"pricing": normalize("pricing", wanted, with_ids=False), "name": "n"}
    changes = compare(before, after, ["pricing", "name"])
    same = comparable("pricing", before["pricing"]) == comparable("pricing", after["pricing"])
    assert (changes == ()) == same
    if not same:
        assert [c.field for c in changes] == ["pricing"]
        assert changes[0].before == display("pricing", before["pricing"])


@given(pricing(ids=True), pricing(ids=True))
def test_drift_of_pricing_is_the_comparable_verdict(applied, live):
    last = {"pricing": normalize("pricing", applied, with_ids=True)}
    now = {"pricing": normalize("pricing", live, with_ids=True)}
    drifted = drift(last, now, ["pricing"])
    assert (drifted == ()) == (
        comparable("pricing", last["pricing"]) == comparable("pricing", now["pricing"])
    )
