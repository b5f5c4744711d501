import json
import multiprocessing
import time

import pytest

from reconciler.apply.state import JournalEntry, ModelRecord, StateDocument, StateStore
from reconciler.errors import LockError, StateError
from reconciler.render.remedies import describe


def test_missing_state_file_starts_empty_with_a_fresh_lineage(tmp_path):
    store = StateStore(tmp_path / "reconciler.state.json")
    first, second = store.load(), store.load()
    assert first.models == {}
    assert first.serial == 0
    assert first.lineage != second.lineage


def test_save_advances_serial_and_round_trips(tmp_path):
    store = StateStore(tmp_path / "reconciler.state.json")
    doc = store.load()
    doc.models["gpt-4o"] = ModelRecord(draft_id="d1", last_applied={"name": "GPT-4o"})
    doc.journal["gpt-4o"] = JournalEntry(
        model_key="gpt-4o",
        idempotency_key="k",
        request={"name": "GPT-4o", "soft": True, "idempotency_key": "k"},
        desired_digest="x",
        action="create",
        created_at="2026-01-01T00:00:00+00:00",
    )
    store.save(doc)
    loaded = store.load()
    assert loaded.serial == 1
    assert loaded.lineage == doc.lineage
    assert loaded.models["gpt-4o"].last_applied == {"name": "GPT-4o"}
    assert loaded.journal["gpt-4o"].idempotency_key == "k"


def test_save_leaves_no_temporary_files(tmp_path):
    store = StateStore(tmp_path / "reconciler.state.json")
    store.save(store.load())
    assert [p.name for p in tmp_path.iterdir()] == ["reconciler.state.json"]


def test_corrupt_state_file_is_reported_with_location(tmp_path):
    path = tmp_path / "reconciler.state.json"
    path.write_text('{"format_version": 1,\n  "lineage": }')
    with pytest.raises(StateError, match=r"reconciler.state.json:2:\d+: the state file is not"):
        StateStore(path).load()


def test_state_of_another_format_version_is_refused(tmp_path):
    path = tmp_path / "reconciler.state.json"
    path.write_text(json.dumps({"format_version": 99, "lineage": "x"}))
    with pytest.raises(StateError, match="format_version 99 is not supported"):
        StateStore(path).load()


def test_invalid_state_names_the_field(tmp_path):
    path = tmp_path / "reconciler.state.json"
    path.write_text(json.dumps({"format_version": 1, "lineage": "x", "models": {"a": {}}}))
    with pytest.raises(StateError, match=r"models\.a\.draft_id"):
        StateStore(path).load()


def _hold_lock(path, ready, release):
    store = StateStore(path)
    with store.lock(1, operation="apply"):
        ready.set()
        release.wait(10)


def test_second_writer_waits_then_fails_naming_the_holder(tmp_path):
    path = tmp_path / "reconciler.state.json"
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        started = time.monotonic()
        with (
            pytest.raises(LockError, match=r"locked by apply \(pid \d+") as info,
            StateStore(path).lock(0.3, operation="plan"),
        ):
            pass
        assert time.monotonic() - started >= 0.3
        assert "--lock-timeout" in describe(info.value)
    finally:
        release.set()
        holder.join(10)
    with StateStore(path).lock(0, operation="plan"):
        pass


def test_lock_of_a_killed_holder_is_released(tmp_path):
    path = tmp_path / "reconciler.state.json"
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(path, ready, release))
    holder.start()
    assert ready.wait(20)
    holder.kill()
    holder.join(10)
    with StateStore(path).lock(1, operation="apply"):
        pass


def test_state_file_is_readable_by_others_like_any_committed_file(tmp_path):
    store = StateStore(tmp_path / "reconciler.state.json")
    store.save(store.load())
    assert (tmp_path / "reconciler.state.json").stat().st_mode & 0o777 == 0o644


def test_unwritable_state_is_a_clear_error_and_the_old_state_stays(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    store = StateStore(blocker / "reconciler.state.json")
    with pytest.raises(StateError, match=r"cannot write the state file .*previous state"):
        store.save(StateDocument(lineage="x"))
