"""The applier: each change as a soft patch then its ack, journalled so nothing is lost.

Every proposal is written to the state's journal before it is sent. A run first
settles what an interrupted run left (``settle``), then applies the plan. The
idempotency key is derived from the change itself, so a rerun of the same change
reuses its key and the server replays it instead of applying it twice.

The write itself is two steps (``proposal.TwoPhase``: stage, decide); this module
decides which changes go through them, in what order and what each outcome means.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.apply.batch import AllOrNothing
from reconciler.apply.breaker import Breaker
from reconciler.apply.emergency import StateWriteFailed
from reconciler.apply.interrupts import Interrupt
from reconciler.apply.keys import idempotency_key, is_ours, planned_on, proposal_entry
from reconciler.apply.ledger import Ledger
from reconciler.apply.outcome import ApplyResult, ModelOutcome, Status, Stop
from reconciler.apply.pool import bounded
from reconciler.apply.proposal import Staged, TwoPhase
from reconciler.apply.settle import Settler
from reconciler.apply.state import JournalEntry, StateDocument, StateStore
from reconciler.catalog.interface import Catalog, Progress
from reconciler.catalog.wire import DraftFormState
from reconciler.errors import CatalogError, ConflictError, NotFoundError, RejectedError
from reconciler.manifests.model import DesiredModel
from reconciler.planning.normalize import comparable, normalize_desired, normalize_live
from reconciler.planning.plan import ModelChange, Plan
from reconciler.planning.planner import build_plan

__all__ = ["Applier", "ApplyResult", "ModelOutcome", "Status", "idempotency_key"]


class Applier:
    """Applies a plan's changes against the catalog, keeping the state and journal current."""

    def __init__(
        self,
        client: Catalog,
        store: StateStore,
        doc: StateDocument,
        desired: Mapping[str, DesiredModel],
        *,
        parallelism: int,
        now: Callable[[], str],
        interrupt: Interrupt | None = None,
    ) -> None:
        self._catalog = client
        self._store = store
        self._doc = doc
        self._desired = desired
        # At most this many models at once: ``bounded`` runs no more, and the gate holds
        # any other request (a refresh-only read) to the same number.
        self.parallelism = max(parallelism, 1)
        self._gate = asyncio.Semaphore(self.parallelism)
        self._now = now
        self._ledger = Ledger(store, doc, desired, now)
        self._two_phase = TwoPhase(client, self._ledger)
        self._settler = Settler(client, self._ledger, self._two_phase, desired)
        self._planned_on = ""
        self._breaker = Breaker(now)
        self.interrupt = interrupt or Interrupt()

    def _halted(self) -> bool:
        """Start no new model: the state cannot be written, the catalog stopped answering,
        or a stop was asked for."""
        failed_write = self._ledger.write_failure is not None
        return failed_write or self._breaker.open or self.interrupt.requested

    def _raise_if_unsaved(self) -> None:
        """Once every model in flight has finished: if a state write failed, the emergency
        state holds them all, and the run ends with the error that says where it is."""
        if self._ledger.write_failure is not None:
            raise self._ledger.rescue()

    def save(self) -> None:
        """Fold the run's log into the state file (raises ``UnsavedStateError`` if it fails)."""
        self._ledger.compact()

    def _stop(self, not_started: tuple[str, ...]) -> Stop | None:
        """Why the run stopped early, if it did (the breaker first: it is the cause)."""
        if self._breaker.opened_at is not None:
            return Stop("catalog_gone", self._breaker.opened_at, tuple(sorted(not_started)))
        if self.interrupt.requested_at is not None:
            return Stop("interrupted", self.interrupt.requested_at, tuple(sorted(not_started)))
        return None

    async def settle(self, progress: Progress) -> ApplyResult:
        """Finish or discard every proposal an interrupted run left in the journal."""
        entries = list(self._doc.journal.values())
        settle_one = functools.partial(self._settle_one, progress=progress)
        results = await bounded(settle_one, entries, self.parallelism)
        with contextlib.suppress(StateWriteFailed):
            await self._ledger.close_batch()
        self._raise_if_unsaved()
        return self._result([e.model_key for e in entries], results)

    async def _settle_one(self, entry: JournalEntry, progress: Progress) -> ModelOutcome | None:
        async with self._gate:
            if self._halted():
                return None  # stays journalled for the next run
            try:
                outcome = await self._settler.settle(entry)
            except StateWriteFailed:
                return None  # the emergency state keeps it journalled
        progress.advance(entry.model_key, outcome.message)
        return outcome

    def _result(self, keys: list[str], results: list[ModelOutcome | None]) -> ApplyResult:
        """The outcomes of the models started; those not started (None) go to ``stopped``."""
        done = tuple(sorted((o for o in results if o is not None), key=lambda o: o.key))
        not_started = tuple(k for k, o in zip(keys, results, strict=True) if o is None)
        return ApplyResult(done, stopped=self._stop(not_started))

    async def apply(self, plan: Plan, progress: Progress, *, partial: bool = False) -> ApplyResult:
        """Apply every change of ``plan``: all or nothing, or each model on its own (``partial``).

        All or nothing stages every change before it accepts any; if the catalog refuses
        one, or one cannot be staged, every staged proposal is rejected and nothing lands.
        """
        changes = [c for c in plan.changes if c.action != "noop"]
        # The state the plan was made from: every write below advances the serial.
        lineage = self._store.lineage_of(self._doc)
        self._planned_on = planned_on(lineage, self._doc.serial)
        if partial:
            apply_one = functools.partial(self._apply_one, progress=progress)
            results = await bounded(apply_one, changes, self.parallelism)
            result = self._result([c.key for c in changes], results)
        else:
            result = await AllOrNothing(self, progress).apply(changes)
        self._raise_if_unsaved()
        return result

    async def record_adopted(self, plan: Plan) -> tuple[ModelOutcome, ...]:
        """The refresh-only step: record adopted catalog edits as last applied, sending no write.

        Each draft is read again and recorded only if it still matches the manifests.
        """
        outcomes = []
        for change in plan.refresh_only:
            if self._halted():
                break  # not recorded: the next plan shows it again
            assert change.draft_id is not None, "an unchanged model has a draft"
            async with self._gate:
                live = await self._catalog.read(change.draft_id)
            if self._converged(change, change.draft_id, live).status != "applied":
                message = "changed again since the plan; not recorded (plan again)"
                outcomes.append(ModelOutcome(change.key, "refresh", "discarded", message))
                continue
            try:
                await self._ledger.complete(change.key, "refresh", change.draft_id, live)
            except StateWriteFailed:
                break
            message = "recorded the catalog's values as last applied (nothing sent)"
            outcomes.append(ModelOutcome(change.key, "refresh", "applied", message))
        self._raise_if_unsaved()
        return tuple(outcomes)

    async def _apply_one(self, change: ModelChange, progress: Progress) -> ModelOutcome | None:
        async with self._gate:
            if self._halted():
                return None  # not started: nothing of it is journalled or sent
            try:
                outcome = await self._apply_change(change, replanned=False)
                self._breaker.succeeded()
            except StateWriteFailed:
                return None  # what it did is in the emergency state, for the rerun to settle
            except CatalogError as exc:
                outcome = self._failed(change, exc)
        progress.advance(change.key, outcome.message)
        return outcome

    def _failed(self, change: ModelChange, exc: CatalogError) -> ModelOutcome:
        """``change`` failed with ``exc``: its outcome, counted by the circuit breaker."""
        self._breaker.failed(exc)
        message = str(exc)
        if change.key in self._doc.journal:
            message += "; its proposal is journalled and the next apply settles it"
        return ModelOutcome(change.key, change.action, "failed", message)

    def _entry(
        self, change: ModelChange, *, attempt: int = 1, batch: str | None = None
    ) -> JournalEntry:
        """The journal entry of ``change``'s proposal: its key and its exact request."""
        return proposal_entry(change, self._planned_on, self._now(), attempt=attempt, batch=batch)

    async def _apply_change(self, change: ModelChange, *, replanned: bool) -> ModelOutcome:
        key, action = change.key, str(change.action)
        if not change.patch:
            return await self._record_only(change)
        try:
            staged = await self._two_phase.stage(self._entry(change, attempt=2 if replanned else 1))
        except RejectedError as exc:
            return ModelOutcome(key, action, "failed", f"rejected: {exc}", change.draft_id)
        return await self._accept(change, staged, replanned=replanned)

    async def _accept(
        self, change: ModelChange, staged: Staged, *, replanned: bool
    ) -> ModelOutcome:
        """The decide step of ``change``: accept, replanning once if the draft moved meanwhile."""
        key, action = change.key, str(change.action)
        try:
            live = await self._two_phase.decide(staged, accept=True)
        except ConflictError:
            if replanned:
                return ModelOutcome(
                    key, action, "failed", "the draft changed again while applying", staged.draft_id
                )
            return await self._replan(change, staged.draft_id)
        except RejectedError as exc:
            return ModelOutcome(key, action, "failed", f"rejected: {exc}", staged.draft_id)
        await self._reject_superseded(staged, live)
        # ``decide`` recorded ``live``'s managed fields, normalized as the check needs them.
        record = self._doc.models.get(key)
        got = record.last_applied if record is not None else None
        return self._converged(change, staged.draft_id, live, got)

    async def _reject_superseded(self, staged: Staged, live: DraftFormState | None) -> None:
        """Reject our other proposals left pending on the draft we just changed.

        Once a proposal is accepted the draft's live state has moved, so every other
        proposal staged on it can never be accepted (a stage made for a pull request
        before main moved, say). Only reconciler's own keys are touched.
        """
        if live is None:
            return
        for key in live.pending_ids:
            if is_ours(key) and key != staged.entry.idempotency_key:
                with contextlib.suppress(ConflictError, NotFoundError):
                    await self._catalog.ack(key, accept=False, draft_id=staged.draft_id)

    async def _record_only(self, change: ModelChange) -> ModelOutcome:
        """Nothing to send (a deactivation of a draft already inactive or gone, an adoption
        of a draft that already matches): only the state changes."""
        key, action = change.key, str(change.action)
        if action == "deactivate" or change.draft_id is None:
            await self._ledger.complete(key, "deactivate", change.draft_id or "", None)
            return ModelOutcome(key, action, "applied", "removed from the state")
        live = await self._catalog.read(change.draft_id)
        await self._ledger.complete(key, action, change.draft_id, live)
        return self._converged(change, change.draft_id, live)

    async def _replan(self, change: ModelChange, draft_id: str) -> ModelOutcome:
        """The proposal went stale: plan this one model again against its fresh draft."""
        if change.draft_id is None:
            # A create's proposal decided by someone else (a pull request's unstage racing
            # the apply on merge): stage it afresh under another key.
            return await self._apply_change(change, replanned=True)
        live = await self._catalog.read(draft_id)
        desired = self._desired.get(change.key)
        record = self._doc.models.get(change.key)
        records = {change.key: record} if record is not None else {}
        fresh = build_plan(
            [desired] if desired is not None else [],
            records,
            {change.key: live},
            prune=change.action == "deactivate",
            targets=frozenset({change.key}),
        )
        again = next((c for c in fresh.changes if c.key == change.key), None)
        if again is None or again.action == "noop":
            if desired is not None:
                await self._ledger.complete(change.key, str(change.action), draft_id, live)
            return ModelOutcome(change.key, str(change.action), "applied", "already up to date")
        return await self._apply_change(again, replanned=True)

    def _converged(
        self,
        change: ModelChange,
        draft_id: str,
        live: DraftFormState | None,
        got: Mapping[str, Any] | None = None,
    ) -> ModelOutcome:
        """Whether ``live`` has what the manifest wants; ``got``: its managed fields already
        normalized (what ``Ledger.complete`` recorded of it), if at hand."""
        key, action = change.key, str(change.action)
        model = self._desired.get(key)
        if action == "deactivate":
            if live is not None and live.active:
                return ModelOutcome(key, action, "not_converged", "still active", draft_id)
            return ModelOutcome(key, action, "applied", "deactivated", draft_id)
        if model is None or live is None:
            return ModelOutcome(key, action, "not_converged", "no live state returned", draft_id)
        wanted = normalize_desired(model)
        if got is None or got.keys() != wanted.keys():
            got = normalize_live(live, wanted.keys())
        # Equal as normalized is equal; only the rest (pricing entries carry their ids live)
        # need the comparable form.
        off = sorted(
            f
            for f in wanted
            if wanted[f] != got.get(f) and comparable(f, wanted[f]) != comparable(f, got.get(f))
        )
        if off:
            details = ", ".join(f"{f} is {got.get(f)!r}, wanted {wanted[f]!r}" for f in off)
            return ModelOutcome(
                key, action, "not_converged", f"did not converge: {details}", draft_id
            )
        verb = {"create": "created", "update": "updated", "adopt": "adopted"}.get(action, action)
        return ModelOutcome(key, action, "applied", verb, draft_id)
