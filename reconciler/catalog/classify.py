"""How a failed answer or a broken connection becomes one of our exceptions.

The client decides whether to retry; this module only names what went wrong,
in words a person can act on, and never keeps the transport's exception (which
holds the request, and with it the Authorization header).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import aiohttp

from reconciler.catalog.httpx_import import httpx
from reconciler.errors import (
    AuthError,
    CatalogError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)

if TYPE_CHECKING:
    from reconciler.catalog.client import Answer

ENDPOINT_PATH = "model/draft"


def status_error(
    status: int, message: str, body: dict[str, Any] | None, draft_id: str | None, where: str
) -> CatalogError:
    """The error a final (or exhausted) failed response stands for."""
    ours = body is not None and "success" in body and "message" in body
    if 200 <= status < 300:
        # success: true with a body that does not parse is no rejection: the operation
        # happened and only its answer is unreadable, so nothing may be undone for it.
        if ours and body is not None and body["success"] is not True:
            return RejectedError(f"the catalog reported a failure: {message}", status=status)
        return CatalogError(
            f"the catalog's response is not a PatchModelDraftApiResponse: {message}",
            status=status,
            draft_id=draft_id,
        )
    if status in (401, 403):
        return AuthError(
            f"the catalog refused the credentials: {message}.",
            status=status,
            draft_id=draft_id,
        )
    if status == 404 and not ours:
        # A 404 that is not the API's own answer means the URL is wrong, not the draft.
        return CatalogError(
            f"{where} has no catalog API at /{ENDPOINT_PATH} ({message})",
            status=status,
            remedy="check_endpoint",
        )
    if status == 404:
        return NotFoundError(message, status=status, draft_id=draft_id)
    if status == 409:
        return ConflictError(message, status=status, draft_id=draft_id)
    if status in (400, 413, 422):
        # 413: the body is over the catalog's limit; like a 422 it can never succeed, and
        # nothing was staged, so the applier forgets the journalled proposal.
        return RejectedError(
            message, status=status, field_errors=field_errors(body), draft_id=draft_id
        )
    if status == 429:
        return RateLimitedError(f"the catalog is rate limiting: {message}", status=status)
    if status >= 500:
        return UnavailableError(f"the catalog failed: {message}", status=status, draft_id=draft_id)
    return CatalogError(f"unexpected answer from the catalog: {message}", status=status)


def after_attempts(error: CatalogError, attempts: int) -> CatalogError:
    noun = "attempt" if attempts == 1 else "attempts"
    return amend(error, f"; gave up after {attempts} {noun}")


def amend(error: CatalogError, suffix: str) -> CatalogError:
    """Append to an error's message everywhere it is kept."""
    error.server_message += suffix
    error.message = error.server_message
    error.args = (error.server_message,)
    return error


def json_object(response: Answer) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def response_message(response: Answer, body: dict[str, Any] | None) -> str:
    """The server's words, or for a body that is not ours (a proxy's page) a short excerpt."""
    if body is not None:
        for key in ("message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    reason = response.reason_phrase or f"HTTP {response.status_code}"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", response.text)).strip()
    if not text:
        return reason
    excerpt = text if len(text) <= 160 else text[:157] + "..."
    return f"{reason} (non-JSON response: {excerpt})"


def field_errors(body: dict[str, Any] | None) -> list[tuple[str, str]]:
    errors = body.get("errors") if body else None
    if not isinstance(errors, list):
        return []
    return [
        (str(e.get("field", "")), str(e.get("message", ""))) for e in errors if isinstance(e, dict)
    ]


def retry_after_header(response: Answer) -> str | None:
    return response.headers.get("Retry-After")


def describe_transport_error(exc: BaseException) -> tuple[str, bool]:
    """What went wrong in words, and whether the request certainly never reached the server."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__
    native = next((e for e in chain if isinstance(e, aiohttp.ClientError)), None)
    # httpx_aiohttp maps aiohttp errors loosely (a dropped connection becomes a
    # ConnectTimeout), so the aiohttp cause, when there is one, is what we classify.
    if isinstance(native, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return "could not connect to the catalog", True
    if isinstance(native, aiohttp.ServerTimeoutError):
        return "timed out waiting for the catalog", False
    if native is not None:
        return "the connection to the catalog was lost before the response arrived", False
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return "could not connect to the catalog", True
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timed out waiting for the catalog", False
    return "the connection to the catalog was lost before the response arrived", False


def exception_text(exc: BaseException) -> str:
    """The transport error's own words: aiohttp's cause rather than httpx's loose wrapper."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, aiohttp.ClientError):
        cause = cause.__cause__
    exc = cause or exc
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
