"""Pricing entries: immutable resources, created inline and kept by id.

The rules (contract: "Pricing"), with what it leaves open decided here:

- The kept set is ``pricing_ids`` when given (it replaces the draft's set),
  else the draft's current ``pricing_ids``. ``pricing`` alone never removes an
  entry: to drop one, send ``pricing_ids`` without it.
- An entry of ``pricing`` with ``id`` must equal the stored entry (label, unit
  and currency exactly, amount as a number) and is kept, even if ``pricing_ids``
  leaves it out.
- An entry without ``id`` is created with a new random id, merged afterwards.
  Two new entries equal to each other in one request are a 422 (the list is a set).
- An entry's own content is checked (``check_pricing``) when the request is
  classified, before any draft is looked up, so a malformed entry is a 422
  whatever the draft: its status does not depend on what the catalog holds.
- ``amount`` is a non-negative decimal string (``"0.6"``, ``"12.50"``; no sign,
  exponent or spaces) and is stored as given; a negative one is refused as
  negative. ``currency`` is an active ISO 4217 code, the same table the
  manifests are checked against (``reconciler.manifests.iso4217``); a withdrawn code is
  refused with the code that replaced it.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from decimal import Decimal

from reconciler.catalog.wire import PatchModelDraftApiRequest, PricingDraftValue
from reconciler.manifests.iso4217 import ISO_4217_CODES, WITHDRAWN_CODES
from reconciler.server.draft import DraftState
from reconciler.server.problems import FieldErrors

AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")


def resolve_pricing(
    conn: sqlite3.Connection,
    request: PatchModelDraftApiRequest,
    state: DraftState,
    errors: FieldErrors,
) -> frozenset[str] | None:
    """The new set of pricing ids, or None when the request touches no pricing field."""
    if request.pricing is None and request.pricing_ids is None:
        return None
    kept = set(state.pricing_ids)
    if request.pricing_ids is not None:
        kept = set(request.pricing_ids)
        _check_ids(conn, request.pricing_ids, errors)
    created: set[str] = set()
    new_entries: dict[tuple[str, str, str, Decimal], int] = {}
    seen_ids: set[str] = set()
    # Every entry passed check_pricing when the request was classified.
    for index, entry in enumerate(request.pricing or []):
        where = f"pricing[{index}]"
        if entry.id is not None:
            if entry.id in seen_ids:
                errors.add(f"{where}.id", f"duplicate id {entry.id!r}; the list is a set")
            elif _matches_stored(conn, entry, where, errors):
                kept.add(entry.id)
            seen_ids.add(entry.id)
            continue
        content = (entry.label, entry.unit, entry.currency, Decimal(entry.amount))
        if content in new_entries:
            errors.add(where, f"repeats pricing[{new_entries[content]}]; the list is a set")
            continue
        new_entries[content] = index
        created.add(_create(conn, entry))
    return frozenset(kept | created)


def _check_ids(conn: sqlite3.Connection, ids: list[str], errors: FieldErrors) -> None:
    marks = ", ".join("?" * len(ids))
    known = {
        row["id"]
        for row in conn.execute(f"SELECT id FROM pricing_entries WHERE id IN ({marks})", ids)
    }
    seen: set[str] = set()
    for pricing_id in ids:
        if pricing_id in seen:
            errors.add("pricing_ids", f"duplicate id {pricing_id!r}; the list is a set")
        elif pricing_id not in known:
            errors.add("pricing_ids", f"unknown pricing entry id {pricing_id!r}")
        seen.add(pricing_id)


def check_pricing(entries: list[PricingDraftValue], errors: FieldErrors) -> None:
    """Record every entry field that is malformed on its own (no catalog lookup needed)."""
    for index, entry in enumerate(entries):
        where = f"pricing[{index}]"
        if entry.id == "":
            errors.add(f"{where}.id", "must not be empty; leave id out to create an entry")
        for name in ("label", "unit"):
            if not getattr(entry, name).strip():
                errors.add(f"{where}.{name}", "must not be empty")
        amount_problem = _amount_problem(entry.amount)
        if amount_problem is not None:
            errors.add(f"{where}.amount", amount_problem)
        currency_problem = _currency_problem(entry.currency)
        if currency_problem is not None:
            errors.add(f"{where}.currency", currency_problem)


def _amount_problem(amount: str) -> str | None:
    if AMOUNT.fullmatch(amount):
        return None
    if amount.startswith("-") and AMOUNT.fullmatch(amount[1:]):
        return f"{amount!r} is a negative amount; a price is zero or more"
    return f'{amount!r} is not a decimal amount; write it like "0.60"'


def _currency_problem(currency: str) -> str | None:
    if currency in ISO_4217_CODES:
        return None
    if currency in WITHDRAWN_CODES:
        return (
            f"{currency!r} is a withdrawn ISO 4217 code; it was replaced by "
            f"{WITHDRAWN_CODES[currency]!r}"
        )
    return f'{currency!r} is not an ISO 4217 currency code (like "USD" or "EUR")'


def _matches_stored(
    conn: sqlite3.Connection, entry: PricingDraftValue, where: str, errors: FieldErrors
) -> bool:
    row = conn.execute(
        "SELECT label, unit, amount, currency FROM pricing_entries WHERE id = ?", (entry.id,)
    ).fetchone()
    if row is None:
        errors.add(f"{where}.id", f"unknown pricing entry id {entry.id!r}")
        return False
    differences = [
        f"{name} {getattr(entry, name)!r} != stored {row[name]!r}"
        for name in ("label", "unit", "currency")
        if getattr(entry, name) != row[name]
    ]
    if Decimal(entry.amount) != Decimal(row["amount"]):
        differences.append(f"amount {entry.amount!r} != stored {row['amount']!r}")
    if differences:
        errors.add(
            where,
            f"entry {entry.id!r} is immutable and differs from the stored one "
            f"({'; '.join(differences)}); to change a price create a new entry and drop this id",
        )
        return False
    return True


def _create(conn: sqlite3.Connection, entry: PricingDraftValue) -> str:
    new_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO pricing_entries (id, label, unit, amount, currency) VALUES (?, ?, ?, ?, ?)",
        (new_id, entry.label, entry.unit, entry.amount, entry.currency),
    )
    return new_id
