"""The JSON Schema of a manifest document, generated from the pydantic document models.

Editors use it through the YAML language server (``# yaml-language-server:
$schema=...``) for completion, hover help and early errors. It checks each
document alone, so the rules that span documents or need YAML positions (one
key per model, Defaults layering, duplicate keys, case-insensitive duplicate
labels) stay with ``reconciler validate``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from reconciler.manifests.model import API_VERSION, DefaultsDocument, ModelDocument

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_DOCUMENT = TypeAdapter(Annotated[ModelDocument | DefaultsDocument, Field(discriminator="kind")])


def manifest_json_schema() -> dict[str, Any]:
    """The schema of one manifest document: a Model or a Defaults, chosen by ``kind``."""
    generated = _DOCUMENT.json_schema(mode="validation")
    return {
        "$schema": SCHEMA_DIALECT,
        "title": f"reconciler manifest ({API_VERSION})",
        "description": (
            "One YAML document of a reconciler catalog: kind Model (one model) or kind"
            " Defaults (shared spec values for the models in its directory and below)."
        ),
        **generated,
    }


def manifest_json_schema_text() -> str:
    """The schema as stable, indented JSON text ending with a newline."""
    return json.dumps(manifest_json_schema(), indent=2, ensure_ascii=False) + "\n"
