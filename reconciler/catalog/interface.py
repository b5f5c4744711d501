"""The narrow catalog interface the planner's refresh and the applier depend on.

``CatalogClient`` satisfies these protocols structurally; so does any fake a test
writes (``tests/fake_catalog.py``). Depending on three methods instead of the HTTP
client keeps retries, transports and the token out of the applier's concerns, and
lets a test change one step (an interfering edit, a crash) without subclassing
the client. Importing this module costs pydantic only, never httpx.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from reconciler.catalog.wire import DraftFormState, PatchModelDraftApiResponse


class DraftReader(Protocol):
    """Reads a draft's live state: all a refresh needs."""

    async def read(self, draft_id: str) -> DraftFormState:
        """The live state of ``draft_id``; ``NotFoundError`` if the catalog has no such draft."""
        ...


class Catalog(DraftReader, Protocol):
    """Reads, stages (soft patch) and decides (ack): the two-phase write path."""

    async def soft_patch(
        self, fields: Mapping[str, Any], *, idempotency_key: str, draft_id: str | None = None
    ) -> PatchModelDraftApiResponse:
        """Stage ``fields`` as a proposal under ``idempotency_key`` (no ``draft_id``: a new one)."""
        ...

    async def ack(
        self, idempotency_key: str, *, accept: bool, draft_id: str | None = None
    ) -> PatchModelDraftApiResponse:
        """Accept or reject the proposal staged under ``idempotency_key``."""
        ...


class Recorded(Protocol):
    """What a refresh needs of a model's state record: the draft it is in."""

    @property
    def draft_id(self) -> str:
        """The draft the state records for the model."""
        ...


class Progress(Protocol):
    """Where a long phase (refresh, stage, apply) reports each finished item."""

    def advance(self, key: str, outcome: str = "") -> None:
        """One item is finished; ``outcome`` says how it ended, in a few words."""
        ...
