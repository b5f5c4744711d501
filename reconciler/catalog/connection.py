"""Which catalog a command talks to: the configured endpoint, or the embedded local one.

With no endpoint configured the same server app runs in-process behind httpx's
ASGI transport, over a SQLite file in the working directory, so a new user can
run every command without a real catalog.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.catalog.client import CatalogClient, ClientSettings
from reconciler.catalog.httpx_import import httpx
from reconciler.catalog.retry import RetryEvent, RetryPolicy
from reconciler.errors import UsageError

if TYPE_CHECKING:
    from fastapi import FastAPI

# Only used as the Host of in-process requests; nothing listens there.
EMBEDDED_BASE_URL = "http://embedded.catalog"


def open_catalog(
    endpoint: str | None,
    *,
    token: str | None,
    parallelism: int,
    embedded_db: Path,
    adaptive: bool = False,
    notify: Callable[[str], None],
    retry: RetryPolicy | None = None,
    timeout: float = 30.0,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> CatalogClient:
    """A client of ``endpoint``, or of the embedded catalog at ``embedded_db`` (said via notify)."""
    policy = retry or RetryPolicy()
    if endpoint is not None and endpoint.strip():
        settings = ClientSettings(
            base_url=endpoint.strip(),
            token=token,
            timeout=timeout,
            parallelism=parallelism,
            adaptive=adaptive,
            retry=policy,
        )
        return CatalogClient(settings, on_retry=on_retry)

    # Imported here: the server (FastAPI, SQLite) is only needed for the embedded catalog.
    from reconciler.server import create_app

    try:
        embedded_db.parent.mkdir(parents=True, exist_ok=True)
        app = create_app(embedded_db)
    except (OSError, sqlite3.Error) as exc:
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
        raise UsageError(
            f"Cannot open the embedded local catalog at {embedded_db}: {reason}.",
            remedy="endpoint_for_embedded",
        ) from None
    notify(f"No catalog endpoint configured: using the embedded local catalog at {embedded_db}")
    transport = EmbeddedTransport(app)
    settings = ClientSettings(
        base_url=EMBEDDED_BASE_URL,
        token=token,
        timeout=timeout,
        parallelism=parallelism,
        adaptive=adaptive,
        retry=policy,
    )
    return CatalogClient(settings, transport, on_retry=on_retry)


class EmbeddedTransport(httpx.ASGITransport):
    """httpx's ASGI transport that also runs the app's lifespan, which ASGITransport does not.

    Startup runs before the first request, shutdown (which closes the catalog's
    SQLite connections) when the client closes.
    """

    def __init__(self, app: FastAPI) -> None:
        # raise_app_exceptions=False: a server bug becomes a 500 answer (and a clear
        # CatalogError), as it would over the network, instead of a traceback.
        super().__init__(app=app, raise_app_exceptions=False)
        self._fastapi = app
        self._lifespan: AbstractAsyncContextManager[Any] | None = None
        self._closed = False
        self._starting = asyncio.Lock()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Start the app on first use, then hand the request to it in-process."""
        if self._lifespan is None:
            async with self._starting:
                if self._closed:
                    raise RuntimeError("the embedded catalog has been closed")
                if self._lifespan is None:
                    lifespan = self._fastapi.router.lifespan_context(self._fastapi)
                    await lifespan.__aenter__()
                    self._lifespan = lifespan
        return await super().handle_async_request(request)

    async def aclose(self) -> None:
        """Run the app's shutdown if it was started."""
        self._closed = True
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            await lifespan.__aexit__(None, None, None)
