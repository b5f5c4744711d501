"""Ids of the built-in reference data, as the local catalog derives them (uuid5)."""

from __future__ import annotations

from reconciler.server.reference import flag_option_id, resource_id


def provider(label: str) -> str:
    """Id of a provider."""
    return resource_id("providers", label)


def department(label: str) -> str:
    """Id of a department."""
    return resource_id("departments", label)


def modality(label: str) -> str:
    """Id of a modality."""
    return resource_id("modalities", label)


def voice(label: str) -> str:
    """Id of a voice."""
    return resource_id("voices", label)


def flag(name: str, value: str | bool) -> str:
    """Id of an option of a flag; booleans name the option of a boolean flag."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return flag_option_id(name, value)


def price(
    label: str = "input",
    amount: str = "0.60",
    currency: str = "USD",
    unit: str = "1M tokens",
    id: str | None = None,
) -> dict[str, str]:
    """A pricing entry; with ``id`` it names a stored one."""
    entry = {"label": label, "unit": unit, "amount": amount, "currency": currency}
    return {"id": id, **entry} if id else entry
