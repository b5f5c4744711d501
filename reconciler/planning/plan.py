"""The plan as data: model changes, field changes, drift, and the plan's safety rule.

Everything here is immutable and JSON-serializable. The planner builds a
``Plan``; renderers and the applier only read it. A change whose ``patch`` is
empty sends nothing: the applier only records it in the state (an adoption of a
draft that already matches, a deactivation of a draft that is already inactive
or gone).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reconciler.catalog.wire import MODEL_FIELDS, PatchModelDraftApiRequest
from reconciler.errors import ConflictingPlanError, UnsafePlanError, UnsafeShare
from reconciler.planning.normalize import UNMANAGEABLE
from reconciler.planning.summary import PlanSummary, SafetyLimits

# Every idempotency key reconciler stages starts with this (``reconciler.apply.keys``).
STAGED_KEY_PREFIX = "rc-"
PLAN_FORMAT_VERSION = 1

Action = Literal["create", "update", "adopt", "deactivate", "noop"]
ACTIONS: tuple[Action, ...] = ("adopt", "create", "update", "deactivate", "noop")

_PATCHABLE = frozenset(MODEL_FIELDS) - UNMANAGEABLE


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldChange(Frozen):
    """One field that differs: ``before`` and ``after`` values, and for list fields the items."""

    field: str
    before: Any = None
    after: Any = None
    added: tuple[Any, ...] = ()
    removed: tuple[Any, ...] = ()

    @classmethod
    def of(
        cls,
        field: str,
        before: Any = None,
        after: Any = None,
        added: Iterable[Any] = (),
        removed: Iterable[Any] = (),
    ) -> FieldChange:
        """One the planner made: built without validating, sharing one fields-set.

        The planner's own values need no checking, and a plan of 10,000 creates holds
        about 140,000 of these: validation's copies and a set per instance cost about
        30 MiB. Equal (and hashing, dumping) exactly as the validated form.
        """
        return cls.model_construct(
            _ALL_FIELDS,
            field=field,
            before=before,
            after=after,
            added=tuple(added),
            removed=tuple(removed),
        )


# Frozen models never change their fields-set, so the constructed ones can share it.
_ALL_FIELDS = frozenset(FieldChange.model_fields)


class ModelChange(Frozen):
    """What the plan does to one model, with the exact patch the applier sends."""

    key: str
    action: Action
    draft_id: str | None = None
    field_changes: tuple[FieldChange, ...] = ()
    # Wire form, ready for ``PatchModelDraftApiRequest(**patch)``.
    patch: dict[str, Any] = Field(default_factory=dict)
    live_fingerprint: str | None = None
    desired_digest: str | None = None
    pending_ids: tuple[str, ...] = ()
    source: str | None = None
    warnings: tuple[str, ...] = ()

    @field_validator("patch")
    @classmethod
    def _patch_is_a_request(cls, patch: dict[str, Any]) -> dict[str, Any]:
        # A saved plan is read back from a file: refuse a patch the API would not take.
        return _checked_patch(patch)

    @classmethod
    def of(
        cls,
        key: str,
        action: Action,
        *,
        draft_id: str | None = None,
        field_changes: tuple[FieldChange, ...] = (),
        patch: dict[str, Any] | None = None,
        live_fingerprint: str | None = None,
        desired_digest: str | None = None,
        pending_ids: tuple[str, ...] = (),
        source: str | None = None,
        warnings: tuple[str, ...] = (),
    ) -> ModelChange:
        """One the planner made: built without validating what the types already say.

        Validation cost 6 µs a change, 0.06 s of a plan of 10,000 no-ops, to check the
        planner's own strings and tuples. A patch is still checked as a request (an empty
        one trivially is one), and one that is not is refused by validation, with its
        error. Equal, and dumping, exactly as the validated form; its fields-set is every
        field (a set of its own: ``model_copy(update=...)`` adds to it).
        """
        values = {
            "key": key,
            "action": action,
            "draft_id": draft_id,
            "field_changes": field_changes,
            "patch": patch or {},
            "live_fingerprint": live_fingerprint,
            "desired_digest": desired_digest,
            "pending_ids": pending_ids,
            "source": source,
            "warnings": warnings,
        }
        if patch:
            try:
                _checked_patch(patch)
            except Exception:  # validation then raises what it raised before
                return cls(**values)
        return cls.model_construct(set(_CHANGE_FIELDS), **values)

    @property
    def is_change(self) -> bool:
        """Whether the model is touched at all (sent a patch or recorded in the state)."""
        return self.action != "noop"


def _checked_patch(patch: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(patch) - _PATCHABLE)
    if unknown:
        raise ValueError(f"patch has fields that are not model fields: {', '.join(unknown)}")
    PatchModelDraftApiRequest(**patch)
    return patch


_CHANGE_FIELDS = frozenset(ModelChange.model_fields)


Verdict = Literal["staged", "refused", "failed"]


class StageVerdict(Frozen):
    """What the catalog said of one change's soft patch when the plan was staged.

    ``staged``: the catalog validated the proposal and holds it, dormant, under
    ``idempotency_key`` on ``draft_id`` (a create's newly reserved draft). ``refused``:
    the catalog answered 400/422; ``field_errors`` name the fields. ``failed``: it
    could not be staged (the draft is gone, the key is in use, the catalog is down).
    """

    key: str
    verdict: Verdict
    idempotency_key: str
    draft_id: str | None = None
    message: str = ""
    field_errors: tuple[tuple[str, str], ...] = ()
    # The catalog had this very proposal already (an earlier stage of the same plan).
    replayed: bool = False


class DriftEntry(Frozen):
    """Fields of one draft changed outside reconciler: last applied value -> live value."""

    key: str
    draft_id: str
    field_changes: tuple[FieldChange, ...]


class FieldConflict(Frozen):
    """A field changed in git and in the catalog since the last apply, to different values.

    Applying the plan writes git's value over the catalog's edit (git wins unless
    ``apply --fail-on-conflict``).
    """

    key: str
    field: str
    last_applied: Any = None
    catalog: Any = None
    git: Any = None


class WithoutManifest(Frozen):
    """A model in the state, active in the catalog, whose manifest is gone (not pruned)."""

    key: str
    draft_id: str


class Plan(Frozen):
    """A whole plan: one change per model (noops included), drift and warnings."""

    format_version: int = PLAN_FORMAT_VERSION
    changes: tuple[ModelChange, ...] = ()
    drift: tuple[DriftEntry, ...] = ()
    conflicts: tuple[FieldConflict, ...] = ()
    warnings: tuple[str, ...] = ()
    # Models in the state when the plan was made: the base of the safety shares.
    managed_models: int = 0
    refreshed: bool = True
    # Managed models a partial refresh (``--refresh=changed``) left unread.
    not_refreshed: int = 0
    targets: tuple[str, ...] | None = None
    # Whether models without a manifest were planned for deactivation (``--prune``).
    prune: bool = False
    # Models in the state without a manifest, left alone because the plan does not prune.
    unmanaged: tuple[str, ...] = ()
    # Models recorded in the state whose draft answered 404 when the plan was made.
    missing_from_catalog: tuple[str, ...] = ()
    # Models in the state and active in the catalog with no manifest: git and the catalog
    # disagree, though nothing is planned for them without --prune.
    without_manifest: tuple[WithoutManifest, ...] = ()
    # Set by ``plan --stage``: the catalog's verdict on each change that sends a patch.
    stage: tuple[StageVerdict, ...] | None = None

    @field_validator("changes", "drift", "without_manifest")
    @classmethod
    def _sorted_by_key(cls, items: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(sorted(items, key=lambda item: item.key))

    @field_validator("conflicts")
    @classmethod
    def _sorted_by_field(cls, items: tuple[FieldConflict, ...]) -> tuple[FieldConflict, ...]:
        return tuple(sorted(items, key=lambda item: (item.key, item.field)))

    @property
    def summary(self) -> PlanSummary:
        """Counts per action, and the conflicts."""
        counts = Counter(change.action for change in self.changes)
        missing = set(self.missing_from_catalog)
        recreate = sum(1 for c in self.changes if c.action == "create" and c.key in missing)
        return PlanSummary(
            **{action: counts[action] for action in ACTIONS},
            recreate=recreate,
            conflicts=len(self.conflicts),
            without_manifest=len(self.without_manifest),
        )

    @property
    def missing_line(self) -> str | None:
        """The plain statement that models of the state are gone from the catalog, if any are."""
        count = len(self.missing_from_catalog)
        if not count:
            return None
        noun = (
            "model recorded in the state is" if count == 1 else "models recorded in the state are"
        )
        recreated = self.summary.recreate
        then = f"; {recreated} will be created anew" if recreated else ""
        return (
            f"{count} {noun} missing from the catalog (their drafts answer 404){then}. "
            'If the catalog moved or the state\'s "catalog" was edited, stop and check the '
            "endpoint and the state file."
        )

    def raise_if_conflicts(self) -> None:
        """Refuse a plan that would overwrite fields edited in the catalog since the last apply."""
        if not self.conflicts:
            return
        raise ConflictingPlanError(
            tuple(
                f"{c.key}.{c.field} (last applied {_shown(c.last_applied)}, catalog "
                f"{_shown(c.catalog)}, git {_shown(c.git)})"
                for c in self.conflicts
            )
        )

    @property
    def has_changes(self) -> bool:
        """Whether applying the plan would touch anything."""
        return any(change.is_change for change in self.changes)

    @property
    def refusals(self) -> tuple[StageVerdict, ...]:
        """The staged plan's changes the catalog did not take (refused or failed)."""
        return tuple(v for v in self.stage or () if v.verdict != "staged")

    def stage_line(self) -> str:
        """``12 of 12 changes validated by the catalog`` / ``... 2 refused``."""
        verdicts = self.stage or ()
        staged = sum(1 for v in verdicts if v.verdict == "staged")
        line = f"{staged} of {len(verdicts)} changes validated by the catalog"
        refused = sum(1 for v in verdicts if v.verdict == "refused")
        failed = len(verdicts) - staged - refused
        extra = [f"{n} {what}" for n, what in ((refused, "refused"), (failed, "not staged")) if n]
        return f"{line}; {', '.join(extra)}." if extra else f"{line}."

    @property
    def refresh_only(self) -> tuple[ModelChange, ...]:
        """Unchanged models whose drift the manifests already describe (an adopted edit).

        Apply records their live values as last applied without sending a write, as
        Terraform's refresh-only apply does, so that the drift is not reported again.
        """
        drifted = {entry.key for entry in self.drift}
        return tuple(c for c in self.changes if c.action == "noop" and c.key in drifted)

    def for_applying(self) -> Plan:
        """The plan as the applier reads it: each change without its field-level changes.

        Those are for people (renderers) and the saved plan's proofs; the applier sends
        each change's patch. A plan of 10,000 creates holds about 60 MiB of them, so
        ``apply`` keeps this form once the plan is shown and checked.
        """
        return self.model_copy(
            update={
                "changes": tuple(
                    c.model_copy(update={"field_changes": ()}) if c.field_changes else c
                    for c in self.changes
                )
            }
        )

    def raise_if_unsafe(self, limits: SafetyLimits | None = None, *, force: bool = False) -> None:
        """Refuse a plan that updates or deactivates too large a share of the catalog.

        The ``UnsafePlanError`` carries each share over its limit (``UnsafeShare``), so a
        renderer can show the figures; ``force`` skips the check.
        """
        limits = limits or SafetyLimits()
        total = self.managed_models
        # With nothing managed yet there is nothing to update or deactivate (and no share).
        if force or total == 0 or total < limits.min_models:
            return
        summary = self.summary
        shares = tuple(
            UnsafeShare(action, count, total, limit)
            for action, count, limit in (
                ("update", summary.update, limits.max_update_share),
                ("deactivate", summary.deactivate, limits.max_deactivate_share),
                ("recreate", summary.recreate, limits.max_recreate_share),
            )
            if count / total > limit
        )
        if shares:
            raise UnsafePlanError(shares)


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
