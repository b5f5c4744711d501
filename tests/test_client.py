"""Client behaviour with scripted responses (httpx.MockTransport) and a fake sleep.

The end-to-end behaviour against the real local server is in test_client_live.py.
"""

import json
from collections.abc import Callable

import httpx
import pytest

from reconciler.catalog.client import CatalogClient, CatalogResponse, ClientSettings, _proxied
from reconciler.catalog.retry import RetryEvent, RetryPolicy
from reconciler.catalog.wire import PatchModelDraftApiRequest
from reconciler.errors import (
    AuthError,
    CatalogError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
    UsageError,
)
from reconciler.render.remedies import describe

TOKEN = "tok-Zq8x-do-not-leak-41"


def ok(draft_id="d1", **headers) -> httpx.Response:
    body = {
        "success": True,
        "draft_id": draft_id,
        "message": "ok",
        "form_state": {"draft_id": draft_id},
    }
    return httpx.Response(200, json=body, headers=headers)


def failure(status: int, message: str, draft_id="", headers=None, **extra) -> httpx.Response:
    body = {"success": False, "draft_id": draft_id, "message": message, **extra}
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """A transport answering from a list of responses (or exceptions), recording each request."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def bodies(self) -> list[bytes]:
        return [r.content for r in self.requests]


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_client(
    script: Script,
    *,
    token: str | None = TOKEN,
    base_url: str = "http://catalog.test",
    attempts: int = 5,
    sleep: FakeSleep | None = None,
    events: list[RetryEvent] | None = None,
) -> CatalogClient:
    settings = ClientSettings(
        base_url=base_url,
        token=token,
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.05),
    )
    return CatalogClient(
        settings,
        httpx.MockTransport(script),
        sleep=sleep or FakeSleep(),
        random=lambda: 0.5,
        on_retry=None if events is None else events.append,
    )


async def test_429_is_retried_after_retry_after_with_the_same_key_and_body():
    script = Script(failure(429, "slow down", headers={"Retry-After": "2"}), ok())
    sleep = FakeSleep()
    async with make_client(script, sleep=sleep) as client:
        response = await client.soft_patch({"name": "GPT"}, idempotency_key="k-1", draft_id="d1")
    assert response.success
    assert len(script.requests) == 2
    assert script.bodies[0] == script.bodies[1]
    assert json.loads(script.bodies[1]) == {
        "draft_id": "d1", "idempotency_key": "k-1", "soft": True, "name": "GPT"
    }  # fmt: skip
    assert sleep.waits == [2.0]


async def test_503_twice_then_success_is_retried_with_the_same_body():
    script = Script(failure(503, "busy"), failure(503, "busy"), ok())
    sleep = FakeSleep()
    events: list[RetryEvent] = []
    async with make_client(script, sleep=sleep, events=events) as client:
        response = await client.ack("k-1", accept=True, draft_id="d1")
    assert response.draft_id == "d1"
    assert len(script.requests) == 3
    assert len(set(script.bodies)) == 1
    assert json.loads(script.bodies[0]) == {
        "draft_id": "d1",
        "idempotency_key": "k-1",
        "accept": True,
    }
    assert len(sleep.waits) == 2
    assert [e.attempt for e in events] == [1, 2]
    assert events[0].label == "ack (accept) k-1 on d1"
    assert events[0].reason == "HTTP 503"


async def test_5xx_until_the_attempts_run_out_is_unavailable_naming_the_attempts():
    script = Script(failure(502, "upstream down"))
    async with make_client(script, attempts=3) as client:
        with pytest.raises(UnavailableError) as info:
            await client.ack("k-1", accept=False)
    assert len(script.requests) == 3
    assert info.value.status == 502
    assert "upstream down" in str(info.value)
    assert "gave up after 3 attempts" in str(info.value)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, RejectedError), (401, AuthError), (404, NotFoundError), (422, RejectedError)],
)
async def test_client_errors_are_not_retried(status, error_type):
    script = Script(failure(status, "nope", draft_id="d1"), ok())
    sleep = FakeSleep()
    async with make_client(script, sleep=sleep) as client:
        with pytest.raises(error_type) as info:
            await client.soft_patch({"name": "x"}, idempotency_key="k", draft_id="d1")
    assert len(script.requests) == 1
    assert sleep.waits == []
    assert info.value.status == status
    assert info.value.draft_id == "d1"


async def test_200_with_success_false_is_a_failure_and_not_retried():
    script = Script(
        httpx.Response(200, json={"success": False, "draft_id": "d1", "message": "not saved"})
    )
    async with make_client(script) as client:
        with pytest.raises(RejectedError, match="not saved"):
            await client.read("d1")
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    "message",
    [
        "idempotency_key 'k' is still being processed; retry later with the same key and body",
        "key k is in flight",
        "request with this key is in progress",
    ],
)
async def test_409_key_in_flight_is_retried(message):
    script = Script(failure(409, message), ok())
    async with make_client(script) as client:
        assert (await client.ack("k", accept=True)).success
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    "message",
    [
        "proposal 'k' is stale: the draft changed since it was staged",
        "proposal 'k' was already rejected; cannot accept it",
    ],
)
async def test_other_409s_fail_at_once_as_conflicts(message):
    script = Script(failure(409, message), ok())
    async with make_client(script) as client:
        with pytest.raises(ConflictError, match=r"stale|already rejected"):
            await client.ack("k", accept=True, draft_id="d1")
    assert len(script.requests) == 1


async def test_429_asking_for_longer_than_the_cap_gives_up_at_once():
    script = Script(failure(429, "quota", headers={"Retry-After": "3600"}), ok())
    sleep = FakeSleep()
    async with make_client(script, sleep=sleep) as client:
        with pytest.raises(RateLimitedError) as info:
            await client.read("d1")
    assert len(script.requests) == 1
    assert sleep.waits == []
    assert "asked to wait 3600 s" in str(info.value)
    assert "gave up after 1 attempt" in str(info.value)


async def test_lost_response_of_a_keyed_write_is_retried():
    script = Script(httpx.RemoteProtocolError("Server disconnected"), ok())
    async with make_client(script) as client:
        await client.soft_patch({"name": "x"}, idempotency_key="k")
    assert len(script.requests) == 2
    assert script.bodies[0] == script.bodies[1]


async def test_read_is_retried_after_a_read_error():
    script = Script(httpx.ReadError("connection reset"), ok("d7"))
    async with make_client(script) as client:
        state = await client.read("d7")
    assert state.draft_id == "d7"
    assert len(script.requests) == 2


async def test_lost_response_of_a_keyless_write_is_not_retried():
    script = Script(httpx.ReadError("connection reset"), ok())
    request = PatchModelDraftApiRequest(name="x")  # a create: repeating it could create twice
    async with make_client(script) as client:
        with pytest.raises(UnavailableError, match="no idempotency key"):
            await client.send(request)
    assert len(script.requests) == 1


async def test_keyless_write_is_retried_when_the_connection_was_never_made():
    script = Script(httpx.ConnectError("connection refused"), ok())
    async with make_client(script) as client:
        await client.send(PatchModelDraftApiRequest(draft_id="d1", name="x"))
    assert len(script.requests) == 2


async def test_keyless_write_is_not_retried_on_5xx():
    script = Script(failure(500, "boom"), ok())
    async with make_client(script) as client:
        with pytest.raises(UnavailableError):
            await client.send(PatchModelDraftApiRequest(draft_id="d1", name="x"))
    assert len(script.requests) == 1


async def test_connection_failures_until_the_attempts_run_out_say_so():
    script = Script(httpx.ConnectError("[Errno 111] Connection refused"))
    async with make_client(script, attempts=2) as client:
        with pytest.raises(UnavailableError) as info:
            await client.read("d1")
    text = str(info.value)
    assert "could not connect to the catalog" in text
    assert "http://catalog.test" in text
    assert "Connection refused" in text
    assert "gave up after 2 attempts" in text
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


async def test_a_proxys_html_error_page_becomes_a_short_message():
    page = (
        "<html><head><title>502 Bad Gateway</title></head>"
        "<body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
    )
    script = Script(httpx.Response(502, text=page, headers={"Content-Type": "text/html"}))
    async with make_client(script, attempts=1) as client:
        with pytest.raises(UnavailableError) as info:
            await client.read("d1")
    text = str(info.value)
    assert "Bad Gateway (non-JSON response: 502 Bad Gateway 502 Bad Gateway nginx)" in text
    assert "<" not in text


async def test_a_404_that_is_not_the_apis_answer_points_at_the_endpoint():
    script = Script(httpx.Response(404, json={"detail": "Not Found"}))
    async with make_client(script, base_url="http://catalog.test/wrong") as client:
        with pytest.raises(CatalogError) as info:
            await client.read("d1")
    assert not isinstance(info.value, NotFoundError)
    assert "has no catalog API at /model/draft" in str(info.value)
    assert info.value.remedy == "check_endpoint"
    assert "CATALOG_ENDPOINT" in describe(info.value)


async def test_a_404_that_does_not_echo_the_draft_id_is_not_a_missing_draft():
    message = "no such endpoint; the catalog answers POST /model/draft"
    script = Script(failure(404, message, draft_id=""))
    async with make_client(script) as client:
        with pytest.raises(CatalogError) as info:
            await client.read("d1")
    assert not isinstance(info.value, NotFoundError)
    assert message in str(info.value)


async def test_a_404_echoing_the_draft_id_is_a_missing_draft():
    script = Script(failure(404, "draft d1 not found", draft_id="d1"))
    async with make_client(script) as client:
        with pytest.raises(NotFoundError, match="draft d1 not found"):
            await client.read("d1")


async def test_422_carries_the_server_message_and_field_errors():
    errors = [{"field": "provider", "message": "unknown provider label 'Nope'"}]
    script = Script(failure(422, "request is invalid", draft_id="d1", errors=errors))
    async with make_client(script) as client:
        with pytest.raises(RejectedError) as info:
            await client.soft_patch({"provider": "Nope"}, idempotency_key="k", draft_id="d1")
    assert info.value.field_errors == [("provider", "unknown provider label 'Nope'")]
    assert str(info.value) == (
        "draft d1: request is invalid (HTTP 422) [provider: unknown provider label 'Nope']"
    )


async def test_401_tells_the_user_to_set_catalog_token():
    script = Script(failure(401, "missing or invalid bearer token"))
    async with make_client(script, token=None) as client:
        with pytest.raises(AuthError) as info:
            await client.read("d1")
    assert "Set CATALOG_TOKEN" in describe(info.value)


async def test_the_token_goes_only_into_the_authorization_header():
    script = Script(ok())
    async with make_client(script) as client:
        await client.soft_patch({"name": "x"}, idempotency_key="k")
    request = script.requests[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request.url)
    assert TOKEN.encode() not in request.content


async def test_without_a_token_no_authorization_header_is_sent():
    script = Script(ok())
    async with make_client(script, token=None) as client:
        await client.read("d1")
    assert "Authorization" not in script.requests[0].headers


async def test_a_server_message_echoing_the_token_is_redacted():
    script = Script(
        failure(401, f"token {TOKEN} is not valid", errors=[{"field": "auth", "message": TOKEN}])
    )
    async with make_client(script) as client:
        with pytest.raises(AuthError) as info:
            await client.read("d1")
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)
    assert "[redacted]" in str(info.value)


async def test_token_is_absent_from_settings_and_client_reprs():
    settings = ClientSettings(base_url="https://catalog.test", token=TOKEN)
    client = CatalogClient(settings, httpx.MockTransport(Script(ok())))
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)
    assert TOKEN not in repr(client)
    await client.aclose()


@pytest.mark.parametrize("url", ["catalog.test:8080", "ftp://catalog.test", "http://", ""])
def test_settings_refuse_a_base_url_that_is_not_http(url):
    with pytest.raises(UsageError, match="not an http:// or https:// URL"):
        ClientSettings(base_url=url)


@pytest.mark.parametrize(("field", "value"), [("timeout", 0.0), ("parallelism", 0)])
def test_settings_refuse_nonsense_limits(field, value):
    with pytest.raises(UsageError):
        ClientSettings(base_url="http://catalog.test", **{field: value})


async def test_a_base_url_with_a_path_prefix_keeps_it():
    script = Script(ok())
    async with make_client(script, base_url="http://catalog.test/api/v2") as client:
        await client.read("d1")
    assert script.requests[0].url == "http://catalog.test/api/v2/model/draft"
    assert script.requests[0].method == "POST"


async def test_read_sends_only_the_draft_id_and_returns_the_form_state():
    script = Script(ok("d9"))
    async with make_client(script) as client:
        state = await client.read("d9")
    assert state.draft_id == "d9"
    assert json.loads(script.bodies[0]) == {"draft_id": "d9"}


async def test_replayed_header_is_exposed_and_kept_out_of_the_wire_form():
    script = Script(ok(**{"Idempotent-Replayed": "true"}), ok())
    async with make_client(script) as client:
        first = await client.ack("k", accept=True)
        second = await client.ack("k2", accept=True)
    assert isinstance(first, CatalogResponse)
    assert first.replayed is True
    assert second.replayed is False
    assert "replayed" not in first.model_dump()


async def test_soft_patch_refuses_operation_fields_among_the_model_fields():
    script = Script(ok())
    async with make_client(script) as client:
        with pytest.raises(ValueError, match="draft_id"):
            await client.soft_patch({"draft_id": "d2", "name": "x"}, idempotency_key="k")
    assert script.requests == []


async def test_soft_patch_with_an_unknown_field_is_rejected_before_sending():
    script = Script(ok())
    async with make_client(script) as client:
        with pytest.raises(RejectedError) as info:
            await client.soft_patch({"colour": "blue"}, idempotency_key="k", draft_id="d1")
    assert script.requests == []
    assert info.value.field_errors[0][0] == "colour"
    assert "was not sent" in str(info.value)


async def test_a_2xx_body_that_is_not_a_response_is_a_catalog_error():
    script = Script(httpx.Response(200, text="hello"))
    async with make_client(script) as client:
        with pytest.raises(CatalogError, match="not a PatchModelDraftApiResponse"):
            await client.read("d1")
    assert len(script.requests) == 1


async def test_a_success_whose_body_does_not_parse_is_not_mistaken_for_a_rejection():
    # The operation happened; only its answer is unreadable. Reported as a rejection,
    # the applier would reject an accepted proposal and forget the draft it created.
    body = {
        "success": True,
        "draft_id": "d1",
        "message": "proposal k accepted",
        "form_state": {"draft_id": "d1", "pricing": [{"label": "in", "amount": 0.6}]},
    }
    script = Script(httpx.Response(200, json=body))
    async with make_client(script) as client:
        with pytest.raises(CatalogError, match="not a PatchModelDraftApiResponse") as info:
            await client.ack("k", accept=True, draft_id="d1")
    assert not isinstance(info.value, RejectedError)
    assert len(script.requests) == 1


def test_credentials_in_the_endpoint_url_are_refused_without_echoing_them():
    with pytest.raises(UsageError) as info:
        ClientSettings(base_url="https://robot:hunter2@catalog.example.com")
    assert "CATALOG_TOKEN" in describe(info.value)
    assert "hunter2" not in describe(info.value)


def test_a_malformed_endpoint_is_refused_without_echoing_what_precedes_an_at_sign():
    with pytest.raises(UsageError, match="not an http") as info:
        ClientSettings(base_url="robot:hunter2@catalog.example.com")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("env", "proxied"),
    [
        ({}, False),
        ({"HTTP_PROXY": "http://proxy.invalid:3128"}, True),
        ({"HTTP_PROXY": "http://proxy.invalid:3128", "NO_PROXY": "127.0.0.1"}, False),
        ({"ALL_PROXY": "http://proxy.invalid:3128", "NO_PROXY": "localhost"}, True),
        ({"HTTPS_PROXY": "http://proxy.invalid:3128"}, False),  # only for https:// URLs
    ],
)
def test_a_proxy_from_the_environment_is_matched_as_httpx_matches_it(monkeypatch, env, proxied):
    # Behind a proxy the client keeps httpx's path, which honours the proxy; otherwise
    # it talks to the catalog on its own aiohttp session.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        for spelling in (name, name.lower()):
            monkeypatch.delenv(spelling, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _proxied("http://127.0.0.1:8000") is proxied
    client = CatalogClient(ClientSettings(base_url="http://127.0.0.1:8000"))
    assert (client._http is not None) is proxied
    assert (client._direct is None) is proxied


def model_body(wire: dict) -> bytes:
    """The body the request model makes of ``wire``: what every write sent before."""
    dumped = PatchModelDraftApiRequest.model_validate(wire).to_wire()
    return json.dumps(dumped, ensure_ascii=False, separators=(",", ":")).encode()


async def test_soft_patch_and_ack_send_the_bytes_the_request_model_makes():
    fields = {
        "pricing": [
            {"currency": "USD", "amount": "1.5", "unit": "1M", "label": "input", "id": None}
        ],
        "name": "Grüße",
        "modalities": ["text"],
        "active": True,
        "description": None,
    }
    script = Script(ok())
    async with make_client(script) as client:
        await client.soft_patch(fields, idempotency_key="k1")
        await client.soft_patch(fields, idempotency_key="k2", draft_id="d7")
        await client.ack("k2", accept=True, draft_id="d7")
        await client.ack("k3", accept=False)
    assert script.bodies == [
        model_body({**fields, "soft": True, "idempotency_key": "k1"}),
        model_body({**fields, "soft": True, "idempotency_key": "k2", "draft_id": "d7"}),
        model_body({"idempotency_key": "k2", "accept": True, "draft_id": "d7"}),
        model_body({"idempotency_key": "k3", "accept": False}),
    ]


async def test_a_soft_patch_value_the_model_coerces_is_sent_coerced():
    script = Script(ok())
    async with make_client(script) as client:
        await client.soft_patch({"active": "yes", "voices": ("alto",)}, idempotency_key="k")
    assert json.loads(script.bodies[0]) == {
        "idempotency_key": "k",
        "soft": True,
        "active": True,
        "voices": ["alto"],
    }


async def test_a_soft_patch_with_a_bad_pricing_entry_is_rejected_before_sending():
    script = Script(ok())
    async with make_client(script) as client:
        with pytest.raises(RejectedError) as info:
            await client.soft_patch({"pricing": [{"label": "input"}]}, idempotency_key="k")
    assert script.requests == []
    assert info.value.field_errors[0][0].startswith("pricing.0.")
