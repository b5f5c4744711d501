"""Turns validation errors into located manifest problems a person can act on.

pydantic says *what* is wrong at a key path; the YAML layer knows *where* every
key path is. This module joins the two (pointing at the deepest located node),
and rewrites pydantic's generic wording into the manifest's terms, with a
"did you mean" for unknown names and a "quote it" where YAML's own typing
(``no`` is a boolean, ``0.60`` a number) is what went wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from reconciler.errors import ManifestProblem
from reconciler.manifests.model import (
    API_VERSION,
    SPEC_FIELDS,
    Lifecycle,
    ModelMetadata,
    PricingEntry,
)
from reconciler.manifests.yaml_strict import (
    Located,
    YamlDocument,
    YamlPath,
    format_path,
    kind_words,
)

KINDS: tuple[str, ...] = ("Model", "Defaults")

# Names that belong somewhere else in the document than where they were written.
_BELONGS = {
    **{name: "spec" for name in SPEC_FIELDS},
    "key": "metadata",
    "draft_id": "metadata",
    "ignore_changes": "lifecycle",
}


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'name'?"`` for the closest candidate, or ``""``."""
    options = list(candidates)
    lowered = {option.lower(): option for option in options}
    if word.lower() in lowered:
        return f"; did you mean '{lowered[word.lower()]}'?"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def problem_at(
    doc: YamlDocument, file: str, path: YamlPath, message: str, *, at_key: bool = False
) -> ManifestProblem:
    """A problem at ``path``, or at its deepest located ancestor; ``at_key`` points at the key."""
    found, where = doc.locate(path)
    mark = where.key if at_key and found == path and where.key is not None else where.value
    return ManifestProblem(file, mark.line, mark.column, format_path(path), message)


def validation_problems(
    error: ValidationError, doc: YamlDocument, file: str, document_class: type[BaseModel]
) -> list[ManifestProblem]:
    """Every error of a document's validation, located and reworded."""
    problems = []
    for item in error.errors(include_url=False):
        path: YamlPath = tuple(item["loc"])
        if any(path[: len(bad)] == bad for bad in doc.rejected):
            continue  # the YAML layer already reported the value (e.g. a forbidden tag)
        found, where = doc.locate(path)
        exact = where if found == path else None
        message = _message(item, path, exact, document_class)
        problems.append(
            problem_at(doc, file, path, message, at_key=item["type"] == "extra_forbidden")
        )
    return problems


def api_version_message(value: Any) -> str:
    """What is wrong with an ``apiVersion`` other than the one this reconciler reads."""
    return f"apiVersion must be '{API_VERSION}' (got {_describe(value, None)})"


def kind_message(value: Any) -> str:
    """What is wrong with an unknown ``kind``."""
    hint = did_you_mean(value, KINDS) if isinstance(value, str) else ""
    return f"unknown kind {_describe(value, None)}: expected Model or Defaults{hint}"


def _message(item: Any, path: YamlPath, where: Located | None, document_class: type) -> str:
    kind, value, name = item["type"], item.get("input"), path[-1] if path else ""
    if kind == "extra_forbidden":
        return _unknown_field(str(name), path, document_class)
    if kind == "missing":
        return f"missing required field '{name}'"
    if kind == "literal_error" and name == "apiVersion":
        return api_version_message(value)
    if kind == "literal_error":
        hint = did_you_mean(value, SPEC_FIELDS) if isinstance(value, str) else ""
        return f"{_describe(value, where)} is not a spec field{hint}"
    if value is None and kind.endswith("_type"):
        fix = "[] for an empty list" if kind == "list_type" else '"" to clear it'
        return f"an empty value (null) is not allowed: remove the field, or write {fix}"
    if kind == "string_type":
        return _quote_hint(where) or f"expected text, got {_describe(value, where)}"
    if kind == "bool_type":
        hint = ": write it without quotes" if value in ("true", "false") else ""
        return f"expected true or false, got {_describe(value, where)}{hint}"
    if kind == "list_type":
        hint = f": write [{value}]" if isinstance(value, str) else ""
        return f"expected a list, got {_describe(value, where)}{hint}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of fields, got {_describe(value, where)}"
    if kind == "string_too_short":
        return "must not be empty"
    return str(item["msg"])


def _unknown_field(name: str, path: YamlPath, document_class: type) -> str:
    parent = tuple(part for part in path[:-1] if isinstance(part, str))
    allowed = _fields_at(parent, document_class)
    if parent == ("spec",) and name == "pending_ids":
        return "pending_ids is not managed: the reconciler never sends it"
    if parent == ("spec", "pricing") and name == "id":
        return "pricing entries have no id in a manifest: they are matched by their content"
    if parent == () and name == "metadata":
        return "Defaults have no metadata: they apply to every model in their directory and below"
    home = _BELONGS.get(name)
    if home is not None and len(parent) <= 1 and home != (parent[-1] if parent else ""):
        if home in _fields_at((), document_class):
            return f"unknown field '{name}' here: it belongs under {home}:"
        if home == "metadata":
            return f"unknown field '{name}': Defaults have no metadata"
    return f"unknown field '{name}'{did_you_mean(name, allowed)}"


def _fields_at(parent: tuple[str, ...], document_class: type) -> Sequence[str]:
    model: Any = {
        (): document_class,
        ("metadata",): ModelMetadata,
        ("lifecycle",): Lifecycle,
        ("spec", "pricing"): PricingEntry,
    }.get(parent)
    if parent == ("spec",):
        return SPEC_FIELDS
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [info.alias or field for field, info in model.model_fields.items()]
    return list(getattr(model, "__annotations__", {}))


def _describe(value: Any, where: Located | None) -> str:
    if where is not None and where.tag not in ("str", "seq", "map") and where.text is not None:
        return f"{kind_words(where.tag)} ({where.text})"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else kind_words(type(value).__name__)


def _quote_hint(where: Located | None) -> str:
    # YAML 1.1 reads unquoted no/on/yes as booleans and 0.60 as a number: the fix is quotes.
    if where is None or not where.plain or where.tag not in ("bool", "int", "float", "timestamp"):
        return ""
    version = " (YAML 1.1)" if where.tag == "bool" else ""
    read_as, text = kind_words(where.tag), where.text
    return f'expected text, but YAML reads {text} as {read_as}{version}: quote it, "{text}"'
