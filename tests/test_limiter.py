"""The adaptive limit of ``--parallelism auto``: its decisions, driven by a fake clock.

Each test plays a catalog whose latency depends on how many requests are in
flight, one window (a full round of the limit) at a time, and checks where the
limit goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from reconciler.catalog.limiter import AUTO_MAXIMUM, AdaptiveLimiter, Ticket


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
    ``latency`` seconds; the last ``rl`` sent (the places past a catalog's capacity) are
    answered 429, and those answers come back first."""
    tickets = [await limiter.acquire() for _ in range(limiter.limit)]
    tickets = tickets[len(tickets) - rl :] + tickets[: len(tickets) - rl]
    if waiting:
        # Someone wanted a place while the limit was full: the window was saturated.
        blocked = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        assert not blocked.done()
    clock.now += latency
    for i, ticket in enumerate(tickets):
        await limiter.release(ticket, rate_limited=i < rl)
    if waiting:
        # The waiter got its place; it leaves at once without a result: it counts for nothing.
        ticket = await blocked
        await limiter.release(Ticket(ticket.started, era=-1), rate_limited=False)


def plateau(knee: int, base: float = 0.05) -> Callable[[int], float]:
    """A catalog that serves ``knee`` requests at once: past it, requests only queue
    (latency grows with the limit, throughput stays ``knee / base``)."""
    return lambda limit: base * max(1.0, limit / knee)


async def _limits(
    limiter: AdaptiveLimiter, clock: FakeClock, latency: Callable[[int], float], rounds: int
) -> list[int]:
    seen = [limiter.limit]
    for _ in range(rounds):
        await _round(limiter, clock, latency(limiter.limit))
        seen.append(limiter.limit)
    return seen


async def test_slow_start_doubles_while_throughput_rises_then_stops_at_the_cap() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, maximum=20, growth=1.0)
    # Latency that does not depend on the load: each doubling doubles the throughput.
    seen = await _limits(limiter, clock, lambda limit: 0.05, 5)
    assert seen == [4, 8, 16, 20, 20, 20]
    assert limiter.peak == 20
    assert limiter.decreases == 0
    assert limiter.rate == pytest.approx(20 / 0.05)


async def test_growth_continues_while_latency_climbs_if_throughput_rises_with_it() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, maximum=64, growth=1.0)
    # A catalog sharing the CPU: every request in flight adds latency, yet more in flight
    # still reads faster (rate = limit / latency keeps rising). A latency rule would stop
    # at once; the throughput rule goes on to the cap.
    seen = await _limits(limiter, clock, lambda limit: 0.05 + 0.001 * limit, 6)
    assert seen[:5] == [4, 8, 16, 32, 64]
    assert 0.05 + 0.001 * 64 > 2 * (0.05 + 0.001 * 4)
    assert limiter.limit == 64


async def test_a_doubling_that_reads_only_somewhat_faster_is_kept_and_ends_slow_start() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, maximum=64, growth=1.0)

    def latency(limit: int) -> float:
        # 32 reads 15 % faster than 16 (a doubling should bring 30 %); past 32, nothing.
        return 0.05 if limit <= 16 else 32 / (1.15 * 16 / 0.05) * max(1.0, limit / 32)

    seen = await _limits(limiter, clock, latency, 6)
    # 32 is kept (it read faster), but from there growth is by sqrt(32) probes: 37
    # reads no faster and is taken back after two windows.
    assert seen == [4, 8, 16, 32, 37, 37, 32]
    assert limiter.decreases == 1


async def test_a_probe_that_only_adds_latency_is_taken_back_and_held() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, maximum=64, hold=2, growth=1.0)
    seen = await _limits(limiter, clock, plateau(16), 5)
    # 32 reads no faster than 16 (twice the latency): after two such windows, back to 16.
    assert seen == [4, 8, 16, 32, 32, 16]
    assert limiter.decreases == 1
    # One window to measure 16 again, then ``hold`` windows there, then a probe of +4,
    # which buys nothing either.
    seen = await _limits(limiter, clock, plateau(16), 6)
    assert seen == [16, 16, 16, 20, 20, 16, 16]


async def test_one_slow_window_is_not_enough_to_take_a_probe_back() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=8, maximum=64, growth=1.0)
    await _round(limiter, clock, 0.05)
    assert limiter.limit == 16
    # A pause on our side: the probe's first window reads slower than 8 did.
    await _round(limiter, clock, 0.2)
    assert limiter.limit == 16
    await _round(limiter, clock, 0.05)
    assert limiter.limit == 32
    assert limiter.decreases == 0


async def test_on_a_plateau_the_limit_stays_near_the_knee() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, maximum=64, growth=1.0)
    seen = await _limits(limiter, clock, plateau(24), 60)
    # Slow start overshoots the knee (24: no limit reads faster) to 32, which still
    # read faster than 16 did; from there every probe is taken back.
    assert seen[:7] == [4, 8, 16, 32, 64, 64, 32]
    assert set(seen[7:]) == {32, 32 + 5}
    assert seen[7:].count(32) >= 2 * seen[7:].count(37)


async def test_a_refused_step_goes_back_to_where_it_started_once_per_burst() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=16, maximum=64, growth=1.0, patience=2)
    await _round(limiter, clock, 0.05)
    assert limiter.limit == 32
    # A catalog that serves 16 at once refuses the 16 places past it. The limit goes back
    # to 16, taken for a full window (not to half of 32: the catalog refused the excess,
    # 16 was fine), once: the requests that began before the cut say nothing about it.
    await _round(limiter, clock, 0.05, rl=16)
    assert limiter.limit == 16
    assert limiter.decreases == 1
    # The lowest place refused was the 17th: the capacity is 16, known exactly.
    assert limiter.ceiling == 17
    # So the next try of 17 waits ``patience`` windows (twice as long after a refusal).
    seen = await _limits(limiter, clock, lambda limit: 0.05, 3)
    assert seen == [16, 16, 16, 17]
    await _round(limiter, clock, 0.05, rl=1)
    assert (limiter.limit, limiter.ceiling, limiter.decreases) == (16, 17, 2)
    seen = await _limits(limiter, clock, lambda limit: 0.05, 5)
    assert seen == [16, 16, 16, 16, 16, 17]


async def test_a_later_429_of_the_same_burst_may_lower_the_ceiling() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=16, maximum=64, growth=1.0)
    await _round(limiter, clock, 0.05)
    tickets = [await limiter.acquire() for _ in range(32)]
    # The 20th place's 429 comes back first, the 17th's after the cut: the ceiling is 17.
    await limiter.release(tickets[19], rate_limited=True)
    assert (limiter.limit, limiter.ceiling) == (16, 20)
    await limiter.release(tickets[16], rate_limited=True)
    assert (limiter.limit, limiter.ceiling, limiter.decreases) == (16, 17, 1)


async def test_a_cut_stops_new_requests_at_once() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=16, maximum=64)
    await _round(limiter, clock, 0.05)
    assert limiter.limit == 20
    tickets = [await limiter.acquire() for _ in range(20)]
    blocked = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    # The first 429 cuts the limit back to 16 before the window ends: with 19 still in
    # flight, nobody else is sent (they would be refused too) ...
    await limiter.release(tickets[19], rate_limited=True)
    assert limiter.limit == 16
    for ticket in tickets[16:19]:
        await limiter.release(ticket, rate_limited=True)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not blocked.done()
    # ... until fewer than 16 are.
    await limiter.release(tickets[0], rate_limited=False)
    for _ in range(5):
        await asyncio.sleep(0)
    assert blocked.done()


async def test_a_refused_limit_it_took_before_halves_and_climbs_back() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=16, maximum=64, patience=3)
    # 16 refused where it was taken before: the catalog takes less now. Halved, and
    # somewhat less (12) is taken as good.
    await _round(limiter, clock, 0.05, rl=1)
    assert (limiter.limit, limiter.ceiling) == (8, 16)
    seen = await _limits(limiter, clock, lambda limit: 0.05, 8)
    assert seen == [8, 10, 12, 12, 12, 12, 13, 13, 13]
    # 13, taken for a while, is refused now: the ceiling comes down to it, three
    # quarters of it (9) count as good. The capacity lies between: one more at a time,
    # after ``hold`` windows each, costs at most one more 429.
    await _round(limiter, clock, 0.05, rl=2)
    assert (limiter.limit, limiter.ceiling) == (6, 13)
    assert limiter.decreases == 2
    seen = await _limits(limiter, clock, lambda limit: 0.05, 14)
    assert seen == [6, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11, 12]


async def test_a_ceiling_taken_without_a_429_is_lifted() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, maximum=64, growth=1.0, patience=0, hold=0)
    await _round(limiter, clock, 0.05)
    await _round(limiter, clock, 0.05, rl=1)
    assert (limiter.limit, limiter.ceiling) == (4, 8)
    seen = await _limits(limiter, clock, lambda limit: 0.05, 8)
    # One at a time up to the ceiling; once 8 is taken, growth by probes again.
    assert seen == [4, 5, 6, 7, 8, 10, 13, 16, 20]
    assert limiter.ceiling is None


async def test_slow_start_grows_by_quarters_and_judges_each_doubling() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, maximum=128)
    seen = await _limits(limiter, clock, lambda limit: 0.05, 15)
    assert seen == [4, 5, 7, 9, 12, 15, 19, 24, 30, 38, 48, 60, 75, 94, 118, 128]
    # Past a knee (16 served at once) the extra requests only queue: the step that
    # doubled the limit since the last judged one (19 to 38) is taken back.
    limiter = _limiter(clock, initial=4, maximum=128, hold=1)
    seen = await _limits(limiter, clock, plateau(16), 14)
    assert seen[:12] == [4, 5, 7, 9, 12, 15, 19, 24, 30, 38, 38, 19]
    assert limiter.decreases == 1


async def test_a_step_follows_once_the_requests_it_added_came_back() -> None:
    # Not a full window of the new limit: the places a step added, back without a 429.
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, maximum=128)
    await _round(limiter, clock, 0.05)
    assert limiter.limit == 5
    await _round(limiter, clock, 0.05)
    assert limiter.limit == 7
    tickets = [await limiter.acquire() for _ in range(7)]
    blocked = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    clock.now += 0.05
    # The step from 5 added the 6th and 7th places; others back say nothing of them.
    for ticket in tickets[:5]:
        await limiter.release(ticket, rate_limited=False)
    assert limiter.limit == 7
    await limiter.release(tickets[5], rate_limited=False)
    assert limiter.limit == 7
    await limiter.release(tickets[6], rate_limited=False)
    assert limiter.limit == 9
    blocked.cancel()


async def _simulate(
    capacity: int, latency: float, reads: int, *, workers: int = 64
) -> tuple[AdaptiveLimiter, int]:
    """``reads`` requests through ``workers`` workers against a catalog that serves
    ``capacity`` at once, each in ``latency`` seconds, and answers one more with a 429
    after as long (as ``reconciler serve --capacity`` does); a refused request is sent
    again a second later (``Retry-After: 1``). Returns the limiter and the 429s."""
    clock = FakeClock()
    limiter = _limiter(clock)
    timers: list[tuple[float, int, asyncio.Future[None]]] = []
    left, in_flight, refused, order = reads, 0, 0, 0

    async def after(seconds: float) -> None:
        nonlocal order
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        order += 1
        timers.append((clock.now + seconds, order, done))
        await done

    async def worker() -> None:
        nonlocal left, in_flight, refused
        while left:
            left -= 1
            while True:
                async with limiter.slot() as slot:
                    admitted = in_flight < capacity
                    in_flight += admitted
                    await after(latency)
                    in_flight -= admitted
                    slot.rate_limited = not admitted
                if admitted:
                    break
                refused += 1
                await after(1.0)

    tasks = [asyncio.ensure_future(worker()) for _ in range(workers)]
    while not all(task.done() for task in tasks):
        for _ in range(20):
            await asyncio.sleep(0)
        if timers:
            timers.sort()
            clock.now = timers[0][0]
            while timers and timers[0][0] <= clock.now:
                timers.pop(0)[2].set_result(None)
    await asyncio.gather(*tasks)
    return limiter, refused


@pytest.mark.parametrize("capacity", [6, 10, 16, 24, 40])
async def test_against_a_capacity_the_limit_settles_there_after_one_step_of_429s(
    capacity: int,
) -> None:
    limiter, refused = await _simulate(capacity, 0.05, 3000)
    # Crossing the capacity costs the places of one slow-start step past it: at most a
    # quarter of the capacity (16: 3), and no more for the rest of the run.
    assert 1 <= refused <= -(-capacity // 4)
    assert limiter.limit == capacity
    assert limiter.ceiling == capacity + 1


async def test_latency_doubling_at_a_steady_limit_halves_it() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=16, maximum=16)
    await _round(limiter, clock, 0.05)
    # Somewhat slower is followed, not punished: it becomes the new measure.
    await _round(limiter, clock, 0.09)
    await _round(limiter, clock, 0.15)
    assert limiter.limit == 16
    # Twice as slow as the last measure with as many in flight, one window: a pause?
    await _round(limiter, clock, 0.31)
    assert limiter.limit == 16
    assert limiter.decreases == 0
    # Two in a row: the catalog struggles.
    await _round(limiter, clock, 0.31)
    assert limiter.limit == 8
    assert limiter.decreases == 1
    # Quick again: a slowdown is often gone a moment later, so the limit may double
    # straight back to where it was (not past it: there it probes again).
    await _round(limiter, clock, 0.05)
    assert limiter.limit == 16


async def test_never_above_the_maximum() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, maximum=6, growth=1.0)
    seen = await _limits(limiter, clock, lambda limit: 0.05, 5)
    assert seen == [4, 6, 6, 6, 6, 6]
    assert limiter.peak == 6


async def test_never_below_the_minimum() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4, minimum=2)
    for _ in range(4):
        await _round(limiter, clock, 0.05, rl=1)
    assert limiter.limit == 2
    assert limiter.decreases == 4


async def test_an_unsaturated_window_does_not_grow_the_limit() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=4)
    for _ in range(3):
        await _round(limiter, clock, 0.05, waiting=0)
    assert limiter.limit == 4
    assert limiter.rate == pytest.approx(4 / 0.05)


async def test_the_rate_is_the_mean_in_flight_over_the_mean_latency() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, initial=2, hold=0)
    first = await limiter.acquire()
    clock.now += 0.1
    second = await limiter.acquire()
    clock.now += 0.1
    await limiter.release(first, rate_limited=False)
    await limiter.release(second, rate_limited=False)
    # 0.2 s of window, 1.5 requests in flight on average, 0.15 s each: 10 per second.
    assert limiter.rate == pytest.approx(1.5 / 0.15)


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
            clock.now += 0.01
            in_flight -= 1

    await asyncio.gather(*(request() for _ in range(50)))
    assert 1 <= peak <= limiter.peak
    assert 3 <= limiter.peak <= AUTO_MAXIMUM


def test_rejects_inconsistent_settings() -> None:
    with pytest.raises(ValueError, match="minimum <= initial <= maximum"):
        AdaptiveLimiter(initial=8, maximum=4)
    with pytest.raises(ValueError, match="gain"):
        AdaptiveLimiter(gain=1.0)
    with pytest.raises(ValueError, match="slowdown"):
        AdaptiveLimiter(slowdown=1.0)
    with pytest.raises(ValueError, match="evidence"):
        AdaptiveLimiter(confirm=0)
    with pytest.raises(ValueError, match="hold"):
        AdaptiveLimiter(hold=-1)


async def test_a_pool_of_workers_back_for_more_keeps_the_window_saturated() -> None:
    # As refresh reads: a fixed pool of workers, more than the limit, each back for its
    # next request as soon as its last one ends. Nobody new arrives to find the limit
    # full, yet workers always queue for a place: the limit must grow as it would for a
    # crowd of one-off requests (it once stayed at 8 for a whole 10,000-read plan).
    clock = FakeClock()
    limiter = _limiter(clock, initial=4)
    answer = [asyncio.Event()]

    async def worker() -> None:
        for _ in range(40):
            async with limiter.slot():
                await answer[0].wait()

    async def catalog(workers: list[asyncio.Task[None]]) -> None:
        # Answers every request in flight at once, 50 ms after it began, whatever their
        # number: throughput grows with the limit.
        while not all(task.done() for task in workers):
            for _ in range(5):
                await asyncio.sleep(0)
            clock.now += 0.05
            answered, answer[0] = answer[0], asyncio.Event()
            answered.set()

    workers = [asyncio.ensure_future(worker()) for _ in range(64)]
    await catalog(workers)
    await asyncio.gather(*workers)
    assert limiter.peak >= 32
