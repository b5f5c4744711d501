"""Adoption: which manifest edits make git describe the catalog's drifted values. No I/O.

A drifted field (live value differs from the last applied one) whose manifests
do not already say the live value is adopted, as a person would edit by hand:

- the model's own value is changed in place; a list keeps its items and their
  spelling, drops the items the catalog dropped and appends the new ones; a
  pricing entry whose amount changed gets the new amount, in the spelling of
  the old one (``"2.50"`` -> ``"3.00"``);
- when the live value is what the model would inherit without its own value,
  that value is removed instead;
- a value that comes from a Defaults document is overridden in the model's own
  document, never changed in the shared Defaults;
- ``lifecycle.ignore_changes`` fields are never compared, so never adopted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from reconciler.catalog.wire import DraftFormState
from reconciler.manifests.defaults import effective_fields, merge_specs
from reconciler.manifests.model import SPEC_FIELDS, DesiredModel
from reconciler.manifests.rewrite import (
    AppendItem,
    DeleteKey,
    Edit,
    InsertKey,
    RemoveItem,
    SetValue,
)
from reconciler.manifests.sources import DocumentRef, ModelSource
from reconciler.planning.diff import drift
from reconciler.planning.fields import (
    LIST_FIELDS,
    PRICING,
    comparable,
    display,
    kind_of,
    label_key,
    pricing_key,
)
from reconciler.planning.fields.labels import LabelList
from reconciler.planning.normalize import (
    managed_fields,
    normalize_desired,
    normalize_fields,
    normalize_live,
)
from reconciler.planning.planner import ModelRecord

How = Literal["changed", "overridden", "inherited"]
_ORDER = {name: index for index, name in enumerate(SPEC_FIELDS)}


@dataclass(frozen=True)
class Adoption:
    """One field adopted: where, and its value in the manifests before and after."""

    key: str
    field: str
    file: str
    before: Any
    after: Any
    how: How


@dataclass(frozen=True)
class AdoptionPlan:
    """Every field to adopt, the edits per document, and drift that cannot be adopted."""

    adoptions: tuple[Adoption, ...] = ()
    edits: Mapping[DocumentRef, tuple[Edit, ...]] = field(default_factory=dict)
    unadoptable: tuple[str, ...] = ()


def plan_adoption(
    desired: Sequence[DesiredModel],
    sources: Mapping[str, ModelSource],
    records: Mapping[str, ModelRecord],
    live: Mapping[str, DraftFormState | None],
    targets: frozenset[str] | None = None,
) -> AdoptionPlan:
    """The edits that make the manifests describe the live value of every drifted field."""
    adoptions: list[Adoption] = []
    edits: dict[DocumentRef, list[Edit]] = {}
    unadoptable: list[str] = []
    by_key = {model.key: model for model in desired}
    for key in sorted(k for k in records if targets is None or k in targets):
        model, draft = by_key.get(key), live.get(key)
        if model is None:
            unadoptable.append(f"model {key} is in the state but has no manifest to adopt into")
            continue
        if key in live and draft is None:
            unadoptable.append(f"model {key}: its draft no longer exists; nothing to adopt")
            continue
        if draft is None or key not in sources:
            continue
        found = _adopt_model(model, sources[key], records[key], draft)
        for adoption, doc_edits in found:
            adoptions.append(adoption)
            edits.setdefault(sources[key].document, []).extend(doc_edits)
    return AdoptionPlan(
        tuple(adoptions), {ref: tuple(e) for ref, e in edits.items()}, tuple(unadoptable)
    )


def _adopt_model(
    model: DesiredModel, source: ModelSource, record: ModelRecord, draft: DraftFormState
) -> list[tuple[Adoption, list[Edit]]]:
    fields = managed_fields(model)
    live = normalize_live(draft, fields)
    wanted = normalize_desired(model)
    drifted = [change.field for change in drift(record.last_applied, live, fields)]
    own = dict(source.spec)
    layers = [spec for _ref, spec in source.defaults]
    has_spec = "spec" in source.value
    out = []
    for name in sorted(drifted, key=lambda f: _ORDER.get(f, len(_ORDER))):
        value = _without_kept_ids(name, live[name], wanted)
        if comparable(name, wanted.get(name)) == comparable(name, value):
            continue  # git already says so: apply only records it
        without = {k: v for k, v in own.items() if k != name}
        inherited = effective_fields(merge_specs([*layers, without])[0]).get(name)
        inherits = inherited is not None and comparable(
            name, normalize_fields({name: inherited}, [name])[name]
        ) == comparable(name, value)
        if name in own and inherits:
            how: How = "inherited"
            doc_edits: list[Edit] = (
                [DeleteKey(("spec",), name)] if without else [DeleteKey((), "spec")]
            )
            own = without
        elif name in own:
            how = "changed"
            keys = list(own)
            before = keys[keys.index(name) - 1] if keys.index(name) > 0 else None
            doc_edits = _change(name, own[name], value, before)
        else:
            how = "overridden"
            written = _written(name, value)
            if not has_spec:
                doc_edits = [InsertKey((), "spec", {name: written}, after="metadata")]
                has_spec = True
            else:
                doc_edits = [InsertKey(("spec",), name, written, after=_after(own, name))]
            own = {**own, name: written}
        adoption = Adoption(
            model.key,
            name,
            source.document.file,
            display(name, wanted.get(name)),
            display(name, value),
            how,
        )
        out.append((adoption, doc_edits))
    return out


def _without_kept_ids(name: str, value: Any, wanted: Mapping[str, Any]) -> Any:
    # Entries a manifest keeps by pricing_ids are not written again as content.
    if name != PRICING or not wanted.get("pricing_ids") or value is None:
        return value
    kept = set(wanted["pricing_ids"])
    return [entry for entry in value if entry.get("id") not in kept]


def _after(own: Mapping[str, Any], name: str) -> str | None:
    """The model's own key a new ``name`` goes after: the last one before it in spec order."""
    position = _ORDER.get(name, len(_ORDER))
    earlier = [k for k in own if _ORDER.get(k, len(_ORDER)) < position]
    return earlier[-1] if earlier else None


def _written(name: str, value: Any) -> Any:
    """A live value as a manifest writes it."""
    if value is None:
        return [] if name in LIST_FIELDS else ""
    if name == PRICING:
        return [{k: entry[k] for k in ("label", "unit", "amount", "currency")} for entry in value]
    return value


def _change(name: str, old: Any, value: Any, before: str | None) -> list[Edit]:
    path = ("spec", name)
    if name not in LIST_FIELDS or not isinstance(old, list):
        return [SetValue(path, _written(name, value))]
    new = _written(name, value)
    if name == PRICING:
        edits = _pricing_edits(path, old, new)
    else:
        edits = _list_edits(
            path, old, new, label_key if isinstance(kind_of(name), LabelList) else str
        )
    removed = sum(isinstance(e, RemoveItem) for e in edits)
    appended = sum(isinstance(e, AppendItem) for e in edits)
    if old and removed == len(old) and not appended:
        # A block list cannot be emptied item by item: write the empty list in its place.
        return [DeleteKey(("spec",), name), InsertKey(("spec",), name, [], after=before)]
    return edits


def _list_edits(path: tuple[str, ...], old: list[Any], new: list[Any], key: Any) -> list[Edit]:
    wanted = Counter(key(item) for item in new)
    edits: list[Edit] = []
    for index, item in enumerate(old):
        if wanted[key(item)] > 0:
            wanted[key(item)] -= 1
        else:
            edits.append(RemoveItem(path, index))
    have = Counter(key(item) for item in old)
    for item in new:
        if have[key(item)] > 0:
            have[key(item)] -= 1
        else:
            edits.append(AppendItem(path, item))
    return edits


def _pricing_edits(path: tuple[str, ...], old: list[Any], new: list[Any]) -> list[Edit]:
    remaining = list(new)
    unmatched: list[int] = []
    for index, entry in enumerate(old):
        match = next((n for n in remaining if pricing_key(n) == pricing_key(entry)), None)
        if match is None:
            unmatched.append(index)
        else:
            remaining.remove(match)
    edits: list[Edit] = []
    for index in unmatched:
        entry = old[index]
        same = next((n for n in remaining if _priced_thing(n) == _priced_thing(entry)), None)
        if same is None:
            edits.append(RemoveItem(path, index))
            continue
        remaining.remove(same)
        amount = _spelled_like(same["amount"], str(entry["amount"]))
        edits.append(SetValue((*path, index, "amount"), amount))
    edits.extend(AppendItem(path, entry) for entry in remaining)
    return edits


def _priced_thing(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    label, unit, _amount, currency = pricing_key(entry)
    return label, unit, currency


def _spelled_like(amount: str, old: str) -> str:
    """``amount`` with as many decimals as ``old`` when that loses nothing ("3" -> "3.00")."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return amount
    places = len(old.split(".", 1)[1]) if "." in old else 0
    spelled = format(value, f".{places}f")
    return spelled if Decimal(spelled) == value else amount
