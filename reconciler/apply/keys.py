"""Idempotency keys: derived from the change itself, so a rerun reuses its key.

A key reads ``rc-<live>-<digest>``: ``rc-`` says reconciler staged it, ``<live>``
is the start of the fingerprint of the live draft the proposal was staged on
(``00000000`` for a new draft, or a plan that read no live state). A proposal
is staged on one live state and can be accepted only while the draft still has
it, so comparing ``<live>`` with the draft's fingerprint now tells, from the key
alone, whether a pending proposal of ours is stale.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from reconciler.apply.state import JournalEntry
from reconciler.catalog.wire import DraftFormState
from reconciler.planning.normalize import live_fingerprint
from reconciler.planning.plan import STAGED_KEY_PREFIX, ModelChange

KEY_PREFIX = STAGED_KEY_PREFIX
_NO_LIVE = "0" * 8


def planned_on(lineage: str, serial: int) -> str:
    """The state a plan was made from, as its keys record it (``lineage`` "" if none yet)."""
    return f"{lineage}:{serial}"


def idempotency_key(change: ModelChange, planned_on: str = "", *, attempt: int = 1) -> str:
    """A key derived from the model, the draft, the live state, the state planned on, the patch."""
    # ``planned_on`` names the state the plan was made from (lineage and serial). The live
    # fingerprint alone cannot tell a change from the same change made again after a revert
    # when there is none (--refresh=false) or the catalog reports no revision: the server
    # would replay the first change's stored outcome and apply nothing. ``attempt`` > 1
    # stages the same change afresh when its first proposal was decided by someone else.
    material: list[Any] = [
        change.key,
        change.draft_id,
        change.live_fingerprint,
        change.patch,
        planned_on,
    ]
    if attempt > 1:
        material.append(attempt)
    digest = hashlib.sha256(
        json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    return f"{KEY_PREFIX}{_live_part(change.live_fingerprint)}-{digest[:32]}"


def _live_part(fingerprint: str | None) -> str:
    """The first 8 hex digits of a ``sha256:...`` live fingerprint."""
    return (fingerprint or _NO_LIVE).rpartition(":")[2][:8]


def proposal_entry(
    change: ModelChange,
    planned_on: str,
    created_at: str,
    *,
    attempt: int = 1,
    batch: str | None = None,
) -> JournalEntry:
    """The proposal of ``change``: its key and the exact request its soft patch sends."""
    request: dict[str, Any] = dict(change.patch)
    if change.draft_id is not None:
        request["draft_id"] = change.draft_id
    return JournalEntry(
        model_key=change.key,
        idempotency_key=idempotency_key(change, planned_on, attempt=attempt),
        request=request,
        desired_digest=change.desired_digest or "",
        action=str(change.action),
        created_at=created_at,
        batch=batch,
    )


def is_ours(key: str) -> bool:
    """Whether reconciler staged the proposal ``key`` (by its prefix)."""
    return key.startswith(KEY_PREFIX)


def is_stale(key: str, live: DraftFormState | str) -> bool | None:
    """Whether our proposal ``key`` on ``live`` can no longer be accepted; None if unknown.

    ``live`` is the draft, or its ``live_fingerprint``.
    """
    parts = key.split("-")
    if not is_ours(key) or len(parts) != 3 or len(parts[1]) != 8:
        return None  # not ours, or an older key that does not say what it was staged on
    fingerprint = live if isinstance(live, str) else live_fingerprint(live)
    return parts[1] != _live_part(fingerprint)
