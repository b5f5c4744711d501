"""One comparable form for desired models and live drafts, plus their fingerprints.

Both sides are reduced to their managed fields in plain JSON values: labels
trimmed, lists sorted, empty strings as ``None``, decimal amounts and currencies
in one spelling. Labels keep their spelling here (so plans read well and the
state stays legible); ``comparable`` folds what the server treats as equal
(label case, pricing entry ids) for the actual comparison.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.catalog.wire import (
    FLAG_BOOLEANS,
    MODEL_FIELDS,
    REFERENCE_FIELDS,
    TEXT_FIELDS,
    DraftFormState,
)
from reconciler.manifests.model import DesiredModel

# The contract stores pending_ids as given and the reconciler never sends it, so
# it is never a managed field.
UNMANAGEABLE: frozenset[str] = frozenset({"pending_ids"})

LABEL_FIELDS: frozenset[str] = frozenset({"provider"})
LABEL_LIST_FIELDS: frozenset[str] = frozenset(REFERENCE_FIELDS) - LABEL_FIELDS
ID_FIELDS: frozenset[str] = frozenset({"provider_id", *TEXT_FIELDS.values()})
ID_LIST_FIELDS: frozenset[str] = (
    frozenset({*REFERENCE_FIELDS.values(), "flag_ids", "pricing_ids"}) - ID_FIELDS
)
TEXT_VALUE_FIELDS: frozenset[str] = frozenset(TEXT_FIELDS)
BOOLEAN_FIELDS: frozenset[str] = frozenset(FLAG_BOOLEANS)
PRICING = "pricing"
# Fields whose value is a set of items: changes to them are shown as items added and removed.
LIST_FIELDS: frozenset[str] = LABEL_LIST_FIELDS | ID_LIST_FIELDS | {PRICING}
# Single strings that "" clears (contract: "the empty string clears a string").
STRING_FIELDS: frozenset[str] = LABEL_FIELDS | ID_FIELDS | TEXT_VALUE_FIELDS

_CLASSIFIED = LIST_FIELDS | STRING_FIELDS | BOOLEAN_FIELDS | UNMANAGEABLE
_UNCLASSIFIED = sorted(frozenset(MODEL_FIELDS) ^ _CLASSIFIED)
if _UNCLASSIFIED:  # pragma: no cover - guards against a wire.py edit this module misses
    raise RuntimeError(f"model fields normalize.py does not classify: {_UNCLASSIFIED}")


def managed_fields(model: DesiredModel) -> tuple[str, ...]:
    """The fields the plan compares: those the manifest sets, minus ignore_changes."""
    return tuple(
        sorted(f for f in model.fields if f not in model.ignore_changes and f not in UNMANAGEABLE)
    )


def normalize_desired(model: DesiredModel) -> dict[str, Any]:
    """The managed fields of a desired model in comparable form."""
    return normalize_fields(model.fields, managed_fields(model))


def normalize_fields(fields: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The named fields of a manifest's field mapping in comparable form."""
    return {f: _normalize(f, fields[f], with_ids=False) for f in sorted(names) if f in fields}


def normalize_live(live: DraftFormState, fields: Iterable[str]) -> dict[str, Any]:
    """The given fields of a live draft in comparable form (pricing entries keep their ids)."""
    out: dict[str, Any] = {}
    for f in sorted(set(fields) - UNMANAGEABLE):
        if f not in _CLASSIFIED:
            raise ValueError(f"{f!r} is not a model field")
        value = getattr(live, f)
        if f == PRICING:
            value = [entry.model_dump(exclude_none=True) for entry in value]
        out[f] = _normalize(f, value, with_ids=True)
    return out


def normalize_amount(amount: Any) -> str:
    """A decimal amount in one spelling: ``"0.60"`` -> ``"0.6"``, ``"10"`` stays ``"10"``."""
    text = str(amount).strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    if value.is_zero():
        return "0"
    # normalize() turns 10 into 1E+1; fixed-point formatting undoes the exponent.
    return format(value.normalize(), "f")


def label_key(label: str) -> str:
    """How the server matches a label: case-insensitive after trimming."""
    return label.strip().casefold()


def pricing_key(entry: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """The content of a pricing entry, which is what makes two entries the same price."""
    return (
        str(entry["label"]),
        str(entry["unit"]),
        normalize_amount(entry["amount"]),
        str(entry["currency"]).strip().upper(),
    )


def comparable(field: str, value: Any) -> Any:
    """A hashable value that is equal exactly when the server treats two values as equal."""
    if value is None or (field not in LIST_FIELDS and field not in LABEL_FIELDS):
        return value
    if field in LABEL_FIELDS:
        return label_key(value)
    if field in LABEL_LIST_FIELDS:
        return frozenset(label_key(v) for v in value)
    if field == PRICING:
        # Entries are compared by content; numbering repeats keeps a multiset a set.
        seen: Counter[tuple[str, str, str, str]] = Counter()
        items = []
        for entry in value:
            key = pricing_key(entry)
            items.append((*key, seen[key]))
            seen[key] += 1
        return frozenset(items)
    return frozenset(value)


def live_fingerprint(live: DraftFormState) -> str:
    """A digest of a live draft; a pending proposal does not change the live state."""
    return _digest(live.model_dump(mode="json", exclude={"pending_ids"}))


def desired_digest(model: DesiredModel) -> str:
    """A digest of a desired model as written (fields, ignore_changes, draft_id), not its file."""
    return _digest(
        {
            "key": model.key,
            "draft_id": model.draft_id,
            "fields": to_plain(model.fields),
            "ignore_changes": sorted(model.ignore_changes),
        }
    )


def manifests_digest(models: Iterable[DesiredModel]) -> str:
    """A digest of every desired model, independent of file order."""
    return _digest(sorted([m.key, desired_digest(m)] for m in models))


def _normalize(field: str, value: Any, *, with_ids: bool) -> Any:
    if field in BOOLEAN_FIELDS:
        return None if value is None else bool(value)
    if field in STRING_FIELDS:
        # None and "" mean the same: no value.
        if value is None or value == "":
            return None
        return value.strip() if field in LABEL_FIELDS else value
    if value is None:
        return None
    if field in LABEL_LIST_FIELDS:
        unique: dict[str, str] = {}
        for label in value:
            unique.setdefault(label_key(label), label.strip())
        return [unique[k] for k in sorted(unique)]
    if field == PRICING:
        return _normalize_pricing(value, with_ids=with_ids)
    return sorted(set(value))


def _normalize_pricing(entries: Sequence[Mapping[str, Any]], *, with_ids: bool) -> list[dict]:
    out = []
    for entry in entries:
        label, unit, amount, currency = pricing_key(entry)
        item = {"label": label, "unit": unit, "amount": amount, "currency": currency}
        if with_ids and entry.get("id"):
            item["id"] = entry["id"]
        out.append(item)
    out.sort(key=lambda e: (e["label"], e["unit"], e["currency"], e["amount"], e.get("id", "")))
    return out


def to_plain(value: Any) -> Any:
    """A copy made of plain dicts, lists and scalars, fit for JSON."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_plain(v) for v in value]
        return sorted(items) if isinstance(value, (set, frozenset)) else items
    return value


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the same value always yields the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
