"""Apply a request's model fields to a draft state (contract: "Field semantics").

Only given fields change. Labels match case-insensitively after trimming; unknown
labels are refused except voices, which are created ("create or match"). Label
and id forms of one field must name the same resources. Every problem of the
request is collected and reported in one 422; resources created on the way
(texts, voices, pricing entries) vanish with the rolled-back transaction.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import replace
from typing import Any

from reconciler.catalog.wire import REFERENCE_FIELDS, TEXT_FIELDS, PatchModelDraftApiRequest
from reconciler.server.draft import DraftState
from reconciler.server.flags import resolve_flags
from reconciler.server.pricing import resolve_pricing
from reconciler.server.problems import FieldErrors
from reconciler.server.reference import RESOURCE_KINDS, label_key, resource_id, text_id

# Label field of the request -> resource kind (the reference data's key).
KIND_OF: dict[str, str] = {field: kind for kind, field in RESOURCE_KINDS.items()}
CREATE_OR_MATCH: frozenset[str] = frozenset({"voices"})


def apply_request(
    conn: sqlite3.Connection, state: DraftState, request: PatchModelDraftApiRequest
) -> DraftState:
    """The state after applying the request's fields, or a 422 naming every invalid field."""
    errors = FieldErrors()
    changes: dict[str, Any] = {}
    for text_field, id_field in TEXT_FIELDS.items():
        _text(conn, request, text_field, id_field, errors, changes)
    for label_field, id_field in REFERENCE_FIELDS.items():
        if label_field == "provider":
            _provider(conn, request, errors, changes)
        else:
            _reference_list(conn, request, label_field, id_field, errors, changes)
    flags = resolve_flags(conn, request, state, errors)
    if flags is not None:
        changes["flag_option_ids"] = flags
    pricing = resolve_pricing(conn, request, state, errors)
    if pricing is not None:
        changes["pricing_ids"] = pricing
    if request.pending_ids is not None and _no_duplicates(
        "pending_ids", request.pending_ids, errors
    ):
        changes["pending_ids"] = frozenset(request.pending_ids)
    errors.raise_if_any()
    return replace(state, **changes)


def duplicates(values: list[str]) -> list[str]:
    """The values that occur more than once, in first-seen order."""
    return [value for value, count in Counter(values).items() if count > 1]


def _no_duplicates(field: str, values: list[str], errors: FieldErrors, what: str = "") -> bool:
    repeated = duplicates(values)
    for value in repeated:
        errors.add(field, f"duplicate {what or 'value'} {value!r}; the list is a set")
    return not repeated


def _text(
    conn: sqlite3.Connection,
    request: PatchModelDraftApiRequest,
    text_field: str,
    id_field: str,
    errors: FieldErrors,
    changes: dict[str, Any],
) -> None:
    text, given_id = getattr(request, text_field), getattr(request, id_field)
    resolved: str | None = None
    if given_id is not None and given_id != "":
        row = conn.execute(
            "SELECT text FROM texts WHERE id = ? AND kind = ?", (given_id, text_field)
        ).fetchone()
        if row is None:
            errors.add(id_field, f"unknown {text_field} text resource {given_id!r}")
            return
        if text is not None and text != row["text"]:
            errors.add(
                id_field,
                f"{id_field} {given_id!r} holds {row['text']!r}, not the {text_field} given "
                f"({text!r}); give one of them",
            )
            return
        resolved = given_id
    elif given_id == "":
        if text:
            errors.add(id_field, f"is empty (clears {text_field}) but {text_field} is given")
            return
    elif text:
        resolved = text_id(text_field, text)
        conn.execute(
            "INSERT INTO texts (id, kind, text) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (resolved, text_field, text),
        )
    elif text is None:
        return
    changes[id_field] = resolved


def _provider(
    conn: sqlite3.Connection,
    request: PatchModelDraftApiRequest,
    errors: FieldErrors,
    changes: dict[str, Any],
) -> None:
    label, given_id = request.provider, request.provider_id
    if label is None and given_id is None:
        return
    by_label = by_id = None
    if label:
        found = _match_labels(conn, "provider", [label], errors)
        if found is None:
            return
        by_label = found[0]
    if given_id:
        if _unknown_ids(conn, "provider_id", "providers", [given_id], errors):
            return
        by_id = given_id
    if label is not None and given_id is not None and by_label != by_id:
        errors.add("provider_id", "names another provider than provider; give one of them")
        return
    changes["provider_id"] = by_label if label is not None else by_id


def _reference_list(
    conn: sqlite3.Connection,
    request: PatchModelDraftApiRequest,
    label_field: str,
    id_field: str,
    errors: FieldErrors,
    changes: dict[str, Any],
) -> None:
    labels, ids = getattr(request, label_field), getattr(request, id_field)
    by_label = by_id = None
    if labels is not None:
        found = _match_labels(conn, label_field, labels, errors)
        by_label = None if found is None else frozenset(found)
    if (
        ids is not None
        and _no_duplicates(id_field, ids, errors, "id")
        and not _unknown_ids(conn, id_field, KIND_OF[label_field], ids, errors)
    ):
        by_id = frozenset(ids)
    if labels is not None and ids is not None:
        if by_label is not None and by_id is not None and by_label != by_id:
            errors.add(id_field, f"names other resources than {label_field}; give one form")
        if by_label != by_id:
            return
    result = by_label if labels is not None else by_id
    if result is not None:
        changes[id_field] = result


def _match_labels(
    conn: sqlite3.Connection, label_field: str, labels: list[str], errors: FieldErrors
) -> list[str] | None:
    """The ids of ``labels`` in request order, or None after recording why not."""
    kind = KIND_OF[label_field]
    keys = [label_key(label) for label in labels]
    ok = True
    for label in labels:
        if not label.strip():
            errors.add(label_field, "empty label")
            ok = False
    for key in duplicates(keys):
        errors.add(label_field, f"duplicate label {key!r} (labels ignore case); the list is a set")
        ok = False
    if not ok:
        return None
    marks = ", ".join("?" * len(keys))
    rows = conn.execute(
        f"SELECT id, label_key FROM resources WHERE kind = ? AND label_key IN ({marks})",
        [kind, *keys],
    )
    found = {row["label_key"]: row["id"] for row in rows}
    unknown = [label for label, key in zip(labels, keys, strict=True) if key not in found]
    if unknown and label_field in CREATE_OR_MATCH:
        for label in unknown:
            found[label_key(label)] = new_id = resource_id(kind, label)
            conn.execute(
                "INSERT INTO resources (id, kind, label, label_key) VALUES (?, ?, ?, ?)",
                (new_id, kind, label.strip(), label_key(label)),
            )
    elif unknown:
        known = ", ".join(
            row["label"]
            for row in conn.execute(
                "SELECT label FROM resources WHERE kind = ? ORDER BY label_key", (kind,)
            )
        )
        for label in unknown:
            errors.add(label_field, f"unknown label {label!r}; known: {known}")
        return None
    return [found[key] for key in keys]


def _unknown_ids(
    conn: sqlite3.Connection, id_field: str, kind: str, ids: list[str], errors: FieldErrors
) -> bool:
    """Record every id of ``ids`` that is no resource of ``kind``; True if there was one."""
    marks = ", ".join("?" * len(ids))
    known = {
        row["id"]
        for row in conn.execute(
            f"SELECT id FROM resources WHERE kind = ? AND id IN ({marks})", [kind, *ids]
        )
    }
    unknown = [i for i in ids if i not in known]
    for i in unknown:
        errors.add(id_field, f"unknown id {i!r}")
    return bool(unknown)
