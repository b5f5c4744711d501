"""The applier: each change as a soft patch then its ack, journalled so nothing is lost.

Every proposal is written to the state's journal before it is sent. A run first
settles what an interrupted run left (``settle``), then applies the plan. The
idempotency key is derived from the change itself, so a rerun of the same change
reuses its key and the server replays it instead of applying it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.apply.state import JournalEntry, ModelRecord, StateDocument, StateStore
from reconciler.catalog.client import CatalogClient, CatalogResponse
from reconciler.catalog.wire import DraftFormState
from reconciler.cli.progress import Progress
from reconciler.errors import CatalogError, ConflictError, NotFoundError, RejectedError
from reconciler.manifests.model import DesiredModel
from reconciler.planning.normalize import (
    comparable,
    desired_digest,
    managed_fields,
    normalize_desired,
    normalize_live,
)
from reconciler.planning.plan import ModelChange, Plan
from reconciler.planning.planner import build_plan

Status = Literal["applied", "failed", "not_converged", "settled", "discarded"]


@dataclass(frozen=True)
class ModelOutcome:
    """How one model's change ended."""

    key: str
    action: str
    status: Status
    message: str
    draft_id: str | None = None

    @property
    def ok(self) -> bool:
        """True when the change is done and the live draft matches the manifest."""
        return self.status in ("applied", "settled", "discarded")


@dataclass(frozen=True)
class ApplyResult:
    """Every model's outcome, in key order."""

    outcomes: tuple[ModelOutcome, ...]

    @property
    def failed(self) -> tuple[ModelOutcome, ...]:
        """The outcomes that need a person's attention."""
        return tuple(o for o in self.outcomes if not o.ok)

    def count(self, action: str) -> int:
        """How many models of ``action`` were applied successfully."""
        return sum(1 for o in self.outcomes if o.ok and o.action == action)


def idempotency_key(change: ModelChange, planned_on: str = "") -> str:
    """A key derived from the model, the draft, the live state, the state planned on, the patch."""
    # ``planned_on`` names the state the plan was made from (lineage and serial). The live
    # fingerprint alone cannot tell a change from the same change made again after a revert
    # when there is none (--refresh=false) or the catalog reports no revision: the server
    # would replay the first change's stored outcome and apply nothing.
    material = json.dumps(
        [change.key, change.draft_id, change.live_fingerprint, change.patch, planned_on],
        sort_keys=True,
        separators=(",", ":"),
    )
    return "rc-" + hashlib.sha256(material.encode()).hexdigest()[:40]


class Applier:
    """Applies a plan's changes against the catalog, keeping the state and journal current."""

    def __init__(
        self,
        client: CatalogClient,
        store: StateStore,
        doc: StateDocument,
        desired: Mapping[str, DesiredModel],
        *,
        parallelism: int,
        now: Callable[[], str],
    ) -> None:
        self._client = client
        self._store = store
        self._doc = doc
        self._desired = desired
        self._gate = asyncio.Semaphore(max(parallelism, 1))
        self._now = now
        # Group commit: every change to the document bumps ``_version``; one write
        # covers all the changes made before it started.
        self._write_lock = asyncio.Lock()
        self._version = 0
        self._written = 0
        self._planned_on = ""

    # -- settling an interrupted run -------------------------------------------------

    async def settle(self, progress: Progress) -> list[ModelOutcome]:
        """Finish or discard every proposal an interrupted run left in the journal."""
        entries = list(self._doc.journal.values())
        results = await asyncio.gather(*(self._settle_one(e, progress) for e in entries))
        return sorted(results, key=lambda o: o.key)

    async def _settle_one(self, entry: JournalEntry, progress: Progress) -> ModelOutcome:
        async with self._gate:
            outcome = await self._settle(entry)
        progress.advance(entry.model_key, outcome.message)
        return outcome

    async def _settle(self, entry: JournalEntry) -> ModelOutcome:
        key, action = entry.model_key, entry.action
        if entry.staged_draft_id is not None:
            # A new draft has a live state only once its proposal was accepted: then the
            # create is done, whether or not the catalog still remembers the key.
            try:
                live = await self._client.read(entry.staged_draft_id)
            except NotFoundError:
                live = None
            if live is not None:
                await self._complete(key, action, entry.staged_draft_id, live)
                return ModelOutcome(
                    key, action, "settled", "interrupted change had completed", live.draft_id
                )
        fields = {k: v for k, v in entry.request.items() if k != "draft_id"}
        try:
            # Replaying the soft patch with its key and body is safe whether or not the
            # first attempt reached the server: it stages once, then replays.
            staged = await self._client.soft_patch(
                fields,
                idempotency_key=entry.idempotency_key,
                draft_id=entry.request.get("draft_id"),
            )
        except RejectedError as exc:
            await self._forget(key)
            return ModelOutcome(key, action, "discarded", f"interrupted proposal refused: {exc}")
        draft_id = staged.draft_id
        if self._still_wanted(entry):
            try:
                acked = await self._client.ack(
                    entry.idempotency_key, accept=True, draft_id=draft_id
                )
            except (ConflictError, NotFoundError):
                # Stale, or decided the other way already: discard; the plan redoes it.
                await self._reject_quietly(entry.idempotency_key, draft_id)
                await self._forget(key)
                return ModelOutcome(key, action, "discarded", "interrupted proposal was stale")
            live = await self._accepted(acked, draft_id)
            await self._complete(entry.model_key, action, draft_id, live)
            return ModelOutcome(key, action, "settled", "interrupted change completed", draft_id)
        try:
            await self._client.ack(entry.idempotency_key, accept=False, draft_id=draft_id)
        except ConflictError:
            # It had been accepted before the interruption: the draft is live, so the
            # state must know it even though the manifests now want something else. A
            # deactivated model whose manifest is back stays in the state: forgetting
            # its draft would make the next plan create a duplicate.
            live = await self._client.read(draft_id)
            kept = "update" if action == "deactivate" and key in self._desired else action
            await self._complete(entry.model_key, kept, draft_id, live)
            return ModelOutcome(
                key, action, "settled", "interrupted change had completed", draft_id
            )
        except NotFoundError:
            pass
        await self._forget(key)
        return ModelOutcome(key, action, "discarded", "interrupted proposal no longer wanted")

    def _still_wanted(self, entry: JournalEntry) -> bool:
        model = self._desired.get(entry.model_key)
        if entry.action == "deactivate":
            return model is None
        return model is not None and desired_digest(model) == entry.desired_digest

    async def _accepted(self, acked: CatalogResponse, draft_id: str) -> DraftFormState:
        """The live state an accept produced."""
        # form_state is optional in a response; recording no live state would drop the
        # model from the state, and the next plan would create its draft again.
        return acked.form_state or await self._client.read(draft_id)

    async def _reject_quietly(self, idempotency_key: str, draft_id: str | None) -> None:
        with contextlib.suppress(ConflictError, NotFoundError):
            await self._client.ack(idempotency_key, accept=False, draft_id=draft_id)

    # -- applying a plan -------------------------------------------------------------

    async def apply(self, plan: Plan, progress: Progress) -> ApplyResult:
        """Apply every change of ``plan`` concurrently; one model's failure stops no other."""
        changes = [c for c in plan.changes if c.action != "noop"]
        # The state the plan was made from: every write below advances the serial.
        self._planned_on = f"{self._doc.lineage}:{self._doc.serial}"
        results = await asyncio.gather(*(self._apply_one(c, progress) for c in changes))
        return ApplyResult(tuple(sorted(results, key=lambda o: o.key)))

    async def _apply_one(self, change: ModelChange, progress: Progress) -> ModelOutcome:
        async with self._gate:
            try:
                outcome = await self._apply_change(change, replanned=False)
            except CatalogError as exc:
                message = str(exc)
                if change.key in self._doc.journal:
                    message += "; its proposal is journalled and the next apply settles it"
                outcome = ModelOutcome(change.key, change.action, "failed", message)
        progress.advance(change.key, outcome.message)
        return outcome

    async def _apply_change(self, change: ModelChange, *, replanned: bool) -> ModelOutcome:
        key, action = change.key, str(change.action)
        if not change.patch:
            # Nothing to send (a deactivation of a draft already inactive or gone, an
            # adoption of a draft that already matches): only the state changes.
            if action == "deactivate" or change.draft_id is None:
                await self._complete(key, "deactivate", change.draft_id or "", None)
                return ModelOutcome(key, action, "applied", "removed from the state")
            live = await self._client.read(change.draft_id)
            await self._complete(key, action, change.draft_id, live)
            return self._converged(change, change.draft_id, live)
        request: dict[str, Any] = dict(change.patch)
        if change.draft_id is not None:
            request["draft_id"] = change.draft_id
        entry = JournalEntry(
            model_key=key,
            idempotency_key=idempotency_key(change, self._planned_on),
            request=request,
            desired_digest=change.desired_digest or "",
            action=action,
            created_at=self._now(),
        )
        await self._commit(lambda doc: doc.journal.__setitem__(key, entry))
        try:
            staged = await self._client.soft_patch(
                change.patch, idempotency_key=entry.idempotency_key, draft_id=change.draft_id
            )
        except RejectedError as exc:
            await self._forget(key)
            return ModelOutcome(key, action, "failed", f"rejected: {exc}", change.draft_id)
        draft_id = staged.draft_id
        if change.draft_id is None:
            # A create learns its draft here. Replaying the soft patch would tell a later
            # run too, but only while the catalog keeps the key (24 hours); after that a
            # replay reserves a second draft. An update needs no second write: it names
            # its draft already.
            learned = entry.model_copy(update={"staged_draft_id": draft_id})
            await self._commit(lambda doc: doc.journal.__setitem__(key, learned))
        try:
            acked = await self._client.ack(entry.idempotency_key, accept=True, draft_id=draft_id)
        except ConflictError:
            await self._reject_quietly(entry.idempotency_key, draft_id)
            await self._forget(key)
            if replanned:
                return ModelOutcome(
                    key, action, "failed", "the draft changed again while applying", draft_id
                )
            return await self._replan(change, draft_id)
        except RejectedError as exc:
            await self._reject_quietly(entry.idempotency_key, draft_id)
            await self._forget(key)
            return ModelOutcome(key, action, "failed", f"rejected: {exc}", draft_id)
        live = await self._accepted(acked, draft_id)
        await self._complete(key, action, draft_id, live)
        return self._converged(change, draft_id, live)

    async def _replan(self, change: ModelChange, draft_id: str) -> ModelOutcome:
        """The proposal went stale: plan this one model again against its fresh draft."""
        live = await self._client.read(draft_id)
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
                await self._complete(change.key, str(change.action), draft_id, live)
            return ModelOutcome(change.key, str(change.action), "applied", "already up to date")
        return await self._apply_change(again, replanned=True)

    # -- state bookkeeping -----------------------------------------------------------

    async def _commit(self, mutate: Callable[[StateDocument], None]) -> None:
        """Change the state and return once the change is on disk."""
        mutate(self._doc)
        self._version += 1
        wanted = self._version
        async with self._write_lock:
            if self._written >= wanted:
                return  # a write that started after our change has covered it
            version = self._version
            # Rendered on the event loop, so no other coroutine changes it meanwhile.
            text = self._store.render(self._doc)
            await asyncio.to_thread(self._store.write, text)
            self._written = version

    async def _forget(self, key: str) -> None:
        await self._commit(lambda doc: doc.journal.pop(key, None))

    async def _complete(
        self, key: str, action: str, draft_id: str, live: DraftFormState | None
    ) -> None:
        model = self._desired.get(key)

        def record(doc: StateDocument) -> None:
            doc.journal.pop(key, None)
            if action == "deactivate" or live is None:
                doc.models.pop(key, None)
                return
            fields = managed_fields(model) if model is not None else ()
            doc.models[key] = ModelRecord(
                draft_id=draft_id,
                last_applied=normalize_live(live, fields),
                applied_at=self._now(),
            )

        await self._commit(record)

    def _converged(
        self, change: ModelChange, draft_id: str, live: DraftFormState | None
    ) -> ModelOutcome:
        key, action = change.key, str(change.action)
        model = self._desired.get(key)
        if action == "deactivate":
            if live is not None and live.active:
                return ModelOutcome(key, action, "not_converged", "still active", draft_id)
            return ModelOutcome(key, action, "applied", "deactivated", draft_id)
        if model is None or live is None:
            return ModelOutcome(key, action, "not_converged", "no live state returned", draft_id)
        wanted = normalize_desired(model)
        got = normalize_live(live, wanted.keys())
        off = sorted(f for f in wanted if comparable(f, wanted[f]) != comparable(f, got.get(f)))
        if off:
            details = ", ".join(f"{f} is {got.get(f)!r}, wanted {wanted[f]!r}" for f in off)
            return ModelOutcome(
                key, action, "not_converged", f"did not converge: {details}", draft_id
            )
        verb = {"create": "created", "update": "updated", "adopt": "adopted"}.get(action, action)
        return ModelOutcome(key, action, "applied", verb, draft_id)
