"""Staging a plan for review: each change's soft patch, and the catalog's verdict on it.

This is what ``plan --stage`` does in a pull request. It sends exactly the soft
patch ``apply`` would send for the same plan (same key, same body: see
``keys.proposal_entry``), so the apply on merge replays it instead of staging a
second proposal, then acks it. Nothing is accepted and nothing is written to the
state: a pull request's job does not own the state, and the saved plan records
the keys. Withdrawing them again is ``withdraw``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from reconciler.apply.keys import proposal_entry
from reconciler.catalog.interface import Catalog, Progress
from reconciler.errors import (
    AuthError,
    CatalogError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
)
from reconciler.planning.plan import Plan, StageVerdict


async def stage_plan(
    catalog: Catalog,
    plan: Plan,
    planned_on: str,
    *,
    parallelism: int,
    progress: Progress,
) -> Plan:
    """``plan`` with the catalog's verdict on each change that sends a patch."""
    gate = asyncio.Semaphore(max(parallelism, 1))
    changes = [c for c in plan.changes if c.is_change and c.patch]

    async def stage_one(change_index: int) -> StageVerdict:
        change = changes[change_index]
        entry = proposal_entry(change, planned_on, created_at="")
        fields = {k: v for k, v in entry.request.items() if k != "draft_id"}
        async with gate:
            try:
                answer = await catalog.soft_patch(
                    fields, idempotency_key=entry.idempotency_key, draft_id=change.draft_id
                )
            except RejectedError as exc:
                verdict = StageVerdict(
                    key=change.key,
                    verdict="refused",
                    idempotency_key=entry.idempotency_key,
                    draft_id=change.draft_id,
                    message=exc.server_message,
                    field_errors=tuple(exc.field_errors),
                )
            except (AuthError, RateLimitedError):
                raise  # the catalog refuses us, not this change: one error for the run
            except CatalogError as exc:
                verdict = StageVerdict(
                    key=change.key,
                    verdict="failed",
                    idempotency_key=entry.idempotency_key,
                    draft_id=change.draft_id,
                    message=str(exc),
                )
            else:
                verdict = StageVerdict(
                    key=change.key,
                    verdict="staged",
                    idempotency_key=entry.idempotency_key,
                    draft_id=answer.draft_id,
                    replayed=bool(getattr(answer, "replayed", False)),
                )
        progress.advance(change.key, verdict.verdict)
        return verdict

    verdicts = await asyncio.gather(*(stage_one(i) for i in range(len(changes))))
    return plan.model_copy(update={"stage": tuple(verdicts)})


Withdrawn = Literal["rejected", "accepted", "gone", "failed"]


@dataclass(frozen=True)
class Withdrawal:
    """What became of one staged proposal asked to be withdrawn."""

    key: str
    idempotency_key: str
    draft_id: str | None
    result: Withdrawn
    message: str = ""


async def withdraw(
    catalog: Catalog,
    proposals: Iterable[tuple[str, str, str | None]],
    *,
    parallelism: int,
    progress: Progress,
) -> list[Withdrawal]:
    """Reject each ``(model key, idempotency key, draft id)`` still pending; idempotent.

    A proposal already rejected is rejected again (the catalog replays), one already
    accepted is left as it is (409), one the catalog no longer knows is gone (404).
    """
    gate = asyncio.Semaphore(max(parallelism, 1))

    async def one(key: str, idem: str, draft_id: str | None) -> Withdrawal:
        async with gate:
            try:
                await catalog.ack(idem, accept=False, draft_id=draft_id)
                result: Withdrawn = "rejected"
                message = "rejected"
            except ConflictError:
                result, message = "accepted", "already accepted; left as it is"
            except NotFoundError:
                result, message = "gone", "the catalog no longer knows it"
            except (AuthError, RateLimitedError):
                raise
            except CatalogError as exc:
                result, message = "failed", str(exc)
        progress.advance(key, message)
        return Withdrawal(key, idem, draft_id, result, message)

    return list(await asyncio.gather(*(one(*p) for p in proposals)))
