"""Pricing: ``pricing`` entries and the ``pricing_ids`` that keep them, which move together.

Contract: entries are immutable resources. ``pricing_ids`` replaces the kept set, then
entries without an id are created and merged in; so changing a price is creating the new
entry and dropping the old id. Two entries are the same price when their content is (label,
unit, amount by value, currency by code), whatever their ids; repeats count (a multiset).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.catalog.wire import PricingDraftValue
from reconciler.manifests.model import DesiredModel
from reconciler.planning.fields.base import FieldKind, to_plain
from reconciler.planning.fields.ids import IdList

PRICING = "pricing"
PRICING_IDS = "pricing_ids"

PriceKey = tuple[str, str, str, str]

# A live pricing entry's fields, in the order ``model_dump`` writes them.
_ENTRY_FIELDS: tuple[str, ...] = tuple(PricingDraftValue.model_fields)


def normalize_amount(amount: Any) -> str:
    """A decimal amount in one spelling: ``"0.60"`` -> ``"0.6"``, ``"10"`` stays ``"10"``."""
    return _normalize_text(str(amount))


# A catalog repeats a few amounts many times over, and a plan normalizes each several
# times (normalize, then compare): worked out once per spelling.
@functools.lru_cache(maxsize=8192)
def _normalize_text(amount: str) -> str:
    text = amount.strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    if value.is_zero():
        return "0"
    # Exact: Decimal(text) keeps every digit, but normalize() and arithmetic round to the
    # context's 28 significant digits. So the trailing zeros are dropped by hand, and
    # fixed-point formatting (which never rounds without a precision) undoes any exponent.
    sign, digits, exponent = value.as_tuple()
    kept = list(digits)
    while exponent < 0 and kept[-1] == 0:
        kept.pop()
        exponent += 1
    return format(Decimal((sign, tuple(kept), exponent)), "f")


def pricing_key(entry: Mapping[str, Any]) -> PriceKey:
    """The content of a pricing entry, which is what makes two entries the same price."""
    return (
        str(entry["label"]),
        str(entry["unit"]),
        normalize_amount(entry["amount"]),
        str(entry["currency"]).strip().upper(),
    )


def without_id(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A pricing entry as content only."""
    return {k: v for k, v in entry.items() if k != "id"}


class Pricing(FieldKind):
    """A multiset of prices; live entries keep their ids, plans show content only."""

    is_list = True

    def from_live(self, value: Any) -> Any:
        # What ``entry.model_dump(exclude_none=True)`` gives (the fields are strings, in
        # declaration order), without pydantic's serializer: a refresh does this for every
        # entry of 10,000 drafts, and the dump cost more than normalizing the entry.
        return [
            {name: item for name in _ENTRY_FIELDS if (item := entry.__dict__[name]) is not None}
            for entry in value
        ]

    def normalize(self, value: Any, *, with_ids: bool) -> Any:
        if value is None:
            return None
        out = []
        for entry in value:
            label, unit, amount, currency = pricing_key(entry)
            item = {"label": label, "unit": unit, "amount": amount, "currency": currency}
            if with_ids and entry.get("id"):
                item["id"] = entry["id"]
            out.append(item)
        out.sort(key=lambda e: (e["label"], e["unit"], e["currency"], e["amount"], e.get("id", "")))
        return out

    def comparable(self, value: Any) -> Any:
        # Entries are compared by content; numbering repeats keeps a multiset a set.
        return frozenset(_numbered(value))

    def display(self, value: Any) -> Any:
        return [without_id(e) for e in value]

    def items(self, side: Sequence[Any], wanted: set[Any]) -> tuple[Any, ...]:
        numbered = zip(side, _numbered(side), strict=True)
        return tuple(without_id(entry) for entry, item in numbered if item in wanted)

    def create_value(self, value: Any) -> Any:
        return [without_id(e) for e in to_plain(value)]

    def patch(self, field: str, model: DesiredModel, baseline: Mapping[str, Any]) -> dict[str, Any]:
        return pricing_patch(model, baseline)

    def view(self, desired: Mapping[str, Any], baseline: Mapping[str, Any]) -> Mapping[str, Any]:
        """When a manifest names kept entries by id and others by content, compare each apart."""
        if PRICING not in desired or PRICING_IDS not in desired:
            return baseline
        ids = set(desired[PRICING_IDS] or ())
        view = dict(baseline)
        if PRICING in baseline:
            view[PRICING] = [e for e in baseline[PRICING] or () if e.get("id") not in ids]
        if PRICING_IDS in baseline:
            view[PRICING_IDS] = [i for i in baseline[PRICING_IDS] or () if i in ids]
        return view


class PricingIds(IdList):
    """The kept entries' ids: compared as an id list, but patched together with ``pricing``."""

    def patch(self, field: str, model: DesiredModel, baseline: Mapping[str, Any]) -> dict[str, Any]:
        return pricing_patch(model, baseline)


def pricing_patch(model: DesiredModel, baseline: Mapping[str, Any]) -> dict[str, Any]:
    """``pricing_ids`` to keep (always sent) and the ``pricing`` entries to create (if any)."""
    managed = set(model.fields) - model.ignore_changes
    wanted_ids = list(model.fields.get(PRICING_IDS) or []) if PRICING_IDS in managed else []
    if PRICING not in managed:
        return {PRICING_IDS: wanted_ids}
    # Keep the live ids whose content is still wanted, create the rest.
    available: dict[PriceKey, list[str]] = {}
    for entry in baseline.get(PRICING) or []:
        if entry.get("id") and entry["id"] not in wanted_ids:
            available.setdefault(pricing_key(entry), []).append(entry["id"])
    kept, new = set(wanted_ids), []
    for entry in model.fields.get(PRICING) or []:
        ids = available.get(pricing_key(entry))
        if ids:
            kept.add(ids.pop(0))
        else:
            new.append(without_id(to_plain(entry)))
    patch: dict[str, Any] = {PRICING_IDS: sorted(kept)}
    if new:
        patch[PRICING] = new
    return patch


def _numbered(entries: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Each entry's content with how many equal entries came before it."""
    seen: Counter[PriceKey] = Counter()
    out = []
    for entry in entries:
        key = pricing_key(entry)
        out.append((*key, seen[key]))
        seen[key] += 1
    return out
