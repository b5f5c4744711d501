"""The state file: which draft each model is, what was last applied, and the journal.

The service has no list endpoint, so the state is how reconciler finds its drafts.
It holds no secrets and is meant to be committed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

STATE_FORMAT_VERSION = 1


class ModelRecord(BaseModel):
    """What the state remembers of one managed model."""

    model_config = ConfigDict(extra="forbid")

    draft_id: str
    # The managed fields of the live draft right after the last apply, in the form
    # ``reconciler.normalize.normalize_live`` produces: the baseline for drift.
    last_applied: dict[str, Any] = Field(default_factory=dict)
    applied_at: str | None = None


class JournalEntry(BaseModel):
    """A proposal recorded before it is sent (write-ahead), until it is settled."""

    model_config = ConfigDict(extra="forbid")

    model_key: str
    idempotency_key: str
    draft_id: str | None = None
    patch: dict[str, Any]
    desired_digest: str
    phase: Literal["staging", "staged", "accepting"] = "staging"
    created_at: str


class StateDocument(BaseModel):
    """The whole state file."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = STATE_FORMAT_VERSION
    lineage: str
    serial: int = 0
    models: dict[str, ModelRecord] = Field(default_factory=dict)
    journal: dict[str, JournalEntry] = Field(default_factory=dict)
