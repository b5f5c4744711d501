"""Idempotency keys: the stored outcome of each keyed operation, and keys in flight.

Following the IETF httpapi Idempotency-Key draft and Stripe's practice:

- A key is stored with the request's fingerprint and the response it produced,
  for at least ``RETENTION_SECONDS``. The same key and fingerprint replay that
  response; the same key with another fingerprint is a 422.
- Only successful outcomes (200) are stored. A request refused with a 4xx
  changed nothing and is not stored, so its key may be used again for a
  corrected request (Stripe likewise saves no result for a request that failed
  validation); retrying the same refused request gets the same answer anyway,
  computed afresh. 5xx and 409 are transient by nature and never stored.
- A soft patch and its ack share a key, so their outcomes live under two
  scopes: ``write`` (create, hard or soft patch) and ``ack``. An ack's
  fingerprint is its decision; see ``reconciler.server.operations``.
- A key being processed is claimed in memory for the whole request, so a
  concurrent request with the same key gets a 409 instead of waiting for it.
  Across processes sharing one file the write lock orders the two requests
  instead: the second waits for the first to commit, then replays it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from reconciler.server.problems import ApiProblem

RETENTION_SECONDS = 24 * 60 * 60
Scope = Literal["write", "ack"]


@dataclass(frozen=True)
class StoredOutcome:
    """What a key produced the first time."""

    fingerprint: str
    status: int
    body: str


def lookup(conn: sqlite3.Connection, key: str, scope: Scope) -> StoredOutcome | None:
    """The outcome stored for ``key`` in ``scope``, if any."""
    row = conn.execute(
        "SELECT fingerprint, status, body FROM idempotency WHERE key = ? AND scope = ?",
        (key, scope),
    ).fetchone()
    return None if row is None else StoredOutcome(row["fingerprint"], row["status"], row["body"])


def remember(
    conn: sqlite3.Connection, key: str, scope: Scope, outcome: StoredOutcome, now: float
) -> None:
    """Store the outcome of ``key`` in ``scope`` (in the same transaction as its effect)."""
    conn.execute(
        "INSERT INTO idempotency (key, scope, fingerprint, status, body, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (key, scope, outcome.fingerprint, outcome.status, outcome.body, now),
    )


def forget_expired(conn: sqlite3.Connection, now: float) -> None:
    """Drop keys older than the retention, with their decided proposals.

    A key whose proposal is pending, or was decided within the retention, is kept
    whole (soft patch record, ack record and proposal go together), so a late
    retry never finds half of an operation.
    """
    cutoff = now - RETENTION_SECONDS
    conn.execute(
        "DELETE FROM idempotency WHERE created_at < ? AND key NOT IN "
        "(SELECT key FROM proposals WHERE status = 'pending' OR decided_at >= ?)",
        (cutoff, cutoff),
    )
    conn.execute("DELETE FROM proposals WHERE status != 'pending' AND decided_at < ?", (cutoff,))


class KeysInFlight:
    """The keys this process is processing right now."""

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    @contextmanager
    def claim(self, key: str | None) -> Iterator[None]:
        """Hold ``key`` for the block, or raise a 409 if another request holds it."""
        if key is None:
            yield
            return
        with self._lock:
            if key in self._keys:
                raise ApiProblem(
                    409,
                    f"idempotency_key {key!r} is still being processed; "
                    "retry later with the same key and body",
                )
            self._keys.add(key)
        try:
            yield
        finally:
            with self._lock:
                self._keys.discard(key)
