"""The catalog's operations: read, create, hard patch, soft patch, ack, each one transaction.

Decisions where the contract is silent:

- ``revision`` counts changes of the live state: a hard patch or an accept that
  leaves the state as it was does not bump it (and so makes no proposal stale).
  A draft's first live state is revision 1; a proposal for a new draft reports
  revision 0 (the nothing it was staged on).
- A soft or hard patch naming a draft that has no live state (unknown, or only
  reserved by a pending proposal) is a 404, like a read of it. So a proposal
  for a new draft is the only one on its draft and is never stale.
- An ack is keyed by its decision: repeating the decision replays the first
  ack's response; the opposite decision is a 409. An ack whose ``draft_id``
  is not the proposal's draft is a 422. A key used by a create or hard patch is
  no proposal: an ack of it is a 404.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.server.database import Database
from reconciler.server.draft import DraftState, new_draft_state, render_form_state
from reconciler.server.idempotency import (
    StoredOutcome,
    forget_expired,
    lookup,
    remember,
)
from reconciler.server.problems import ApiProblem
from reconciler.server.request import Operation
from reconciler.server.resolve import apply_request


@dataclass(frozen=True)
class Outcome:
    """A response to send: status, JSON body, and whether it replays a stored one."""

    status: int
    body: str
    replayed: bool = False


@dataclass(frozen=True)
class _Live:
    revision: int
    state: DraftState


class Catalog:
    """The operations over one catalog file."""

    def __init__(self, database: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self._clock = clock

    def execute(self, operation: Operation) -> Outcome:
        """Run one operation in one transaction (blocking; call it from a worker thread)."""
        with self._db.transaction(write=operation.is_write) as conn:
            if operation.kind == "read":
                return Outcome(200, self._read(conn, operation))
            now = self._clock()
            forget_expired(conn, now)
            if operation.kind == "ack":
                return self._ack(conn, operation, now)
            key = operation.key
            if key is not None and (stored := lookup(conn, key, "write")) is not None:
                if stored.fingerprint != operation.fingerprint:
                    raise ApiProblem(
                        422,
                        f"idempotency_key {key!r} was already used with another request body; "
                        "the first request stands. Use a new key for a new operation",
                        errors=[("idempotency_key", "reused with a different body")],
                    )
                return Outcome(stored.status, stored.body, replayed=True)
            if operation.kind == "create":
                body = self._create(conn, operation)
            elif operation.kind == "hard_patch":
                body = self._hard_patch(conn, operation)
            else:
                body = self._soft_patch(conn, operation)
            if key is not None:
                remember(conn, key, "write", StoredOutcome(operation.fingerprint, 200, body), now)
            return Outcome(200, body)

    def _read(self, conn: sqlite3.Connection, operation: Operation) -> str:
        draft_id = _given(operation.draft_id)
        live = _live_or_404(conn, draft_id)
        pending = _pending(conn, draft_id)
        form = render_form_state(conn, draft_id, live.revision, live.state, pending)
        return _success(draft_id, None, f"draft {draft_id} at revision {live.revision}", form)

    def _create(self, conn: sqlite3.Connection, operation: Operation) -> str:
        draft_id = str(uuid.uuid4())
        state = apply_request(conn, new_draft_state(), operation.request)
        revision = _store_live(conn, draft_id, None, state)
        form = render_form_state(conn, draft_id, revision, state, [])
        return _success(draft_id, operation.key, f"draft {draft_id} created", form)

    def _hard_patch(self, conn: sqlite3.Connection, operation: Operation) -> str:
        draft_id = _given(operation.draft_id)
        live = _live_or_404(conn, draft_id)
        state = apply_request(conn, live.state, operation.request)
        revision = _store_live(conn, draft_id, live, state)
        message = (
            f"draft {draft_id} updated to revision {revision}"
            if revision != live.revision
            else f"draft {draft_id} unchanged at revision {revision}"
        )
        form = render_form_state(conn, draft_id, revision, state, _pending(conn, draft_id))
        return _success(draft_id, operation.key, message, form)

    def _soft_patch(self, conn: sqlite3.Connection, operation: Operation) -> str:
        key = _given(operation.key)
        if operation.draft_id is not None:
            draft_id = operation.draft_id
            live = _live_or_404(conn, draft_id)
        else:
            draft_id, live = str(uuid.uuid4()), None
        base = live.state if live is not None else new_draft_state()
        base_revision = live.revision if live is not None else 0
        proposed = apply_request(conn, base, operation.request)
        conn.execute(
            "INSERT INTO proposals (key, draft_id, base_revision, new_draft, state, status) "
            "VALUES (?, ?, ?, ?, ?, 'pending')",
            (key, draft_id, base_revision, int(live is None), proposed.to_json()),
        )
        form = render_form_state(
            conn, draft_id, base_revision, proposed, _pending(conn, draft_id), dormant=True
        )
        message = (
            f"proposal {key} staged on draft {draft_id}; "
            "send {idempotency_key, accept} to accept or reject it"
        )
        return _success(draft_id, key, message, form)

    def _ack(self, conn: sqlite3.Connection, operation: Operation, now: float) -> Outcome:
        key = _given(operation.key)
        proposal = conn.execute("SELECT * FROM proposals WHERE key = ?", (key,)).fetchone()
        if proposal is None:
            raise ApiProblem(404, f"no soft patch proposal has idempotency_key {key!r}")
        draft_id = proposal["draft_id"]
        if operation.draft_id is not None and operation.draft_id != draft_id:
            raise ApiProblem(
                422,
                f"proposal {key} belongs to draft {draft_id}, not {operation.draft_id}",
                errors=[("draft_id", f"is not the draft of proposal {key}")],
            )
        decision = "accept" if operation.request.accept else "reject"
        stored = lookup(conn, key, "ack")
        if stored is not None and stored.fingerprint == decision:
            return Outcome(stored.status, stored.body, replayed=True)
        if stored is not None or proposal["status"] != "pending":
            raise ApiProblem(
                409,
                f"proposal {key} was already {proposal['status']}; it cannot be {decision}ed now",
            )
        # Decided first, so the reported pending_ids no longer list it; a stale accept
        # raises below and the rollback leaves the proposal pending.
        conn.execute(
            "UPDATE proposals SET status = ?, decided_at = ? WHERE key = ?",
            (f"{decision}ed", now, key),
        )
        live = _live(conn, draft_id)
        if decision == "accept":
            body = self._accept(conn, proposal, live)
        else:
            body = self._reject(conn, proposal, live)
        remember(conn, key, "ack", StoredOutcome(decision, 200, body), now)
        return Outcome(200, body)

    def _accept(self, conn: sqlite3.Connection, proposal: sqlite3.Row, live: _Live | None) -> str:
        key, draft_id = proposal["key"], proposal["draft_id"]
        live_revision = live.revision if live is not None else 0
        if live_revision != proposal["base_revision"]:
            raise ApiProblem(
                409,
                f"proposal {key} is stale: draft {draft_id} changed since it was staged "
                f"(revision {proposal['base_revision']} then, {live_revision} now); "
                "reject it and stage a new one",
            )
        state = DraftState.from_json(proposal["state"])
        revision = _store_live(conn, draft_id, live, state)
        form = render_form_state(conn, draft_id, revision, state, _pending(conn, draft_id))
        message = f"proposal {key} accepted; draft {draft_id} at revision {revision}"
        return _success(draft_id, key, message, form)

    def _reject(self, conn: sqlite3.Connection, proposal: sqlite3.Row, live: _Live | None) -> str:
        key, draft_id = proposal["key"], proposal["draft_id"]
        if live is None:
            message = f"proposal {key} rejected; draft {draft_id}, proposed by it, is discarded"
            return _success(draft_id, key, message, None)
        pending = _pending(conn, draft_id)
        form = render_form_state(conn, draft_id, live.revision, live.state, pending)
        return _success(draft_id, key, f"proposal {key} rejected; draft {draft_id} unchanged", form)


def _given(value: str | None) -> str:
    # The request classifier guarantees these; a None here is a programming error.
    if value is None:
        raise AssertionError("operation is missing a field its kind requires")
    return value


def _live(conn: sqlite3.Connection, draft_id: str) -> _Live | None:
    row = conn.execute("SELECT revision, state FROM drafts WHERE id = ?", (draft_id,)).fetchone()
    return None if row is None else _Live(row["revision"], DraftState.from_json(row["state"]))


def _live_or_404(conn: sqlite3.Connection, draft_id: str) -> _Live:
    live = _live(conn, draft_id)
    if live is not None:
        return live
    pending = _pending(conn, draft_id)
    if pending:
        raise ApiProblem(
            404,
            f"draft {draft_id} has no live state yet: it exists only through proposal "
            f"{pending[0]}, which must be accepted first",
        )
    raise ApiProblem(404, f"unknown draft_id {draft_id!r}")


def _store_live(
    conn: sqlite3.Connection, draft_id: str, live: _Live | None, state: DraftState
) -> int:
    """Write ``state`` as the live state; returns the revision (bumped only on a change)."""
    if live is None:
        conn.execute(
            "INSERT INTO drafts (id, revision, state) VALUES (?, 1, ?)", (draft_id, state.to_json())
        )
        return 1
    if state == live.state:
        return live.revision
    conn.execute(
        "UPDATE drafts SET revision = ?, state = ? WHERE id = ?",
        (live.revision + 1, state.to_json(), draft_id),
    )
    return live.revision + 1


def _pending(conn: sqlite3.Connection, draft_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT key FROM proposals WHERE draft_id = ? AND status = 'pending' ORDER BY key",
        (draft_id,),
    )
    return [row["key"] for row in rows]


def _success(draft_id: str, key: str | None, message: str, form: dict[str, Any] | None) -> str:
    body: dict[str, Any] = {"success": True, "draft_id": draft_id}
    if key is not None:
        body["idempotency_key"] = key
    body["message"] = message
    body["form_state"] = form
    return json.dumps(body, ensure_ascii=False)
