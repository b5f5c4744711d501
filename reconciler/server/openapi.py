"""The contract of ``POST /model/draft`` as an OpenAPI 3.1 document, built from the code.

Built, not written by hand, from what the server itself uses: the wire model's
fields (``reconciler.catalog.wire``), the limits (``limits``), the currencies
(``reconciler.manifests.iso4217``) and the amount pattern (``pricing``), so the document
and the server cannot disagree on them. Each request shape of the contract is
one closed schema; the request body is any of them. ``null`` is allowed
wherever absence is (the contract: absent and ``null`` mean the same).

The test suite runs Schemathesis against ``reconciler serve`` with this
document (``tests/server/test_server_openapi.py``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from reconciler.catalog.wire import MODEL_FIELDS, PatchModelDraftApiRequest, PricingDraftValue
from reconciler.manifests.iso4217 import ISO_4217_CODES
from reconciler.server.limits import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    MAX_KEY_CHARS,
    MAX_LIST_ITEMS,
    MAX_STRING_CHARS,
)
from reconciler.server.pricing import AMOUNT
from reconciler.server.problems import MAX_ERRORS_LISTED

Schema = dict[str, Any]

NULL: Schema = {"type": "null"}
TEXT: Schema = {"type": "string", "maxLength": MAX_STRING_CHARS}
ID: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_STRING_CHARS}
KEY: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS}
NOT_SOFT: Schema = {"enum": [False, None], "description": "Absent, null or false: not soft."}

_LIMITS = f"""
Limits (a request over one is refused before the rest of it is parsed):
a body of at most {MAX_BODY_BYTES:,} bytes (413); JSON nested at most
{MAX_DEPTH} levels (400); strings of at most {MAX_STRING_CHARS:,} characters,
an `idempotency_key` of at most {MAX_KEY_CHARS}, lists of at most
{MAX_LIST_ITEMS:,} items, and only Unicode text (a lone surrogate escape such as
`\\ud800` is refused) (422). A 422 lists at most {MAX_ERRORS_LISTED} field errors;
its `message` says how many more there were. The token is checked before the
body is read.
"""


def _nullable(schema: Schema) -> Schema:
    types = schema.get("type")
    if isinstance(types, str):
        return {**schema, "type": [types, "null"]}
    return {"anyOf": [schema, NULL]}


def _list(items: Schema) -> Schema:
    return {"type": "array", "items": items, "maxItems": MAX_LIST_ITEMS}


def _pricing_value() -> Schema:
    fields = set(PricingDraftValue.model_fields)
    schema: Schema = {
        "type": "object",
        "description": "One immutable pricing entry; `id` is absent for an entry to create.",
        "additionalProperties": False,
        "required": ["label", "unit", "amount", "currency"],
        "properties": {
            "id": _nullable(ID),
            "label": {**TEXT, "pattern": r"\S"},
            "unit": {**TEXT, "pattern": r"\S"},
            "amount": {
                **TEXT,
                "pattern": f"^{AMOUNT.pattern}$",
                "description": 'A non-negative decimal string, like "0.60" ("0.6" is the same).',
            },
            "currency": {
                "type": "string",
                "enum": sorted(ISO_4217_CODES),
                "description": "An active ISO 4217 code.",
            },
        },
    }
    assert set(schema["properties"]) == fields, "PricingDraftValue changed; update the document"
    return schema


def _model_field(name: str) -> Schema:
    annotation = PatchModelDraftApiRequest.model_fields[name].annotation
    if annotation == bool | None:
        return _nullable({"type": "boolean"})
    if annotation == str | None:
        return _nullable(TEXT)
    if annotation == list[str] | None:
        return _nullable(_list(TEXT))
    if annotation == list[PricingDraftValue] | None:
        return _nullable(_list({"$ref": "#/components/schemas/PricingDraftValue"}))
    raise AssertionError(f"no schema for request field {name}: {annotation}")


def _shape(
    description: str,
    operation: Schema,
    *,
    model_fields: bool,
    required: list[str] | None = None,
    any_required: list[list[str]] | None = None,
) -> Schema:
    """A closed request schema: ``operation`` fields as given, the rest null or absent."""
    properties: Schema = {
        "draft_id": NULL,
        "input_draft_id": NULL,
        "idempotency_key": NULL,
        "soft": NULL,
        "accept": NULL,
    }
    properties.update(operation)
    for name in MODEL_FIELDS:
        properties[name] = _model_field(name) if model_fields else NULL
    schema: Schema = {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = required
    if any_required:
        schema["anyOf"] = [
            {"required": names, "properties": {n: {"type": "string"} for n in names}}
            for names in any_required
        ]
    return schema


def _request_shapes() -> dict[str, Schema]:
    draft = {"draft_id": _nullable(ID), "input_draft_id": _nullable(ID)}
    named_draft = [["draft_id"], ["input_draft_id"]]
    return {
        "ReadRequest": _shape(
            "Read: `{draft_id}` and nothing else; returns the live state, changes nothing. "
            "`input_draft_id` is an alias of `draft_id`.",
            draft,
            model_fields=False,
            any_required=named_draft,
        ),
        "CreateRequest": _shape(
            "Create: model fields, no `draft_id`, not soft; creates a draft and applies "
            "the fields at once. At least one model field must be given (else 422).",
            {"idempotency_key": _nullable(KEY), "soft": NOT_SOFT},
            model_fields=True,
        ),
        "HardPatchRequest": _shape(
            "Hard patch: `{draft_id}` and model fields, not soft; applies them at once.",
            {**draft, "idempotency_key": _nullable(KEY), "soft": NOT_SOFT},
            model_fields=True,
            any_required=named_draft,
        ),
        "SoftPatchRequest": _shape(
            "Soft patch: `{soft: true, idempotency_key}` and model fields, with or without "
            "`draft_id`; stages a proposal (without `draft_id`, of a new draft). "
            "`soft: true` without a key is a 400.",
            {**draft, "idempotency_key": KEY, "soft": {"const": True}},
            model_fields=True,
            required=["soft", "idempotency_key"],
        ),
        "AckRequest": _shape(
            "Ack: `{idempotency_key, accept}`, optionally with the proposal's `draft_id`; "
            "`accept: true` promotes the proposal, `false` rejects it.",
            {**draft, "idempotency_key": KEY, "accept": {"type": "boolean"}},
            model_fields=False,
            required=["idempotency_key", "accept"],
        ),
    }


def _form_state() -> Schema:
    nullable_text = {"type": ["string", "null"]}
    strings = {"type": "array", "items": {"type": "string"}}
    properties: Schema = {"draft_id": {"type": "string"}, "revision": {"type": "integer"}}
    for name in MODEL_FIELDS:
        if name == "pricing":
            properties[name] = {
                "type": "array",
                "items": {"$ref": "#/components/schemas/PricingEntry"},
            }
        elif PatchModelDraftApiRequest.model_fields[name].annotation == bool | None:
            properties[name] = {"type": "boolean"}
        elif PatchModelDraftApiRequest.model_fields[name].annotation == str | None:
            properties[name] = nullable_text
        else:
            properties[name] = strings
    return {
        "type": "object",
        "description": "Server-authoritative state of a draft "
        "(`app__infra__model__types__DraftFormState`); lists sorted by label, ids aligned.",
        "required": list(properties),
        "properties": properties,
    }


def _response_body(success: bool) -> Schema:
    properties: Schema = {
        "success": {"const": success},
        "draft_id": {"type": "string", "description": 'The draft, or "" when none was given.'},
        "idempotency_key": {"type": "string"},
        "message": {"type": "string", "minLength": 1},
    }
    if success:
        properties["form_state"] = {
            "anyOf": [{"$ref": "#/components/schemas/DraftFormState"}, NULL],
            "description": "null only for the reject of a proposal that created its draft.",
        }
        required = ["success", "draft_id", "message", "form_state"]
    else:
        properties["errors"] = {
            "type": "array",
            "maxItems": MAX_ERRORS_LISTED,
            "items": {"$ref": "#/components/schemas/FieldError"},
        }
        required = ["success", "draft_id", "message"]
    return {"type": "object", "required": required, "properties": properties}


def _error(description: str, headers: Schema | None = None) -> Schema:
    response: Schema = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        response["headers"] = headers
    return response


@cache
def _document() -> Schema:
    shapes = _request_shapes()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Catalog API (reconciler's local catalog)",
            "version": "1",
            "description": "One endpoint, `POST /model/draft`, as `shared/api/contract.md` "
            "specifies it; the operation follows from the fields present.\n" + _LIMITS,
        },
        "paths": {
            "/model/draft": {
                "post": {
                    "operationId": "patchModelDraft",
                    "summary": "Patch Model Draft: read, create, hard or soft patch, or ack",
                    "security": [{"bearerAuth": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/PatchModelDraftApiRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The operation happened, or was replayed.",
                            "headers": {
                                "Idempotent-Replayed": {
                                    "description": "`true` on a replay of a stored response.",
                                    "schema": {"type": "string", "enum": ["true"]},
                                }
                            },
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Success"}
                                }
                            },
                        },
                        "400": _error(
                            "The body is not JSON, not an object, nested too deep, "
                            "or soft without idempotency_key."
                        ),
                        "401": _error(
                            "Missing or wrong bearer token.",
                            {"WWW-Authenticate": {"schema": {"type": "string"}}},
                        ),
                        "404": _error("Unknown draft_id, or an ack of an unknown key."),
                        "409": _error(
                            "Key still in flight (retry), accept of a stale proposal, "
                            "or the opposite ack decision."
                        ),
                        "413": _error(f"The body is larger than {MAX_BODY_BYTES:,} bytes."),
                        "422": _error(
                            "Field validation, a limit, an unknown label or id, a label/id "
                            "or flag conflict, or a key reused with another body."
                        ),
                        "429": _error(
                            "Rate limited; retry after `Retry-After` seconds.",
                            {
                                "Retry-After": {
                                    "required": True,
                                    "description": "Seconds to wait.",
                                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                                }
                            },
                        ),
                        "5XX": _error("A transient failure; retry with the same key and body."),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "PatchModelDraftApiRequest": {
                    "description": "Every request; which operation it is follows from the "
                    "fields present (absent and null mean the same).",
                    "anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in shapes],
                },
                **shapes,
                "PricingDraftValue": _pricing_value(),
                "PricingEntry": {
                    "type": "object",
                    "required": ["id", "label", "unit", "amount", "currency"],
                    "properties": {
                        name: {"type": "string"}
                        for name in ("id", "label", "unit", "amount", "currency")
                    },
                },
                "DraftFormState": _form_state(),
                "FieldError": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
                "Success": _response_body(True),
                "Error": _response_body(False),
            },
        },
    }


def openapi_document() -> Schema:
    """The OpenAPI 3.1 document of the catalog API (the same object on every call)."""
    return _document()
