"""Hostile requests: limits, text that is not Unicode, deep nesting, unexpected errors.

Each answer is a 4xx (or, for a bug, a 500) in the contract's JSON body: the
``catalog`` fixture's ``post`` checks every answer parses as a
PatchModelDraftApiResponse, in-process and over real HTTP.
"""

from __future__ import annotations

import json
import sqlite3

import httpx
import pytest

from reconciler.server.limits import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    MAX_KEY_CHARS,
    MAX_LIST_ITEMS,
    MAX_STRING_CHARS,
    nesting_depth,
)
from reconciler.server.problems import MAX_ERRORS_LISTED

TOKEN = "limits-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def price(**fields: str) -> dict[str, str]:
    return {"label": "input", "unit": "1M tokens", "amount": "1", "currency": "USD", **fields}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"name": "\\ud800"}', "name"),
        (b'{"name": "m", "departments": ["\\udfff"]}', "departments[0]"),
        (b'{"name": "m", "pricing": [{"label": "a\\ud83d", "unit": "u", "amount": "1", '
         b'"currency": "USD"}]}', "pricing[0].label"),
        (b'{"soft": true, "idempotency_key": "k\\ud800", "name": "m"}', "idempotency_key"),
    ],
)  # fmt: skip
async def test_a_lone_surrogate_is_a_422_naming_the_field(catalog, raw, field):
    reply = await catalog.post(content=raw)
    assert reply.status == 422
    assert reply.error_fields == [field]
    assert "not Unicode text" in reply.body["message"]


async def test_a_lone_surrogate_in_a_field_name_is_a_422(catalog):
    reply = await catalog.post(content=b'{"name": "m", "\\ud800": 1}')
    assert reply.status == 422
    assert reply.error_fields == ["body"]


async def test_a_surrogate_pair_is_text(catalog):
    form = await catalog.create(name="\U0001f600")  # sent as the pair \ud83d\ude00
    assert form["name"] == "\U0001f600"


async def test_deep_nesting_is_a_400_after_the_token_is_checked(open_catalog):
    deep = b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    catalog = await open_catalog(token=TOKEN)
    assert (await catalog.post(content=deep)).status == 401
    reply = await catalog.post(content=deep, headers=AUTH)
    assert reply.status == 400
    assert "5001 levels" in reply.body["message"]


async def test_nesting_up_to_the_limit_is_parsed(catalog):
    at_limit = b'{"name": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    assert (await catalog.post(content=at_limit)).status == 422  # parsed: name is no string
    over = b'{"name": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"
    assert (await catalog.post(content=over)).status == 400


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert nesting_depth(b'{"a": "[[[{{{\\"[[["}') == 1
    assert nesting_depth(b'[{"a": [1, {"b": []}]}]') == 5
    assert nesting_depth(b"") == 0


async def test_a_body_over_the_limit_is_a_413_without_the_token_it_is_a_401(open_catalog):
    catalog = await open_catalog(token=TOKEN)
    big = json.dumps({"name": "x" * MAX_BODY_BYTES}).encode()
    assert (await catalog.post(content=big)).status == 401
    reply = await catalog.post(content=big, headers=AUTH)
    assert reply.status == 413
    assert f"{MAX_BODY_BYTES:,} bytes" in reply.body["message"]


async def test_a_chunked_body_is_read_only_up_to_the_limit(http_catalog):
    async def chunks():
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * (MAX_BODY_BYTES // 8)
        yield b'"}'

    response = await http_catalog.client.post("/model/draft", content=chunks())
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code == 413
    assert response.json()["success"] is False


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "n" * (MAX_STRING_CHARS + 1)}, "name"),
        ({"name": "m", "voices": ["v" * (MAX_STRING_CHARS + 1)]}, "voices[0]"),
        ({"name": "m", "pricing": [price(unit="u" * (MAX_STRING_CHARS + 1))]}, "pricing[0].unit"),
        ({"name": "m", "idempotency_key": "k" * (MAX_KEY_CHARS + 1)}, "idempotency_key"),
        ({"name": "m", "departments": ["Sales"] * (MAX_LIST_ITEMS + 1)}, "departments"),
    ],
)
async def test_values_over_their_limit_are_a_422_naming_the_field(catalog, fields, field):
    reply = await catalog.post(fields)
    assert reply.status == 422
    assert reply.error_fields == [field]
    assert "at most" in reply.body["message"]
    assert len(reply.body["message"]) < 2000  # the long value is not echoed whole


async def test_values_at_their_limit_are_accepted(catalog):
    voices = [f"voice {i}" for i in range(MAX_LIST_ITEMS)]
    reply = await catalog.post(
        {"name": "n" * MAX_STRING_CHARS, "idempotency_key": "k" * MAX_KEY_CHARS, "voices": voices}
    )
    assert reply.form["name"] == "n" * MAX_STRING_CHARS
    assert len(reply.form["voices"]) == MAX_LIST_ITEMS


async def test_a_422_lists_a_bounded_number_of_errors_and_counts_the_rest(catalog):
    unknown = [f"department {i}" for i in range(MAX_LIST_ITEMS)]
    response = await catalog.client.post("/model/draft", json={"departments": unknown})
    assert response.status_code == 422
    body = response.json()
    assert len(body["errors"]) == MAX_ERRORS_LISTED
    assert f"and {MAX_LIST_ITEMS - MAX_ERRORS_LISTED} more errors, not listed" in body["message"]
    assert len(response.content) < 100_000


@pytest.mark.parametrize(
    ("currency", "says"),
    [
        ("XXZ", "is not an ISO 4217 currency code"),
        ("usd", "is not an ISO 4217 currency code"),
        ("HRK", "replaced by 'EUR'"),
    ],
)
async def test_a_currency_outside_iso_4217_is_refused(catalog, currency, says):
    reply = await catalog.post({"name": "m", "pricing": [price(currency=currency)]})
    assert reply.status == 422
    assert reply.error_fields == ["pricing[0].currency"]
    assert says in reply.body["message"]


async def test_a_negative_amount_is_called_negative(catalog):
    reply = await catalog.post({"name": "m", "pricing": [price(amount="-1")]})
    assert reply.status == 422
    assert "'-1' is a negative amount" in reply.body["message"]
    reply = await catalog.post({"name": "m", "pricing": [price(amount="1e3")]})
    assert "'1e3' is not a decimal amount" in reply.body["message"]


async def test_a_405_names_the_allowed_method(catalog):
    response = await catalog.client.get("/model/draft")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    message = response.json()["message"]
    assert message == "method GET is not allowed on /model/draft; it answers POST"
    assert "no such endpoint" not in message


async def test_an_unexpected_error_is_a_500_in_the_contract_body(catalog):
    draft = await catalog.create(name="m")
    with sqlite3.connect(catalog.db_path) as conn:
        conn.execute("DROP TABLE drafts")
    response = await catalog.client.post("/model/draft", json={"draft_id": draft["draft_id"]})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is False
    assert body["draft_id"] == draft["draft_id"]
    assert "OperationalError" in body["message"]


async def test_a_body_that_is_not_utf8_is_a_400(catalog):
    reply = await catalog.post(content=b'{"name": "\xff"}')
    assert reply.status == 400


def test_limits_hold_over_a_fresh_connection_after_a_413(switch_server, tmp_path):
    # The 413 is sent before the body is read; the server still answers the next request.
    from reconciler.server import create_app

    app = create_app(tmp_path / "c.sqlite3")
    switch_server.switch.target = app
    try:
        with httpx.Client(base_url=switch_server.url, timeout=10) as client:
            big = b'{"name": "' + b"x" * (4 * MAX_BODY_BYTES) + b'"}'
            assert client.post("/model/draft", content=big).status_code == 413
            assert client.post("/model/draft", json={"name": "m"}).status_code == 200
    finally:
        switch_server.switch.target = None
        app.state.database.close()


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"name": "x" * (2 * MAX_BODY_BYTES)}, 413),
        ({"name": "x" * (MAX_STRING_CHARS + 1)}, 422),
    ],
)
async def test_reconcilers_client_takes_a_limit_as_a_refusal_not_retried(
    http_catalog, fields, status
):
    from reconciler.catalog.client import CatalogClient, ClientSettings
    from reconciler.errors import RejectedError

    retries = []
    settings = ClientSettings(base_url=str(http_catalog.client.base_url))
    async with CatalogClient(settings, on_retry=retries.append) as client:
        with pytest.raises(RejectedError) as refused:
            await client.soft_patch(fields, idempotency_key="rc-limits")
    assert refused.value.status == status
    assert retries == []


@pytest.mark.parametrize(
    "entry",
    [price(currency="XXZ"), price(amount="-1"), price(label=" "), {**price(), "id": ""}],
)
async def test_a_malformed_price_is_a_422_even_for_an_unknown_draft(catalog, entry):
    # Found by Schemathesis: the draft lookup came first and answered 404.
    reply = await catalog.post({"draft_id": "no-such-draft", "pricing": [entry]})
    assert reply.status == 422
    assert reply.error_fields[0].startswith("pricing[0].")
