"""The local catalog as a FastAPI app: ``POST /model/draft`` over a SQLite file.

The app is thin: it authenticates (before reading the body), reads the body
within ``limits.MAX_BODY_BYTES``, applies injected faults, classifies the body
(``request``, which checks the other limits first), claims the idempotency key,
runs the operation in a worker thread (``operations``: SQLite calls block) and
maps refusals to the contract's statuses. Every body it sends is a
``PatchModelDraftApiResponse``: 404s of unknown paths, 405s (with ``Allow``)
and the 500 of an unexpected error included. ``GET /openapi.json`` serves the
contract as an OpenAPI 3.1 document (``openapi``).
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from reconciler.server.database import Database
from reconciler.server.faults import DroppedResponse, FaultInjector
from reconciler.server.idempotency import KeysInFlight
from reconciler.server.limits import MAX_BODY_BYTES
from reconciler.server.openapi import openapi_document
from reconciler.server.operations import Catalog, Outcome
from reconciler.server.problems import ApiProblem
from reconciler.server.reference import load_reference_data
from reconciler.server.request import classify, parse_body, peek_ids

logger = logging.getLogger(__name__)
JSON = "application/json"


def create_app(
    db_path: Path,
    *,
    token: str | None = None,
    reference_data: Path | None = None,
    faults: FaultInjector | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The catalog app over ``db_path`` (created and seeded if new); ``token`` guards it."""
    database = Database(db_path, load_reference_data(reference_data))
    catalog = Catalog(database, clock)
    injector = faults if faults is not None else FaultInjector()
    keys = KeysInFlight()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        database.close()

    app = FastAPI(
        title="reconciler local catalog",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.faults = injector
    app.state.database = database

    @app.post("/model/draft")
    async def patch_model_draft(request: Request) -> Response:
        draft_id, key = "", None
        delayed = False
        try:
            if not _authorized(request, token):
                # Before the body is read: an unauthenticated client costs no parsing.
                raise ApiProblem(
                    401,
                    "missing or wrong bearer token; send Authorization: Bearer <token>",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            body = parse_body(await _read_body(request))
            draft_id, key = peek_ids(body)
            retry_after = injector.take_rate_limit()
            admitted = retry_after is None and injector.admit()
            if not admitted:
                retry_after = injector.retry_after if retry_after is None else retry_after
                raise ApiProblem(
                    429,
                    f"rate limited; retry in {retry_after} seconds with the same key and body",
                    headers={"Retry-After": str(retry_after)},
                )
            try:
                operation = classify(body)
                ordinal = injector.count_write() if operation.is_write else None
                if ordinal is not None and injector.fails(ordinal):
                    raise ApiProblem(
                        503, "catalog temporarily unavailable (injected fault); nothing was applied"
                    )
                with keys.claim(operation.key):
                    # The latency is taken while the key is held, so a concurrent retry
                    # of a slow request sees it in flight, as it would in production.
                    delayed = True
                    await injector.delay()
                    outcome = await run_in_threadpool(catalog.execute, operation)
            finally:
                injector.leave()
        except ApiProblem as problem:
            if not delayed:
                await injector.delay()
            return _error_response(problem, draft_id, key)
        except Exception as exc:
            # A bug or a storage failure: logged with its traceback here, answered in the
            # contract's shape (a client must not have to parse a plain-text 500).
            logger.exception("unexpected error answering POST /model/draft")
            return _error_response(_internal_error(exc), draft_id, key)
        if ordinal is not None and injector.drops(ordinal):
            return DroppedResponse(ordinal, outcome.body.encode())
        return _response(outcome)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> Response:
        return JSONResponse(openapi_document())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = (
                f"method {request.method} is not allowed on {request.url.path}; "
                f"it answers {allowed or 'other methods'}"
            )
        elif exc.status_code == 404:
            message = "no such endpoint; the catalog answers POST /model/draft"
        else:
            message = str(exc.detail)
        problem = ApiProblem(exc.status_code, message, headers=exc.headers)
        return _error_response(problem, "", None)

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> Response:
        # Starlette logs the exception itself after sending this answer.
        return _error_response(_internal_error(exc), "", None)

    return app


def _authorized(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Constant-time comparison: response timing must not reveal a prefix of the token.
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


async def _read_body(request: Request) -> bytes:
    """The body, read only up to ``MAX_BODY_BYTES``; a larger one is a 413."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large(f"Content-Length is {int(declared):,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large(f"more than {MAX_BODY_BYTES:,} bytes arrived")
    return bytes(body)


def _too_large(what: str) -> ApiProblem:
    return ApiProblem(
        413,
        f"the body is too large ({what}); a request body holds at most {MAX_BODY_BYTES:,} bytes",
    )


def _internal_error(exc: Exception) -> ApiProblem:
    return ApiProblem(
        500,
        f"internal error of the local catalog ({type(exc).__name__}); "
        "the server's log has the details",
    )


def _response(outcome: Outcome) -> Response:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return Response(outcome.body, status_code=outcome.status, headers=headers, media_type=JSON)


def _error_response(problem: ApiProblem, draft_id: str, key: str | None) -> Response:
    body: dict[str, object] = {"success": False, "draft_id": draft_id}
    if key is not None:
        body["idempotency_key"] = key
    body["message"] = problem.message
    if problem.errors:
        body["errors"] = [{"field": field, "message": msg} for field, msg in problem.errors]
    # "replace": a lone surrogate quoted in a message must not turn a 4xx into a 500.
    return Response(
        json.dumps(body, ensure_ascii=False).encode("utf-8", "replace"),
        status_code=problem.status,
        headers=problem.headers,
        media_type=JSON,
    )
