"""The two-phase write of one proposal as two steps: ``stage``, then ``decide``.

``stage`` journals the proposal (write-ahead) and sends its soft patch; ``decide``
sends the ack, accepting or rejecting, and records the outcome in the state. The
normal apply path and the settling of an interrupted run both go through these two
steps, so the order of journal, request and record is written down once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from reconciler.apply.ledger import Ledger
from reconciler.apply.state import JournalEntry
from reconciler.catalog.interface import Catalog
from reconciler.catalog.wire import DraftFormState, PatchModelDraftApiResponse
from reconciler.errors import ConflictError, NotFoundError, RejectedError


@dataclass(frozen=True)
class Staged:
    """A proposal the catalog holds: its journal entry and the draft it is staged on."""

    entry: JournalEntry
    draft_id: str
    # The catalog answered with the stored response of an earlier, identical soft patch.
    replayed: bool = False

    @property
    def key(self) -> str:
        """The model key."""
        return self.entry.model_key


class TwoPhase:
    """Stages and decides proposals against ``catalog``, journalling through ``ledger``."""

    def __init__(self, catalog: Catalog, ledger: Ledger) -> None:
        self._catalog = catalog
        self._ledger = ledger

    async def stage(self, entry: JournalEntry) -> Staged:
        """Journal ``entry`` and send its soft patch; a refusal forgets it and re-raises.

        Sending an entry again (settling) is safe whether or not the first attempt
        reached the catalog: the same key and body stage once, then replay.
        """
        if self._ledger.entry(entry.model_key) != entry:
            await self._ledger.journal(entry)
        fields = {k: v for k, v in entry.request.items() if k != "draft_id"}
        draft_id = entry.request.get("draft_id")
        try:
            staged = await self._catalog.soft_patch(
                fields, idempotency_key=entry.idempotency_key, draft_id=draft_id
            )
        except RejectedError:
            await self._ledger.forget(entry.model_key)
            raise
        if draft_id is None and entry.staged_draft_id != staged.draft_id:
            # A create learns its draft here. Replaying the soft patch would tell a later
            # run too, but only while the catalog keeps the key (24 hours); after that a
            # replay reserves a second draft. An update names its draft already.
            # Written with the next group (another model's proposal, or the batch marker
            # all or nothing writes before accepting); ``decide`` waits for it before the ack.
            entry = entry.model_copy(update={"staged_draft_id": staged.draft_id})
            self._ledger.note(entry)
        replayed = bool(getattr(staged, "replayed", False))
        return Staged(entry, staged.draft_id, replayed)

    async def decide(self, staged: Staged, *, accept: bool) -> DraftFormState | None:
        """Ack ``staged`` and record the outcome; the live state an accept produced.

        An accept the catalog refuses for good (409 stale, 404 unknown key, 422) is
        rejected and forgotten, then the refusal re-raised. A reject forgets the
        proposal; one the catalog had already accepted raises ``ConflictError`` and
        stays journalled, for the caller to record what is live. Any other failure
        (the catalog gone) leaves the journal as it is: the next run settles it.
        """
        entry, draft_id = staged.entry, staged.draft_id
        # The draft a create reserved is on disk before anything is decided on it.
        await self._ledger.durable(entry.model_key)
        if not accept:
            with contextlib.suppress(NotFoundError):
                await self._ack(entry, accept=False, draft_id=draft_id)
            await self._ledger.forget(entry.model_key)
            return None
        try:
            acked = await self._ack(entry, accept=True, draft_id=draft_id)
        except (ConflictError, NotFoundError, RejectedError):
            await self.discard(staged)
            raise
        # form_state is optional in a response; recording no live state would drop the
        # model from the state, and the next plan would create its draft again.
        live = acked.form_state or await self._catalog.read(draft_id)
        await self._ledger.complete(entry.model_key, entry.action, draft_id, live)
        return live

    async def discard(self, staged: Staged) -> None:
        """Reject ``staged`` whatever became of it, and forget it."""
        await self.withdraw(staged.entry, staged.draft_id)

    async def withdraw(self, entry: JournalEntry, draft_id: str | None) -> None:
        """Reject ``entry``'s proposal if the catalog has it (it may never have arrived), forget it.

        A failure to reach the catalog leaves the entry journalled for the next run.
        """
        with contextlib.suppress(ConflictError, NotFoundError):
            await self._ack(entry, accept=False, draft_id=draft_id)
        await self._ledger.forget(entry.model_key)

    async def _ack(
        self, entry: JournalEntry, *, accept: bool, draft_id: str | None
    ) -> PatchModelDraftApiResponse:
        return await self._catalog.ack(entry.idempotency_key, accept=accept, draft_id=draft_id)
