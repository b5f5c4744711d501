"""The applier's writes to the state: journal a proposal, forget it, record its outcome.

Each call returns once its change is on disk. Writes are group-committed: many
coroutines change the document, and one write, at the start of the event loop's next
turn, covers every change made in this one. A write appends each changed model's
record to the state's log (see ``state``), so its cost does not grow with the catalog.

The write runs on the event loop itself, not in a worker thread: an append and its
fsync take a fraction of a millisecond, while handing each group to a thread and
back (a future, a wake-up of the thread, a wake-up of the loop through its
self-pipe, the GIL passed back and forth) cost about as much CPU again as the
write. The requests in flight meanwhile are the catalog's, in its own process.

A write that fails (disk full, read-only, file too large) stops the run without
losing what the catalog accepted: every change is made to the document in memory
before it is written, so the whole document goes to an emergency file beside the
state (``emergency``), and every later write raises ``StateWriteFailed`` at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path

from reconciler.apply.emergency import StateWriteFailed, emergency_path, rescue
from reconciler.apply.state import JournalEntry, ModelRecord, StateDocument, StateStore
from reconciler.catalog.wire import DraftFormState
from reconciler.errors import StateError, UnsavedStateError
from reconciler.manifests.model import DesiredModel
from reconciler.planning.normalize import managed_fields, normalize_live


class Ledger:
    """Durable bookkeeping of one apply run over its state document."""

    def __init__(
        self,
        store: StateStore,
        doc: StateDocument,
        desired: Mapping[str, DesiredModel],
        now: Callable[[], str],
    ) -> None:
        self.doc = doc
        self._store = store
        self._desired = desired
        self._now = now
        # The callers waiting for the next group write, which is scheduled when the
        # first of them arrives; each has a future of its own, so a caller cancelled
        # while waiting (an interrupt) cancels no one else's.
        self._waiting: list[asyncio.Future[None]] = []
        # A group write is scheduled for the loop's next turn (``note`` asks for one with
        # nobody waiting on it).
        self._scheduled = False
        self._dirty: set[str] = set()
        self._batch_dirty = False
        # Why the state could not be written, once a write (a log append, or the
        # compaction) failed: nothing more is tried on it, and every later change stays
        # in memory for ``rescue``.
        self.write_failure: str | None = None
        self._emergency: Path | None = None

    def entry(self, key: str) -> JournalEntry | None:
        """The journalled proposal of model ``key``, if any."""
        return self.doc.journal.get(key)

    async def journal(self, entry: JournalEntry) -> None:
        """Record ``entry`` (write-ahead) before its soft patch is sent."""
        await self._commit(
            entry.model_key, lambda doc: doc.journal.__setitem__(entry.model_key, entry)
        )

    def note(self, entry: JournalEntry) -> None:
        """Record ``entry`` without waiting: the group write of the loop's next turn takes it.

        For what a proposal learns once sent (the draft a create reserved): nothing may
        be sent on it before ``durable`` says it is on disk, but its line can share the
        next write rather than cost one of its own.
        """
        self.doc.journal[entry.model_key] = entry
        self._dirty.add(entry.model_key)
        if self.write_failure is not None:
            raise StateWriteFailed(self.write_failure)
        self._schedule()

    async def durable(self, key: str) -> None:
        """Return once model ``key``'s part of the state is on disk (at once if it is)."""
        if self.write_failure is not None:
            raise StateWriteFailed(self.write_failure)
        if key not in self._dirty:
            return
        done = asyncio.get_running_loop().create_future()
        self._schedule()
        self._waiting.append(done)
        await done

    async def forget(self, key: str) -> None:
        """Drop model ``key``'s proposal from the journal: it was decided against."""
        await self._commit(key, lambda doc: doc.journal.pop(key, None))

    async def accept_batch(self, batch: str) -> None:
        """Every proposal of ``batch`` is staged: from now on it is being accepted."""

        def mark(doc: StateDocument) -> None:
            doc.accepting_batch = batch

        await self._commit(None, mark)

    def batch_committed(self, entry: JournalEntry) -> bool:
        """Whether ``entry`` may be accepted: it is no batch's, or its batch was committed."""
        return entry.batch is None or entry.batch == self.doc.accepting_batch

    async def close_batch(self) -> None:
        """Forget the accepting batch once none of its proposals is left in the journal."""
        batch = self.doc.accepting_batch
        if batch is None or any(e.batch == batch for e in self.doc.journal.values()):
            return

        def clear(doc: StateDocument) -> None:
            doc.accepting_batch = None

        await self._commit(None, clear)

    async def complete(
        self, key: str, action: str, draft_id: str, live: DraftFormState | None
    ) -> None:
        """Record the change as done: the live draft becomes the model's record."""
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

        await self._commit(key, record)

    async def _commit(self, key: str | None, mutate: Callable[[StateDocument], None]) -> None:
        """Change model ``key``'s part of the state (None: the document's own batch marker)
        and return once the change is on disk."""
        mutate(self.doc)
        if key is None:
            self._batch_dirty = True
        else:
            self._dirty.add(key)
        if self.write_failure is not None:
            raise StateWriteFailed(self.write_failure)
        done = asyncio.get_running_loop().create_future()
        self._schedule()
        self._waiting.append(done)
        await done

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._write_group)

    def _write_group(self) -> None:
        """Append every change made since the last group write, then wake its callers."""
        waiting, self._waiting = self._waiting, []
        self._scheduled = False
        # On the event loop, so no coroutine changes them meanwhile; the log gets each
        # changed model's current record, not the whole state.
        keys, self._dirty = sorted(self._dirty), set()
        batch, self._batch_dirty = self._batch_dirty, False
        unexpected: Exception | None = None
        if self.write_failure is None:
            try:
                self._store.log(self.doc, keys, batch=batch)
            except StateError as exc:
                self._failed(str(exc))
            except Exception as exc:  # a bug: each caller raises it rather than wait forever
                unexpected = exc
                self._dirty.update(keys)  # not on disk: ``durable`` must not say they are
        for done in waiting:
            if done.done():
                continue  # its caller was cancelled: nobody waits for it
            if unexpected is not None:
                done.set_exception(unexpected)
            elif self.write_failure is not None:
                done.set_exception(StateWriteFailed(self.write_failure))
            else:
                done.set_result(None)

    def compact(self) -> None:
        """Fold the log into the state file now; if that fails, keep the state aside.

        Raises ``UnsavedStateError`` (the emergency file is written) when the state
        file cannot be written.
        """
        if self.write_failure is not None:
            raise self.rescue()
        try:
            self._store.compact()
        except StateError as exc:
            self._failed(str(exc))
            raise self.rescue() from None

    def _failed(self, reason: str) -> None:
        if self.write_failure is None:
            self.write_failure = reason
            # Kept at once, so that even a killed run leaves it behind.
            self._emergency = emergency_path(self._store.path)
            rescue(self._store, self.doc, reason, self._emergency)

    def rescue(self) -> UnsavedStateError:
        """Write the state the file could not take to the emergency file; the error to raise."""
        assert self.write_failure is not None
        assert self._emergency is not None
        return rescue(self._store, self.doc, self.write_failure, self._emergency)
