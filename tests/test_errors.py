"""Our error messages: a catalog rejection names each field error once."""

from __future__ import annotations

from reconciler.errors import RejectedError


def test_field_errors_the_message_lacks_are_appended():
    error = RejectedError(
        "request is invalid", status=422, field_errors=[("provider", "unknown label 'Nope'")]
    )
    assert str(error) == "request is invalid (HTTP 422) [provider: unknown label 'Nope']"


def test_a_field_error_the_message_already_says_is_not_repeated():
    message = "provider: unknown label 'OpenAl'; known: Anthropic, OpenAI"
    error = RejectedError(
        message,
        status=422,
        field_errors=[("provider", "unknown label 'OpenAl'; known: Anthropic, OpenAI")],
        model_key="gpt-4o",
        draft_id="d1",
    )
    assert str(error) == f"model gpt-4o, draft d1: {message} (HTTP 422)"


def test_only_the_field_errors_missing_from_the_message_are_appended():
    error = RejectedError(
        "invalid request: name: too long",
        status=422,
        field_errors=[("name", "too long"), ("value", "required")],
    )
    assert str(error) == "invalid request: name: too long (HTTP 422) [value: required]"
