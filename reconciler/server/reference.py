"""Reference data of the local catalog: the labels a draft may point at, with stable ids.

Identifiers are uuid5 of kind and matching key (the trimmed, case-folded label), so
the same label has the same id in every catalog file, and tests and manifests that
use ids are reproducible. Voices created by requests ("create or match") get their
id the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from reconciler.catalog.wire import FLAG_BOOLEANS
from reconciler.errors import ReferenceDataError

# Fixed namespace of every id the local catalog derives; never change it, ids would move.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:reconciler:local-catalog")

# YAML key -> label field of the request (the kinds of reference resources).
RESOURCE_KINDS: dict[str, str] = {
    "providers": "provider",
    "departments": "departments",
    "modalities": "modalities",
    "qualities": "qualities",
    "reasoning_levels": "reasoning_levels",
    "temperature_levels": "temperature_levels",
    "voices": "voices",
}
BOOLEAN_VALUES: tuple[str, str] = ("true", "false")


def label_key(label: str) -> str:
    """The matching key of a label: labels match case-insensitively after trimming."""
    return label.strip().casefold()


def resource_id(kind: str, label: str) -> str:
    """The stable id of the resource of ``kind`` (a YAML key, e.g. ``providers``) and label."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{label_key(label)}"))


def flag_option_id(flag: str, value: str) -> str:
    """The stable id of option ``value`` of ``flag``."""
    return str(uuid.uuid5(NAMESPACE, f"flag:{flag}:{value}"))


def text_id(kind: str, text: str) -> str:
    """The stable id of a text resource (``name``, ``description`` or ``value``)."""
    return str(uuid.uuid5(NAMESPACE, f"text:{kind}:{text}"))


@dataclass(frozen=True)
class Resource:
    """A label a draft may reference (provider, department, voice, ...)."""

    id: str
    kind: str
    label: str


@dataclass(frozen=True)
class FlagOption:
    """One option of a flag; boolean flags have the options ``true`` and ``false``."""

    id: str
    flag: str
    value: str
    boolean: bool


@dataclass(frozen=True)
class ReferenceData:
    """Everything seeded into a catalog file."""

    resources: tuple[Resource, ...]
    flag_options: tuple[FlagOption, ...]


def boolean_flag_options() -> tuple[FlagOption, ...]:
    """The options of the seven boolean flags, which exist in every catalog."""
    return tuple(
        FlagOption(flag_option_id(flag, value), flag, value, boolean=True)
        for flag in FLAG_BOOLEANS.values()
        for value in BOOLEAN_VALUES
    )


def load_reference_data(path: Path | None = None) -> ReferenceData:
    """Load reference data from ``path``, or the file shipped with the package."""
    if path is None:
        text = resources.files("reconciler.server").joinpath("reference_data.yaml").read_text()
        where = "reference_data.yaml (built in)"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ReferenceDataError(f"cannot read reference data {path}: {exc}") from exc
        where = str(path)
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ReferenceDataError(f"{where}: not valid YAML: {exc}") from exc
    return _parse(document if document is not None else {}, where)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys instead of keeping the last one."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            line = key_node.start_mark.line + 1
            message = f"duplicate key {key!r} (line {line})"
            raise yaml.constructor.ConstructorError(None, None, message)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _parse(document: object, where: str) -> ReferenceData:
    if not isinstance(document, dict):
        raise ReferenceDataError(f"{where}: expected a mapping of kinds to label lists")
    unknown = sorted(str(key) for key in document if key not in RESOURCE_KINDS and key != "flags")
    if unknown:
        known = ", ".join([*RESOURCE_KINDS, "flags"])
        raise ReferenceDataError(f"{where}: unknown keys {', '.join(unknown)} (known: {known})")
    found = [
        Resource(resource_id(kind, label), kind, label)
        for kind in RESOURCE_KINDS
        for label in _labels(document.get(kind), f"{where}: {kind}")
    ]
    flags = document.get("flags") or {}
    if not isinstance(flags, dict):
        raise ReferenceDataError(f"{where}: flags: expected a mapping of flag names to options")
    options = list(boolean_flag_options())
    for flag, values in flags.items():
        if not isinstance(flag, str) or not flag.strip():
            raise ReferenceDataError(f"{where}: flags: flag names must be non-empty strings")
        if flag in FLAG_BOOLEANS.values():
            raise ReferenceDataError(f"{where}: flags: {flag} is a built-in boolean flag")
        options += [
            FlagOption(flag_option_id(flag, value), flag, value, boolean=False)
            for value in _labels(values, f"{where}: flags: {flag}", required=True)
        ]
    return ReferenceData(tuple(found), tuple(options))


def _labels(values: object, where: str, *, required: bool = False) -> list[str]:
    if values is None and not required:
        return []
    if not isinstance(values, list) or (required and not values):
        raise ReferenceDataError(f"{where}: expected a list of labels")
    labels: list[str] = []
    seen: set[str] = set()
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise ReferenceDataError(f"{where}: labels must be non-empty strings, got {value!r}")
        if label_key(value) in seen:
            raise ReferenceDataError(f"{where}: duplicate label {value!r} (labels ignore case)")
        seen.add(label_key(value))
        labels.append(value.strip())
    return labels
