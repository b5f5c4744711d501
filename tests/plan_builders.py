"""Small builders for desired models, live drafts and records, shared by the planning tests."""

from __future__ import annotations

from typing import Any

from reconciler.apply.state import ModelRecord
from reconciler.catalog.wire import DraftFormState
from reconciler.manifests.model import DesiredModel, SourceLocation
from reconciler.planning.normalize import normalize_live
from reconciler.planning.plan import DriftEntry, FieldChange, ModelChange, Plan


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


PRICE_OLD = {"label": "output", "unit": "1M tokens", "amount": "0.6", "currency": "USD"}
PRICE_NEW = {"label": "output", "unit": "1M tokens", "amount": "0.7", "currency": "USD"}


def fixed_plan() -> Plan:
    """A small plan with every action, drift and warnings: the renderers' golden input."""
    return Plan(
        changes=(
            ModelChange(key="claude", action="adopt", draft_id="d-7", desired_digest="sha256:c"),
            ModelChange(
                key="gpt-4o",
                action="update",
                draft_id="d-1",
                source="manifests/openai.yaml:1:1",
                field_changes=(
                    FieldChange(field="name", before="GPT-4o", after="GPT-4o (2024)"),
                    FieldChange(
                        field="departments",
                        before=["Legal", "Research"],
                        after=["Research", "support"],
                        added=("support",),
                        removed=("Legal",),
                    ),
                    FieldChange(
                        field="pricing",
                        before=[PRICE_OLD],
                        after=[PRICE_NEW],
                        added=(PRICE_NEW,),
                        removed=(PRICE_OLD,),
                    ),
                ),
                patch={
                    "name": "GPT-4o (2024)",
                    "departments": ["support", "Research"],
                    "pricing": [PRICE_NEW],
                    "pricing_ids": [],
                },
                live_fingerprint="sha256:f1",
                desired_digest="sha256:d1",
                pending_ids=("k-1",),
                warnings=("draft d-1 has pending proposals not made by this plan: k-1",),
            ),
            ModelChange(
                key="mini",
                action="create",
                source="manifests/openai.yaml:20:1",
                field_changes=(
                    FieldChange(field="name", after="Mini"),
                    FieldChange(field="active", after=True),
                    FieldChange(field="voices", after=[]),
                    FieldChange(field="modalities", after=["text"], added=("text",)),
                ),
                patch={"name": "Mini", "active": True, "voices": [], "modalities": ["text"]},
                desired_digest="sha256:m",
            ),
            ModelChange(key="same", action="noop", draft_id="d-3"),
            ModelChange(
                key="old",
                action="deactivate",
                draft_id="d-9",
                field_changes=(FieldChange(field="active", before=True, after=False),),
                patch={"active": False},
            ),
        ),
        drift=(
            DriftEntry(
                key="gpt-4o",
                draft_id="d-1",
                field_changes=(FieldChange(field="name", before="GPT-4o", after="GPT 4o"),),
            ),
        ),
        unmanaged=("legacy",),
        managed_models=4,
    )
