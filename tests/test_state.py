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


# -- the write-ahead log ---------------------------------------------------------------


def _entry(key: str) -> JournalEntry:
    return JournalEntry(
        model_key=key,
        idempotency_key=f"k-{key}",
        request={"name": key, "soft": True},
        desired_digest="x",
        action="create",
        created_at="2026-01-01T00:00:00+00:00",
    )


def _saved_with(tmp_path, count: int) -> tuple[StateStore, StateDocument]:
    store = StateStore(tmp_path / "reconciler.state.json")
    doc = store.load()
    doc.models = {f"m-{i:04d}": ModelRecord(draft_id=f"d{i}") for i in range(count)}
    store.save(doc)
    return store, store.load()


def test_a_logged_change_is_one_line_beside_the_file_whatever_the_size_of_the_state(tmp_path):
    store, doc = _saved_with(tmp_path, 1000)
    before = store.path.read_bytes()
    doc.journal["new"] = _entry("new")
    store.log(doc, ["new"])
    assert store.path.read_bytes() == before
    header, line = store.wal_path.read_text().splitlines()
    assert json.loads(header) == {"lineage": doc.lineage, "serial": doc.serial}
    assert json.loads(line)["key"] == "new"
    assert len(line) < 400
    doc.models["m-0005"] = ModelRecord(draft_id="d5", last_applied={"name": "x"})
    store.log(doc, ["m-0005"])
    assert len(store.wal_path.read_text().splitlines()) == 3


def test_a_load_replays_the_log_of_an_interrupted_apply_and_advances_the_serial(tmp_path):
    store, doc = _saved_with(tmp_path, 3)
    serial = doc.serial
    doc.journal["m-0001"] = _entry("m-0001")
    store.log(doc, ["m-0001"])
    del doc.models["m-0002"]
    doc.models["m-0003"] = ModelRecord(draft_id="d3")
    store.log(doc, ["m-0002", "m-0003"])
    loaded = StateStore(store.path).load()
    assert loaded.journal == {"m-0001": _entry("m-0001")}
    assert sorted(loaded.models) == ["m-0000", "m-0001", "m-0003"]
    assert loaded.serial == serial + 3


def test_the_batch_being_accepted_is_logged_and_replayed_with_the_models(tmp_path):
    # All or nothing: once a batch is marked as being accepted, a killed run's rerun must
    # accept (not reject) its proposals, so the marker is as durable as the journal.
    store, doc = _saved_with(tmp_path, 1)
    doc.journal["m-0000"] = _entry("m-0000")
    store.log(doc, ["m-0000"])
    doc.accepting_batch = "batch-1"
    store.log(doc, [], batch=True)
    loaded = StateStore(store.path).load()
    assert loaded.accepting_batch == "batch-1"
    assert loaded.journal == {"m-0000": _entry("m-0000")}
    loaded.accepting_batch = None
    store.log(loaded, [], batch=True)
    assert StateStore(store.path).load().accepting_batch is None


def test_a_torn_last_line_is_ignored_and_a_damaged_one_before_it_is_an_error(tmp_path):
    store, doc = _saved_with(tmp_path, 1)
    doc.journal["a"] = _entry("a")
    store.log(doc, ["a"])
    with open(store.wal_path, "a") as handle:
        handle.write('{"key": "b", "model": {"draft_')
    assert list(StateStore(store.path).load().journal) == ["a"]
    with open(store.wal_path, "a") as handle:
        handle.write("\n" + json.dumps({"key": "c", "model": None, "journal": None}) + "\n")
    with pytest.raises(StateError, match=r"reconciler.state.json.wal:3: the state log is damaged"):
        StateStore(store.path).load()


def test_compaction_folds_the_log_into_one_sorted_file_and_removes_it(tmp_path):
    store, doc = _saved_with(tmp_path, 2)
    doc.models["a-first"] = ModelRecord(draft_id="d-a")
    store.log(doc, ["a-first"])
    store.compact()
    assert not store.wal_path.exists()
    raw = json.loads(store.path.read_text())
    assert list(raw["models"]) == ["a-first", "m-0000", "m-0001"]
    assert StateStore(store.path).load().models == doc.models


def test_a_log_left_by_a_compaction_that_died_before_removing_it_is_ignored(tmp_path):
    store, doc = _saved_with(tmp_path, 1)
    doc.models["gone"] = ModelRecord(draft_id="d-gone")
    store.log(doc, ["gone"])
    stale = store.wal_path.read_bytes()
    del doc.models["gone"]
    store.save(doc)
    store.wal_path.write_bytes(stale)  # as if the unlink never happened
    assert "gone" not in StateStore(store.path).load().models


def test_the_first_logged_change_of_a_new_state_writes_the_file_so_its_lineage_stays(tmp_path):
    store = StateStore(tmp_path / "reconciler.state.json")
    doc = store.load()
    doc.catalog = "embedded"
    doc.journal["a"] = _entry("a")
    store.log(doc, ["a"])
    loaded = StateStore(store.path).load()
    assert (loaded.lineage, loaded.catalog, list(loaded.journal)) == (
        doc.lineage,
        "embedded",
        ["a"],
    )


def test_releasing_the_lock_compacts_even_when_the_command_failed(tmp_path):
    store, doc = _saved_with(tmp_path, 1)

    def failing_command() -> None:
        with store.lock(1, operation="apply"):
            doc.models["b"] = ModelRecord(draft_id="d-b")
            store.log(doc, ["b"])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        failing_command()
    assert not store.wal_path.exists()
    assert "b" in json.loads(store.path.read_text())["models"]


def test_a_log_whose_changes_cancel_out_compacts_to_nothing_and_keeps_the_file(tmp_path):
    # An all-or-nothing apply that is refused journals its proposals, then forgets them:
    # the state is as it was, and its serial (which feeds the idempotency keys) too.
    store, doc = _saved_with(tmp_path, 2)
    before = store.path.read_bytes()
    doc.journal["m-0000"] = _entry("m-0000")
    doc.accepting_batch = None
    store.log(doc, ["m-0000"], batch=True)
    del doc.journal["m-0000"]
    store.log(doc, ["m-0000"])
    store.compact()
    assert store.path.read_bytes() == before
    assert not store.wal_path.exists()
    assert StateStore(store.path).load().serial == doc.serial


def test_a_log_that_changed_something_is_still_written_with_the_serial_advanced(tmp_path):
    store, doc = _saved_with(tmp_path, 2)
    serial = doc.serial
    doc.journal["m-0000"] = _entry("m-0000")
    store.log(doc, ["m-0000"])
    del doc.journal["m-0000"]
    doc.models["m-0001"] = ModelRecord(draft_id="d1", last_applied={"name": "changed"})
    store.log(doc, ["m-0000", "m-0001"])
    store.compact()
    assert not store.wal_path.exists()
    loaded = StateStore(store.path).load()
    assert loaded.serial == serial + 1
    assert loaded.models["m-0001"].last_applied == {"name": "changed"}


@pytest.mark.parametrize(
    "change",
    ["a model added", "a journal entry left", "the batch being accepted"],
)
def test_a_log_that_changed_keys_or_the_document_itself_is_written(tmp_path, change):
    store, doc = _saved_with(tmp_path, 2)
    serial = doc.serial
    if change == "a model added":
        doc.models["m-0002"] = ModelRecord(draft_id="d2")
        store.log(doc, ["m-0002"])
    elif change == "a journal entry left":
        doc.journal["m-0000"] = _entry("m-0000")
        store.log(doc, ["m-0000"])
    else:
        doc.accepting_batch = "0" * 32
        store.log(doc, [], batch=True)
    store.compact()
    loaded = StateStore(store.path).load()
    assert loaded.serial == serial + 1
    assert (len(loaded.models), len(loaded.journal), loaded.accepting_batch) == {
        "a model added": (3, 0, None),
        "a journal entry left": (2, 1, None),
        "the batch being accepted": (2, 0, "0" * 32),
    }[change]


def test_an_unchanged_document_in_a_hand_formatted_file_is_not_rewritten(tmp_path):
    # Content decides, not formatting: keys out of order and no indentation are the same state.
    store, doc = _saved_with(tmp_path, 2)
    raw = json.loads(store.path.read_text())
    raw["models"] = dict(reversed(raw["models"].items()))
    store.path.write_text(json.dumps(raw))
    before = store.path.read_bytes()
    doc = store.load()
    doc.journal["m-0000"] = _entry("m-0000")
    store.log(doc, ["m-0000"])
    del doc.journal["m-0000"]
    store.log(doc, ["m-0000"])
    store.compact()
    assert store.path.read_bytes() == before
    assert not store.wal_path.exists()


@pytest.mark.parametrize("count", [0, 1, 1201])
def test_the_state_file_is_written_in_pieces_as_pydantic_writes_it_whole(tmp_path, count):
    store, doc = _saved_with(tmp_path, count)
    doc.models['zé-"quoted"'] = ModelRecord(
        draft_id="d-é", last_applied={"name": "Ünïcode\n", "pricing": [{"amount": "0.1"}]}
    )
    doc.journal = {"m-0000": _entry("m-0000"), "m-0001": _entry("m-0001")} if count else {}
    whole = doc.model_copy(update={"serial": doc.serial + 1}, deep=True)
    whole.models = dict(sorted(whole.models.items()))
    store.save(doc)
    assert store.path.read_text(encoding="utf-8") == whole.model_dump_json(indent=2) + "\n"
