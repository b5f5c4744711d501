"""The catalog's SQLite file: schema, seeding, and one transaction per request.

WAL mode lets reads run beside a write; every write runs in ``BEGIN IMMEDIATE``
so it holds the write lock from its first statement and a crash leaves either
the whole request applied or none of it. Connections are pooled (opening one
costs more than a typical request) and each is used by one thread at a time.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.server.reference import ReferenceData, label_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    label_key TEXT NOT NULL,
    UNIQUE (kind, label_key)
);
CREATE TABLE IF NOT EXISTS flag_options (
    id TEXT PRIMARY KEY,
    flag TEXT NOT NULL,
    value TEXT NOT NULL,
    boolean INTEGER NOT NULL,
    UNIQUE (flag, value)
);
CREATE TABLE IF NOT EXISTS texts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    UNIQUE (kind, text)
);
CREATE TABLE IF NOT EXISTS pricing_entries (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    unit TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS drafts (
    id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS proposals (
    key TEXT PRIMARY KEY,
    draft_id TEXT NOT NULL,
    base_revision INTEGER NOT NULL,
    new_draft INTEGER NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    decided_at REAL
);
CREATE INDEX IF NOT EXISTS proposals_by_draft ON proposals (draft_id, status);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT NOT NULL,
    scope TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (key, scope)
);
CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency (created_at);
"""


class Database:
    """A catalog file: created and seeded on open, then used one transaction at a time."""

    def __init__(self, path: Path, reference: ReferenceData) -> None:
        self.path = path
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        # Threads of one process queue here rather than in SQLite's busy handler,
        # which polls with sleeps; other processes still wait through busy_timeout.
        self._write_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        conn.executescript(SCHEMA)  # idempotent: every statement is IF NOT EXISTS
        self._idle.put(conn)
        with self.transaction(write=True) as conn:
            _seed(conn, reference)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction: committed if the block ends normally, rolled back if it raises."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        reusable = False
        lock = self._write_lock if write else None
        if lock is not None:
            lock.acquire()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                reusable = True
                raise
            conn.execute("COMMIT")
            reusable = True
        finally:
            if lock is not None:
                lock.release()
            # A connection whose BEGIN, COMMIT or ROLLBACK failed is in an unknown state.
            if reusable:
                self._idle.put(conn)
            else:
                conn.close()

    def close(self) -> None:
        """Close the idle connections (a later transaction opens a new one)."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _seed(conn: sqlite3.Connection, reference: ReferenceData) -> None:
    # Upserts: reseeding is idempotent, and a label whose spelling changed in the
    # file keeps its id (derived from the case-folded label) and takes the new spelling.
    conn.executemany(
        "INSERT INTO resources (id, kind, label, label_key) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET label = excluded.label",
        [(r.id, r.kind, r.label, label_key(r.label)) for r in reference.resources],
    )
    conn.executemany(
        "INSERT INTO flag_options (id, flag, value, boolean) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        [(o.id, o.flag, o.value, int(o.boolean)) for o in reference.flag_options],
    )
