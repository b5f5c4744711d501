"""An interrupt the applier honours: once asked to stop, it starts no new model.

The CLI's signal handler sets it; the applier only reads it before starting each
model (or each proposal it settles). A model already started finishes both its
steps, so what is in flight is decided and recorded rather than left pending.
"""

from __future__ import annotations

from collections.abc import Callable


class Interrupt:
    """Whether, and since when, the run was asked to stop starting models."""

    def __init__(self) -> None:
        self.requested_at: str | None = None

    @property
    def requested(self) -> bool:
        """True once a stop was asked for."""
        return self.requested_at is not None

    def request(self, now: Callable[[], str]) -> None:
        """Ask the run to stop starting models (the first request's time is kept)."""
        if self.requested_at is None:
            self.requested_at = now()
