"""The state file: which draft each model is, what was last applied, and the journal.

The service has no list endpoint, so the state is how reconciler finds its drafts.
It holds no secrets and is meant to be committed.

While an apply runs, each change of a model's record or journal entry is appended
to a write-ahead log beside the state (``<state>.wal``, one JSON line per model,
fsynced before the proposal is sent), so a write costs the same at 100,000 models
as at 10. When the writer releases the state lock the log is compacted into the one
readable, sorted state file and removed; if the process died first, every load
replays it, so nothing durable is lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from reconciler.apply.state_checks import document_problem, shared_draft
from reconciler.errors import LockError, StateError

STATE_FORMAT_VERSION = 1


class ModelRecord(BaseModel):
    """What the state remembers of one managed model."""

    model_config = ConfigDict(extra="forbid")

    draft_id: str
    # The managed fields of the live draft right after the last apply, in the form
    # ``reconciler.planning.normalize.normalize_live`` produces: the baseline for drift.
    last_applied: dict[str, Any] = Field(default_factory=dict)
    applied_at: str | None = None


class JournalEntry(BaseModel):
    """A proposal recorded before it is sent (write-ahead), until it is settled."""

    model_config = ConfigDict(extra="forbid")

    model_key: str
    idempotency_key: str
    # The soft patch's body exactly as sent (model fields, and ``draft_id`` unless it
    # creates a draft): a replay must repeat it byte for byte to be recognized.
    request: dict[str, Any]
    # Digest of the desired model the proposal was computed for: a proposal is still
    # wanted only if the manifests still want exactly that.
    desired_digest: str
    # A deactivation (prune) drops the model from the state once accepted.
    action: str
    created_at: str
    # The draft a create's proposal reserved, once the soft patch has answered. The
    # catalog keeps a key only 24 hours: after that a replay would reserve another draft,
    # so settling reads this one first (a new draft is live only once accepted).
    staged_draft_id: str | None = None
    # An all-or-nothing apply stages its whole plan as one batch before it accepts any
    # of it. Until the document's ``accepting_batch`` names this batch, the batch was
    # not decided: settling rejects such a proposal rather than accept part of a plan.
    batch: str | None = None


class StateDocument(BaseModel):
    """The whole state file."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = STATE_FORMAT_VERSION
    lineage: str
    serial: int = 0
    # The catalog the drafts live in ("embedded" or host[:port]); draft ids mean
    # nothing in another catalog. Set by the first command that writes the state.
    catalog: str | None = None
    models: dict[str, ModelRecord] = Field(default_factory=dict)
    journal: dict[str, JournalEntry] = Field(default_factory=dict)
    # The all-or-nothing batch whose every proposal was staged and which is being
    # accepted: set in one write, so a crash leaves the batch wholly decided or not.
    accepting_batch: str | None = None


_MODELS: TypeAdapter[dict[str, ModelRecord]] = TypeAdapter(dict[str, ModelRecord])
_JOURNAL: TypeAdapter[dict[str, JournalEntry]] = TypeAdapter(dict[str, JournalEntry])
_PIECE = 500  # records per piece of a rendered state file


def _mapping_parts(adapter: TypeAdapter[dict[str, Any]], items: dict[str, Any]) -> Iterator[str]:
    """A mapping of a state document as ``model_dump_json(indent=2)`` writes it in place
    (one level in), a few hundred entries at a time."""
    if not items:
        yield "{}"
        return
    keys = list(items)
    yield "{\n"
    for start in range(0, len(keys), _PIECE):
        piece = {key: items[key] for key in keys[start : start + _PIECE]}
        lines = adapter.dump_json(piece, indent=2).decode().split("\n")[1:-1]
        separator = ",\n" if start else ""
        yield separator + "\n".join("  " + line for line in lines)
    yield "\n  }"


class StateStore:
    """Reads and writes the state file atomically; one writer at a time through a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self.wal_path = path.with_name(path.name + ".wal")
        # What the file on disk said at the last load: a log belongs to that file.
        self._file_serial: int | None = None
        self._file_catalog: str | None = None
        # The (lineage, serial) of the file the log on disk extends, once it is open.
        self._wal_base: tuple[str, int] | None = None
        # The document whose changes were logged since the last compaction.
        self._logged: StateDocument | None = None

    def lineage_of(self, doc: StateDocument) -> str:
        """The lineage a saved plan records: empty while no state file exists yet."""
        return doc.lineage if self.path.exists() else ""

    def load(self, *, repairing: bool = False) -> StateDocument:
        """The state on disk, or a new empty one (fresh lineage) if there is none yet.

        ``repairing`` lets through a draft held by two models, for the command that fixes it.
        """
        self._file_serial = self._file_catalog = self._wal_base = self._logged = None
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return StateDocument(lineage=str(uuid.uuid4()))
        except OSError as exc:
            raise StateError(f"cannot read the state file {self.path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise StateError(
                f"{self.path}: the state file is not UTF-8 text (byte "
                f"0x{exc.object[exc.start]:02x} at offset {exc.start}); restore it from git"
            ) from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateError(
                f"{self.path}:{exc.lineno}:{exc.colno}: the state file is not valid JSON "
                f"({exc.msg}); restore it from git"
            ) from None
        version = raw.get("format_version") if isinstance(raw, dict) else None
        if version != STATE_FORMAT_VERSION:
            raise StateError(
                f"{self.path}: state format_version {version!r} is not supported "
                f"(this reconciler reads version {STATE_FORMAT_VERSION})"
            )
        try:
            doc = StateDocument.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise StateError(f"{self.path}: invalid state at {where}: {first['msg']}") from None
        problem = document_problem(doc)
        if problem is not None:
            raise StateError(f"{self.path}: invalid state at {problem}; restore it from git")
        shared = None if repairing else shared_draft(doc.models)
        if shared is not None:
            first, second = shared.keys
            raise StateError(
                f"{self.path}: models {first} and {second} both hold draft {shared.draft_id}: "
                "each apply would move the draft between them, and a prune of one would "
                "deactivate the other's",
                remedy="forget_one_key",
                remedy_args={"first": first, "second": second},
            )
        self._file_serial, self._file_catalog = doc.serial, doc.catalog
        self._replay(doc)
        return doc

    # -- the write-ahead log -------------------------------------------------------

    def log(self, doc: StateDocument, keys: Iterable[str], *, batch: bool = False) -> None:
        """Make the current record and journal entry of each of ``keys`` durable.

        With ``batch``, the document's ``accepting_batch`` marker is logged too.

        Costs one line per key and one fsync, whatever the size of the state. The
        caller holds the state lock; releasing it compacts the log into the file.
        """
        # Each line is {"key": ..., "model": ..., "journal": ...}; the records are encoded
        # by pydantic's own JSON encoder, a few times faster than dumping them to dicts
        # for ``json.dumps``, and read back the same by ``_replay``.
        lines = [
            f'{{"key":{json.dumps(key)},"model":{_encoded(doc.models.get(key))},'
            f'"journal":{_encoded(doc.journal.get(key))}}}\n'
            for key in keys
        ]
        if batch:
            lines.append(json.dumps({"accepting_batch": doc.accepting_batch}) + "\n")
        try:
            self._open_log(doc)
            # A bare descriptor: the text and buffer layers of ``open`` cost more than the
            # one write each group commit makes.
            fd = os.open(self.wal_path, os.O_WRONLY | os.O_APPEND)
            try:
                data = memoryview("".join(lines).encode("utf-8"))
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StateError(
                f"cannot write the state log {self.wal_path}: {exc.strerror or exc}; "
                "the previous state is unchanged"
            ) from None
        self._logged = doc

    def compact(self) -> None:
        """Fold the log into the state file and remove it (nothing to do if none was written).

        When the logged changes cancel out (a refused all-or-nothing apply journals its
        proposals, then forgets them) the file is left byte for byte, serial included: the
        serial feeds the idempotency keys, so a plan staged on it must still match.
        """
        if self._logged is None:
            return
        if self._same_as_file(self._logged):
            self._logged = None
            self._drop_log()
        else:
            self.save(self._logged)

    def _same_as_file(self, doc: StateDocument) -> bool:
        """Whether ``doc`` holds what the state file holds, apart from the serial."""
        try:
            on_disk = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(on_disk, dict):
            return False
        # Record by record, after the cheap checks: a dump of a whole 10,000-model document
        # at once is about 60 MiB, and after an apply of new models the keys alone differ.
        models, journal = on_disk.pop("models", None), on_disk.pop("journal", None)
        if not isinstance(models, dict) or not isinstance(journal, dict):
            return False
        if models.keys() != doc.models.keys() or journal.keys() != doc.journal.keys():
            return False
        on_disk.pop("serial", None)
        rest = doc.model_dump(mode="json", exclude={"serial", "models", "journal"})
        return (
            on_disk == rest
            and all(doc.models[k].model_dump(mode="json") == v for k, v in models.items())
            and all(doc.journal[k].model_dump(mode="json") == v for k, v in journal.items())
        )

    def _drop_log(self) -> None:
        """Remove the log: the file on disk holds everything it said."""
        if self._wal_base is not None or self.wal_path.exists():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.wal_path)
            self._wal_base = None
            self._fsync_dir()

    def _open_log(self, doc: StateDocument) -> None:
        """Start the log on the first change: it extends the state file as it is on disk."""
        if self._wal_base is not None and self._wal_base[0] == doc.lineage:
            return  # open already: created by this store, or replayed by its load
        if self._file_serial is None or self._file_catalog != doc.catalog:
            # No file yet (its lineage would be lost), or the catalog was just bound: the
            # log records models, so write the document once in full first.
            self.save(doc)
            self._file_serial, self._file_catalog = doc.serial, doc.catalog
        base = (doc.lineage, self._file_serial)
        header = json.dumps({"lineage": base[0], "serial": base[1]}, separators=(",", ":"))
        with open(self.wal_path, "w", encoding="utf-8") as handle:
            handle.write(header + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._fsync_dir()
        self._wal_base = base

    def _replay(self, doc: StateDocument) -> None:
        """Apply what a log beside the file says happened after it was written."""
        try:
            text = self.wal_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StateError(f"cannot read the state log {self.wal_path}: {exc.strerror}") from None
        lines = text.split("\n")
        try:
            header = json.loads(lines[0])
        except json.JSONDecodeError:
            return  # torn while being created: it holds nothing yet
        if header != {"lineage": doc.lineage, "serial": doc.serial}:
            return  # left by a compaction that wrote the file but died before removing it
        self._wal_base = (doc.lineage, doc.serial)
        replayed = 0
        for number, line in enumerate(lines[1:], start=2):
            if not line:
                continue
            try:
                entry = json.loads(line)
                if "accepting_batch" in entry:
                    doc.accepting_batch = entry["accepting_batch"]
                    replayed += 1
                    continue
                key = entry["key"]
                model = None if entry["model"] is None else ModelRecord(**entry["model"])
                pending = None if entry["journal"] is None else JournalEntry(**entry["journal"])
            except (ValueError, KeyError, TypeError) as exc:
                if number == len(lines):
                    break  # the last line, torn by a crash before its fsync returned
                raise StateError(
                    f"{self.wal_path}:{number}: the state log is damaged ({exc}); "
                    "the state file itself is intact"
                ) from None
            _put(doc.models, key, model)
            _put(doc.journal, key, pending)
            replayed += 1
        # Each logged change advances the serial as a write of the file would: a plan
        # saved from this document must not match the file, and an apply after another
        # interrupted one must not plan "on" the same serial (its keys would collide).
        doc.serial += replayed

    def save(self, doc: StateDocument) -> None:
        """Write ``doc`` with its serial advanced: temporary file, fsync, rename, fsync dir.

        The whole document is on disk then, so a log beside it is folded in and removed.
        """
        self.write(self.render_parts(doc))
        self._file_serial, self._file_catalog = doc.serial, doc.catalog
        self._logged = None
        self._drop_log()

    @staticmethod
    def render(doc: StateDocument) -> str:
        """Advance the serial and return the file's text, models and journal in key order.

        Sorted keys keep the committed file's diffs small; pydantic's own JSON encoder
        is several times faster than ``json.dumps`` on a large catalog.
        """
        return "".join(StateStore.render_parts(doc))

    @staticmethod
    def render_parts(doc: StateDocument) -> Iterator[str]:
        """``render``'s text in pieces of a few hundred records each, serial advanced.

        The whole text of 10,000 models at once (and pydantic's buffer behind it) was the
        peak of an apply's memory; each piece is the same JSON, indented as it would be
        in place.
        """
        doc.serial += 1
        doc.models = dict(sorted(doc.models.items()))
        doc.journal = dict(sorted(doc.journal.items()))
        shell = doc.model_copy(update={"models": {}, "journal": {}}).model_dump_json(indent=2)
        head, rest = shell.split('"models": {}', 1)
        middle, tail = rest.split('"journal": {}', 1)
        yield head + '"models": '
        yield from _mapping_parts(_MODELS, doc.models)
        yield middle + '"journal": '
        yield from _mapping_parts(_JOURNAL, doc.journal)
        yield tail + "\n"

    def write(self, text: str | Iterable[str]) -> None:
        """Replace the state file with ``text`` (or its pieces) atomically and durably."""
        try:
            self._write(text)
        except OSError as exc:
            raise StateError(
                f"cannot write the state file {self.path}: {exc.strerror or exc}; "
                "the previous state is unchanged"
            ) from None

    def _write(self, text: str | Iterable[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            # mkstemp makes the file private; the state is meant to be committed and shared.
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.writelines((text,) if isinstance(text, str) else text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextlib.contextmanager
    def lock(
        self,
        timeout: float,
        *,
        operation: str,
        notify: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        """Hold the state lock for a writing command, waiting up to ``timeout`` seconds.

        ``notify`` is told once when the lock is busy (who holds it, how long we wait),
        and if the lock file is taken from under us.
        """
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._acquire(timeout, notify)
        info = json.dumps(
            {
                "operation": operation,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        ).encode()
        _stamp(fd, info)
        guard = _LockGuard(self.lock_path, fd, info, notify)
        guard.start()
        try:
            yield
            self.compact()
        except BaseException:
            # Fold in what was logged if we can; if not, the log stays and the next load
            # replays it. Either way the original error is the one reported.
            with contextlib.suppress(StateError, OSError):
                self.compact()
            raise
        finally:
            for held in guard.stop():
                with contextlib.suppress(OSError):
                    os.ftruncate(held, 0)
                    fcntl.flock(held, fcntl.LOCK_UN)
                os.close(held)

    def _acquire(self, timeout: float, notify: Callable[[str], None] | None) -> int:
        """A descriptor of the lock file, flocked, and still the file at the lock's path.

        The file locked may have been deleted or replaced between our open and our flock
        (by a holder's cleanup, or by hand): a lock on it would exclude no one, so the file
        at the path is opened and locked again.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        told = False
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise LockError(
                        self._held_message(timeout), remedy="raise_lock_timeout"
                    ) from None
                if notify is not None and not told:
                    told = True
                    notify(
                        f"The state {self.path} is locked{self._holder_words()}; "
                        f"waiting up to {timeout:g}s for it…"
                    )
                time.sleep(0.05)
                continue
            except BaseException:
                os.close(fd)
                raise
            if _is_at(fd, self.lock_path):
                return fd
            os.close(fd)

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock, when another process does (its recorded info), else None."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None
            try:
                info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
            except (OSError, ValueError):
                info = None
            info = info if isinstance(info, dict) else {}
            if info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
                return None  # our own lock, taken by this very run
            return info
        finally:
            os.close(fd)

    def _holder_words(self) -> str:
        try:
            holder = json.loads(self.lock_path.read_text(encoding="utf-8"))
            return (
                f" by {holder['operation']} (pid {holder['pid']} on {holder['host']}, "
                f"since {holder['since']})"
            )
        except (OSError, ValueError, KeyError, TypeError):
            return ""

    def _held_message(self, timeout: float) -> str:
        who = self._holder_words()
        return f"the state {self.path} is locked{who}; waited {timeout:g}s. Wait for it to finish"


def _stamp(fd: int, info: bytes) -> None:
    """Write the holder's info into the lock file (read by whoever waits for it)."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, info, 0)


def _is_at(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is the file now at ``path`` (same device and inode)."""
    try:
        there = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


class _LockGuard:
    """Keeps a locked file at the lock's path for as long as the lock is held.

    A lock file deleted (or replaced) while we hold it would let the next writer create
    a fresh one and lock that: two applies at once, and duplicate drafts. The guard
    notices within a tick and puts a file we hold back at the path; the newcomer then
    finds it locked and waits.
    """

    _TICK = 0.05

    def __init__(
        self, path: Path, fd: int, info: bytes, notify: Callable[[str], None] | None
    ) -> None:
        self._path, self._info, self._notify = path, info, notify
        self._held = [fd]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="state-lock-guard", daemon=True)
        self._warned = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> list[int]:
        """Stop watching; the descriptors held, for the caller to release."""
        self._stop.set()
        self._thread.join()
        return self._held

    def _run(self) -> None:
        while not self._stop.wait(self._TICK):
            with contextlib.suppress(OSError):
                self._check()

    def _check(self) -> None:
        if any(_is_at(fd, self._path) for fd in self._held):
            return
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if not self._warned and self._notify is not None:
                self._warned = True
                self._notify(
                    f"Warning: the lock file {self._path} was deleted while this run held it, "
                    "and another process has locked a new one: two writers may be at work"
                )
            return
        _stamp(fd, self._info)
        self._held.append(fd)


def _encoded(value: BaseModel | None) -> str:
    return "null" if value is None else value.model_dump_json()


def _put(mapping: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value
