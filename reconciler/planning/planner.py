"""The planner: desired models, state records and live drafts in, a ``Plan`` out. No I/O.

Actions:
- no record and no ``metadata.draft_id``: **create** (every field, ignore_changes included);
- no record and a ``metadata.draft_id``: **adopt** that draft (always a change: the state
  learns the model, even when the draft already matches and the patch is empty);
- a record: **update**, or **noop** when the baseline already matches;
- a record whose live draft is gone (404): **create** anew, with a warning; the plan lists
  such models in ``missing_from_catalog`` and the safety check counts them as recreations;
- a record with no manifest: **deactivate** with ``prune`` (empty patch when the draft is
  already inactive or gone: the applier then only drops it from the state); else listed in
  ``without_manifest`` when its draft is active, or a warning.

The baseline is the live draft when it was read, else the record's ``last_applied``
(``refreshed=False``, or a draft this run did not read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.catalog.wire import DraftFormState
from reconciler.errors import PlanError, PlanProblem
from reconciler.manifests.model import DesiredModel
from reconciler.planning.diff import ModelDiff, diff_create, diff_model, drift
from reconciler.planning.fields import display
from reconciler.planning.live import LiveDraft, compact
from reconciler.planning.normalize import (
    comparable,
    desired_digest,
    managed_fields,
    normalize_desired,
    normalize_fields,
)
from reconciler.planning.plan import (
    STAGED_KEY_PREFIX,
    DriftEntry,
    FieldChange,
    FieldConflict,
    ModelChange,
    Plan,
    WithoutManifest,
)


class ModelRecord(Protocol):
    """What the planner needs of a model's state record (``reconciler.apply.state``)."""

    @property
    def draft_id(self) -> str:
        """The draft the model is in."""
        ...

    @property
    def last_applied(self) -> dict[str, Any]:
        """The managed fields as the last apply left them (normalized)."""
        ...


# A live draft as read, or as a refresh kept it (``planning.live``): made for the model's
# managed fields, or for none when the model has no manifest.
Live = DraftFormState | LiveDraft


@dataclass(frozen=True, slots=True)
class PlannedModel:
    """One model planned ahead against its live draft, as ``build_plan`` would plan it.

    A refresh plans each model as its draft arrives (``plan_model``), so the planning
    overlaps the reads still in flight; ``build_plan`` takes the result only when it was
    made from the very model, record and draft it is planning with, else plans anew.
    """

    model: DesiredModel
    record: ModelRecord | None
    live: Live
    change: ModelChange
    drift: DriftEntry | None


def plan_model(model: DesiredModel, record: ModelRecord | None, live: Live) -> PlannedModel:
    """``model`` planned against its draft ``live`` (read in this run), for ``build_plan``.

    The same as ``build_plan`` plans a refreshed model it reaches: a model ``build_plan``
    rejects with a problem never uses this.
    """
    change, entry = _plan_model(model, record, {model.key: live}, refreshed=True)
    return PlannedModel(model, record, live, change, entry)


def build_plan(
    desired: Sequence[DesiredModel],
    records: Mapping[str, ModelRecord],
    live: Mapping[str, Live | None],
    *,
    prune: bool = False,
    targets: frozenset[str] | None = None,
    refreshed: bool = True,
    unread: frozenset[str] = frozenset(),
    planned: Mapping[str, PlannedModel] | None = None,
) -> Plan:
    """Plan every model in scope; ``live`` maps key -> live draft (None: 404, absent: not read).

    ``unread`` names the models a partial refresh chose not to read: they are planned from
    their last applied state like any unread draft, without a warning each (the plan
    counts them in ``not_refreshed`` instead). ``planned``: models already planned as
    their drafts arrived (``plan_model``); each is used only if made from the same model,
    record and draft as here.
    """
    by_key: dict[str, DesiredModel] = {}
    for model in desired:
        if model.key in by_key:
            raise PlanError(f"model {model.key} is described twice ({_where(model)})")
        by_key[model.key] = model

    def in_scope(key: str) -> bool:
        return targets is None or key in targets

    reads = live if refreshed else {}
    owners = {record.draft_id: key for key, record in records.items()}
    changes: list[ModelChange] = []
    drifts: list[DriftEntry] = []
    problems: list[PlanProblem] = []
    conflicts: list[FieldConflict] = []
    for key in sorted(k for k in by_key if in_scope(k)):
        model, record = by_key[key], records.get(key)
        if record and model.draft_id and model.draft_id != record.draft_id:
            problems.append(
                PlanProblem(
                    f"model {key}: metadata.draft_id is {model.draft_id} but the state maps it "
                    f"to draft {record.draft_id}",
                    remedy="state_rm_to_adopt",
                    remedy_args=(("key", key), ("draft_id", model.draft_id)),
                )
            )
            continue
        owner = owners.get(model.draft_id) if record is None and model.draft_id else None
        if owner is not None and owner != key:
            # Two models on one draft would undo each other's changes on every apply.
            problems.append(
                PlanProblem(
                    f"model {key}: metadata.draft_id {model.draft_id} is already model {owner} "
                    "in the state",
                    remedy="state_rm_owner",
                    remedy_args=(("key", key), ("owner", owner)),
                )
            )
            continue
        if record is None and model.draft_id and key in reads and reads[key] is None:
            problems.append(
                PlanProblem(
                    f"model {key}: metadata.draft_id {model.draft_id} names a draft the catalog "
                    "does not have; fix the id, or remove it to create a new draft"
                )
            )
            continue
        ahead = planned.get(key) if planned else None
        if (
            ahead is not None
            and refreshed
            and key not in unread
            and ahead.model is model
            and ahead.record is record
            and key in reads
            and ahead.live is reads[key]
        ):
            change, drift_entry = ahead.change, ahead.drift
        else:
            change, drift_entry = _plan_model(
                model, record, reads, refreshed=refreshed and key not in unread
            )
        changes.append(change)
        if drift_entry:
            drifts.append(drift_entry)
            conflicts += _conflicts(model, record, drift_entry)
    if problems:
        raise PlanError(problems=tuple(problems))

    warnings: list[str] = []
    without_manifest = tuple(
        WithoutManifest(key=key, draft_id=records[key].draft_id)
        for key in sorted(k for k in records if k not in by_key and in_scope(k))
        if not prune and (current := reads.get(key)) is not None and current.active
    )
    # The active ones are listed apart (drift reports them); the others only warned about.
    listed = {entry.key for entry in without_manifest}
    unmanaged = sorted(k for k in records if k not in by_key and in_scope(k) and k not in listed)
    if prune:
        changes.extend(_deactivate(key, records[key], reads) for key in unmanaged)
    for key in sorted((targets or frozenset()) - by_key.keys() - records.keys()):
        warnings.append(f"target {key} matches no manifest and no model in the state")

    return Plan(
        changes=tuple(changes),
        drift=tuple(drifts),
        conflicts=tuple(conflicts),
        warnings=tuple(warnings),
        managed_models=len(records),
        refreshed=refreshed,
        not_refreshed=len(unread),
        targets=tuple(sorted(targets)) if targets is not None else None,
        prune=prune,
        unmanaged=() if prune else tuple(unmanaged),
        missing_from_catalog=tuple(
            sorted(k for k in records if in_scope(k) and k in reads and reads[k] is None)
        ),
        without_manifest=without_manifest,
    )


def _plan_model(
    model: DesiredModel,
    record: ModelRecord | None,
    reads: Mapping[str, Live | None],
    *,
    refreshed: bool,
) -> tuple[ModelChange, DriftEntry | None]:
    key, digest = model.key, desired_digest(model)
    common: dict[str, Any] = {"key": key, "desired_digest": digest, "source": _where(model)}
    if record is None and model.draft_id is None:
        return _change(diff_create(model), action="create", **common), None

    draft_id = record.draft_id if record else model.draft_id
    current = reads.get(key)
    if record and key in reads and current is None:
        warning = f"draft {draft_id} in the state no longer exists; a new draft will be created"
        return _change(diff_create(model), action="create", warnings=(warning,), **common), None

    fields = managed_fields(model)
    desired = normalize_fields(model.fields, fields)  # normalize_desired, fields made once
    warnings: list[str] = []
    drift_entry = None
    if current is not None:
        view = compact(current, fields)
        baseline: Mapping[str, Any] = view.normalized(fields)
        common.update(live_fingerprint=view.fingerprint, pending_ids=view.pending_ids)
        warnings.extend(_pending_warning(view))
        if record:
            drifted = drift(record.last_applied, baseline, fields)
            if drifted:
                drift_entry = DriftEntry(key=key, draft_id=draft_id, field_changes=drifted)
    elif record:
        baseline = record.last_applied
        if refreshed:
            warnings.append(f"draft {draft_id} not read; planned against the last applied state")
    else:
        # Adopting without reading the draft: nothing is known of it, so set every field.
        baseline = {}
        warnings.append(f"draft {draft_id} not read; the patch sets every managed field")

    result = diff_model(model, desired, baseline)
    action = "adopt" if record is None else ("update" if result.patch else "noop")
    change = _change(result, action=action, draft_id=draft_id, warnings=tuple(warnings), **common)
    return change, drift_entry


def _conflicts(
    model: DesiredModel, record: ModelRecord | None, entry: DriftEntry
) -> list[FieldConflict]:
    """Drifted fields git also changed, to another value: applying overwrites the catalog's."""
    if record is None:
        return []
    wanted = normalize_desired(model)
    found = []
    for fc in entry.field_changes:
        name = fc.field
        git = comparable(name, wanted.get(name))
        git_changed = name in wanted and git != comparable(name, record.last_applied.get(name))
        # fc.after is the live value as plans show it (pricing without ids).
        if git_changed and git != comparable(name, fc.after):
            found.append(
                FieldConflict(
                    key=model.key,
                    field=name,
                    last_applied=fc.before,
                    catalog=fc.after,
                    git=display(name, wanted[name]),
                )
            )
    return found


def _deactivate(key: str, record: ModelRecord, reads: Mapping[str, Live | None]) -> ModelChange:
    draft_id, current = record.draft_id, reads.get(key)
    common: dict[str, Any] = {"key": key, "action": "deactivate", "draft_id": draft_id}
    if key in reads and current is None:
        gone = f"draft {draft_id} no longer exists; the model is only dropped from the state"
        return ModelChange(warnings=(gone,), **common)
    if current is not None:
        view = compact(current, ())
        common.update(
            live_fingerprint=view.fingerprint,
            pending_ids=view.pending_ids,
            warnings=_pending_warning(view),
        )
    active = current.active if current is not None else record.last_applied.get("active")
    if active is False:
        inactive = f"draft {draft_id} is already inactive; the model is only dropped from the state"
        return ModelChange(**{**common, "warnings": (*common.get("warnings", ()), inactive)})
    return ModelChange(
        field_changes=(FieldChange(field="active", before=active, after=False),),
        patch={"active": False},
        **common,
    )


def _pending_warning(current: Live) -> tuple[str, ...]:
    ours = sorted(k for k in current.pending_ids if k.startswith(STAGED_KEY_PREFIX))
    others = sorted(k for k in current.pending_ids if not k.startswith(STAGED_KEY_PREFIX))
    warnings = []
    if others:
        keys = ", ".join(others)
        warnings.append(
            f"draft {current.draft_id} has pending proposals not made by this plan: {keys}"
        )
    if ours:
        # A staged pull request's plan, or an interrupted run: apply replays the one it would
        # send and rejects the others, so they are no one else's edit in flight.
        keys = ", ".join(ours)
        warnings.append(
            f"draft {current.draft_id} has proposals staged by reconciler pending: {keys}"
        )
    return tuple(warnings)


def _change(result: ModelDiff, **fields: Any) -> ModelChange:
    return ModelChange.of(field_changes=result.field_changes, patch=result.patch, **fields)


def _where(model: DesiredModel) -> str | None:
    return str(model.source) if model.source else None
