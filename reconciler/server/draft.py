"""A draft's state as stored (ids only) and as reported (``form_state``, labels beside ids).

Ordering of the reported lists (contract: lists sorted by label, ids aligned):
labels sort case-insensitively, ties by spelling then id; ``flag_ids`` sort by
flag name then option value (the option's label); ``pricing`` sorts by label,
unit, currency, amount (as a number), then id, and ``pricing_ids`` follows it.

``pending_ids`` sent by a client (contract: "accepted and stored as given") are
stored on the draft like any other field; ``form_state.pending_ids`` reports
them together with the keys of the draft's pending proposals, sorted.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any

from reconciler.catalog.wire import FLAG_BOOLEANS, REFERENCE_FIELDS, TEXT_FIELDS
from reconciler.server.reference import BOOLEAN_VALUES, flag_option_id

SINGLE_ID_FIELDS: tuple[str, ...] = (*TEXT_FIELDS.values(), "provider_id")
LIST_ID_FIELDS: tuple[str, ...] = tuple(
    ids for label, ids in REFERENCE_FIELDS.items() if label != "provider"
)


@dataclass(frozen=True)
class DraftState:
    """Everything a draft holds, by id; sets are sets (their order is the report's business)."""

    name_id: str | None = None
    description_id: str | None = None
    value_id: str | None = None
    provider_id: str | None = None
    flag_option_ids: frozenset[str] = field(default_factory=frozenset)
    department_ids: frozenset[str] = field(default_factory=frozenset)
    modality_ids: frozenset[str] = field(default_factory=frozenset)
    quality_ids: frozenset[str] = field(default_factory=frozenset)
    reasoning_level_ids: frozenset[str] = field(default_factory=frozenset)
    temperature_level_ids: frozenset[str] = field(default_factory=frozenset)
    voice_ids: frozenset[str] = field(default_factory=frozenset)
    pricing_ids: frozenset[str] = field(default_factory=frozenset)
    # Ids a client sent as ``pending_ids`` (contract: "accepted and stored as given").
    pending_ids: frozenset[str] = field(default_factory=frozenset)

    def to_json(self) -> str:
        """The stored form: sets as sorted lists, so equal states store equal text."""
        data = {
            name: sorted(value) if isinstance(value, frozenset) else value
            for name, value in asdict(self).items()
        }
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DraftState:
        """Read the stored form back."""
        data = json.loads(text)
        return cls(
            **{
                name: frozenset(value) if isinstance(value, list) else value
                for name, value in data.items()
            }
        )

    def with_boolean(self, flag: str, value: bool) -> DraftState:
        """This state with boolean ``flag`` set to ``value``."""
        options = {flag_option_id(flag, v) for v in BOOLEAN_VALUES}
        chosen = flag_option_id(flag, "true" if value else "false")
        return replace(self, flag_option_ids=(self.flag_option_ids - options) | {chosen})


def new_draft_state() -> DraftState:
    """The state a draft starts from: nothing set, every boolean flag false."""
    return DraftState(
        flag_option_ids=frozenset(flag_option_id(flag, "false") for flag in FLAG_BOOLEANS.values())
    )


def render_form_state(
    conn: sqlite3.Connection,
    draft_id: str,
    revision: int,
    state: DraftState,
    pending_keys: Iterable[str],
    *,
    dormant: bool = False,
) -> dict[str, Any]:
    """The ``form_state`` of a draft; ``dormant`` reports ``active`` false (a staged proposal)."""
    if dormant:
        state = state.with_boolean(FLAG_BOOLEANS["active"], False)
    form: dict[str, Any] = {"draft_id": draft_id, "revision": revision}
    texts = _rows(
        conn, "SELECT id, text FROM texts", [state.name_id, state.description_id, state.value_id]
    )
    for text_field, id_field in TEXT_FIELDS.items():
        text_id = getattr(state, id_field)
        form[text_field] = texts[text_id]["text"] if text_id else None
        form[id_field] = text_id
    resource_ids = [state.provider_id, *(i for f in LIST_ID_FIELDS for i in getattr(state, f))]
    labels = {
        i: row["label"]
        for i, row in _rows(conn, "SELECT id, label FROM resources", resource_ids).items()
    }
    form["provider"] = labels[state.provider_id] if state.provider_id else None
    form["provider_id"] = state.provider_id
    for label_field, id_field in REFERENCE_FIELDS.items():
        if label_field == "provider":
            continue
        ordered = sorted(getattr(state, id_field), key=lambda i: label_order(labels[i], i))
        form[label_field] = [labels[i] for i in ordered]
        form[id_field] = ordered
    form.update(_flags(conn, state))
    entries = _rows(
        conn, "SELECT id, label, unit, amount, currency FROM pricing_entries", state.pricing_ids
    )
    pricing = sorted((dict(row) for row in entries.values()), key=pricing_order)
    form["pricing"] = pricing
    form["pricing_ids"] = [entry["id"] for entry in pricing]
    form["pending_ids"] = sorted(set(pending_keys) | state.pending_ids)
    return form


def label_order(label: str, resource_id: str) -> tuple[str, str, str]:
    """Sort key of a labelled resource: case-insensitive label, then spelling, then id."""
    return (label.casefold(), label, resource_id)


def pricing_order(entry: dict[str, Any]) -> tuple[str, str, str, Decimal, str]:
    """Sort key of a pricing entry: label, unit, currency, amount as a number, id."""
    return (
        entry["label"].casefold(),
        entry["unit"].casefold(),
        entry["currency"],
        Decimal(entry["amount"]),
        entry["id"],
    )


def _flags(conn: sqlite3.Connection, state: DraftState) -> dict[str, Any]:
    options = _rows(conn, "SELECT id, flag, value FROM flag_options", state.flag_option_ids)
    ordered = sorted(options.values(), key=lambda row: (row["flag"], row["value"]))
    selected = {(row["flag"], row["value"]) for row in ordered}
    report: dict[str, Any] = {"flag_ids": [row["id"] for row in ordered]}
    for boolean, flag in FLAG_BOOLEANS.items():
        report[boolean] = (flag, "true") in selected
    return report


def _rows(
    conn: sqlite3.Connection, select: str, ids: Iterable[str | None]
) -> dict[str, sqlite3.Row]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    marks = ", ".join("?" * len(wanted))
    return {row["id"]: row for row in conn.execute(f"{select} WHERE id IN ({marks})", wanted)}
