"""What an apply reports: each model's outcome, and the whole result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# ``withdrawn``: staged, then rejected because another change of an all-or-nothing plan
# was refused; nothing of it landed.
Status = Literal["applied", "failed", "not_converged", "settled", "discarded", "withdrawn"]


@dataclass(frozen=True)
class ModelOutcome:
    """How one model's change ended."""

    key: str
    action: str
    status: Status
    message: str
    draft_id: str | None = None
    # Its proposal could not be rejected now: it stays journalled for the next run.
    journalled: bool = False

    @property
    def ok(self) -> bool:
        """True when the change is done and the live draft matches the manifest."""
        return self.status in ("applied", "settled", "discarded")


@dataclass(frozen=True)
class Stop:
    """Why a run stopped before starting every model, and which it did not start."""

    # "catalog_gone": the circuit breaker opened; "interrupted": a signal asked to stop.
    reason: Literal["catalog_gone", "interrupted"]
    at: str
    not_started: tuple[str, ...]


@dataclass(frozen=True)
class ApplyResult:
    """Every model's outcome, in key order, and why the run stopped early, if it did."""

    outcomes: tuple[ModelOutcome, ...]
    # An all-or-nothing apply that accepted nothing: a change was refused, or the run
    # stopped (``stopped``) before it began accepting.
    rolled_back: bool = False
    stopped: Stop | None = None

    @property
    def failed(self) -> tuple[ModelOutcome, ...]:
        """The outcomes that need a person's attention."""
        return tuple(o for o in self.outcomes if not o.ok)

    def count(self, action: str) -> int:
        """How many models of ``action`` were done: applied now, or settled from a killed run."""
        # A discarded proposal changed nothing: the plan that follows redoes its change.
        return sum(
            1 for o in self.outcomes if o.status in ("applied", "settled") and o.action == action
        )

    def then(self, later: ApplyResult) -> ApplyResult:
        """This result followed by ``later``'s (settled proposals, then the plan's changes)."""
        return ApplyResult(
            self.outcomes + later.outcomes,
            self.rolled_back or later.rolled_back,
            self.stopped or later.stopped,
        )
