"""``bounded``: results in item order, never more than ``limit`` items in flight."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.apply.pool import bounded


async def test_results_keep_the_order_of_the_items_whatever_order_they_finish_in():
    async def slow_first(n: int) -> int:
        await asyncio.sleep(0.001 * (10 - n))
        return n * n

    assert await bounded(slow_first, list(range(10)), 3) == [n * n for n in range(10)]


async def test_no_more_than_limit_items_run_at_once_and_they_start_in_order():
    started: list[int] = []
    running = 0
    most = 0

    async def one(n: int) -> None:
        nonlocal running, most
        started.append(n)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        running -= 1

    await bounded(one, list(range(25)), 4)
    assert most == 4
    assert started == list(range(25))


async def test_nothing_to_do_and_a_limit_below_one():
    async def double(n: int) -> int:
        return 2 * n

    assert await bounded(double, [], 4) == []
    assert await bounded(double, [1, 2], 0) == [2, 4]


async def test_an_exception_propagates_and_the_other_items_still_run():
    done: list[int] = []

    async def one(n: int) -> None:
        await asyncio.sleep(0)
        if n == 2:
            raise ValueError("item 2")
        done.append(n)

    with pytest.raises(ValueError, match="item 2"):
        await bounded(one, list(range(6)), 2)
    await asyncio.sleep(0.01)
    assert sorted(done) == [0, 1, 3, 4, 5]
