"""The saved plan: a plan with what ``apply --plan`` needs to prove it still holds.

A saved plan is an artifact that travels between CI jobs, so applying one is
refused unless two things are proven, both here, as methods of the plan:

- it is **current** (``raise_if_stale``): the same catalog, the same state (lineage
  and serial), no journalled proposals, the same manifests, and the live drafts it
  changes unchanged since it was made;
- it is **derived** (``raise_if_not_derived``): planning again from the manifests,
  the state and those same live drafts gives exactly its changes. A hand-edited
  patch (``name: HACKED``) is refused with the model and the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import ValidationError

from reconciler.errors import PlanFileError, PlanMismatch, PlanMismatchError, StalePlanError
from reconciler.planning.plan import Frozen, ModelChange, Plan

SAVED_PLAN_FORMAT_VERSION = 1
SAVED_PLAN_KIND = "reconciler-plan"


@dataclass(frozen=True)
class PlanBasis:
    """What a plan is made from, as it is now: compared with what a saved plan recorded."""

    catalog: str
    state_lineage: str
    state_serial: int
    journal_keys: tuple[str, ...]
    manifests_digest: str


class SavedPlan(Frozen):
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

    def raise_if_other_catalog(self, catalog: str) -> None:
        """Refuse before anything is read: the plan's drafts exist only in its catalog."""
        if self.endpoint != catalog:
            raise StalePlanError(
                (
                    f"it was made against the catalog {self.endpoint}, but this run talks to "
                    f"{catalog}",
                ),
                remedy="plan_catalog",
            )

    def changed_drafts(self) -> dict[str, str]:
        """Key -> draft id of every change that touches an existing draft."""
        return {
            change.key: change.draft_id
            for change in self.plan.changes
            if change.is_change and change.draft_id is not None
        }

    def raise_if_stale(self, now: PlanBasis, live_fingerprints: Mapping[str, str | None]) -> None:
        """Refuse the plan if anything it was made from changed; ``live_fingerprints`` are now's."""
        reasons = []
        if not self.state_lineage and now.state_lineage:
            reasons.append("the state changed: it did not exist yet when the plan was made")
        elif self.state_lineage != now.state_lineage:
            reasons.append("the state file is another one (its lineage differs)")
        elif self.state_serial != now.state_serial:
            reasons.append(f"the state changed (serial {self.state_serial} -> {now.state_serial})")
        if now.journal_keys:
            reasons.append("an interrupted apply left proposals, which the next apply settles")
        if self.manifests_digest != now.manifests_digest:
            reasons.append("the manifests changed")
        affected = self.changed_drafts()
        if affected and not self.plan.refreshed:
            # Such a plan recorded no live fingerprint: comparing would call every draft changed.
            reasons.append(
                "it was made without a refresh, so the live drafts it changes were never read "
                f"and cannot be proven unchanged ({', '.join(sorted(affected))})"
            )
        else:
            planned = {change.key: change.live_fingerprint for change in self.plan.changes}
            changed = sorted(
                key for key, print_ in live_fingerprints.items() if print_ != planned.get(key)
            )
            if changed:
                reasons.append(f"live drafts changed since the plan: {', '.join(changed)}")
        if reasons:
            remedy = "plan_with_refresh" if affected and not self.plan.refreshed else None
            raise StalePlanError(tuple(reasons), remedy=remedy)

    def raise_if_foreign(self, drafts: Mapping[str, str]) -> None:
        """Refuse a change whose model or draft the state and manifests do not give.

        ``drafts`` maps every model the manifests or the state know to its draft id (""
        for a model with none yet). Checked before any draft is read, so an edited key
        or draft id is named as an edit, not mistaken for a live change.
        """
        mismatches: list[PlanMismatch] = []
        for change in self.plan.changes:
            if not change.is_change:
                continue
            if change.key not in drafts:
                mismatches.append(
                    PlanMismatch(change.key, "key", repr(change.key), "no manifest or state has it")
                )
            elif change.action != "create" and change.draft_id != (drafts[change.key] or None):
                expected = drafts[change.key] or None
                mismatches.append(
                    PlanMismatch(
                        change.key,
                        "draft_id",
                        repr(change.draft_id),
                        f"the state and manifests give {expected!r}",
                    )
                )
        if mismatches:
            raise PlanMismatchError(tuple(mismatches))

    def raise_if_not_derived(self, recomputed: Plan) -> None:
        """Refuse a plan whose changes differ from those planning again gives.

        ``recomputed`` is planned over the saved plan's whole scope from the same
        manifests, state and live drafts. A change the plan has must be given exactly; a
        change the plan lacks is an omission when the plan recorded that model's draft as
        it is now (a change dropped from the file), and drift since the plan otherwise,
        which a plan need not include.
        """
        again = {change.key: change for change in recomputed.changes}
        mine = {change.key: change for change in self.plan.changes}
        mismatches: list[PlanMismatch] = []
        for change in self.plan.changes:
            if change.is_change:
                mismatches.extend(_mismatches(change, again.get(change.key)))
        for change in recomputed.changes:
            kept = mine.get(change.key)
            if not change.is_change or (kept is not None and kept.is_change):
                continue
            if kept is None or kept.live_fingerprint == change.live_fingerprint:
                shown = "absent" if kept is None else repr(kept.action)
                expected = f"the manifests give {change.action!r}"
                mismatches.append(PlanMismatch(change.key, "action", shown, expected))
        if mismatches:
            raise PlanMismatchError(tuple(sorted(mismatches, key=lambda m: (m.key, m.field))))

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
                f'{source} is not a reconciler plan (no "kind": "{SAVED_PLAN_KIND}")',
                remedy="make_plan_file",
            )
        versions = [("plan file", data.get("format_version"), SAVED_PLAN_FORMAT_VERSION)]
        if isinstance(data.get("plan"), dict):
            versions.append(("plan", data["plan"].get("format_version"), Plan().format_version))
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


def _mismatches(saved: ModelChange, again: ModelChange | None) -> list[PlanMismatch]:
    key = saved.key
    if again is None or not again.is_change:
        expected = "no change" if again is not None else "no such model"
        return [PlanMismatch(key, "action", repr(saved.action), f"the manifests give {expected}")]
    found = []
    for what, mine, theirs in (
        ("action", saved.action, again.action),
        ("draft_id", saved.draft_id, again.draft_id),
        ("desired_digest", saved.desired_digest, again.desired_digest),
    ):
        if mine != theirs:
            found.append(PlanMismatch(key, what, repr(mine), f"the manifests give {theirs!r}"))
    for name in sorted(saved.patch.keys() | again.patch.keys()):
        mine, theirs = saved.patch.get(name, _ABSENT), again.patch.get(name, _ABSENT)
        if mine != theirs:
            found.append(
                PlanMismatch(
                    key, f"patch.{name}", _shown(mine), f"the manifests give {_shown(theirs)}"
                )
            )
    if saved.field_changes != again.field_changes and not found:
        # What a reviewer read must be what is applied, even where the patch is the same.
        found.append(
            PlanMismatch(key, "field_changes", "edited", "the manifests give other field changes")
        )
    return found


_ABSENT: Any = object()


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "absent"
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


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
