"""The rules a field-by-field type check cannot see, on one document's raw values.

They run on the values as YAML gave them, beside (not after) the type check, so
one run reports a duplicate label and a wrong type in the same file. Values of
the wrong type are left to the type check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.catalog.wire import FLAG_BOOLEANS
from reconciler.manifests.model import FIELD_FORMS, ID_LIST_FIELDS, LABEL_LIST_FIELDS
from reconciler.manifests.yaml_strict import YamlPath, format_path

_IDENTIFIERS = frozenset(FIELD_FORMS.values())
_LABEL_LISTS = frozenset(LABEL_LIST_FIELDS)
_ID_LISTS = frozenset(ID_LIST_FIELDS)


@dataclass(frozen=True)
class RuleIssue:
    """One broken rule at a key path; ``at_key`` points at the key rather than its value."""

    path: YamlPath
    message: str
    at_key: bool = False


def document_issues(document: Any) -> list[RuleIssue]:
    """Every rule broken by one manifest document (Model or Defaults)."""
    if not isinstance(document, dict):
        return []
    issues = spec_issues(document.get("spec"), ("spec",))
    lifecycle = document.get("lifecycle")
    if isinstance(lifecycle, dict):
        issues += _duplicates(lifecycle.get("ignore_changes"), ("lifecycle", "ignore_changes"))
    return issues


def spec_issues(spec: Any, base: YamlPath) -> list[RuleIssue]:
    """Both forms of one field, flag booleans beside ``flag_ids``, duplicates in lists."""
    if not isinstance(spec, dict):
        return []
    issues = []
    given = spec.keys()
    # Each loop only when the spec gives one of its fields: most give none of the
    # identifiers and two or three of the fifteen lists.
    if not given.isdisjoint(_IDENTIFIERS):
        for label, ident in FIELD_FORMS.items():
            if label in spec and ident in spec:
                message = f"give {label} or {ident}, not both: they are two forms of one field"
                issues.append(RuleIssue((*base, ident), message, at_key=True))
    if "flag_ids" in spec:
        for name in FLAG_BOOLEANS:
            if name in spec:
                issues.append(RuleIssue((*base, name), flag_conflict(name, "here"), at_key=True))
    if not given.isdisjoint(_LABEL_LISTS):
        for name in LABEL_LIST_FIELDS:
            if name in spec:
                issues += _duplicates(spec[name], (*base, name), fold=True)
    if not given.isdisjoint(_ID_LISTS):
        for name in ID_LIST_FIELDS:
            if name in spec:
                issues += _duplicates(spec[name], (*base, name))
    if "pricing" in spec:
        issues += _pricing_duplicates(spec["pricing"], (*base, "pricing"))
    return issues


def flag_conflict(name: str, where: str) -> str:
    """Why a flag boolean cannot stand beside a ``flag_ids`` given ``where``."""
    return (
        f"{name} cannot be set when flag_ids is given ({where}): flag_ids is the complete,"
        f" canonical flag selection; select {name}'s option in flag_ids instead,"
        " or use the booleans without flag_ids"
    )


def _duplicates(items: Any, path: YamlPath, *, fold: bool = False) -> list[RuleIssue]:
    if not isinstance(items, list):
        return []
    issues = []
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, str):
            continue
        trimmed = item.strip()
        if not trimmed:
            if item:  # "" itself is the type check's ("must not be empty")
                issues.append(RuleIssue((*path, index), "must not be blank"))
            continue
        # Labels match case-insensitively after trimming (contract: "Label matching").
        seen = trimmed.casefold() if fold else item
        if seen in first:
            earlier = format_path((*path, first[seen]))
            how = (
                " (labels match case-insensitively)" if fold and items[first[seen]] != item else ""
            )
            message = f"'{item}' is listed twice: same as {earlier}{how}"
            issues.append(RuleIssue((*path, index), message))
        else:
            first[seen] = index
    return issues


def _pricing_duplicates(entries: Any, path: YamlPath) -> list[RuleIssue]:
    if not isinstance(entries, list):
        return []
    issues = []
    first: dict[tuple[str, ...], int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        # Spelt out rather than looped over the three names: this runs for every entry.
        label, unit, currency = entry.get("label"), entry.get("unit"), entry.get("currency")
        if not (isinstance(label, str) and isinstance(unit, str) and isinstance(currency, str)):
            continue
        seen = (label.strip().casefold(), unit.strip().casefold(), currency.strip().casefold())
        if seen in first:
            earlier = format_path((*path, first[seen]))
            message = f"a second price for {label} per {unit} in {currency}: same as {earlier}"
            issues.append(RuleIssue((*path, index), message))
        else:
            first[seen] = index
    return issues
