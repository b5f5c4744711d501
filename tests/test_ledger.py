"""The ledger's group commit: each change is on disk before its caller goes on, in few writes."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.apply.emergency import StateWriteFailed
from reconciler.apply.ledger import Ledger
from reconciler.apply.state import JournalEntry, StateStore
from reconciler.errors import StateError


def _now() -> str:
    return "2026-11-30T00:00:00+00:00"


def _entry(key: str) -> JournalEntry:
    return JournalEntry(
        model_key=key,
        idempotency_key=f"rc-00000000-{key}",
        request={"name": key},
        desired_digest="sha256:0",
        action="create",
        created_at=_now(),
    )


class CountingStore(StateStore):
    """A real store on a real file that counts its log appends and can fail them."""

    def __init__(self, path, *, fail: bool = False) -> None:
        super().__init__(path)
        self.appends: list[list[str]] = []
        self.fail = fail

    def log(self, doc, keys, *, batch: bool = False) -> None:
        self.appends.append(list(keys))
        if self.fail:
            raise StateError(f"cannot write the state log {self.wal_path}: No space left on device")
        super().log(doc, keys, batch=batch)


def _ledger(tmp_path, **kwargs) -> tuple[CountingStore, Ledger]:
    store = CountingStore(tmp_path / "state.json", **kwargs)
    return store, Ledger(store, store.load(), {}, _now)


async def test_changes_made_in_one_turn_are_written_together_and_on_disk_when_awaited(tmp_path):
    store, ledger = _ledger(tmp_path)
    await asyncio.gather(*(ledger.journal(_entry(f"m-{i}")) for i in range(5)))
    assert store.appends == [[f"m-{i}" for i in range(5)]]
    # What a killed run leaves: the state file and its log, replayed by the next load.
    assert sorted(StateStore(store.path).load().journal) == [f"m-{i}" for i in range(5)]


async def test_a_change_made_while_a_group_is_written_goes_in_the_next_write(tmp_path):
    store, ledger = _ledger(tmp_path)

    async def journal_then_forget(key: str) -> None:
        await ledger.journal(_entry(key))
        await ledger.forget(key)

    await asyncio.gather(journal_then_forget("a"), ledger.journal(_entry("b")))
    assert store.appends == [["a", "b"], ["a"]]
    assert sorted(StateStore(store.path).load().journal) == ["b"]


async def test_a_caller_cancelled_while_waiting_cancels_no_other(tmp_path):
    store, ledger = _ledger(tmp_path)
    first = asyncio.ensure_future(ledger.journal(_entry("a")))
    second = asyncio.ensure_future(ledger.journal(_entry("b")))
    await asyncio.sleep(0)  # both changes made, the write not yet
    first.cancel()
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert store.appends == [["a", "b"]]


async def test_a_failed_write_fails_every_caller_of_its_group_and_every_later_one(tmp_path):
    store, ledger = _ledger(tmp_path, fail=True)
    results = await asyncio.gather(
        *(ledger.journal(_entry(k)) for k in ("a", "b")), return_exceptions=True
    )
    assert [type(r) for r in results] == [StateWriteFailed, StateWriteFailed]
    assert "No space left on device" in str(results[0])
    with pytest.raises(StateWriteFailed):
        await ledger.journal(_entry("c"))
    assert store.appends == [["a", "b"]]  # nothing more is tried on a failed state
    # The state as it was when the write failed is kept at once beside the file, and
    # the run's end keeps there every change made since.
    emergency = tmp_path / "state.json.emergency"
    assert sorted(StateStore(emergency).load().journal) == ["a", "b"]
    error = ledger.rescue()
    assert error.emergency == str(emergency)
    assert sorted(StateStore(emergency).load().journal) == ["a", "b", "c"]


async def test_a_noted_entry_shares_the_next_write_and_durable_waits_for_it(tmp_path):
    store, ledger = _ledger(tmp_path)
    staged = _entry("m-0").model_copy(update={"staged_draft_id": "d-0"})
    ledger.note(staged)
    assert store.appends == []  # nothing written yet: it waits for the loop's next turn
    await ledger.journal(_entry("m-1"))  # made in the same turn: one write takes both
    assert store.appends == [["m-0", "m-1"]]
    assert StateStore(store.path).load().journal["m-0"].staged_draft_id == "d-0"
    await ledger.durable("m-0")  # already on disk: no write of its own
    assert store.appends == [["m-0", "m-1"]]


async def test_a_noted_entry_is_written_even_if_nobody_else_writes(tmp_path):
    store, ledger = _ledger(tmp_path)
    ledger.note(_entry("m-0"))
    await ledger.durable("m-0")
    assert store.appends == [["m-0"]]
    assert "m-0" in StateStore(store.path).load().journal


async def test_durable_raises_once_the_noted_entrys_write_failed(tmp_path):
    store, ledger = _ledger(tmp_path, fail=True)
    ledger.note(_entry("m-0"))
    with pytest.raises(StateWriteFailed):
        await ledger.durable("m-0")
    with pytest.raises(StateWriteFailed):
        await ledger.durable("m-0")
    with pytest.raises(StateWriteFailed):
        ledger.note(_entry("m-1"))
    assert "m-1" in ledger.doc.journal  # kept in memory for the emergency state
    assert store.appends == [["m-0"]]  # nothing is tried on the log after it failed
