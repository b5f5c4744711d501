"""Flags: ``flag_ids`` (selected option ids) is canonical, the seven booleans denormalize it.

Decision where the contract is silent (the project documentation cites this):

- ``flag_ids``, when given, is the complete selection: at most one option per
  flag; a non-boolean flag with no option in it ends up unselected.
- A boolean flag always has exactly one option selected. When ``flag_ids``
  holds none of its options, the request's boolean decides if given, else the
  flag keeps its current value (so ``flag_ids`` listing only non-boolean options
  leaves the booleans alone).
- A boolean given in the same request that disagrees with an option in
  ``flag_ids`` is a 422.
- Without ``flag_ids``, each given boolean selects its flag's option and every
  other selection stays.
- A brand-new draft starts with every boolean false and no other flag selected.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass

from reconciler.catalog.wire import FLAG_BOOLEANS, PatchModelDraftApiRequest
from reconciler.server.draft import DraftState
from reconciler.server.problems import FieldErrors
from reconciler.server.reference import flag_option_id


@dataclass(frozen=True)
class _Option:
    id: str
    flag: str
    value: str


def resolve_flags(
    conn: sqlite3.Connection,
    request: PatchModelDraftApiRequest,
    state: DraftState,
    errors: FieldErrors,
) -> frozenset[str] | None:
    """The new flag selection, or None when the request touches no flag."""
    booleans = {
        flag: value
        for field, flag in FLAG_BOOLEANS.items()
        if (value := getattr(request, field)) is not None
    }
    if request.flag_ids is None:
        if not booleans:
            return None
        result = state
        for flag, value in booleans.items():
            result = result.with_boolean(flag, value)
        return result.flag_option_ids
    options = _options(conn, request.flag_ids, errors)
    if options is None:
        return None
    by_flag = {option.flag: option for option in options}
    current = {
        flag: flag_option_id(flag, "true") in state.flag_option_ids
        for flag in FLAG_BOOLEANS.values()
    }
    selection = {option.id for option in options}
    for field, flag in FLAG_BOOLEANS.items():
        chosen, wanted = by_flag.get(flag), booleans.get(flag)
        if chosen is None:
            value = wanted if wanted is not None else current[flag]
            selection.add(flag_option_id(flag, "true" if value else "false"))
        elif wanted is not None and (chosen.value == "true") != wanted:
            errors.add(
                field,
                f"is {str(wanted).lower()} but flag_ids selects {flag}={chosen.value}; "
                "make them agree or give only one",
            )
    return frozenset(selection)


def _options(
    conn: sqlite3.Connection, flag_ids: list[str], errors: FieldErrors
) -> list[_Option] | None:
    """The options ``flag_ids`` names, or None after recording why they are not a selection."""
    marks = ", ".join("?" * len(flag_ids))
    rows = conn.execute(
        f"SELECT id, flag, value FROM flag_options WHERE id IN ({marks})", flag_ids
    ).fetchall()
    known = {row["id"]: _Option(row["id"], row["flag"], row["value"]) for row in rows}
    ok = True
    seen: set[str] = set()
    for option_id in flag_ids:
        if option_id in seen:
            errors.add("flag_ids", f"duplicate id {option_id!r}; the list is a set")
            ok = False
        elif option_id not in known:
            errors.add("flag_ids", f"unknown flag option id {option_id!r}")
            ok = False
        seen.add(option_id)
    per_flag: dict[str, list[str]] = defaultdict(list)
    for option in known.values():
        per_flag[option.flag].append(option.value)
    for flag, values in sorted(per_flag.items()):
        if len(values) > 1:
            errors.add(
                "flag_ids",
                f"selects {len(values)} options of flag {flag} ({', '.join(sorted(values))}); "
                "select at most one",
            )
            ok = False
    return list(known.values()) if ok else None
