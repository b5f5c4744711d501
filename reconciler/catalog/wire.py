"""Wire models of the catalog API, named and shaped as the service documents them.

The request model forbids unknown fields, so the client can never send a field
the service does not know; the response models ignore unknown fields, so a
richer real server does not break us. Absent fields are omitted on the wire.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PricingDraftValue(BaseModel):
    """One immutable pricing entry; ``id`` is absent for an entry to create."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    id: str | None = None
    label: str
    unit: str
    amount: str
    currency: str


class PatchModelDraftApiRequest(BaseModel):
    """The one request body of ``POST /model/draft``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    draft_id: str | None = None
    input_draft_id: str | None = None
    idempotency_key: str | None = None
    soft: bool | None = None
    accept: bool | None = None
    name: str | None = None
    name_id: str | None = None
    description: str | None = None
    description_id: str | None = None
    value: str | None = None
    value_id: str | None = None
    provider: str | None = None
    provider_id: str | None = None
    flag_ids: list[str] | None = None
    active: bool | None = None
    modalities_enabled: bool | None = None
    temperature_enabled: bool | None = None
    pricing_enabled: bool | None = None
    voices_enabled: bool | None = None
    reasoning_levels_enabled: bool | None = None
    qualities_enabled: bool | None = None
    departments: list[str] | None = None
    department_ids: list[str] | None = None
    modalities: list[str] | None = None
    modality_ids: list[str] | None = None
    pricing: list[PricingDraftValue] | None = None
    pricing_ids: list[str] | None = None
    qualities: list[str] | None = None
    quality_ids: list[str] | None = None
    reasoning_levels: list[str] | None = None
    reasoning_level_ids: list[str] | None = None
    temperature_levels: list[str] | None = None
    temperature_level_ids: list[str] | None = None
    voices: list[str] | None = None
    voice_ids: list[str] | None = None
    pending_ids: list[str] | None = None

    def to_wire(self) -> dict[str, Any]:
        """The JSON body: absent (``None``) fields are omitted, never sent as null."""
        return self.model_dump(mode="json", exclude_none=True)


# Every field of the request that is not an operation field (contract: "model fields").
OPERATION_FIELDS: frozenset[str] = frozenset(
    {"draft_id", "input_draft_id", "idempotency_key", "soft", "accept"}
)
MODEL_FIELDS: tuple[str, ...] = tuple(
    name for name in PatchModelDraftApiRequest.model_fields if name not in OPERATION_FIELDS
)

# How each request field's value looks when the request model would take it exactly
# as it is (no coercion) and dump it unchanged: ``plain_request_body`` checks this.
_PLAIN_KIND: dict[str, str] = {
    name: {
        str | None: "str",
        bool | None: "bool",
        list[str] | None: "strs",
        list[PricingDraftValue] | None: "pricing",
    }[info.annotation]
    for name, info in PatchModelDraftApiRequest.model_fields.items()
}
_PRICING_FIELDS: tuple[str, ...] = tuple(PricingDraftValue.model_fields)
_PRICING_REQUIRED = frozenset(
    n for n, f in PricingDraftValue.model_fields.items() if f.is_required()
)


def plain_request_body(wire: dict[str, Any]) -> dict[str, Any] | None:
    """``PatchModelDraftApiRequest.model_validate(wire).to_wire()`` without the model, or None.

    A request whose every value already has its field's exact type (a ``str``, a
    ``bool``, a list of ``str``, pricing entries of ``str``) validates to itself, so
    its body is ``wire`` without the ``None`` values, in the model's field order.
    Anything else (an unknown field, a value the model would coerce or refuse) gives
    None: the caller builds the model, which coerces it or says what is wrong.
    """
    for name, value in wire.items():
        kind = _PLAIN_KIND.get(name)
        if kind is None:
            return None
        if value is None:
            continue
        if kind == "str":
            if type(value) is not str:
                return None
        elif kind == "bool":
            if type(value) is not bool:
                return None
        elif type(value) is not list:
            return None
        elif kind == "strs":
            if any(type(item) is not str for item in value):
                return None
        elif not all(_plain_price(item) for item in value):
            return None
    body = {name: wire[name] for name in _PLAIN_KIND if wire.get(name) is not None}
    if "pricing" in body:
        body["pricing"] = [
            {k: item[k] for k in _PRICING_FIELDS if item.get(k) is not None}
            for item in body["pricing"]
        ]
    return body


def _plain_price(item: Any) -> bool:
    """Whether ``item`` is a pricing entry ``PricingDraftValue`` takes exactly as it is."""
    if type(item) is not dict or not item.keys() >= _PRICING_REQUIRED:
        return False
    return all(
        k in _PRICING_FIELDS and (type(v) is str or (v is None and k not in _PRICING_REQUIRED))
        for k, v in item.items()
    )


# The seven booleans that denormalize a flag each (contract: "Flags").
FLAG_BOOLEANS: dict[str, str] = {
    "active": "model_active",
    "modalities_enabled": "model_modalities_enabled",
    "temperature_enabled": "model_temperature_enabled",
    "pricing_enabled": "model_pricing_enabled",
    "voices_enabled": "model_voices_enabled",
    "reasoning_levels_enabled": "model_reasoning_levels_enabled",
    "qualities_enabled": "model_qualities_enabled",
}

# Reference fields: label form -> identifier form.
REFERENCE_FIELDS: dict[str, str] = {
    "provider": "provider_id",
    "departments": "department_ids",
    "modalities": "modality_ids",
    "qualities": "quality_ids",
    "reasoning_levels": "reasoning_level_ids",
    "temperature_levels": "temperature_level_ids",
    "voices": "voice_ids",
}

# Text resources: text form -> identifier form.
TEXT_FIELDS: dict[str, str] = {
    "name": "name_id",
    "description": "description_id",
    "value": "value_id",
}


class DraftFormState(BaseModel):
    """Server-authoritative state of a draft (``app__infra__model__types__DraftFormState``)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    draft_id: str
    revision: int | None = None
    name: str | None = None
    name_id: str | None = None
    description: str | None = None
    description_id: str | None = None
    value: str | None = None
    value_id: str | None = None
    provider: str | None = None
    provider_id: str | None = None
    flag_ids: list[str] = Field(default_factory=list)
    active: bool = False
    modalities_enabled: bool = False
    temperature_enabled: bool = False
    pricing_enabled: bool = False
    voices_enabled: bool = False
    reasoning_levels_enabled: bool = False
    qualities_enabled: bool = False
    departments: list[str] = Field(default_factory=list)
    department_ids: list[str] = Field(default_factory=list)
    modalities: list[str] = Field(default_factory=list)
    modality_ids: list[str] = Field(default_factory=list)
    qualities: list[str] = Field(default_factory=list)
    quality_ids: list[str] = Field(default_factory=list)
    reasoning_levels: list[str] = Field(default_factory=list)
    reasoning_level_ids: list[str] = Field(default_factory=list)
    temperature_levels: list[str] = Field(default_factory=list)
    temperature_level_ids: list[str] = Field(default_factory=list)
    voices: list[str] = Field(default_factory=list)
    voice_ids: list[str] = Field(default_factory=list)
    pricing: list[PricingDraftValue] = Field(default_factory=list)
    pricing_ids: list[str] = Field(default_factory=list)
    pending_ids: list[str] = Field(default_factory=list)


class FieldError(BaseModel):
    """One field-level validation error a 422 may carry."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    field: str
    message: str


class PatchModelDraftApiResponse(BaseModel):
    """Every response body of ``POST /model/draft``."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    success: bool
    draft_id: str
    idempotency_key: str | None = None
    message: str
    form_state: DraftFormState | None = None
    errors: list[FieldError] | None = None
