"""A plan's counts and the shares of the catalog it may touch without ``--force``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlanSummary:
    """How many models each action touches."""

    adopt: int = 0
    create: int = 0
    update: int = 0
    deactivate: int = 0
    noop: int = 0
    # Creates of models the state records whose draft the catalog no longer has.
    recreate: int = 0
    conflicts: int = 0
    # Models in the state and active in the catalog whose manifest is gone.
    without_manifest: int = 0

    @property
    def has_changes(self) -> bool:
        """Whether any model is adopted, created, updated or deactivated."""
        return self.adopt + self.create + self.update + self.deactivate > 0

    def line(self) -> str:
        """The one-line summary; adoptions are named only when there are some."""
        if not self.has_changes and self.without_manifest:
            n = self.without_manifest
            models = "1 model is" if n == 1 else f"{n} models are"
            return f"No changes to apply, but {models} active in the catalog without a manifest."
        if not self.has_changes:
            return "No changes. The catalog matches the manifests."
        adopt = f"{self.adopt} to adopt, " if self.adopt else ""
        conflicts = ""
        if self.conflicts:
            noun = "conflict" if self.conflicts == 1 else "conflicts"
            conflicts = f" {self.conflicts} {noun}: git overwrites a catalog edit."
        return (
            f"Plan: {adopt}{self.create} to create, {self.update} to update, "
            f"{self.deactivate} to deactivate.{conflicts}"
        )


@dataclass(frozen=True)
class SafetyLimits:
    """The share of managed models a plan may update or deactivate without ``--force``."""

    max_update_share: float = 0.30
    max_deactivate_share: float = 0.30
    # Below this many managed models every change is a large share; the check is off.
    min_models: int = 10
    # A model the state says exists whose draft answers 404 (a moved catalog, a wrong edit
    # of the state) is planned as a create: many at once is a sign of the wrong catalog.
    max_recreate_share: float = 0.30
