"""One coroutine per item, at most ``limit`` of them alive at once; results in item order.

``asyncio.gather`` of one task per model starts every model at once: at 10,000 models
that is 10,000 suspended coroutines (each with its frame, its change and a waiter on
the applier's gate) alive for the whole run while ten of them make requests, and the
event loop steps each of them at least twice. ``bounded`` keeps ``limit`` workers that
take the next item as each one finishes, in the order given: the same order the gate's
waiters would have been served in, with the gate itself never waited on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def bounded(fn: Callable[[T], Awaitable[R]], items: Sequence[T], limit: int) -> list[R]:
    """``[await fn(item) for item in items]``, ``limit`` at a time, in the order of ``items``.

    An exception from ``fn`` propagates as from ``asyncio.gather``, and as there, the
    other workers go on to the end of the items.
    """
    results: list[R] = []
    if not items:
        return results
    slots: list[R | None] = [None] * len(items)
    # One iterator shared by the workers: on one event loop, each index is taken once.
    indices = iter(range(len(items)))

    async def worker() -> None:
        for index in indices:
            slots[index] = await fn(items[index])

    await asyncio.gather(*(worker() for _ in range(min(max(limit, 1), len(items)))))
    results.extend(slots)  # type: ignore[arg-type]  # every slot was filled
    return results
