"""The manifest model: what a user writes in YAML, and the desired models it yields."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, with_config
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from reconciler.catalog.wire import FLAG_BOOLEANS, MODEL_FIELDS, REFERENCE_FIELDS, TEXT_FIELDS
from reconciler.manifests.iso4217 import ISO_4217_CODES, WITHDRAWN_CODES


@dataclass(frozen=True)
class SourceLocation:
    """Where a manifest document starts (1-based line and column)."""

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class DesiredModel:
    """One model as the manifests want it, Defaults merged.

    ``fields`` holds only the managed fields, in wire form and as the user wrote
    them: labels or identifiers, strings, booleans, lists of strings, and for
    ``pricing`` a list of ``{label, unit, amount, currency}`` dicts without ids.
    ``active`` is present (default ``True``) unless ``flag_ids`` manages the flags.
    """

    key: str
    fields: Mapping[str, Any]
    draft_id: str | None = None
    ignore_changes: frozenset[str] = field(default_factory=frozenset)
    source: SourceLocation | None = None


# --- The documents a user writes -------------------------------------------------------------

API_VERSION = "reconciler/v1"
KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
KEY_MAX_LENGTH = 128
# A decimal written plainly: what the server's decimal strings look like ("0.60", "15").
AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]+)?$"

# Every model field of the API except pending_ids, which the reconciler never sends.
SPEC_FIELDS: tuple[str, ...] = tuple(name for name in MODEL_FIELDS if name != "pending_ids")
# The two forms of one field; a spec gives at most one of each pair.
FIELD_FORMS: dict[str, str] = {**TEXT_FIELDS, **REFERENCE_FIELDS, "pricing": "pricing_ids"}
LABEL_LIST_FIELDS: tuple[str, ...] = tuple(name for name in REFERENCE_FIELDS if name != "provider")
ID_LIST_FIELDS: tuple[str, ...] = (
    "flag_ids",
    *(REFERENCE_FIELDS[name] for name in LABEL_LIST_FIELDS),
    "pricing_ids",
)


_KEY = re.compile(KEY_PATTERN)
_AMOUNT = re.compile(AMOUNT_PATTERN)


def _check_key(value: str) -> str:
    if len(value) <= KEY_MAX_LENGTH and _KEY.fullmatch(value):
        return value
    hint = ""
    suggestion = re.sub(r"[^a-z0-9._-]+", "-", value.strip().lower()).strip("._-")
    if suggestion and len(suggestion) <= KEY_MAX_LENGTH:
        hint = f"; did you mean '{suggestion}'?"
    raise PydanticCustomError(
        "key_format",
        "a key is 1 to {max} characters: lowercase letters, digits, '.', '-' and '_',"
        " starting with a letter or digit (got '{value}'){hint}",
        {"max": KEY_MAX_LENGTH, "value": value, "hint": hint},
    )


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a ``metadata.key``, or None when it can."""
    try:
        _check_key(key)
    except PydanticCustomError as exc:
        return str(exc)
    return None


def _check_amount(value: str) -> str:
    if _AMOUNT.fullmatch(value):
        return value  # digits and at most one point: a decimal, finite, not negative
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        message = "the amount '{value}' is not a decimal number: write it like \"0.60\""
    elif number < 0 or value.strip().startswith("-"):
        message = "the amount '{value}' is negative: a price is zero or more"
    elif not _AMOUNT.fullmatch(value):
        message = (
            "write the amount '{value}' with digits and at most one point, like \"0.60\""
            " (no sign, exponent, spaces or separators)"
        )
    else:
        return value
    raise PydanticCustomError("amount", message, {"value": value})


def _check_currency(value: str) -> str:
    if value in ISO_4217_CODES:
        return value
    code = value.strip().upper()
    if code in ISO_4217_CODES:
        hint = f"; write it as '{code}'"
    elif code in WITHDRAWN_CODES:
        hint = f" any more (withdrawn): use '{WITHDRAWN_CODES[code]}'"
    else:
        # Most codes are a country code and a letter: prefer the same country (USS -> USD).
        same_country = sorted(c for c in ISO_4217_CODES if c[:2] == code[:2])
        close = same_country or difflib.get_close_matches(code, sorted(ISO_4217_CODES))
        hint = f"; did you mean '{close[0]}'?" if close else ""
    raise PydanticCustomError(
        "currency",
        "'{value}' is not an ISO 4217 currency code{hint}",
        {"value": value, "hint": hint},
    )


_STRICT = ConfigDict(extra="forbid", strict=True)
_Text = Annotated[str, Field(min_length=1)]
_Labels = Annotated[list[_Text], Field(json_schema_extra={"uniqueItems": True})]
_Ids = Annotated[list[_Text], Field(json_schema_extra={"uniqueItems": True})]


@with_config(ConfigDict(extra="forbid", strict=True, title="PricingEntry"))
class PricingEntry(TypedDict):
    """One price, e.g. ``{label: input, unit: 1M tokens, amount: "0.15", currency: USD}``."""

    label: Annotated[str, Field(min_length=1, description="What is priced: input, output...")]
    unit: Annotated[str, Field(min_length=1, description="Per what: 1M tokens, image, minute...")]
    amount: Annotated[
        str,
        AfterValidator(_check_amount),
        Field(
            description='A non-negative decimal, quoted: "0.60" (unquoted, YAML reads 0.6)',
            json_schema_extra={"pattern": AMOUNT_PATTERN},
        ),
    ]
    currency: Annotated[
        str,
        AfterValidator(_check_currency),
        Field(
            description="An ISO 4217 code: USD, EUR...",
            json_schema_extra={"enum": sorted(ISO_4217_CODES)},
        ),
    ]


# JSON Schema twins of the rules a field-by-field schema cannot express on its own.
_NOT_BOTH = [{"not": {"required": [label, ident]}} for label, ident in FIELD_FORMS.items()]
_NOT_WITH_FLAG_IDS = [{"not": {"required": ["flag_ids", name]}} for name in FLAG_BOOLEANS]


@with_config(
    ConfigDict(
        extra="forbid",
        strict=True,
        title="ModelSpec",
        json_schema_extra={"allOf": [*_NOT_BOTH, *_NOT_WITH_FLAG_IDS]},
    )
)
class ModelSpec(TypedDict, total=False):
    """The managed fields of a model; a field left out is unmanaged (never compared or sent).

    Each reference field is given by label or by identifier, never both. ``flag_ids``
    is the complete, canonical flag selection, so a spec that gives it gives none of
    the seven flag booleans, and ``active`` then gets no default.
    """

    name: Annotated[str, Field(description="Display name")]
    name_id: Annotated[str, Field(description="Name resource identifier")]
    description: Annotated[str, Field(description="Description text")]
    description_id: Annotated[str, Field(description="Description resource identifier")]
    value: Annotated[str, Field(description="Direct model value, e.g. the API model id")]
    value_id: Annotated[str, Field(description="Value resource identifier")]
    provider: Annotated[str, Field(description="Provider label, e.g. OpenAI")]
    provider_id: Annotated[str, Field(description="Provider identifier")]
    flag_ids: Annotated[_Ids, Field(description="Complete flag option selection (canonical)")]
    active: Annotated[bool, Field(description="model_active flag (default true)")]
    modalities_enabled: Annotated[bool, Field(description="model_modalities_enabled flag")]
    temperature_enabled: Annotated[bool, Field(description="model_temperature_enabled flag")]
    pricing_enabled: Annotated[bool, Field(description="model_pricing_enabled flag")]
    voices_enabled: Annotated[bool, Field(description="model_voices_enabled flag")]
    reasoning_levels_enabled: Annotated[
        bool, Field(description="model_reasoning_levels_enabled flag")
    ]
    qualities_enabled: Annotated[bool, Field(description="model_qualities_enabled flag")]
    departments: Annotated[_Labels, Field(description="Department labels")]
    department_ids: Annotated[_Ids, Field(description="Department identifiers")]
    modalities: Annotated[_Labels, Field(description="Modality labels: text, image...")]
    modality_ids: Annotated[_Ids, Field(description="Modality identifiers")]
    pricing: Annotated[
        list[PricingEntry],
        Field(description="Prices; entries have no id and are matched by content"),
    ]
    pricing_ids: Annotated[_Ids, Field(description="Identifiers of existing pricing entries")]
    qualities: Annotated[_Labels, Field(description="Quality labels: draft, standard, hd")]
    quality_ids: Annotated[_Ids, Field(description="Quality identifiers")]
    reasoning_levels: Annotated[_Labels, Field(description="Reasoning level labels")]
    reasoning_level_ids: Annotated[_Ids, Field(description="Reasoning level identifiers")]
    temperature_levels: Annotated[_Labels, Field(description="Temperature level labels")]
    temperature_level_ids: Annotated[_Ids, Field(description="Temperature level identifiers")]
    voices: Annotated[_Labels, Field(description="Voice labels (created when unknown)")]
    voice_ids: Annotated[_Ids, Field(description="Voice identifiers")]


SpecFieldName = Literal[SPEC_FIELDS]  # type: ignore[valid-type]


class ModelMetadata(BaseModel):
    """A model's identity in git, and optionally the existing draft it adopts."""

    model_config = _STRICT

    key: Annotated[
        str,
        AfterValidator(_check_key),
        Field(
            description="Identity in git: lowercase letters, digits, '.', '-', '_'",
            json_schema_extra={"pattern": KEY_PATTERN, "maxLength": KEY_MAX_LENGTH},
        ),
    ]
    draft_id: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="Adopt this existing draft instead of creating one"
    )


class Lifecycle(BaseModel):
    """How the reconciler treats live changes (as Terraform's ``lifecycle``)."""

    model_config = _STRICT

    ignore_changes: list[SpecFieldName] = Field(
        default_factory=list,
        description="Fields whose live changes are ignored (set on create, never updated)",
        json_schema_extra={"uniqueItems": True},
    )


class ModelDocument(BaseModel):
    """kind Model: one model of the catalog.

    Decision on flags: ``flag_ids`` is the complete, canonical flag selection (as
    the API says), so a spec that gives it gives none of the seven flag booleans,
    and ``active`` then gets no default; without it ``active`` defaults to true.
    """

    model_config = _STRICT

    api_version: Literal["reconciler/v1"] = Field(alias="apiVersion", title="apiVersion")
    kind: Literal["Model"]
    metadata: ModelMetadata
    spec: ModelSpec = Field(default_factory=lambda: ModelSpec())
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class DefaultsDocument(BaseModel):
    """kind Defaults: spec values for the models in its directory and below.

    A model's own values win; a Defaults document in a subdirectory overrides an
    outer one field by field; lifecycle.ignore_changes lists are united.
    """

    model_config = _STRICT

    api_version: Literal["reconciler/v1"] = Field(alias="apiVersion", title="apiVersion")
    kind: Literal["Defaults"]
    spec: ModelSpec = Field(default_factory=lambda: ModelSpec())
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
