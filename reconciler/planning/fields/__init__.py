"""Field kinds: what each model field means, one kind per module.

Each kind (text, label and label list, id list, flag, pricing) holds all of its rules: how
a value normalizes, compares, is displayed in plans and becomes a patch, as octoDNS gives
each record type one class. ``KINDS`` maps every managed field of the API to its kind;
``normalize`` and ``diff`` only dispatch through it, so adding a field is one line here and
a new kind is one module. Pure: no I/O. Imports the wire field names and the desired model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.catalog.wire import FLAG_BOOLEANS, MODEL_FIELDS, REFERENCE_FIELDS, TEXT_FIELDS
from reconciler.manifests.model import DesiredModel
from reconciler.planning.fields.base import FieldKind, to_plain
from reconciler.planning.fields.flags import Flag
from reconciler.planning.fields.ids import IdList
from reconciler.planning.fields.labels import Label, LabelList, label_key
from reconciler.planning.fields.pricing import (
    PRICING,
    PRICING_IDS,
    Pricing,
    PricingIds,
    normalize_amount,
    pricing_key,
)
from reconciler.planning.fields.text import Text

__all__ = [
    "KINDS",
    "LIST_FIELDS",
    "PRICING",
    "UNMANAGEABLE",
    "FieldKind",
    "comparable",
    "create_value",
    "display",
    "items",
    "kind_of",
    "label_key",
    "normalize",
    "normalize_amount",
    "patch",
    "pricing_key",
    "to_plain",
    "view",
]

# The contract stores pending_ids as given and the reconciler never sends it, so
# it is never a managed field.
UNMANAGEABLE: frozenset[str] = frozenset({"pending_ids"})

_TEXT, _LABEL, _LABEL_LIST, _ID_LIST, _FLAG = Text(), Label(), LabelList(), IdList(), Flag()
_SINGLE_LABELS = ("provider",)

KINDS: dict[str, FieldKind] = {
    **{f: _TEXT for f in TEXT_FIELDS},
    **{f: _TEXT for f in (*TEXT_FIELDS.values(), "provider_id")},
    **{f: _LABEL for f in _SINGLE_LABELS},
    **{f: _LABEL_LIST for f in REFERENCE_FIELDS if f not in _SINGLE_LABELS},
    **{ids: _ID_LIST for f, ids in REFERENCE_FIELDS.items() if f not in _SINGLE_LABELS},
    "flag_ids": _ID_LIST,
    **{f: _FLAG for f in FLAG_BOOLEANS},
    PRICING: Pricing(),
    PRICING_IDS: PricingIds(),
}

_UNCLASSIFIED = sorted(frozenset(MODEL_FIELDS) ^ (KINDS.keys() | UNMANAGEABLE))
if _UNCLASSIFIED:  # pragma: no cover - guards against a wire.py edit this table misses
    raise RuntimeError(f"model fields without a field kind: {_UNCLASSIFIED}")

# Fields whose value is a set of items: changes to them are shown as items added and removed.
LIST_FIELDS: frozenset[str] = frozenset(f for f, kind in KINDS.items() if kind.is_list)


def kind_of(field: str) -> FieldKind:
    """The kind of a managed model field; ValueError for anything else."""
    try:
        return KINDS[field]
    except KeyError:
        raise ValueError(f"{field!r} is not a model field") from None


def normalize(field: str, value: Any, *, with_ids: bool) -> Any:
    return kind_of(field).normalize(value, with_ids=with_ids)


def comparable(field: str, value: Any) -> Any:
    """A hashable value that is equal exactly when the server treats two values as equal."""
    return None if value is None else kind_of(field).comparable(value)


def display(field: str, value: Any) -> Any:
    """A normalized value as plans show it (pricing entries without their ids)."""
    return None if value is None else kind_of(field).display(value)


def items(field: str, side: Any, wanted: Iterable[Any]) -> tuple[Any, ...]:
    """Comparable items mapped back to how one side spells them, in that side's order."""
    wanted = set(wanted)
    kind = kind_of(field)
    if not wanted or not kind.is_list or side is None:
        return ()
    return kind.items(side, wanted)


def create_value(field: str, value: Any) -> Any:
    return kind_of(field).create_value(value)


def patch(fields: Iterable[str], model: DesiredModel, baseline: Mapping[str, Any]) -> dict:
    """The patch entries that set ``fields`` of a draft with ``baseline`` to the manifest's."""
    out: dict[str, Any] = {}
    for field in sorted(fields):
        # A kind may patch fields together (pricing and pricing_ids): once is enough.
        if field not in out:
            out.update(kind_of(field).patch(field, model, baseline))
    return out


def view(desired: Mapping[str, Any], baseline: Mapping[str, Any]) -> Mapping[str, Any]:
    """The baseline as the kinds of the desired fields compare it."""
    for field in desired:
        # Only a kind with a view of its own is asked (pricing): every model is viewed.
        if field in _VIEWING:
            baseline = KINDS[field].view(desired, baseline)
        elif field not in KINDS:
            kind_of(field)  # the ValueError that names it
    return baseline


# The fields whose kind compares a baseline otherwise than as it is.
_VIEWING = frozenset(f for f, kind in KINDS.items() if type(kind).view is not FieldKind.view)
