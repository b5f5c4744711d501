"""Refresh: read each managed model's live draft once, concurrently."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.catalog.interface import DraftReader, Progress, Recorded
from reconciler.catalog.wire import DraftFormState
from reconciler.errors import AuthError, CatalogError, NotFoundError, RateLimitedError
from reconciler.manifests.model import DesiredModel


def drafts_to_read(
    desired: Iterable[DesiredModel],
    records: Mapping[str, Recorded],
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


def in_shard(key: str, index: int, count: int) -> bool:
    """Whether model ``key`` belongs to shard ``index`` (1-based) of ``count``.

    By a hash of the key alone, so a model stays in its shard whatever else is added
    or removed, on every machine and Python version (``hash()`` is salted per process).
    """
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count == index - 1


async def read_drafts(
    client: DraftReader,
    drafts: Mapping[str, str],
    *,
    parallelism: int,
    progress: Progress,
    keep: Callable[[str, DraftFormState], Any] | None = None,
) -> dict[str, Any]:
    """Read each draft once, at most ``parallelism`` at a time; ``None`` for a 404.

    ``keep(key, draft)`` is what is kept of each draft (the draft itself without it): called
    as each response arrives, so a caller that needs only part of 10,000 drafts never holds
    them all whole.
    """
    results: dict[str, Any] = {}
    # One shared iterator: each worker takes the next draft when it is free. A fixed pool
    # of workers costs less per read than a task per draft under a semaphore (10,000
    # tasks waiting on one gate), and keeps the same bound and the same order of reads.
    pending = iter(drafts.items())

    async def worker() -> None:
        for key, draft_id in pending:
            try:
                draft = await client.read(draft_id)
            except NotFoundError:
                draft = None
            except CatalogError as exc:
                if _about_this_draft(exc):
                    exc.model_key, exc.draft_id = key, draft_id
                else:
                    exc.model_key = exc.draft_id = None
                raise
            progress.advance(key, "read" if draft is not None else "not found")
            results[key] = draft if draft is None or keep is None else keep(key, draft)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(max(parallelism, 1), len(drafts))):
                group.create_task(worker())
    except* CatalogError as failures:
        # The first failure says enough; the group has cancelled the other reads.
        raise failures.exceptions[0] from None
    return {key: results[key] for key in drafts}


# A draft id no catalog can have: drafts are random (version 4) UUIDs, and this is the nil
# UUID, which no version 4 UUID equals. Shaped like an id so that a catalog that checks the
# shape still answers "not found" rather than "malformed".
PROBE_DRAFT_ID = "00000000-0000-0000-0000-000000000000"


async def prove_catalog(client: DraftReader) -> None:
    """Prove the catalog answers and takes the token, or raise a ``CatalogError`` saying why.

    A plan with nothing to read would otherwise never contact the catalog, and a mistyped
    endpoint or a wrong token would pass as "Plan: 37 to create". A real catalog answers
    the read of a draft it cannot have with a 404 that echoes the id; the client already
    turns a 401, a connection failure and a 404 that does not echo the id (no catalog API
    at that URL) into errors that say so.
    """
    try:
        await client.read(PROBE_DRAFT_ID)
    except NotFoundError:
        return
    except CatalogError as exc:
        # The probe's id is ours, not a draft of the user's: it would only mislead.
        exc.model_key = exc.draft_id = None
        raise


def _about_this_draft(error: CatalogError) -> bool:
    """Whether ``error`` concerns the draft read, not the catalog as a whole.

    A refused token, rate limiting, a connection that failed (no HTTP status) or a wrong
    endpoint (no draft named) would have met any read: naming the model that happened to
    be read first would send the user to look at its manifest.
    """
    if isinstance(error, AuthError | RateLimitedError):
        return False
    return error.status is not None and error.draft_id is not None
