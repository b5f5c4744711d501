"""The AIMD limit of ``--parallelism auto``: its decisions, driven by a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.catalog.limiter import AdaptiveLimiter, Ticket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _limiter(clock: FakeClock, **kwargs: object) -> AdaptiveLimiter:
    return AdaptiveLimiter(clock=clock, **kwargs)  # type: ignore[arg-type]


async def _round(
    limiter: AdaptiveLimiter, clock: FakeClock, latency: float, *, waiting: int = 1, rl: int = 0
) -> None:
    """One window: fill the limit (plus ``waiting`` more wanting to go), finish each after
    ``latency`` seconds, the first ``rl`` of them answered 429."""
    tickets = [await limiter.acquire() for _ in range(limiter.limit)]
    if waiting:
        # Someone wanted a place while the limit was full: the window was saturated.
        blocked = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        assert not blocked.done()
    clock.now += latency
    for i, ticket in enumerate(tickets):
        await limiter.release(ticket, rate_limited=i < rl)
    if waiting:
        # The waiter got its place; it leaves without a result, so it counts for nothing.
        ticket = await blocked
        await limiter.release(Ticket(ticket.started, era=-1), rate_limited=False)


async def test_slow_start_doubles_then_caps_at_the_maximum() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, maximum=20)
    seen = [limiter.limit]
    for _ in range(5):
        await _round(limiter, clock, 0.05)
        seen.append(limiter.limit)
    assert seen == [4, 8, 16, 20, 20, 20]
    assert limiter.peak == 20
    assert limiter.decreases == 0


async def test_a_429_halves_the_limit_once_per_burst_and_growth_turns_additive() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, maximum=64)
    await _round(limiter, clock, 0.05)
    await _round(limiter, clock, 0.05)
    assert limiter.limit == 16
    # Every request of this window is rate limited; the limit is halved once, because
    # the requests that began before the cut say nothing about the new limit.
    await _round(limiter, clock, 0.05, rl=16)
    assert limiter.limit == 8
    assert limiter.decreases == 1
    await _round(limiter, clock, 0.05)
    await _round(limiter, clock, 0.05)
    assert limiter.limit == 10


async def test_latency_well_above_the_baseline_halves_the_limit() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, tolerance=2.0)
    await _round(limiter, clock, 0.05)
    assert limiter.baseline == pytest.approx(0.05)
    assert limiter.limit == 8
    # Somewhat slower is still the catalog keeping up.
    await _round(limiter, clock, 0.09)
    assert limiter.limit == 16
    # Past twice the baseline: the catalog is queueing our requests.
    await _round(limiter, clock, 0.15)
    assert limiter.limit == 8
    assert limiter.baseline == pytest.approx(0.05)


async def test_never_below_the_minimum() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=2, minimum=1)
    for _ in range(4):
        await _round(limiter, clock, 0.05, rl=1)
    assert limiter.limit == 1


async def test_an_unsaturated_window_does_not_grow_the_limit() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4)
    for _ in range(3):
        await _round(limiter, clock, 0.05, waiting=0)
    assert limiter.limit == 4


async def test_the_limit_bounds_the_requests_in_flight() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=3)
    in_flight = peak = 0

    async def request() -> None:
        nonlocal in_flight, peak
        async with limiter.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0)
            in_flight -= 1

    await asyncio.gather(*(request() for _ in range(50)))
    assert 1 <= peak <= limiter.peak
    assert limiter.peak <= 64


def test_rejects_inconsistent_bounds() -> None:
    with pytest.raises(ValueError, match="minimum <= initial <= maximum"):
        AdaptiveLimiter(initial=8, maximum=4)
    with pytest.raises(ValueError, match="tolerance"):
        AdaptiveLimiter(tolerance=1.0)
