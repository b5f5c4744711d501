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

A run that stops early (an interrupt, or the catalog stopped answering: see
``breaker``) starts nothing more. While staging, that means nothing is accepted:
what was staged is rejected if the catalog answers, else left journalled for the
next run's settling to reject. While accepting, the accepts not started stay
journalled under the committed batch, and the next run's settling accepts them.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from reconciler.apply.emergency import StateWriteFailed
from reconciler.apply.outcome import ApplyResult, ModelOutcome
from reconciler.apply.pool import bounded
from reconciler.apply.proposal import Staged
from reconciler.catalog.interface import Progress
from reconciler.errors import CatalogError, RejectedError
from reconciler.planning.plan import ModelChange

if TYPE_CHECKING:
    from reconciler.apply.applier import Applier

_WITHDRAWN = "not applied: another change of this plan was refused, so its proposal was rejected"
_STOPPED = "not applied: the run stopped before accepting any change, so its proposal was rejected"
_LEFT = (
    "not applied: the run stopped before accepting any change; its proposal is journalled "
    "and the next apply rejects it"
)
_UNREJECTED = (
    "not applied: another change of this plan was refused, but rejecting its proposal "
    "failed; it is journalled and the next apply rejects it"
)


class AllOrNothing:
    """One all-or-nothing apply of a list of changes, through ``applier``'s steps."""

    def __init__(self, applier: Applier, progress: Progress) -> None:
        # The applier's steps (stage, decide, record) are this class's building blocks.
        self._applier = applier
        self._progress = progress
        self._batch = uuid.uuid4().hex

    async def apply(self, changes: list[ModelChange]) -> ApplyResult:
        """Stage all of ``changes``; accept all if every one was staged, else reject all."""
        applier = self._applier
        sending = [c for c in changes if c.patch]
        limit = applier.parallelism
        staged = await bounded(self._stage, sending, limit)
        refused = [o for o in staged if isinstance(o, ModelOutcome)]
        if refused or applier._halted():
            return await self._roll_back(changes, staged, refused)
        try:
            await applier._ledger.accept_batch(self._batch)
        except StateWriteFailed:
            # Not committed to on disk: accept none of it.
            return await self._roll_back(changes, staged, refused)
        accepting = [(c, s) for c, s in zip(sending, staged, strict=True) if isinstance(s, Staged)]
        recording = [c for c in changes if not c.patch]
        steps: list[Callable[[], Awaitable[ModelOutcome | None]]] = [
            *(functools.partial(self._accept, c, s) for c, s in accepting),
            *(functools.partial(self._record, c) for c in recording),
        ]
        outcomes = await bounded(_call, steps, limit)
        with contextlib.suppress(StateWriteFailed):
            await applier._ledger.close_batch()
        return applier._result([c.key for c, _ in accepting] + [c.key for c in recording], outcomes)

    async def _stage(self, change: ModelChange) -> Staged | ModelOutcome | None:
        applier = self._applier
        entry = applier._entry(change, batch=self._batch)
        async with applier._gate:
            if applier._halted():
                return None  # not started: nothing of it is journalled or sent
            try:
                staged = await applier._two_phase.stage(entry)
                applier._breaker.succeeded()
                return staged
            except StateWriteFailed:
                # Journalled in the emergency state, whether or not it was sent: the next
                # run's settling rejects it (its batch was never accepted).
                return None
            except RejectedError as exc:
                applier._breaker.succeeded()  # the catalog answered
                message = f"refused by the catalog: {exc}"
            except CatalogError as exc:
                applier._breaker.failed(exc)
                # It may have reached the catalog (a lost response): withdraw it too,
                # unless the catalog has stopped answering (the next run's settling does).
                if not applier._breaker.open:
                    with contextlib.suppress(CatalogError):
                        await applier._two_phase.withdraw(entry, change.draft_id)
                message = f"could not be staged: {exc}"
                if change.key in applier._doc.journal:
                    message += "; its proposal is journalled and the next apply settles it"
        return ModelOutcome(change.key, change.action, "failed", message, change.draft_id)

    async def _roll_back(
        self,
        changes: list[ModelChange],
        staged: list[Staged | ModelOutcome | None],
        refused: list[ModelOutcome],
    ) -> ApplyResult:
        """Reject every staged proposal: a change was refused, or the run stopped."""
        applier = self._applier
        stopped = applier._halted()
        proposals = [s for s in staged if isinstance(s, Staged)]
        withdrawn: list[ModelOutcome] = []
        if applier._breaker.open and proposals:
            # The catalog stopped answering: one reject tells whether it is back; if it is
            # not, the rest stay journalled rather than each wait through its retries.
            withdrawn.append(await self._withdraw(proposals.pop(0), stopped))
            if withdrawn[0].journalled:
                withdrawn += [self._left(p) for p in proposals]
                proposals = []
        withdrawn += await bounded(
            functools.partial(self._withdraw, stopped=stopped), proposals, applier.parallelism
        )
        sent = {o.key for o in (*refused, *withdrawn)}
        # Stopped, the changes never sent were not started; refused, they were withdrawn.
        untouched = [c for c in changes if c.key not in sent]
        outcomes = [*refused, *withdrawn]
        if not stopped:
            outcomes += [
                ModelOutcome(c.key, c.action, "withdrawn", _WITHDRAWN, c.draft_id)
                for c in untouched
            ]
        outcomes.sort(key=lambda o: o.key)
        for outcome in outcomes:
            self._progress.advance(outcome.key, outcome.message)
        stop = applier._stop(tuple(c.key for c in untouched)) if stopped else None
        return ApplyResult(tuple(outcomes), rolled_back=True, stopped=stop)

    async def _withdraw(self, proposal: Staged, stopped: bool) -> ModelOutcome:
        applier = self._applier
        async with applier._gate:
            try:
                await applier._two_phase.discard(proposal)
            except StateWriteFailed:
                pass  # rejected; forgotten in the emergency state
            except CatalogError as exc:
                # Left journalled: its batch was never accepted, so the next run's
                # settling rejects it.
                applier._breaker.failed(exc)
                if stopped:
                    return self._left(proposal)
                return ModelOutcome(
                    proposal.key,
                    proposal.entry.action,
                    "withdrawn",
                    _UNREJECTED,
                    proposal.draft_id,
                    journalled=True,
                )
        message = _STOPPED if stopped else _WITHDRAWN
        action = proposal.entry.action
        return ModelOutcome(proposal.key, action, "withdrawn", message, proposal.draft_id)

    @staticmethod
    def _left(proposal: Staged) -> ModelOutcome:
        action = proposal.entry.action
        return ModelOutcome(
            proposal.key, action, "withdrawn", _LEFT, proposal.draft_id, journalled=True
        )

    async def _accept(self, change: ModelChange, staged: Staged) -> ModelOutcome | None:
        applier = self._applier
        async with applier._gate:
            if applier._halted():
                # Not started: it stays journalled under the committed batch, and the next
                # run's settling accepts it.
                return None
            try:
                outcome = await applier._accept(change, staged, replanned=False)
                applier._breaker.succeeded()
            except StateWriteFailed:
                return None  # what it did is in the emergency state, for the rerun to settle
            except CatalogError as exc:
                outcome = applier._failed(change, exc)
        self._progress.advance(change.key, outcome.message)
        return outcome

    async def _record(self, change: ModelChange) -> ModelOutcome | None:
        applier = self._applier
        async with applier._gate:
            if applier._halted():
                return None  # the next plan has it again
            try:
                outcome = await applier._record_only(change)
            except StateWriteFailed:
                return None  # the emergency state holds what it did
            except CatalogError as exc:
                outcome = applier._failed(change, exc)
        self._progress.advance(change.key, outcome.message)
        return outcome


async def _call(step: Callable[[], Awaitable[ModelOutcome | None]]) -> ModelOutcome | None:
    return await step()
