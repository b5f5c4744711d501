"""Bad input and hostile situations without a catalog: one clear message, exit 1, no hang."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.apply import state as state_module
from reconciler.apply.state import ModelRecord, StateStore
from reconciler.cli import main
from reconciler.errors import LockError

MODEL = "apiVersion: reconciler/v1\nkind: Model\nmetadata: {key: m}\nspec: {name: M}\n"


def cli(args: list[str], cwd: Path) -> object:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args, env={"NO_COLOR": "1"}, catch_exceptions=False)
    finally:
        os.chdir(old)


def test_a_symlink_loop_among_the_manifests_is_one_located_problem(tmp_path):
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "good.yaml").write_text(MODEL)
    (folder / "a.yaml").symlink_to("b.yaml")
    (folder / "b.yaml").symlink_to("a.yaml")
    result = cli(["validate", str(folder)], tmp_path)
    assert result.exit_code == 1
    assert f"{folder / 'a.yaml'}:1:1: a symbolic link loop" in result.output
    assert "internal error" not in result.output


def test_a_fifo_named_yaml_is_reported_and_never_opened(tmp_path):
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "good.yaml").write_text(MODEL)
    os.mkfifo(folder / "pipe.yaml")
    # Opening a FIFO with no writer blocks forever: a subprocess with a deadline proves it.
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(folder)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 1
    assert "pipe.yaml:1:1: not a regular file (a named pipe)" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_python_object_document_is_one_problem_not_two(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("--- !!python/object:os.system\nname: x\n")
    result = cli(["validate", str(path)], tmp_path)
    assert result.exit_code == 1
    assert result.output.count(str(path)) == 1
    assert "!!python/object:os.system is not allowed" in result.output


def test_a_state_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    (tmp_path / "reconciler.state.json").write_bytes(b'{"format_version": 1, "x": "\xff"}')
    result = cli(["state", "list"], tmp_path)
    assert result.exit_code == 1
    assert "not UTF-8 text (byte 0xff at offset" in result.stderr
    assert "internal error" not in result.stderr


def test_a_hand_edited_state_is_validated_on_load_with_the_key_and_field(tmp_path):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "m.yaml").write_text(MODEL)
    state = {
        "format_version": 1,
        "lineage": "l-1",
        "models": {"m": {"draft_id": "d-1", "last_applied": {"pricing": [{"amount": 5}]}}},
    }
    (tmp_path / "reconciler.state.json").write_text(json.dumps(state))
    result = cli(["plan", "--refresh=false"], tmp_path)
    assert result.exit_code == 1
    assert "invalid state at models.m.last_applied.pricing[0].label: Field required" in (
        result.stderr
    )
    assert "internal error" not in result.stderr


def test_sigint_while_starting_exits_130_without_a_traceback(tmp_path):
    env = {**os.environ, "NO_COLOR": "1"}
    # From the moment Python's own start-up (site) is done to the command's first step;
    # an interrupt inside the interpreter's start-up is Python's to report, not ours.
    # On a loaded machine that start-up alone may take longer than usual: measure it here.
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    startup = 2 * (time.monotonic() - started)
    for delay in (0.2, 0.25, 0.3, 0.4, 0.5):
        delay += startup
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "validate", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert "Traceback" not in err, (delay, err)
        # Either interrupted (130: an exit code, or death by SIGINT, which a shell also
        # reports as 130), or it had already finished (validate's own exit 1).
        assert process.returncode in (130, -signal.SIGINT, 1), (delay, process.returncode, err)


def test_the_lock_retries_when_the_file_it_locked_was_replaced_meanwhile(tmp_path, monkeypatch):
    store = StateStore(tmp_path / "reconciler.state.json")
    real_flock = state_module.fcntl.flock
    replaced = []

    def flock_after_a_swap(fd: int, operation: int) -> None:
        if not replaced and operation & state_module.fcntl.LOCK_EX:
            # Between our open and our flock, someone replaces the lock file.
            replaced.append(True)
            store.lock_path.unlink()
            store.lock_path.write_text("")
        real_flock(fd, operation)

    monkeypatch.setattr(state_module.fcntl, "flock", flock_after_a_swap)
    with store.lock(1, operation="test"):
        holder = json.loads(store.lock_path.read_text())
        assert holder["operation"] == "test"
    assert replaced == [True]


def _hold_lock(state: Path, operation: str = "apply") -> subprocess.Popen[str]:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from reconciler.apply.state import StateStore\n"
        f"with StateStore(Path({str(state)!r})).lock(5, operation={operation!r}):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "held\n"
    return process


def _release(process: subprocess.Popen[str]) -> None:
    process.communicate("", timeout=30)
    assert process.returncode == 0


def test_deleting_the_lock_file_while_it_is_held_does_not_let_a_second_writer_in(tmp_path):
    state = tmp_path / "reconciler.state.json"
    holder = _hold_lock(state)
    try:
        (tmp_path / "reconciler.state.json.lock").unlink()
        time.sleep(0.3)  # the holder's guard puts its lock file back within a tick
        second = StateStore(state).lock(0.5, operation="second")
        with pytest.raises(LockError, match=r"locked by apply \(pid"), second:
            pass
    finally:
        _release(holder)


def test_a_writer_waiting_for_the_lock_says_once_who_holds_it(tmp_path):
    state = tmp_path / "reconciler.state.json"
    StateStore(state).save(StateStore(state).load())
    holder = _hold_lock(state)
    try:
        result = cli(["state", "rm", "x", "--lock-timeout", "0.4"], tmp_path)
    finally:
        _release(holder)
    assert result.exit_code == 1
    waiting = [line for line in result.stderr.splitlines() if "waiting up to 0.4s" in line]
    assert len(waiting) == 1
    assert f"locked by apply (pid {holder.pid}" in waiting[0]
    assert "--lock-timeout" in waiting[0]


def _writer(path: str, key: str, results: multiprocessing.Queue) -> None:
    store = StateStore(Path(path))
    with store.lock(60, operation="test writer"):
        doc = store.load()
        doc.models[key] = ModelRecord(draft_id=f"d-{key}")
        store.save(doc)
        results.put((key, doc.serial, doc.lineage))


def test_a_hundred_concurrent_writers_through_the_lock_lose_nothing(tmp_path):
    path = tmp_path / "reconciler.state.json"
    store = StateStore(path)
    first = store.load()
    store.save(first)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    writers = [
        context.Process(target=_writer, args=(str(path), f"m{n:03d}", results)) for n in range(100)
    ]
    for writer in writers:
        writer.start()
    seen = []
    deadline = time.monotonic() + 60
    while len(seen) < 100 and time.monotonic() < deadline:
        # Read while they write: every file a reader sees is whole and valid.
        doc = store.load()
        assert doc.lineage == first.lineage
        while not results.empty():
            seen.append(results.get())
    for writer in writers:
        writer.join(30)
        assert writer.exitcode == 0
    while len(seen) < 100:
        seen.append(results.get(timeout=10))
    final = store.load()
    assert len(final.models) == 100
    assert final.lineage == first.lineage
    serials = sorted(serial for _, serial, _ in seen)
    assert serials == list(range(2, 102))  # each write one more than the one before it
    assert {lineage for _, _, lineage in seen} == {first.lineage}
    assert final.serial == 101
