"""Which operation a request body is (contract: "Request shapes"), and its fingerprint.

Absent and ``null`` mean the same. Bodies are validated strictly (``"true"`` is
not a boolean) against the wire model, so a client bug shows up as a 422 naming
the field rather than as a silently coerced value. A JSON body that is not an
object is a 400, like a body that is not JSON at all: neither can be a request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from reconciler.catalog.wire import MODEL_FIELDS, PatchModelDraftApiRequest
from reconciler.server.limits import (
    MAX_DEPTH,
    MAX_KEY_CHARS,
    MAX_STRING_CHARS,
    check_values,
    nesting_depth,
)
from reconciler.server.pricing import check_pricing
from reconciler.server.problems import ApiProblem, FieldErrors, invalid

OperationKind = Literal["read", "create", "hard_patch", "soft_patch", "ack"]


@dataclass(frozen=True)
class Operation:
    """A classified request: what to do, on which draft, under which key."""

    kind: OperationKind
    request: PatchModelDraftApiRequest
    draft_id: str | None
    key: str | None
    fingerprint: str

    @property
    def is_write(self) -> bool:
        """Everything but a read writes (fault injection counts these)."""
        return self.kind != "read"


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or the 400 for a body nested too deep or not an object."""
    depth = nesting_depth(raw)
    if depth > MAX_DEPTH:
        raise ApiProblem(
            400,
            f"the body nests {depth} levels deep; a request nests at most {MAX_DEPTH} "
            "(a PatchModelDraftApiRequest needs 3)",
        )
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiProblem(
            400, f'the body is not JSON ({exc}); send a JSON object such as {{"draft_id": ...}}'
        ) from exc
    if not isinstance(body, dict):
        raise ApiProblem(400, f"the body must be a JSON object, not a {type(body).__name__}")
    return body


def peek_ids(body: object) -> tuple[str, str | None]:
    """The draft id and key a body names, for an error response to echo; only echoable ones."""
    if not isinstance(body, dict):
        return "", None
    draft_id = body.get("draft_id") or body.get("input_draft_id")
    key = body.get("idempotency_key")
    return (
        draft_id if _echoable(draft_id, MAX_STRING_CHARS) else "",
        key if _echoable(key, MAX_KEY_CHARS) else None,
    )


def _echoable(value: object, limit: int) -> bool:
    # A value over its limit or holding a lone surrogate is refused, not repeated back.
    if not isinstance(value, str) or len(value) > limit:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_operation(raw: bytes) -> Operation:
    """Parse and classify a request body, or raise the 400/422 the contract asks for."""
    return classify(parse_body(raw))


def classify(body: dict[str, Any]) -> Operation:
    """Validate a parsed body and classify it, or raise the 422 (or 400) it deserves."""
    check_values(body)
    request = _validate(body)
    errors = FieldErrors()
    check_pricing(request.pricing or [], errors)
    errors.raise_if_any()
    draft_id = _draft_id(request)
    key = request.idempotency_key
    if key == "":
        raise ApiProblem(
            422,
            "idempotency_key: must not be empty",
            errors=[("idempotency_key", "must not be empty")],
        )
    model_fields = [name for name in MODEL_FIELDS if getattr(request, name) is not None]
    fingerprint = fingerprint_of(request)

    def operation(kind: OperationKind) -> Operation:
        return Operation(kind, request, draft_id, key, fingerprint)

    if request.accept is not None:
        mixed = model_fields + (["soft"] if request.soft is not None else [])
        if mixed:
            raise ApiProblem(
                422,
                "an ack ({idempotency_key, accept}) carries no model fields and no soft; "
                f"remove {', '.join(mixed)}",
                errors=[(name, "not allowed in an ack") for name in mixed],
            )
        if key is None:
            raise ApiProblem(
                422,
                "accept needs the idempotency_key of the soft patch it decides",
                errors=[("idempotency_key", "required with accept")],
            )
        return operation("ack")
    if request.soft:
        if key is None:
            raise ApiProblem(
                400,
                "soft: true needs an idempotency_key; the ack uses it to accept or reject "
                "the proposal",
            )
        return operation("soft_patch")
    if draft_id is None:
        if not model_fields:
            raise ApiProblem(
                422,
                "the request names no operation: send {draft_id} to read a draft, or model "
                "fields to create one",
            )
        return operation("create")
    if model_fields:
        return operation("hard_patch")
    if key is not None:
        raise ApiProblem(
            422,
            "idempotency_key without model fields, soft or accept names no operation; "
            "to read a draft send only draft_id",
            errors=[("idempotency_key", "not allowed in a read")],
        )
    return operation("read")


def fingerprint_of(request: PatchModelDraftApiRequest) -> str:
    """sha256 of the canonical JSON of the request, ``null`` fields dropped."""
    canonical = json.dumps(
        request.model_dump(mode="json", exclude_none=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _validate(body: dict[str, Any]) -> PatchModelDraftApiRequest:
    try:
        return PatchModelDraftApiRequest.model_validate(body, strict=True)
    except ValidationError as exc:
        errors = [(_location(error["loc"]), _message(error)) for error in exc.errors()]
        raise invalid(errors, prefix="invalid request: ") from exc


def _draft_id(request: PatchModelDraftApiRequest) -> str | None:
    given, alias = request.draft_id, request.input_draft_id
    if given is not None and alias is not None and given != alias:
        raise ApiProblem(
            422,
            "draft_id and input_draft_id differ; input_draft_id is an alias, give one of them",
            errors=[("input_draft_id", f"differs from draft_id {given!r}")],
        )
    draft_id = given if given is not None else alias
    if draft_id == "":
        raise ApiProblem(
            422, "draft_id: must not be empty", errors=[("draft_id", "must not be empty")]
        )
    return draft_id


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _message(error: dict[str, object]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field; send only the fields of PatchModelDraftApiRequest"
    return str(error["msg"])
