"""Settling: finish or discard every proposal an interrupted run left in the journal."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.apply.ledger import Ledger
from reconciler.apply.outcome import ModelOutcome
from reconciler.apply.proposal import Staged, TwoPhase
from reconciler.apply.state import JournalEntry
from reconciler.catalog.interface import Catalog
from reconciler.errors import ConflictError, NotFoundError, RejectedError
from reconciler.manifests.model import DesiredModel
from reconciler.planning.normalize import desired_digest


class Settler:
    """Decides each journalled proposal the way the manifests want it now."""

    def __init__(
        self,
        catalog: Catalog,
        ledger: Ledger,
        two_phase: TwoPhase,
        desired: Mapping[str, DesiredModel],
    ) -> None:
        self._catalog = catalog
        self._ledger = ledger
        self._two_phase = two_phase
        self._desired = desired

    async def settle(self, entry: JournalEntry) -> ModelOutcome:
        """Accept ``entry`` if it is still wanted, else reject it; record either way."""
        key, action = entry.model_key, entry.action
        if entry.staged_draft_id is not None:
            # A new draft has a live state only once its proposal was accepted: then the
            # create is done, whether or not the catalog still remembers the key.
            try:
                live = await self._catalog.read(entry.staged_draft_id)
            except NotFoundError:
                live = None
            if live is not None:
                await self._ledger.complete(key, action, entry.staged_draft_id, live)
                return ModelOutcome(
                    key, action, "settled", "interrupted change had completed", live.draft_id
                )
        try:
            staged = await self._two_phase.stage(entry)
        except RejectedError as exc:
            return ModelOutcome(key, action, "discarded", f"interrupted proposal refused: {exc}")
        # A proposal of an all-or-nothing batch that was never committed to is withdrawn:
        # accepting it would land part of a plan.
        if self._still_wanted(entry) and self._ledger.batch_committed(entry):
            try:
                await self._two_phase.decide(staged, accept=True)
            except (ConflictError, NotFoundError):
                # Stale, or decided the other way already: discarded; the plan redoes it.
                return ModelOutcome(key, action, "discarded", "interrupted proposal was stale")
            return ModelOutcome(
                key, action, "settled", "interrupted change completed", staged.draft_id
            )
        return await self._withdraw(staged)

    async def _withdraw(self, staged: Staged) -> ModelOutcome:
        key, action, draft_id = staged.key, staged.entry.action, staged.draft_id
        try:
            await self._two_phase.decide(staged, accept=False)
        except ConflictError:
            # It had been accepted before the interruption: the draft is live, so the
            # state must know it even though the manifests now want something else. A
            # deactivated model whose manifest is back stays in the state: forgetting
            # its draft would make the next plan create a duplicate.
            live = await self._catalog.read(draft_id)
            kept = "update" if action == "deactivate" and key in self._desired else action
            await self._ledger.complete(key, kept, draft_id, live)
            return ModelOutcome(
                key, action, "settled", "interrupted change had completed", draft_id
            )
        why = (
            "rejected: its all-or-nothing plan was interrupted before any change was accepted"
            if self._still_wanted(staged.entry)
            else "no longer wanted"
        )
        return ModelOutcome(key, action, "discarded", f"interrupted proposal {why}")

    def _still_wanted(self, entry: JournalEntry) -> bool:
        model = self._desired.get(entry.model_key)
        if entry.action == "deactivate":
            return model is None
        return model is not None and desired_digest(model) == entry.desired_digest
