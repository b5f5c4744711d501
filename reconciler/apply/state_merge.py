"""Merging two copies of one state by model: what a state commit-back needs after a race.

The Apply workflow commits the state back to ``main``. If the state changed on ``main``
while the apply ran (an ``import`` merged meanwhile, say), git cannot replay the commit,
yet both sides usually touched different models: the apply created drafts for new
models, the import adopted another. Losing either side loses draft ids that the catalog
has no list endpoint to find again, so the two are merged here, model by model, and
anything both sides changed differently is refused rather than guessed.

With the common ancestor (``base``: the state the apply started from) the merge is
three-way, so a model removed on one side (``state rm``, a prune) stays removed. Without
it, a model present on one side only is kept: nothing is ever dropped by a guess.

Pure: documents in, a document out; reading and writing files is the CLI's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel

from reconciler.apply.state import ModelRecord, StateDocument
from reconciler.apply.state_checks import shared_draft
from reconciler.errors import StateError

_Entry = TypeVar("_Entry", bound=BaseModel)


def merge_states(
    ours: StateDocument,
    theirs: StateDocument,
    base: StateDocument | None = None,
    *,
    names: tuple[str, str] = ("ours", "theirs"),
) -> StateDocument:
    """The state holding both sides' changes, with a serial greater than both.

    Raises ``StateError`` naming every model changed on both sides differently (each
    side by its name in ``names``), or when the documents are not copies of one state
    (lineage) or name different catalogs.
    """
    if ours.lineage != theirs.lineage:
        raise StateError(
            f"the two states have different lineages ({ours.lineage} and {theirs.lineage}): "
            "they are not copies of one state, and their draft ids cannot be merged"
        )
    if base is not None and base.lineage != ours.lineage:
        raise StateError(
            f"the base state has lineage {base.lineage}, not {ours.lineage}: "
            "it is not the ancestor of the two states"
        )
    catalog = _merge_catalog(ours.catalog, theirs.catalog, base.catalog if base else None)
    conflicts: list[str] = []
    models = _merge_entries(
        "model", ours.models, theirs.models, base.models if base else None, names, conflicts
    )
    journal = _merge_entries(
        "pending proposal of model",
        ours.journal,
        theirs.journal,
        base.journal if base else None,
        names,
        conflicts,
    )
    if conflicts:
        raise StateError(
            "the two states changed the same models differently, so neither can be "
            "chosen for you:\n" + "\n".join(f"  {line}" for line in conflicts)
        )
    _refuse_shared_draft(models, ours, theirs, names)
    return StateDocument(
        format_version=ours.format_version,
        lineage=ours.lineage,
        serial=max(ours.serial, theirs.serial) + 1,
        catalog=catalog,
        models=dict(sorted(models.items())),
        journal=dict(sorted(journal.items())),
        accepting_batch=_merge_batch(ours.accepting_batch, theirs.accepting_batch),
    )


def _refuse_shared_draft(
    models: Mapping[str, ModelRecord],
    ours: StateDocument,
    theirs: StateDocument,
    names: tuple[str, str],
) -> None:
    # Each side renamed (or imported) one draft under another key: the merge is clean model
    # by model, yet the result would move the draft between the two keys on every apply.
    shared = shared_draft(models)
    if shared is None:
        return

    def origin(key: str) -> str:
        sides = [
            name for name, side in zip(names, (ours, theirs), strict=True) if key in side.models
        ]
        return " and ".join(sides)

    first, second = shared.keys
    raise StateError(
        f"draft {shared.draft_id} would be held by two models: {first} (from {origin(first)}) "
        f"and {second} (from {origin(second)}); the copies named one model differently, and "
        "nothing was merged",
        remedy="forget_key_in_copy",
    )


def _merge_batch(ours: str | None, theirs: str | None) -> str | None:
    # The batch being accepted goes with its journalled proposals, which are merged above.
    if ours is None or theirs is None or ours == theirs:
        return ours or theirs
    raise StateError(
        f"the two states are each accepting another batch ({ours} and {theirs}); "
        "settle one of them with `reconciler apply` first"
    )


def _merge_catalog(ours: str | None, theirs: str | None, base: str | None) -> str | None:
    if ours == theirs or theirs is None or theirs == base:
        return ours
    if ours is None or ours == base:
        return theirs
    raise StateError(
        f"the two states belong to different catalogs ({ours} and {theirs}): "
        "draft ids of one mean nothing in the other"
    )


def _merge_entries(
    what: str,
    ours: Mapping[str, _Entry],
    theirs: Mapping[str, _Entry],
    base: Mapping[str, _Entry] | None,
    names: tuple[str, str],
    conflicts: list[str],
) -> dict[str, _Entry]:
    merged: dict[str, _Entry] = {}
    for key in sorted(set(ours) | set(theirs) | set(base or {})):
        mine, other = ours.get(key), theirs.get(key)
        if mine == other:
            chosen = mine
        elif base is not None and mine == base.get(key):
            chosen = other  # only their side changed it
        elif base is not None and other == base.get(key):
            chosen = mine  # only our side changed it
        elif base is None and (mine is None or other is None):
            chosen = mine if other is None else other
        else:
            conflicts.append(f"{what} {key}: {_difference(mine, other, names)}")
            continue
        if chosen is not None:
            merged[key] = chosen
    return merged


def _difference(mine: BaseModel | None, other: BaseModel | None, names: tuple[str, str]) -> str:
    def describe(entry: BaseModel | None) -> str:
        if entry is None:
            return "removed"
        draft = getattr(entry, "draft_id", None)
        return f"draft {draft}" if draft else "changed"

    first, second = describe(mine), describe(other)
    if first == second:
        return f"{first} in both, with different recorded values"
    return f"{first} in {names[0]}, {second} in {names[1]}"
