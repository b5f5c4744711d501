"""``--parallelism auto``: how many requests to keep in flight, learnt as the run goes (AIMD).

The limit starts low and grows while the catalog keeps up, and shrinks as soon as
it says it does not. It moves once per *window*, a window being as many finished
requests as the limit allowed when it began (about one round of the pipe):

- a 429 in the window halves the limit;
- so does the window's median latency climbing past ``tolerance`` times the
  baseline, the lowest window median seen so far (requests queueing at the catalog
  show up as latency before they show up as 429s);
- otherwise, if the window kept the limit full (more requests wanted to go than it
  allowed), the limit grows: doubling until the first decrease (slow start, so a
  healthy catalog is reached in a handful of windows rather than sixty), then by one.

The limit stays within ``[minimum, maximum]``. A request that began before the last
decrease says nothing about the new limit: its 429 or its latency is not counted,
so one burst of 429s halves the limit once, not once per request.

The decisions take the clock as an argument, so tests drive them without waiting.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

AUTO_INITIAL = 4
AUTO_MAXIMUM = 64


@dataclass(frozen=True)
class Ticket:
    """One request let through: when it started, and under which limit's era."""

    started: float
    era: int


class AdaptiveLimiter:
    """An AIMD concurrency limit: ``async with limiter.slot() as slot`` around each request."""

    def __init__(
        self,
        *,
        initial: int = AUTO_INITIAL,
        minimum: int = 1,
        maximum: int = AUTO_MAXIMUM,
        tolerance: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= minimum <= initial <= maximum:
            raise ValueError("the limits must satisfy 1 <= minimum <= initial <= maximum")
        if tolerance <= 1.0:
            raise ValueError("the latency tolerance must be above 1")
        self.minimum, self.maximum, self.tolerance = minimum, maximum, tolerance
        self._clock = clock
        self._limit = initial
        self._peak = initial
        self._in_flight = 0
        self._era = 0
        self._slow_start = True
        self._baseline: float | None = None
        self._latencies: list[float] = []
        self._rate_limited = False
        self._saturated = False
        self._decreases = 0
        self._changed = asyncio.Condition()

    @property
    def limit(self) -> int:
        """How many requests may be in flight now."""
        return self._limit

    @property
    def peak(self) -> int:
        """The highest limit reached so far."""
        return self._peak

    @property
    def decreases(self) -> int:
        """How many times the limit was cut."""
        return self._decreases

    @property
    def baseline(self) -> float | None:
        """The lowest window median latency seen, in seconds (``None`` before a window ends)."""
        return self._baseline

    def slot(self) -> _Slot:
        """A context manager that waits for room, then holds one place while a request runs."""
        return _Slot(self)

    async def acquire(self) -> Ticket:
        """Wait until fewer requests than the limit are in flight, then take a place."""
        async with self._changed:
            if self._in_flight >= self._limit:
                self._saturated = True
                await self._changed.wait_for(lambda: self._in_flight < self._limit)
            self._in_flight += 1
        return Ticket(self._clock(), self._era)

    async def release(self, ticket: Ticket, *, rate_limited: bool) -> None:
        """Give the place back and learn from how the request went."""
        async with self._changed:
            self._in_flight -= 1
            self.observe(ticket, rate_limited=rate_limited)
            self._changed.notify(max(self._limit - self._in_flight, 0))

    def observe(self, ticket: Ticket, *, rate_limited: bool) -> None:
        """Count one finished request toward the window; move the limit when it is full.

        A request is saturating too when others still wait: a limit that is never
        full tells nothing about whether more would be faster.
        """
        if ticket.era != self._era:
            return
        self._latencies.append(self._clock() - ticket.started)
        self._rate_limited = self._rate_limited or rate_limited
        if self._rate_limited:
            # A 429 needs no full window: the catalog said so outright.
            self._decrease()
            return
        if len(self._latencies) < self._limit:
            return
        median = statistics.median(self._latencies)
        if self._baseline is not None and median > self.tolerance * self._baseline:
            self._decrease()
            return
        self._baseline = median if self._baseline is None else min(self._baseline, median)
        if self._saturated:
            grown = self._limit * 2 if self._slow_start else self._limit + 1
            self._set(min(grown, self.maximum))
        else:
            self._new_window()

    def _decrease(self) -> None:
        self._slow_start = False
        self._decreases += 1
        self._set(max(self._limit // 2, self.minimum))

    def _set(self, limit: int) -> None:
        self._limit = limit
        self._peak = max(self._peak, limit)
        self._era += 1
        self._new_window()

    def _new_window(self) -> None:
        self._latencies = []
        self._rate_limited = False
        self._saturated = self._in_flight >= self._limit


class _Slot:
    """``async with``: acquire on entry; on exit release, saying whether the catalog said 429."""

    def __init__(self, limiter: AdaptiveLimiter) -> None:
        self._limiter = limiter
        self._ticket: Ticket | None = None
        self.rate_limited = False

    async def __aenter__(self) -> _Slot:
        self._ticket = await self._limiter.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._ticket is not None:
            await self._limiter.release(self._ticket, rate_limited=self.rate_limited)
