"""Which operation a body is, and its fingerprint (pure: no server)."""

from __future__ import annotations

import json

import pytest

from reconciler.server.problems import ApiProblem
from reconciler.server.request import parse_operation, peek_ids


def parse(body: object):
    return parse_operation(json.dumps(body).encode())


@pytest.mark.parametrize(
    ("body", "kind", "draft_id", "key"),
    [
        ({"draft_id": "d"}, "read", "d", None),
        ({"input_draft_id": "d"}, "read", "d", None),
        ({"draft_id": "d", "name": None}, "read", "d", None),
        ({"name": "m"}, "create", None, None),
        ({"name": "m", "idempotency_key": "k"}, "create", None, "k"),
        ({"draft_id": "d", "active": False}, "hard_patch", "d", None),
        ({"draft_id": "d", "departments": [], "idempotency_key": "k"}, "hard_patch", "d", "k"),
        ({"soft": True, "idempotency_key": "k", "name": "m"}, "soft_patch", None, "k"),
        ({"soft": True, "idempotency_key": "k", "draft_id": "d"}, "soft_patch", "d", "k"),
        ({"idempotency_key": "k", "accept": True}, "ack", None, "k"),
        ({"idempotency_key": "k", "accept": False, "draft_id": "d"}, "ack", "d", "k"),
    ],
)
def test_body_is_classified_by_the_fields_present(body, kind, draft_id, key):
    operation = parse(body)
    assert (operation.kind, operation.draft_id, operation.key) == (kind, draft_id, key)
    assert operation.is_write is (kind != "read")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"soft": True, "name": "m"}, 400),
        ({"soft": True, "idempotency_key": "k", "accept": True}, 422),
        ({"idempotency_key": "k", "accept": True, "name": "m"}, 422),
        ({"accept": True}, 422),
        ({"draft_id": "a", "input_draft_id": "b"}, 422),
        ({"draft_id": "d", "idempotency_key": "k"}, 422),
        ({"draft_id": ""}, 422),
        ({"name": "m", "extra": 1}, 422),
        ({"name": 5}, 422),
        ([], 400),
    ],
)
def test_bodies_that_name_no_operation_are_refused(body, status):
    with pytest.raises(ApiProblem) as caught:
        parse(body)
    assert caught.value.status == status
    assert caught.value.message


def test_field_errors_locate_nested_fields():
    with pytest.raises(ApiProblem) as caught:
        parse({"pricing": [{"label": "x", "unit": "u", "amount": 1, "currency": "USD"}]})
    assert caught.value.errors == [("pricing[0].amount", "Input should be a valid string")]


def test_fingerprint_ignores_key_order_and_nulls():
    first = parse({"soft": True, "idempotency_key": "k", "name": "m"})
    second = parse({"name": "m", "description": None, "idempotency_key": "k", "soft": True})
    assert first.fingerprint == second.fingerprint


def test_fingerprint_differs_with_any_value():
    first = parse({"soft": True, "idempotency_key": "k", "name": "m"})
    second = parse({"soft": True, "idempotency_key": "k", "name": "n"})
    assert first.fingerprint != second.fingerprint


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"draft_id": "d", "idempotency_key": "k"}, ("d", "k")),
        ({"input_draft_id": "d"}, ("d", None)),
        ({"draft_id": 5}, ("", None)),
        ([1], ("", None)),
        # Values that are refused are not repeated back: too long, or not Unicode text.
        ({"draft_id": "d" * 10_001, "idempotency_key": "k" * 256}, ("", None)),
        ({"draft_id": "\ud800", "idempotency_key": "\udfff"}, ("", None)),
    ],
)
def test_peek_ids_finds_what_an_error_body_echoes(body, expected):
    assert peek_ids(body) == expected
