"""All or nothing: stage every change of a plan, then accept them all or reject them all.

The catalog's two-phase write makes this possible without any transaction of its
own: a staged proposal changes nothing live, so a plan is first staged whole, and
only if the catalog takes every proposal are they accepted. If one is refused (or
cannot be staged after retries), every proposal staged so far is rejected: new
drafts reserved by them disappear, and the catalog is as it was.

The promise ends where the catalog's own atomicity ends: the accepts are separate
requests. Once accepting has begun (``StateDocument.accepting_batch`` is written
first, in one write), a failure of one accept (409: someone changed the draft
meanwhile; the catalog gone) is reported for that model and settled by the next
run, which accepts what is still wanted. A run killed before accepting began
leaves a batch that settling rejects: it never lands a part of a plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING

from reconciler.apply.outcome import ApplyResult, ModelOutcome
from reconciler.apply.proposal import Staged
from reconciler.catalog.interface import Progress
from reconciler.errors import CatalogError, RejectedError
from reconciler.planning.plan import ModelChange

if TYPE_CHECKING:
    from reconciler.apply.applier import Applier

_WITHDRAWN = "not applied: another change of this plan was refused, so its proposal was rejected"


class AllOrNothing:
    """One all-or-nothing apply of a list of changes, through ``applier``'s steps."""

    def __init__(self, applier: Applier, progress: Progress) -> None:
        # The applier's steps (stage, decide, record) are this class's building blocks.
        self._applier = applier
        self._progress = progress
        self._batch = uuid.uuid4().hex

    async def apply(self, changes: list[ModelChange]) -> ApplyResult:
        """Stage all of ``changes``; accept all if every one was staged, else reject all."""
        sending = [c for c in changes if c.patch]
        staged = await asyncio.gather(*(self._stage(c) for c in sending))
        refused = [o for o in staged if isinstance(o, ModelOutcome)]
        if refused:
            return await self._roll_back(changes, staged, refused)
        await self._applier._ledger.accept_batch(self._batch)
        outcomes = await asyncio.gather(
            *(
                self._accept(c, s)
                for c, s in zip(sending, staged, strict=True)
                if isinstance(s, Staged)
            ),
            *(self._record(c) for c in changes if not c.patch),
        )
        await self._applier._ledger.close_batch()
        return ApplyResult(tuple(sorted(outcomes, key=lambda o: o.key)))

    async def _stage(self, change: ModelChange) -> Staged | ModelOutcome:
        applier = self._applier
        entry = applier._entry(change, batch=self._batch)
        async with applier._gate:
            try:
                return await applier._two_phase.stage(entry)
            except RejectedError as exc:
                message = f"refused by the catalog: {exc}"
            except CatalogError as exc:
                # It may have reached the catalog (a lost response): withdraw it too.
                with contextlib.suppress(CatalogError):
                    await applier._two_phase.withdraw(entry, change.draft_id)
                message = f"could not be staged: {exc}"
                if change.key in applier._doc.journal:
                    message += "; its proposal is journalled and the next apply settles it"
        return ModelOutcome(change.key, change.action, "failed", message, change.draft_id)

    async def _roll_back(
        self,
        changes: list[ModelChange],
        staged: list[Staged | ModelOutcome],
        refused: list[ModelOutcome],
    ) -> ApplyResult:
        applier = self._applier

        async def withdraw(proposal: Staged) -> ModelOutcome:
            async with applier._gate:
                with contextlib.suppress(CatalogError):
                    # Left journalled if the catalog cannot be reached: its batch was never
                    # accepted, so the next run's settling rejects it.
                    await applier._two_phase.discard(proposal)
            action = proposal.entry.action
            return ModelOutcome(proposal.key, action, "withdrawn", _WITHDRAWN, proposal.draft_id)

        withdrawn = await asyncio.gather(
            *(withdraw(s) for s in staged if isinstance(s, Staged)),
        )
        sent = {o.key for o in (*refused, *withdrawn)}
        untouched = [
            ModelOutcome(c.key, c.action, "withdrawn", _WITHDRAWN, c.draft_id)
            for c in changes
            if c.key not in sent
        ]
        outcomes = sorted((*refused, *withdrawn, *untouched), key=lambda o: o.key)
        for outcome in outcomes:
            self._progress.advance(outcome.key, outcome.message)
        return ApplyResult(tuple(outcomes), rolled_back=True)

    async def _accept(self, change: ModelChange, staged: Staged) -> ModelOutcome:
        applier = self._applier
        async with applier._gate:
            try:
                outcome = await applier._accept(change, staged, replanned=False)
            except CatalogError as exc:
                outcome = applier._failed(change, exc)
        self._progress.advance(change.key, outcome.message)
        return outcome

    async def _record(self, change: ModelChange) -> ModelOutcome:
        applier = self._applier
        async with applier._gate:
            try:
                outcome = await applier._record_only(change)
            except CatalogError as exc:
                outcome = applier._failed(change, exc)
        self._progress.advance(change.key, outcome.message)
        return outcome
