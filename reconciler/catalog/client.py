"""The async client of the catalog API: read a draft, soft patch, ack, each safe to retry.

Over the network the requests go straight to an aiohttp session, because
httpx's own async pool is several times slower under concurrency
(encode/httpx#3215; see ``benchmarks/client_throughput.py``) and even httpx's
client around aiohttp's pool (``httpx_aiohttp``) cost more CPU per request than
the request itself. A proxy from the environment keeps that httpx client (it
honours ``HTTP(S)_PROXY``/``NO_PROXY`` as before), and so does any transport
passed in (httpx's ASGI transport for the embedded catalog, a mock in tests).

Retries follow the contract: a lost response, a connection or timeout error,
429 (honouring ``Retry-After``), 5xx and a 409 whose key is still in flight are
repeated with the same body, hence the same idempotency key; 400, 401, 404, 422
and the other 409s fail at once. ``success: false`` is a failure whatever the
status. The token goes only into the ``Authorization`` header: it is kept out of
reprs, and scrubbed from every message an error carries.
"""

from __future__ import annotations

import asyncio
import email.message
import json
import random as _random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Self

import aiohttp
from multidict import CIMultiDictProxy
from pydantic import ConfigDict, ValidationError
from yarl import URL

from reconciler.catalog.classify import (
    ENDPOINT_PATH,
    after_attempts,
    amend,
    describe_transport_error,
    exception_text,
    json_object,
    response_message,
    retry_after_header,
    status_error,
)
from reconciler.catalog.httpx_import import httpx
from reconciler.catalog.limiter import AdaptiveLimiter
from reconciler.catalog.retry import Retrier, RetryableFailure, RetryEvent, RetryPolicy
from reconciler.catalog.wire import (
    OPERATION_FIELDS,
    DraftFormState,
    PatchModelDraftApiRequest,
    PatchModelDraftApiResponse,
    plain_request_body,
)
from reconciler.errors import (
    CatalogError,
    RejectedError,
    UnavailableError,
    UsageError,
)

REPLAYED_HEADER = "Idempotent-Replayed"
# The one 409 worth retrying is "key still being processed"; a stale proposal or an
# opposite ack decision will not change by waiting. The contract only fixes the
# status, so we recognise the in-flight case by its message (the local server says
# "idempotency_key 'k' is still being processed; retry later ...").
_IN_FLIGHT = re.compile(r"in[ -]flight|in progress|still being processed", re.IGNORECASE)
_READ_FIELDS = frozenset({"draft_id", "input_draft_id"})
# Below uvicorn's 5 s keep-alive, so we drop idle connections before the server does;
# the remaining race (a reused connection closed under us) is retried like any loss.
_KEEPALIVE_EXPIRY = 4.0


@dataclass(frozen=True)
class ClientSettings:
    """Where the catalog is and how to talk to it; the token never shows in a repr."""

    base_url: str
    token: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    parallelism: int = 10
    # ``--parallelism auto``: ``parallelism`` is then the ceiling an AIMD limit moves under.
    adaptive: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        try:
            url = httpx.URL(self.base_url) if "://" in self.base_url else None
        except httpx.InvalidURL:
            url = None
        if url is not None and url.userinfo:
            # Never echo it: the part before "@" may be a password.
            raise UsageError(
                "The catalog endpoint has a user name or password in it; the catalog takes a "
                "bearer token instead",
                remedy="endpoint_without_credentials",
            )
        if url is None or url.scheme not in ("http", "https") or not url.host:
            shown = self.base_url.rpartition("@")[2]
            raise UsageError(
                f"The catalog endpoint {shown!r} is not an http:// or https:// URL",
                remedy="check_endpoint",
            )
        if url.path.rstrip("/").endswith("/" + ENDPOINT_PATH):
            # The client adds the API's path itself; with it in the base URL every request
            # would go to .../model/draft/model/draft and answer 404.
            base = str(url.copy_with(path=url.path.rstrip("/")[: -len(ENDPOINT_PATH)], query=None))
            raise UsageError(
                f"The catalog endpoint {base + ENDPOINT_PATH!r} ends in /{ENDPOINT_PATH}, the "
                f"path reconciler adds itself: drop the path and use {base.rstrip('/')!r}",
                remedy="check_endpoint",
            )
        if self.timeout <= 0:
            raise UsageError("The catalog timeout must be a positive number of seconds.")
        if self.parallelism < 1:
            raise UsageError("Parallelism must be at least 1.")


class CatalogResponse(PatchModelDraftApiResponse):
    """A successful response; ``replayed`` is True when the server answered with a replay.

    A replay (header ``Idempotent-Replayed: true``) is the stored response of an
    earlier request with the same idempotency key: nothing was applied again.
    """

    # Not a field: the body's own "replayed", if any, is ignored (extra); only the header
    # says, by the class a response validates into. A class attribute rather than a
    # private one: pydantic sets up private attributes with a Python call per instance.
    replayed: ClassVar[bool] = False


class _ReplayedResponse(CatalogResponse):
    """A response the server answered with a replay."""

    # Built on the first replay: most runs see none.
    model_config = ConfigDict(defer_build=True)

    replayed: ClassVar[bool] = True


@dataclass(frozen=True)
class Answer:
    """An HTTP response as the client interprets it, whichever stack fetched it."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    reason_phrase: str

    @property
    def text(self) -> str:
        """The body as httpx decodes it: the Content-Type's charset, else UTF-8."""
        charset = _content_charset(self.headers.get("Content-Type", ""))
        try:
            return self.content.decode(charset or "utf-8", errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        return cls(response.status_code, response.headers, response.content, response.reason_phrase)


class _DirectPost:
    """``POST`` of a JSON body on one aiohttp session: the network path, without httpx.

    Sends what the httpx client sent (its headers, the same TLS context, the same
    connect/read/pool timeouts, no redirects) so the catalog sees no difference.
    """

    def __init__(self, url: str, headers: Mapping[str, str], settings: ClientSettings) -> None:
        self._url = URL(url, encoded=True)
        self._headers = dict(headers)
        self._timeout = aiohttp.ClientTimeout(
            sock_connect=settings.timeout, sock_read=settings.timeout, connect=settings.timeout
        )
        self._limit = settings.parallelism
        self._ssl = (
            httpx.create_ssl_context(verify=True, trust_env=True)
            if self._url.scheme == "https"
            else None
        )
        self._session: aiohttp.ClientSession | None = None

    async def post(self, content: bytes) -> Answer:
        if self._session is None:
            # Made on first use: an aiohttp session belongs to the running event loop.
            connector = aiohttp.TCPConnector(
                limit=self._limit, keepalive_timeout=_KEEPALIVE_EXPIRY, ssl=self._ssl or True
            )
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, skip_auto_headers=("User-Agent",)
            )
        async with self._session.post(
            self._url,
            data=content,
            allow_redirects=False,
            compress=False,
            timeout=self._timeout,
        ) as response:
            body = await response.read()
            headers: CIMultiDictProxy[str] = response.headers
            return Answer(response.status, headers, body, response.reason or "")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _content_charset(content_type: str) -> str | None:
    message = email.message.Message()
    message["content-type"] = content_type
    return message.get_content_charset(failobj=None)


def _endpoint_url(base_url: str) -> str:
    """``base_url`` joined with the API's path exactly as httpx joins a base URL and a path."""
    base = httpx.URL(base_url)
    raw = base.raw_path if base.raw_path.endswith(b"/") else base.raw_path + b"/"
    return str(base.copy_with(raw_path=raw + ENDPOINT_PATH.encode()))


def _proxied(base_url: str) -> bool:
    """Whether httpx would send requests to ``base_url`` through a proxy from the environment.

    httpx's own rule: the most specific matching pattern of ``HTTP(S)_PROXY``,
    ``ALL_PROXY`` and ``NO_PROXY`` decides (``None`` is "no proxy").
    """
    url = httpx.URL(base_url)
    mounts = sorted(
        [
            (httpx._utils.URLPattern(pattern), proxy)
            for pattern, proxy in httpx._utils.get_environment_proxies().items()
        ],
        key=lambda mount: mount[0],
    )
    return next((proxy is not None for pattern, proxy in mounts if pattern.matches(url)), False)


@dataclass
class _Failure:
    """One failed attempt: the error to raise, and whether (and why) it may be retried."""

    error: CatalogError
    retry_reason: str | None = None
    retry_after: str | None = None


class CatalogClient:
    """Async client of ``POST /model/draft``; use as ``async with CatalogClient(...)``."""

    def __init__(
        self,
        settings: ClientSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        on_retry: Callable[[RetryEvent], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self._retrier = Retrier(
            settings.retry, sleep=sleep, random=random, clock=clock, on_retry=on_retry
        )
        self._where = settings.base_url
        self.limiter = AdaptiveLimiter(maximum=settings.parallelism) if settings.adaptive else None
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        limits = httpx.Limits(
            max_connections=settings.parallelism,
            max_keepalive_connections=settings.parallelism,
            keepalive_expiry=_KEEPALIVE_EXPIRY,
        )
        self._direct: _DirectPost | None = None
        self._http: httpx.AsyncClient | None = None
        if transport is None and not _proxied(settings.base_url):
            # The headers httpx adds, so a request is the same on either path (the
            # encodings are the two both stacks decode).
            sent = {
                "Accept-Encoding": "gzip, deflate",
                "Connection": "keep-alive",
                "User-Agent": f"python-httpx/{httpx.__version__}",
                **headers,
            }
            self._direct = _DirectPost(_endpoint_url(settings.base_url), sent, settings)
        else:
            # HttpxAiohttpClient is an httpx.AsyncClient whose default (and proxy) transport
            # is aiohttp's pool; a transport passed in is used as it is. Imported here: only
            # a proxy or the embedded catalog needs it, and it imports httpx on its own.
            from httpx_aiohttp import HttpxAiohttpClient

            self._http = HttpxAiohttpClient(
                base_url=settings.base_url,
                transport=transport,
                headers=headers,
                timeout=httpx.Timeout(settings.timeout),
                limits=limits,
                follow_redirects=False,
            )

    def __repr__(self) -> str:
        return f"CatalogClient(base_url={self._where!r}, parallelism={self.settings.parallelism})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._direct is not None:
            await self._direct.aclose()
        if self._http is not None:
            await self._http.aclose()

    async def read(self, draft_id: str) -> DraftFormState:
        """The live state of a draft; ``NotFoundError`` if the catalog has no such draft."""
        if not isinstance(draft_id, str):
            raise TypeError(f"a draft id is a string, not {type(draft_id).__name__}")
        # The body ``send`` would make of PatchModelDraftApiRequest(draft_id=...), without
        # building and dumping the request model for each of 10,000 reads.
        content = _dumps({"draft_id": draft_id})
        label = f"read {draft_id or 'new draft'}"
        response = await self._send(content, draft_id or None, True, label)
        if response.form_state is None:
            raise CatalogError(
                "the catalog answered a read without the draft's form_state", draft_id=draft_id
            )
        return response.form_state

    async def soft_patch(
        self, fields: Mapping[str, Any], *, idempotency_key: str, draft_id: str | None = None
    ) -> CatalogResponse:
        """Stage ``fields`` (model fields, wire form) as a proposal keyed by ``idempotency_key``."""
        if misplaced := sorted(OPERATION_FIELDS & fields.keys()):
            raise ValueError(f"soft_patch fields must be model fields, not {misplaced}")
        wire = {**fields, "soft": True, "idempotency_key": idempotency_key, "draft_id": draft_id}
        body = plain_request_body(wire)
        if body is None:
            # Not plainly valid: the request model coerces it as it always did, or says why not.
            return await self.send(self._build(wire, draft_id))
        label = f"soft patch {idempotency_key} on {draft_id or 'new draft'}"
        return await self._send(_dumps(body), draft_id or None, True, label)

    async def ack(
        self, idempotency_key: str, *, accept: bool, draft_id: str | None = None
    ) -> CatalogResponse:
        """Accept or reject the proposal staged under ``idempotency_key``."""
        if (
            type(idempotency_key) is not str
            or type(accept) is not bool
            or (draft_id is not None and type(draft_id) is not str)
        ):
            request = PatchModelDraftApiRequest(
                idempotency_key=idempotency_key, accept=accept, draft_id=draft_id
            )
            return await self.send(request)
        # The body ``send`` would make of the request model, in its field order.
        body: dict[str, Any] = {"idempotency_key": idempotency_key, "accept": accept}
        if draft_id is not None:
            body = {"draft_id": draft_id, **body}
        decision = "accept" if accept else "reject"
        label = f"ack ({decision}) {idempotency_key} on {draft_id or 'new draft'}"
        return await self._send(_dumps(body), draft_id or None, True, label)

    async def send(self, request: PatchModelDraftApiRequest) -> CatalogResponse:
        """Send any request, retrying where the contract allows; raise a ``CatalogError``."""
        # Serialized once: every attempt carries exactly the same bytes (same key, same body).
        wire = request.to_wire()
        content = _dumps(wire)
        draft_id = request.draft_id or request.input_draft_id
        # Repeating a read changes nothing, and a keyed write is replayed, not re-applied.
        read = _is_read(wire)
        repeatable = read or request.idempotency_key is not None
        return await self._send(content, draft_id, repeatable, _label(request, read))

    async def _send(
        self, text: str, draft_id: str | None, repeatable: bool, label: str
    ) -> CatalogResponse:
        content = text.encode()
        # The first attempt outside the retrier: nearly every request succeeds at once, and
        # the retrier's coroutine and closure cost about 2k instructions of each of 10,000
        # reads. A failed first attempt is handed to the retrier as its own first attempt.
        first: CatalogResponse | _Failure | None = await self._attempt(
            content, draft_id, repeatable
        )
        if isinstance(first, CatalogResponse):
            return first

        async def attempt() -> CatalogResponse:
            nonlocal first
            if first is not None:
                outcome, first = first, None
            else:
                outcome = await self._attempt(content, draft_id, repeatable)
            if isinstance(outcome, CatalogResponse):
                return outcome
            if outcome.retry_reason is None:
                raise outcome.error
            error = outcome.error
            raise RetryableFailure(
                outcome.retry_reason,
                lambda attempts: after_attempts(error, attempts),
                retry_after=outcome.retry_after,
            )

        return await self._retrier.run(attempt, label=label)

    def _build(self, wire: Mapping[str, Any], draft_id: str | None) -> PatchModelDraftApiRequest:
        try:
            return PatchModelDraftApiRequest.model_validate(wire)
        except ValidationError as invalid:
            problems = [
                (".".join(str(p) for p in e["loc"]) or "request", e["msg"])
                for e in invalid.errors()
            ]
        # Raised outside the except block: the error carries no pydantic context.
        raise RejectedError(
            "the request was not sent: it is not a valid PatchModelDraftApiRequest",
            field_errors=problems,
            draft_id=draft_id,
        )

    async def _attempt(
        self, content: bytes, draft_id: str | None, repeatable: bool
    ) -> CatalogResponse | _Failure:
        if self.limiter is None:
            return await self._post(content, draft_id, repeatable)
        # Each attempt takes its own place: a retry's backoff holds none.
        async with self.limiter.slot() as slot:
            outcome = await self._post(content, draft_id, repeatable)
            slot.rate_limited = isinstance(outcome, _Failure) and outcome.error.status == 429
        return outcome

    async def _post(
        self, content: bytes, draft_id: str | None, repeatable: bool
    ) -> CatalogResponse | _Failure:
        try:
            if self._direct is not None:
                response = await self._direct.post(content)
            else:
                assert self._http is not None
                response = Answer.of(await self._http.post(ENDPOINT_PATH, content=content))
        except (httpx.RequestError, aiohttp.ClientError, TimeoutError) as exc:
            what, never_sent = describe_transport_error(exc)
            detail = self._redact(exception_text(exc))
        else:
            return self._interpret(response, draft_id, repeatable)
        # Outside the except block, so our error does not chain the transport's
        # exception (which holds the request and its Authorization header).
        error = UnavailableError(
            f"{what} (catalog at {self._where}: {detail})", draft_id=draft_id or None
        )
        if repeatable or never_sent:
            return _Failure(error, retry_reason=what)
        return _Failure(amend(error, "; not retried: the request has no idempotency key"))

    def _interpret(
        self, response: Answer, draft_id: str | None, repeatable: bool
    ) -> CatalogResponse | _Failure:
        status = response.status_code
        replayed = response.headers.get(REPLAYED_HEADER, "").strip().lower() == "true"
        if 200 <= status < 300:
            # Parsed and validated in one pass from the bytes; anything else (not a
            # JSON object, not our shape, success false) is worded below.
            shape = _ReplayedResponse if replayed else CatalogResponse
            try:
                answer = shape.model_validate_json(response.content)
            except ValidationError:
                answer = None
            if answer is not None and answer.success:
                return answer
        body = json_object(response)
        message = self._redact(response_message(response, body))
        echoed = str(body.get("draft_id") or "") if body else ""
        # The API echoes the draft_id it was given; a 404 that does not is no answer
        # about that draft (say, a wrong base URL), and must not read as "draft gone".
        wrong_place = status == 404 and draft_id is not None and echoed != draft_id
        error = status_error(
            status, message, None if wrong_place else body, draft_id or echoed or None, self._where
        )
        fail = _Failure(error)
        if status == 429:
            fail.retry_reason = "rate limited (HTTP 429)"
            fail.retry_after = retry_after_header(response)
            if fail.retry_after is not None:
                amend(fail.error, f" (it asked to wait {fail.retry_after.strip()} s)")
        elif status >= 500 and repeatable:
            fail.retry_reason, fail.retry_after = f"HTTP {status}", retry_after_header(response)
        elif status == 409 and repeatable and _IN_FLIGHT.search(message):
            fail.retry_reason = "idempotency key still in flight (HTTP 409)"
        if isinstance(fail.error, RejectedError):
            fail.error.field_errors = [(f, self._redact(m)) for f, m in fail.error.field_errors]
        return fail

    def _redact(self, text: str) -> str:
        token = self.settings.token
        return text.replace(token, "[redacted]") if token else text


def _dumps(body: Mapping[str, Any]) -> str:
    """A request body as the client sends it: compact, non-ASCII as it is."""
    return _ENCODER.encode(body)


# What json.dumps(body, ensure_ascii=False, separators=(",", ":")) makes, made once:
# json.dumps builds an encoder for each call given any option.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _is_read(wire: Mapping[str, Any]) -> bool:
    sent = wire.keys()
    return bool(sent) and sent <= _READ_FIELDS


def _label(request: PatchModelDraftApiRequest, read: bool) -> str:
    """How a retry event names the request (never its fields' values)."""
    subject = request.draft_id or request.input_draft_id or "new draft"
    if request.accept is not None:
        decision = "accept" if request.accept else "reject"
        return f"ack ({decision}) {request.idempotency_key} on {subject}"
    if request.soft:
        return f"soft patch {request.idempotency_key} on {subject}"
    if read:
        return f"read {subject}"
    return f"request on {subject}"
