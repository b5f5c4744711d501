"""Field-level changes between normalized forms, and the minimal patch that makes them.

Comparison is tiered so that unchanged models cost almost nothing: plain ``==``
on the normalized dicts, then ``==`` on the comparable projection of the fields
that differ as written, and only then DeepDiff for what actually changed. List
fields are compared as sets (never DeepDiff's quadratic ``ignore_order``), so
DeepDiff reports their items added and removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.catalog.wire import MODEL_FIELDS
from reconciler.manifests.model import DesiredModel
from reconciler.planning import fields as kinds
from reconciler.planning.fields import LIST_FIELDS, comparable, display
from reconciler.planning.normalize import normalize_fields
from reconciler.planning.plan import FieldChange

_ORDER = {name: index for index, name in enumerate(MODEL_FIELDS)}


def DeepDiff(before: Any, after: Any, **options: Any) -> Mapping[str, Any]:
    """``deepdiff.DeepDiff``, imported on first use: a plan of no changes or of creates, the
    usual ``plan`` and ``drift``, never loads it (about 15 ms of start-up)."""
    from deepdiff import DeepDiff as deep_diff

    return deep_diff(before, after, **options)


@dataclass(frozen=True)
class ModelDiff:
    """The changes from a baseline to the desired model, and the patch that makes them."""

    field_changes: tuple[FieldChange, ...]
    patch: dict[str, Any]


def field_order(fields: Iterable[str]) -> list[str]:
    """Fields in the order the API documents them (name first), for stable output."""
    return sorted(fields, key=lambda f: (_ORDER.get(f, len(_ORDER)), f))


def compare(
    before: Mapping[str, Any], after: Mapping[str, Any], fields: Iterable[str]
) -> tuple[FieldChange, ...]:
    """The changes from ``before`` to ``after`` over ``fields`` (a field absent before changed)."""
    names = [f for f in fields if f in after]
    if before == after:
        return ()
    absent = [f for f in names if f not in before]
    # Equal as plans show them (a live pricing entry keeps its id, a desired one has none)
    # is equal as the server compares them, without building the comparable forms.
    differ = [
        f
        for f in names
        if f in before and before[f] != after[f] and display(f, before[f]) != display(f, after[f])
    ]
    cmp_before = {f: comparable(f, before[f]) for f in differ}
    cmp_after = {f: comparable(f, after[f]) for f in differ}
    if not absent and cmp_before == cmp_after:
        return ()
    changes = {f: _appeared(f, after[f]) for f in absent}
    added: dict[str, list[Any]] = {}
    removed: dict[str, list[Any]] = {}
    changed: set[str] = set()
    tree: Mapping[str, Any] = {}
    if cmp_before != cmp_after:
        tree = DeepDiff(cmp_before, cmp_after, view="tree", threshold_to_diff_deeper=0)
    for report, levels in tree.items():
        for level in levels:
            field = level.path(output_format="list")[0]
            changed.add(field)
            if report == "set_item_added":
                added.setdefault(field, []).append(level.t2)
            elif report == "set_item_removed":
                removed.setdefault(field, []).append(level.t1)
            elif field in LIST_FIELDS:
                # A list against null: every item of either side is the change.
                added[field] = list(level.t2 or ())
                removed[field] = list(level.t1 or ())
    for field in changed:
        changes[field] = FieldChange.of(
            field=field,
            before=display(field, before[field]),
            after=display(field, after[field]),
            added=kinds.items(field, after[field], added.get(field, ())),
            removed=kinds.items(field, before[field], removed.get(field, ())),
        )
    return tuple(changes[f] for f in field_order(changes))


def diff_model(
    model: DesiredModel, desired: Mapping[str, Any], baseline: Mapping[str, Any]
) -> ModelDiff:
    """Changes from a baseline (live draft or last applied) to the desired model."""
    changes = compare(kinds.view(desired, baseline), desired, desired.keys())
    return ModelDiff(changes, update_patch(model, baseline, {c.field for c in changes}))


def diff_create(model: DesiredModel) -> ModelDiff:
    """A new draft: every field the manifest sets, ignore_changes included."""
    desired = normalize_fields(model.fields, model.fields.keys())
    desired = {f: v for f, v in desired.items() if v is not None}
    return ModelDiff(compare({}, desired, desired.keys()), create_patch(model))


def drift(
    last_applied: Mapping[str, Any], live: Mapping[str, Any], fields: Iterable[str]
) -> tuple[FieldChange, ...]:
    """Fields changed outside reconciler, last applied -> live; never-applied fields skipped."""
    return compare(last_applied, live, [f for f in fields if f in last_applied])


def create_patch(model: DesiredModel) -> dict[str, Any]:
    """Every field the manifest sets, as written; empty strings and nulls are left out."""
    # On a new draft an empty string or null is what absence already means.
    patch = {
        f: kinds.create_value(f, v) for f, v in model.fields.items() if v is not None and v != ""
    }
    return {f: patch[f] for f in field_order(patch)}


def update_patch(
    model: DesiredModel, baseline: Mapping[str, Any], changed: Iterable[str]
) -> dict[str, Any]:
    """Only the changed fields, in the form the manifest uses (labels or ids as written)."""
    patch = kinds.patch(set(changed), model, baseline)
    return {f: patch[f] for f in field_order(patch)}


def _appeared(field: str, value: Any) -> FieldChange:
    shown = display(field, value)
    # A list field's items are the value's own items: shared, not displayed twice (a
    # plan of 10,000 creates held every list twice).
    items = tuple(shown) if field in LIST_FIELDS and value is not None else ()
    return FieldChange.of(field=field, before=None, after=shown, added=items)
