"""``normalize_live``'s shortcuts give what the general definitions give: a pricing entry
read from its fields rather than dumped by pydantic, and a label list normalized once per
spelling (then copied) rather than on every draft. ``compact`` keeps what they make."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.catalog.wire import DraftFormState, PricingDraftValue
from reconciler.planning.fields import KINDS, UNMANAGEABLE, kind_of
from reconciler.planning.fields.labels import LabelList
from reconciler.planning.fields.pricing import Pricing
from reconciler.planning.normalize import normalize_live

# Labels that trim and fold to the same key, and others that do not.
LABEL = st.sampled_from(["A", "a", " A ", "b", "B ", "\u00df", "SS", "ss", "", " "]) | st.text()
LABELS = st.lists(LABEL, max_size=5)
TEXT = st.text(max_size=8)

entries = st.builds(
    PricingDraftValue,
    id=st.none() | TEXT,
    label=TEXT,
    unit=TEXT,
    amount=st.sampled_from(["1.60", "1.6", "10", "0", "-0.0", "x", " 2 "]) | TEXT,
    currency=TEXT,
)
drafts = st.builds(
    DraftFormState,
    draft_id=TEXT,
    name=st.none() | TEXT,
    provider=st.none() | LABEL,
    flag_ids=st.lists(TEXT, max_size=3),
    active=st.booleans(),
    departments=LABELS,
    modalities=LABELS,
    voices=LABELS,
    pricing=st.lists(entries, max_size=3),
    pricing_ids=st.lists(TEXT, max_size=3),
    pending_ids=st.lists(TEXT, max_size=2),
)
FIELDS = st.sets(st.sampled_from(sorted(KINDS.keys() | UNMANAGEABLE)))


def reference_labels(value: list[str]) -> list[str]:
    """A label list normalized as first defined."""
    unique: dict[str, str] = {}
    for label in value:
        unique.setdefault(label.strip().casefold(), label.strip())
    return [unique[k] for k in sorted(unique)]


def reference(live: DraftFormState, fields: set[str]) -> dict[str, Any]:
    """``normalize_live`` as first defined: entries dumped by pydantic, lists worked out."""
    out: dict[str, Any] = {}
    for f in sorted(fields - UNMANAGEABLE):
        kind, value = kind_of(f), getattr(live, f)
        if isinstance(kind, Pricing):
            value = [entry.model_dump(exclude_none=True) for entry in value]
        if isinstance(kind, LabelList):
            out[f] = reference_labels(value)
        else:
            out[f] = kind.normalize(value, with_ids=True)
    return out


@given(drafts, FIELDS)
def test_a_live_draft_normalizes_as_first_defined(draft, fields):
    got = normalize_live(draft, fields)
    assert got == reference(draft, fields)
    # Same keys in the same order, entries included: the state writes them as they are.
    assert [list(e) for e in got.get("pricing", [])] == [
        list(e) for e in reference(draft, fields).get("pricing", [])
    ]


@given(st.lists(entries, max_size=4))
def test_a_live_pricing_entry_is_its_dump(value):
    got = Pricing().from_live(value)
    assert got == [entry.model_dump(exclude_none=True) for entry in value]
    assert [list(e) for e in got] == [list(e.model_dump(exclude_none=True)) for e in value]


@given(LABELS)
def test_a_label_list_normalizes_alike_every_time_and_to_a_list_of_its_own(value):
    kind = LabelList()
    first = kind.normalize(value, with_ids=True)
    assert first == reference_labels(value)
    first.append("changed by a caller")
    assert kind.normalize(list(value), with_ids=False) == reference_labels(value)


def test_a_label_list_of_unhashable_items_fails_as_it_always_did():
    with pytest.raises(AttributeError):
        LabelList().normalize([["not", "a", "label"]], with_ids=True)
