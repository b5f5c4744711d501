"""Refresh: read each managed model's live draft once, concurrently."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from reconciler.apply.state import ModelRecord
from reconciler.catalog.interface import DraftReader, Progress
from reconciler.catalog.wire import DraftFormState
from reconciler.errors import AuthError, CatalogError, NotFoundError, RateLimitedError
from reconciler.manifests.model import DesiredModel


def drafts_to_read(
    desired: Iterable[DesiredModel],
    records: Mapping[str, ModelRecord],
    targets: frozenset[str] | None,
) -> dict[str, str]:
    """Model key -> draft id for every model a plan must look at.

    A model recorded in the state is read through its recorded draft; one that is
    not yet recorded but names ``metadata.draft_id`` is read to be adopted; models
    in the state without a manifest are read too, for prune and for drift.
    """
    wanted: dict[str, str] = {key: record.draft_id for key, record in records.items()}
    for model in desired:
        if model.key not in wanted and model.draft_id:
            wanted[model.key] = model.draft_id
    if targets is not None:
        wanted = {key: draft for key, draft in wanted.items() if key in targets}
    return dict(sorted(wanted.items()))


async def read_drafts(
    client: DraftReader,
    drafts: Mapping[str, str],
    *,
    parallelism: int,
    progress: Progress,
) -> dict[str, DraftFormState | None]:
    """Read each draft once, at most ``parallelism`` at a time; ``None`` for a 404."""
    gate = asyncio.Semaphore(max(parallelism, 1))

    async def read_one(key: str, draft_id: str) -> DraftFormState | None:
        async with gate:
            try:
                live: DraftFormState | None = await client.read(draft_id)
            except NotFoundError:
                live = None
            except CatalogError as exc:
                if _about_this_draft(exc):
                    exc.model_key, exc.draft_id = key, draft_id
                else:
                    exc.model_key = exc.draft_id = None
                raise
        progress.advance(key, "read" if live is not None else "not found")
        return live

    try:
        async with asyncio.TaskGroup() as group:
            tasks = {key: group.create_task(read_one(key, draft)) for key, draft in drafts.items()}
    except* CatalogError as failures:
        # The first failure says enough; the group has cancelled the other reads.
        raise failures.exceptions[0] from None
    return {key: task.result() for key, task in tasks.items()}


def _about_this_draft(error: CatalogError) -> bool:
    """Whether ``error`` concerns the draft read, not the catalog as a whole.

    A refused token, rate limiting, a connection that failed (no HTTP status) or a wrong
    endpoint (no draft named) would have met any read: naming the model that happened to
    be read first would send the user to look at its manifest.
    """
    if isinstance(error, AuthError | RateLimitedError):
        return False
    return error.status is not None and error.draft_id is not None
