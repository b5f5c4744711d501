"""A catalog for the applier's tests: the real local server in-process, behind the Protocol.

``ForwardingCatalog`` implements ``reconciler.catalog.interface.Catalog`` by forwarding
each call to a real ``CatalogClient`` over ``httpx.ASGITransport``, so the server, its
SQLite file and the wire format are the real ones. A test changes one step by
overriding one method, as httpx's ``MockTransport`` changes one request, instead of
subclassing the HTTP client.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx
from fastapi import FastAPI

from reconciler.catalog.client import CatalogClient, ClientSettings
from reconciler.catalog.wire import (
    DraftFormState,
    PatchModelDraftApiRequest,
    PatchModelDraftApiResponse,
)


class ForwardingCatalog:
    """Every call goes to the local catalog ``app``; subclasses intercept one step."""

    def __init__(self, app: FastAPI) -> None:
        settings = ClientSettings(base_url="http://catalog.test")
        self.client = CatalogClient(settings, transport=httpx.ASGITransport(app=app))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.aclose()

    async def read(self, draft_id: str) -> DraftFormState:
        return await self.client.read(draft_id)

    async def soft_patch(
        self, fields: Mapping[str, Any], *, idempotency_key: str, draft_id: str | None = None
    ) -> PatchModelDraftApiResponse:
        return await self.client.soft_patch(
            fields, idempotency_key=idempotency_key, draft_id=draft_id
        )

    async def ack(
        self, idempotency_key: str, *, accept: bool, draft_id: str | None = None
    ) -> PatchModelDraftApiResponse:
        return await self.client.ack(idempotency_key, accept=accept, draft_id=draft_id)

    async def edit(self, draft_id: str, **fields: Any) -> None:
        """Change a draft at once (a hard patch), as someone else's tool would."""
        await self.client.send(PatchModelDraftApiRequest(draft_id=draft_id, **fields))
