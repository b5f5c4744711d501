"""The plan as data: model changes, field changes, drift, safety, and the saved-plan file.

Everything here is immutable and JSON-serializable. The planner builds a
``Plan``; renderers and the applier only read it. A change whose ``patch`` is
empty sends nothing: the applier only records it in the state (an adoption of a
draft that already matches, a deactivation of a draft that is already inactive
or gone).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reconciler.catalog.wire import MODEL_FIELDS, PatchModelDraftApiRequest
from reconciler.errors import PlanFileError, UnsafePlanError
from reconciler.planning.normalize import UNMANAGEABLE

PLAN_FORMAT_VERSION = 1
SAVED_PLAN_FORMAT_VERSION = 1
SAVED_PLAN_KIND = "reconciler-plan"

Action = Literal["create", "update", "adopt", "deactivate", "noop"]
ACTIONS: tuple[Action, ...] = ("adopt", "create", "update", "deactivate", "noop")

_PATCHABLE = frozenset(MODEL_FIELDS) - UNMANAGEABLE


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldChange(_Frozen):
    """One field that differs: ``before`` and ``after`` values, and for list fields the items."""

    field: str
    before: Any = None
    after: Any = None
    added: tuple[Any, ...] = ()
    removed: tuple[Any, ...] = ()


class ModelChange(_Frozen):
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
        unknown = sorted(set(patch) - _PATCHABLE)
        if unknown:
            raise ValueError(f"patch has fields that are not model fields: {', '.join(unknown)}")
        PatchModelDraftApiRequest(**patch)
        return patch

    @property
    def is_change(self) -> bool:
        """Whether the model is touched at all (sent a patch or recorded in the state)."""
        return self.action != "noop"


class DriftEntry(_Frozen):
    """Fields of one draft changed outside reconciler: last applied value -> live value."""

    key: str
    draft_id: str
    field_changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class PlanSummary:
    """How many models each action touches."""

    adopt: int = 0
    create: int = 0
    update: int = 0
    deactivate: int = 0
    noop: int = 0

    @property
    def has_changes(self) -> bool:
        """Whether any model is adopted, created, updated or deactivated."""
        return self.adopt + self.create + self.update + self.deactivate > 0

    def line(self) -> str:
        """The one-line summary; adoptions are named only when there are some."""
        if not self.has_changes:
            return "No changes. The catalog matches the manifests."
        adopt = f"{self.adopt} to adopt, " if self.adopt else ""
        return (
            f"Plan: {adopt}{self.create} to create, {self.update} to update, "
            f"{self.deactivate} to deactivate."
        )


@dataclass(frozen=True)
class SafetyLimits:
    """The share of managed models a plan may update or deactivate without ``--force``."""

    max_update_share: float = 0.30
    max_deactivate_share: float = 0.30
    # Below this many managed models every change is a large share; the check is off.
    min_models: int = 10


class Plan(_Frozen):
    """A whole plan: one change per model (noops included), drift and warnings."""

    format_version: int = PLAN_FORMAT_VERSION
    changes: tuple[ModelChange, ...] = ()
    drift: tuple[DriftEntry, ...] = ()
    warnings: tuple[str, ...] = ()
    # Models in the state when the plan was made: the base of the safety shares.
    managed_models: int = 0
    refreshed: bool = True
    targets: tuple[str, ...] | None = None

    @field_validator("changes", "drift")
    @classmethod
    def _sorted_by_key(cls, items: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(sorted(items, key=lambda item: item.key))

    @property
    def summary(self) -> PlanSummary:
        """Counts per action."""
        counts = Counter(change.action for change in self.changes)
        return PlanSummary(**{action: counts[action] for action in ACTIONS})

    @property
    def has_changes(self) -> bool:
        """Whether applying the plan would touch anything."""
        return any(change.is_change for change in self.changes)

    @property
    def all_warnings(self) -> tuple[str, ...]:
        """Every warning: each change's (prefixed with its key), then the plan's own."""
        per_model = (f"{c.key}: {w}" for c in self.changes for w in c.warnings)
        return (*per_model, *self.warnings)

    def raise_if_unsafe(self, limits: SafetyLimits | None = None, *, force: bool = False) -> None:
        """Refuse a plan that updates or deactivates too large a share of the catalog."""
        limits = limits or SafetyLimits()
        total = self.managed_models
        # With nothing managed yet there is nothing to update or deactivate (and no share).
        if force or total == 0 or total < limits.min_models:
            return
        summary = self.summary
        problems = []
        for verb, count, limit in (
            ("update", summary.update, limits.max_update_share),
            ("deactivate", summary.deactivate, limits.max_deactivate_share),
        ):
            if count / total > limit:
                problems.append(
                    f"{verb} {count} of {total} managed models ({count / total:.0%}), "
                    f"above the safe limit of {limit:.0%}"
                )
        if problems:
            raise UnsafePlanError(
                f"The plan would {' and '.join(problems)}. "
                "Review the plan, then rerun with --force to apply it anyway."
            )


class SavedPlan(_Frozen):
    """A plan saved with ``--out FILE``, with what ``apply --plan`` needs to prove it current."""

    kind: Literal["reconciler-plan"] = SAVED_PLAN_KIND
    format_version: int = SAVED_PLAN_FORMAT_VERSION
    created_at: str
    # "embedded" or the catalog's host[:port]; never a URL's credentials, path or query.
    endpoint: str
    state_lineage: str
    state_serial: int
    manifests_digest: str
    plan: Plan

    def to_json(self) -> str:
        """The plan file's text."""
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "plan file") -> SavedPlan:
        """Read a plan file, refusing anything that is not a plan of this format version."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PlanFileError(
                f"{source} is not a reconciler plan: invalid JSON ({exc})"
            ) from None
        if not isinstance(data, dict) or data.get("kind") != SAVED_PLAN_KIND:
            raise PlanFileError(
                f'{source} is not a reconciler plan (no "kind": "{SAVED_PLAN_KIND}"); '
                "make one with `reconciler plan --out FILE`"
            )
        versions = [("plan file", data.get("format_version"), SAVED_PLAN_FORMAT_VERSION)]
        if isinstance(data.get("plan"), dict):
            versions.append(("plan", data["plan"].get("format_version"), PLAN_FORMAT_VERSION))
        for what, version, expected in versions:
            if version != expected:
                raise PlanFileError(
                    f"{source} has {what} format version {version!r}, but this reconciler reads "
                    f"version {expected}; make the plan again with this version"
                )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
            )
            raise PlanFileError(f"{source} is not a valid reconciler plan: {details}") from None


def endpoint_label(endpoint: str | None) -> str:
    """What a plan records of the catalog endpoint: ``embedded`` or ``host[:port]``."""
    if not endpoint:
        return "embedded"
    try:
        parts = urlsplit(endpoint)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "unknown"
    if not host:
        return "unknown"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host
