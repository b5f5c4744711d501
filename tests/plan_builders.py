"""Small builders for desired models, live drafts and records, shared by the planning tests."""

from __future__ import annotations

from typing import Any

from reconciler.manifest import DesiredModel, SourceLocation
from reconciler.normalize import normalize_live
from reconciler.state import ModelRecord
from reconciler.wire import DraftFormState


def price(
    label: str, amount: str, currency: str = "USD", unit: str = "1M tokens", id: str | None = None
) -> dict[str, Any]:
    """A pricing entry dict; with ``id`` it is a live entry."""
    entry = {"label": label, "unit": unit, "amount": amount, "currency": currency}
    return {"id": id, **entry} if id else entry


def desired(
    key: str = "gpt-4o",
    *,
    draft_id: str | None = None,
    ignore: tuple[str, ...] = (),
    line: int | None = None,
    **fields: Any,
) -> DesiredModel:
    """A desired model with the given managed fields."""
    source = SourceLocation(f"manifests/{key}.yaml", line) if line else None
    return DesiredModel(
        key=key,
        fields=fields,
        draft_id=draft_id,
        ignore_changes=frozenset(ignore),
        source=source,
    )


def live(draft_id: str = "d-1", **fields: Any) -> DraftFormState:
    """A live draft; unspecified fields take the server's empty values."""
    return DraftFormState(draft_id=draft_id, **fields)


def record(draft: DraftFormState, model: DesiredModel) -> ModelRecord:
    """The record an apply leaves: the draft id and the managed fields as they were live."""
    return ModelRecord(draft_id=draft.draft_id, last_applied=normalize_live(draft, model.fields))
