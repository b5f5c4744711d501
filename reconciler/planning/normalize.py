"""One comparable form for desired models and live drafts, plus their fingerprints.

Both sides are reduced to their managed fields in plain JSON values: labels
trimmed, lists sorted, empty strings as ``None``, decimal amounts and currencies
in one spelling. Labels keep their spelling here (so plans read well and the
state stays legible); ``comparable`` folds what the server treats as equal
(label case, pricing entry ids) for the actual comparison. What each field kind
means lives in ``reconciler.planning.fields``; this module applies it to whole models.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic_core import to_json

from reconciler.catalog.wire import DraftFormState, PricingDraftValue
from reconciler.manifests.model import DesiredModel
from reconciler.planning.fields import (
    KINDS,
    LIST_FIELDS,
    UNMANAGEABLE,
    FieldKind,
    comparable,
    kind_of,
    normalize_amount,
    to_plain,
)

__all__ = [
    "LIST_FIELDS",
    "UNMANAGEABLE",
    "canonical_json",
    "comparable",
    "desired_digest",
    "live_fingerprint",
    "managed_fields",
    "manifests_digest",
    "normalize_amount",
    "normalize_desired",
    "normalize_fields",
    "normalize_live",
    "to_plain",
]


def managed_fields(model: DesiredModel) -> tuple[str, ...]:
    """The fields the plan compares: those the manifest sets, minus ignore_changes."""
    # Set differences rather than a test per field: made for every planned model.
    return tuple(sorted(model.fields.keys() - model.ignore_changes - UNMANAGEABLE))


def normalize_desired(model: DesiredModel) -> dict[str, Any]:
    """The managed fields of a desired model in comparable form."""
    return normalize_fields(model.fields, managed_fields(model))


def normalize_fields(fields: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The named fields of a manifest's field mapping in comparable form."""
    # ``normalize`` with its look-up inlined: called for each field of every planned model.
    return {
        f: (KINDS[f] if f in KINDS else kind_of(f)).normalize(fields[f], with_ids=False)
        for f in sorted(names)
        if f in fields
    }


def normalize_live(live: DraftFormState, fields: Iterable[str]) -> dict[str, Any]:
    """The given fields of a live draft in comparable form (pricing entries keep their ids)."""
    out: dict[str, Any] = {}
    for f, kind, converts in _live_kinds(tuple(fields)):
        value = getattr(live, f)
        out[f] = kind.normalize(kind.from_live(value) if converts else value, with_ids=True)
    return out


@functools.lru_cache(maxsize=1024)
def _live_kinds(fields: tuple[str, ...]) -> tuple[tuple[str, FieldKind, bool], ...]:
    """The fields in order, each with its kind and whether its ``from_live`` converts.

    Worked out once per set of names: a refresh keeps 10,000 drafts for a few sets of
    fields, and sorting the names and looking up each kind cost a fifth of ``compact``.
    An unknown name is a ValueError that names it (and is not cached).
    """
    kinds = []
    for f in sorted(set(fields) - UNMANAGEABLE):
        kind = kind_of(f)
        kinds.append((f, kind, type(kind).from_live is not FieldKind.from_live))
    return tuple(kinds)


def live_fingerprint(live: DraftFormState) -> str:
    """A digest of a live draft; a pending proposal does not change the live state.

    The digest of ``canonical_json(live.model_dump(mode="json", exclude={"pending_ids"}))``,
    made without either: the draft's fields taken in sorted order straight from the model
    and encoded by pydantic's JSON encoder, which writes every string, integer, boolean and
    null as ``canonical_json`` does (a draft has no other values). 5 µs a draft instead of
    14, for each of 10,000 reads; ``tests/test_fingerprint.py`` proves the digests equal.
    """
    fields = live.__dict__
    plain = {name: fields[name] for name in _DRAFT_KEYS}
    plain["pricing"] = [
        {
            "amount": entry.amount,
            "currency": entry.currency,
            "id": entry.id,
            "label": entry.label,
            "unit": entry.unit,
        }
        for entry in plain["pricing"]
    ]
    return "sha256:" + hashlib.sha256(to_json(plain)).hexdigest()


# The draft's fields a fingerprint covers, in the order canonical JSON sorts them.
_DRAFT_KEYS = tuple(sorted(set(DraftFormState.model_fields) - {"pending_ids"}))
if set(PricingDraftValue.model_fields) != {"amount", "currency", "id", "label", "unit"}:
    raise RuntimeError(
        "live_fingerprint lists a pricing entry's fields: update it"
    )  # pragma: no cover


def desired_digest(model: DesiredModel) -> str:
    """A digest of a desired model as written (fields, ignore_changes, draft_id), not its file.

    The digest of ``canonical_json`` of the model's key, draft_id, ``to_plain`` fields and
    sorted ignore_changes. A manifest is made of strings, booleans, lists and dicts, whose
    canonical text pydantic's JSON encoder writes exactly once the keys are sorted
    (``_sorted_plain``): 95,000 instructions a model instead of 140,000, for every model a
    plan digests. Anything else, and a string UTF-8 cannot encode, takes the general path
    (and its error). ``tests/test_desired_digest.py`` proves the digests equal.
    """
    ignored = sorted(model.ignore_changes)
    try:
        data = to_json(
            {
                "draft_id": _sorted_plain(model.draft_id),
                "fields": _sorted_plain(model.fields),
                "ignore_changes": _sorted_plain(ignored),
                "key": _sorted_plain(model.key),
            }
        )
    except (_NotPlain, ValueError):
        value = {
            "key": model.key,
            "draft_id": model.draft_id,
            "fields": to_plain(model.fields),
            "ignore_changes": ignored,
        }
        data = canonical_json(value).encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _NotPlain(Exception):
    """A value ``_sorted_plain`` leaves to the general path."""


def _sorted_plain(value: Any) -> Any:
    """``to_plain(value)`` with each dict's keys in sorted order, for a value made only of
    strings, booleans, None, lists, tuples and dicts with string keys (exactly those
    types): pydantic's JSON of it is then ``canonical_json``'s. ``_NotPlain`` for any
    other value (numbers too: the two encoders spell some floats differently)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is list or kind is tuple:
        return [v if type(v) in _TEXTUAL else _sorted_plain(v) for v in value]
    if kind is dict:
        if set(map(type, value)) != _STRINGS and value:
            raise _NotPlain
        items = sorted(value.items())
        return {k: (v if type(v) in _TEXTUAL else _sorted_plain(v)) for k, v in items}
    raise _NotPlain


_TEXTUAL: frozenset[type] = frozenset({str, bool, type(None)})
_STRINGS = {str}


def manifests_digest(models: Iterable[DesiredModel]) -> str:
    """A digest of every desired model, independent of file order."""
    return _digest(sorted([m.key, desired_digest(m)] for m in models))


# What json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) makes
# for each call, made once: every read and every planned model is digested.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the same value always yields the same text."""
    return _CANONICAL.encode(value)


def _digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
