"""Idempotency keys: derived from the change itself, so a rerun reuses its key."""

from __future__ import annotations

import hashlib
import json

from reconciler.planning.plan import ModelChange


def idempotency_key(change: ModelChange, planned_on: str = "") -> str:
    """A key derived from the model, the draft, the live state, the state planned on, the patch."""
    # ``planned_on`` names the state the plan was made from (lineage and serial). The live
    # fingerprint alone cannot tell a change from the same change made again after a revert
    # when there is none (--refresh=false) or the catalog reports no revision: the server
    # would replay the first change's stored outcome and apply nothing.
    material = json.dumps(
        [change.key, change.draft_id, change.live_fingerprint, change.patch, planned_on],
        sort_keys=True,
        separators=(",", ":"),
    )
    return "rc-" + hashlib.sha256(material.encode()).hexdigest()[:40]
