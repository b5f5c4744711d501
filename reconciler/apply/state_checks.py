"""What a state document must satisfy beyond its types, checked when it is loaded.

The state is committed and sometimes edited by hand or merged by git, and every value in
it feeds a plan, a display or an idempotency key. A value that is well typed but wrong
would not fail: it would plan a wrong change, print "cached input abc USD", or move one
draft back and forth between two models on every apply. So the loader refuses it, naming
the field path, rather than let it surface later as a wrong result.

Pure: a document in, problems out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_type_hints

from pydantic import TypeAdapter, ValidationError

from reconciler.catalog.wire import MODEL_FIELDS, PatchModelDraftApiRequest
from reconciler.manifests.model import PricingEntry, key_problem

if TYPE_CHECKING:  # state imports this module to check what it loads
    from reconciler.apply.state import ModelRecord, StateDocument

# What ``AllOrNothing`` names a batch: ``uuid4().hex``.
BATCH_ID_PATTERN = r"[0-9a-f]{32}"

# What each model field of ``last_applied`` may hold: its wire type (a hand edit that breaks
# one would otherwise surface later as an internal error deep in the planner).
_FIELD_TYPES: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(PatchModelDraftApiRequest.model_fields[name].annotation)
    for name in MODEL_FIELDS
}
# The exact types a value parsed from JSON has when it is certainly of a field's wire type:
# checked in Python, as most values of 10,000 records are, without a pydantic validation
# each (about half the cost of loading the state). Anything else, and pricing, is asked of
# the field's type adapter, which names what is wrong.
_PLAIN_CHECKS: dict[object, Callable[[Any], bool]] = {
    str | None: lambda value: value is None or type(value) is str,
    bool | None: lambda value: value is None or type(value) is bool,
    list[str] | None: lambda value: (
        value is None or (type(value) is list and all(type(item) is str for item in value))
    ),
}
_PLAIN: dict[str, Callable[[Any], bool]] = {
    name: _PLAIN_CHECKS[annotation]
    for name in MODEL_FIELDS
    if (annotation := PatchModelDraftApiRequest.model_fields[name].annotation) in _PLAIN_CHECKS
}
_PRICE_KEYS = frozenset({"label", "unit", "amount", "currency"})


def _plain_pricing(value: Any) -> bool:
    """Whether ``value`` is certainly a list of pricing entries (their amounts checked apart)."""
    if type(value) is not list:
        return value is None
    for entry in value:
        if type(entry) is not dict or not all(type(entry.get(k)) is str for k in _PRICE_KEYS):
            return False
        if len(entry) != len(_PRICE_KEYS) + ("id" in entry):
            return False
        if "id" in entry and entry["id"] is not None and type(entry["id"]) is not str:
            return False
    return True


# An amount as a manifest may write it: the recorded one is the live amount normalized, so
# it is always of that form, and anything else ("abc", "1e3") would be shown and compared.
_AMOUNT: TypeAdapter[str] = TypeAdapter(get_type_hints(PricingEntry, include_extras=True)["amount"])


@dataclass(frozen=True)
class SharedDraft:
    """One draft id recorded for two models (the first two keys, in key order)."""

    draft_id: str
    keys: tuple[str, str]


def document_problem(doc: StateDocument) -> str | None:
    """``path: message`` for the first value of ``doc`` that a state cannot hold, if any.

    A draft held by two models is not among them: see ``shared_draft``.
    """
    return next(_problems(doc), None)


def shared_draft(models: Mapping[str, ModelRecord]) -> SharedDraft | None:
    """The first draft that two of ``models`` hold, if any.

    Two keys on one draft undo each other's changes on every apply, and pruning one would
    deactivate the other's live draft.
    """
    holder: dict[str, str] = {}
    for key in sorted(models):
        draft_id = models[key].draft_id
        if draft_id in holder:
            return SharedDraft(draft_id, (holder[draft_id], key))
        holder[draft_id] = key
    return None


def _problems(doc: StateDocument) -> Iterator[str]:
    if doc.serial < 0:
        yield f"serial: {doc.serial} is negative; a serial counts the writes of the state from 0"
    if doc.accepting_batch is not None:
        yield from _batch_problem("accepting_batch", doc.accepting_batch)
    amounts: set[str] = set()
    for key, record in doc.models.items():
        yield from _key_problem("models", key)
        where = f"models.{key}.last_applied"
        yield from _last_applied_problems(where, record.last_applied, amounts)
    for key, entry in doc.journal.items():
        yield from _key_problem("journal", key)
        if entry.model_key != key:
            yield (
                f"journal.{key}.model_key: the proposal is of model {entry.model_key!r} but "
                f"filed under {key!r}"
            )
        if entry.batch is not None:
            yield from _batch_problem(f"journal.{key}.batch", entry.batch)


def _key_problem(where: str, key: str) -> Iterator[str]:
    # A key the manifests could not have would be pruned, or planned under a wrong name.
    problem = key_problem(key)
    if problem is not None:
        yield f"{where}[{json.dumps(key)}]: not a model key: {problem}"


def _batch_problem(where: str, batch: str) -> Iterator[str]:
    if not re.fullmatch(BATCH_ID_PATTERN, batch):
        yield f"{where}: {batch!r} is not a batch id (32 lowercase hexadecimal digits)"


def _last_applied_problems(
    where: str, fields: Mapping[str, Any], amounts: set[str] | None = None
) -> Iterator[str]:
    """``amounts``: amounts already found good in this document (most recur)."""
    for name, value in fields.items():
        adapter = _FIELD_TYPES.get(name)
        if adapter is None:
            yield f"{where}.{name}: not a model field"
            continue
        plain = _PLAIN.get(name)
        if plain is not None and plain(value):
            continue
        if name == "pricing" and _plain_pricing(value):
            yield from _amount_problems(where, value, set() if amounts is None else amounts)
            continue
        try:
            adapter.validate_python(value, strict=True)
        except ValidationError as exc:
            first = exc.errors()[0]
            inner = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
            yield f"{where}.{name}{inner}: {first['msg']}"
            continue
        if name == "pricing":
            yield from _amount_problems(where, value, set())


def _amount_problems(where: str, pricing: Any, good: set[str]) -> Iterator[str]:
    for index, entry in enumerate(pricing or ()):
        amount = entry["amount"]
        if type(amount) is str and amount in good:
            continue
        try:
            _AMOUNT.validate_python(amount)
        except ValidationError as exc:
            yield f"{where}.pricing[{index}].amount: {exc.errors()[0]['msg']}"
            continue
        if type(amount) is str:
            good.add(amount)
