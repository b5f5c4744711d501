"""``--parallelism auto``: how many requests to keep in flight, learnt as the run goes.

What a run wants from the catalog is throughput, so the limit follows the
*delivery rate*, not latency alone. Latency climbing is only bad when it buys
nothing: against a catalog that shares the CPU with us (the local server on a
small machine), every added request costs some latency yet still adds
throughput, and a rule on latency alone ("cut past twice the lowest latency")
stops far below the best limit.

The limit moves once per *window*: as many finished requests as the limit
allowed when it was set (about one round of the pipe). A window's delivery rate
is Little's law, the mean number in flight over the window divided by the mean
latency of its requests; it does not depend on where in the round the window
starts, as counting completions over one short round would.

- The contract gives no capacity: to find one, a run must cross it once, and
  every request a step up sends past it is refused before the first 429 comes
  back (a round later, as the local catalog answers a 429 no faster than a
  read). So the step is what a crossing costs, and slow start grows by a
  quarter (``growth``), not by doubling: 15 to 19 against a catalog that serves
  16 draws 3 429s where 16 to 32 drew 16. Such a step is not judged on its own
  (a quarter more in flight reads only a little faster, within one window's
  noise): the next follows as soon as requests at the places it added came
  back without a 429, about a round, and the rate is judged once the limit has
  doubled since the last limit judged, by the rules below.
- A 429 cuts at once, not at the window's end: nobody else is sent until fewer
  than the new limit are in flight. A step refused goes back to the limit it
  started from (it ran without a 429: the catalog refused the excess, it is not
  overloaded), and ends slow start. A limit refused that was taken before
  halves (multiplicative decrease). A request sent before a cut says nothing
  about the new limit: its 429 moves no limit, so one burst cuts once.
- Growth is a *probe* from a reference (the last limit whose rate was measured
  and kept): the limit goes up, in slow start until the first cut or rejected
  probe, then by about its square root (as the Gradient2 limit of Netflix's
  concurrency-limits adds a queue of ``sqrt(limit)``).
- A probe is kept when the rate rose by at least ``gain`` times the share the
  limit rose (``gain`` 0.3: 10 % more requests in flight must bring 3 % more
  reads per second); then the next probe follows at once. A doubling that
  brought a third of that (10 % for twice the requests) is kept too but ends
  slow start, as BBR leaves its startup once bandwidth stops growing fast:
  taking it back on a noisy window left the limit creeping from 16 for most
  of a run. Otherwise the extra
  requests only queued (latency climbed, throughput held): the limit goes back
  to the reference and holds there ``hold`` windows before probing again.
- At the reference, a window reading ``slowdown`` (2) times slower than the last
  one there halves the limit: the same number in flight taking twice as long is
  the catalog struggling (with others' load or its own), and asking less of it
  is both polite and, if it is overloaded, faster. A gradual drift is followed
  instead: each window there becomes the new measure. After such a cut the limit
  may double straight back to where it was (TCP's slow start up to ``ssthresh``
  after a timeout): a slowdown is often gone a second later.
- Moves down for latency need ``confirm`` (2) such windows in a row: on a busy
  machine one window in many reads half as fast for a pause on our side.
- After a 429 the lowest *place* refused (how many were in flight when the
  request was sent, itself included: the catalog had fewer at once, so its
  capacity is below that) is a *ceiling*, and the last limit known to draw
  none (what the refused step started from; three quarters of a limit taken
  before and refused now) is *good*. Growth goes straight back to the good
  limit and past it one request at a time: more than one below the ceiling
  after ``hold`` windows each (the capacity lies in between, so this costs at
  most one more 429 in all); right below it (the capacity known exactly) after
  ``patience`` (1000) windows without a 429 (about a minute against a catalog
  that serves 16 in 50 ms: not within a plan of 10,000 reads), the wait
  doubling each time the catalog refuses it again (TCP remembers the window of
  its last loss for the same reason: probing straight back into the catalog's
  limit draws a 429 every few windows). A ceiling reached without a 429 is
  lifted.
- A window that did not keep the limit full (nobody waited for a place) says
  nothing about a higher limit and does not grow it.

The limit stays within ``[minimum, maximum]``. The decisions take the clock as
an argument, so tests drive them without waiting.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

AUTO_INITIAL = 4
AUTO_MAXIMUM = 128


@dataclass(frozen=True)
class Ticket:
    """One request let through: when it started, under which limit's era, and how many
    requests were in flight with it counted (its place: a 429 says the catalog took fewer)."""

    started: float
    era: int
    place: int = 0


class AdaptiveLimiter:
    """An adaptive concurrency limit: ``async with limiter.slot() as slot`` around each request."""

    def __init__(
        self,
        *,
        initial: int = AUTO_INITIAL,
        minimum: int = 1,
        maximum: int = AUTO_MAXIMUM,
        gain: float = 0.3,
        growth: float = 0.25,
        hold: int = 3,
        slowdown: float = 2.0,
        confirm: int = 2,
        patience: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= minimum <= initial <= maximum:
            raise ValueError("the limits must satisfy 1 <= minimum <= initial <= maximum")
        if not 0.0 < gain < 1.0:
            raise ValueError("the gain a probe must show is a share between 0 and 1")
        if not 0.0 < growth <= 1.0:
            raise ValueError("the growth of a slow-start step is a share between 0 and 1")
        if hold < 0:
            raise ValueError("the windows to hold after a rejected probe cannot be negative")
        if slowdown <= 1.0:
            raise ValueError("the slowdown that cuts the limit must be above 1")
        if confirm < 1:
            raise ValueError("a move down needs at least one window of evidence")
        if patience < 0:
            raise ValueError("the windows to wait below a ceiling cannot be negative")
        self.minimum, self.maximum, self.gain, self.hold = minimum, maximum, gain, hold
        self.growth = growth
        self.slowdown, self.confirm, self.patience = slowdown, confirm, patience
        # After a 429: the lowest limit that drew one (the ceiling), the highest known to
        # draw none (the good limit), the full windows spent at the good limit since the
        # last try above it, and how many to wait before the next (doubling per 429).
        self._ceiling: int | None = None
        self._good = initial
        self._waited = 0
        self._wait = patience
        self._strikes = 0
        self._clock = clock
        self._limit = initial
        self._peak = initial
        self._in_flight = 0
        self._waiting = 0  # requests queued for a place
        self._era = 0
        # Below this the limit doubles (slow start): at first up to the cap; after a 429
        # or a probe taken back, nowhere; after a slowdown, back up to where it was.
        self._threshold = maximum
        self._regrow = False
        # The last limit whose rate was kept, and that rate (None until measured).
        self._reference: tuple[int, float | None] = (initial, None)
        # The limit the last step up started from: it ran without a 429 until then.
        self._taken = initial
        # The era of the last cut: a 429 of a request sent before it is of a burst
        # already answered.
        self._cut_era = 0
        self._holding = 0
        self._decreases = 0
        self._rate: float | None = None
        self._changed = asyncio.Condition()
        # The current window: its era's latencies, whether anyone waited for a place,
        # and the time-weighted count of requests in flight since it began.
        now = clock()
        self._window_start = self._last_event = now
        self._in_flight_area = 0.0
        self._latencies: list[float] = []
        self._added = 0  # of them, requests at places a slow-start step added
        self._saturated = False

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
        """How many times the limit was cut or a probe taken back."""
        return self._decreases

    @property
    def ceiling(self) -> int | None:
        """The last limit that drew a 429, which growth stays below (``None``: none yet)."""
        return self._ceiling

    @property
    def rate(self) -> float | None:
        """The last full window's delivery rate, requests per second (``None`` before one)."""
        return self._rate

    def slot(self) -> _Slot:
        """A context manager that waits for room, then holds one place while a request runs."""
        return _Slot(self)

    async def acquire(self) -> Ticket:
        """Wait until fewer requests than the limit are in flight, then take a place."""
        async with self._changed:
            if self._in_flight >= self._limit or self._waiting:
                # Full, or others already queue for a place (a pool of workers, each back
                # for its next request, may find the place a waiter was woken for still
                # free): a higher limit would be used.
                self._saturated = True
                self._waiting += 1
                try:
                    await self._changed.wait_for(lambda: self._in_flight < self._limit)
                finally:
                    self._waiting -= 1
            self._account()
            self._in_flight += 1
            place = self._in_flight
        return Ticket(self._clock(), self._era, place)

    async def release(self, ticket: Ticket, *, rate_limited: bool) -> None:
        """Give the place back and learn from how the request went."""
        async with self._changed:
            self._account()
            self._in_flight -= 1
            self.observe(ticket, rate_limited=rate_limited)
            self._changed.notify(max(self._limit - self._in_flight, 0))

    def observe(self, ticket: Ticket, *, rate_limited: bool) -> None:
        """Count one finished request toward the window; move the limit when it is full."""
        if rate_limited:
            self._refused(ticket)
            return
        if ticket.era != self._era:
            return
        now = self._clock()
        self._latencies.append(now - ticket.started)
        if self._pacing():
            # A quarter step of slow start is not judged: the next follows once requests
            # at the places it added came back without a 429 (about a round, not two).
            self._added += ticket.place > self._taken
            if self._added < self._limit - self._taken:
                return
        elif len(self._latencies) < self._limit:
            return
        self._account()
        latency = sum(self._latencies) / len(self._latencies)
        elapsed = now - self._window_start
        in_flight = self._in_flight_area / elapsed if elapsed > 0 else float(self._limit)
        # Little's law: throughput = requests in flight / time each spends in flight.
        rate = in_flight / latency if latency > 0 else math.inf
        self._rate = rate
        self._decide(rate)

    def _refused(self, ticket: Ticket) -> None:
        """A 429: cut at once (no full window needed), and remember where it came."""
        if ticket.era < self._cut_era:
            # Sent before this burst's cut, it moves no limit (one burst cuts once); but
            # the first 429 back need not be the lowest place refused: its place may
            # bring the ceiling down to where the catalog's capacity ends.
            if self._ceiling is not None and self._good < ticket.place < self._ceiling:
                self._ceiling = ticket.place
            return
        if self._ceiling is not None and self._ceiling <= self._good + 1:
            # The capacity known, tried again and refused again: wait twice as long
            # before the next try.
            self._wait = min(2 * self._wait, 16 * self.patience)
        self._waited = 0
        place = min(ticket.place, self._limit) if ticket.place else self._limit
        if self._taken < self._limit:
            # A step up refused: the limit it started from ran without a 429, so the
            # catalog takes that many; back there at once, not to half of the step (a
            # concurrency limit refuses the excess, it is not overloaded). The request
            # refused had ``place`` in flight with it: the capacity is below that (a
            # request sent before the last step may have been refused below its start).
            self._good = max(min(self._taken, place - 1), self.minimum)
            self._ceiling = max(place, self._good + 1)
            reference, reference_rate = self._reference
            self._cut(self._good, keep_rate=reference_rate if reference == self._good else None)
            return
        # The limit itself refused (the catalog took it before): the catalog takes less
        # now; somewhat less than this is good, in between the halved limit and this one.
        self._ceiling = self._limit
        self._good = max(self._limit * 3 // 4, self.minimum)
        self._cut(max(self._limit // 2, self.minimum))

    def _decide(self, rate: float) -> None:
        self._taken = self._limit
        if self._ceiling is not None and self._limit > self._good:
            # A full window at this limit and no 429: it is good.
            self._good = self._limit
            if self._limit >= self._ceiling:
                # The catalog takes what it refused before: the ceiling is lifted.
                self._ceiling, self._wait = None, self.patience
        reference, reference_rate = self._reference
        probing = self._limit > reference and reference_rate is not None
        if self._pacing():
            self._strikes = 0
            self._grow()
            return
        if probing:
            # A probe: did the extra requests buy throughput, or only queue?
            assert reference_rate is not None
            share = self._limit / reference - 1
            worse = rate < reference_rate * (1 + self.gain * share)
            starting = self._limit <= self._threshold
            if worse and starting and rate >= reference_rate * (1 + self.gain / 3 * share):
                # A slow-start step that read faster, if by less than it should (a third
                # will do): keep it, end slow start (BBR leaves its startup so).
                self._threshold, worse = self._limit, False
        else:
            # At the reference: the same limit far slower (latency up ``slowdown`` times)?
            worse = reference_rate is not None and rate * self.slowdown < reference_rate
        if worse:
            self._strikes += 1
            if self._strikes < self.confirm:
                # One slow window may be a pause on our side (a collection, a burst of
                # planning); only consecutive ones move the limit down.
                self._new_window()
            elif probing:
                self._holding = self.hold
                self._cut(reference, keep_rate=reference_rate)
            else:
                # The catalog is struggling, whoever loads it: ask less of it.
                self._cut(max(self._limit // 2, self.minimum), regrow=True)
            return
        self._strikes = 0
        if probing:
            self._reference = (self._limit, rate)
            self._grow()
            return
        # At the reference: measure it afresh (the catalog's speed drifts), then probe.
        self._reference = (self._limit, rate)
        if self._holding > 0:
            self._holding -= 1
            self._new_window()
        else:
            self._grow()

    def _pacing(self) -> bool:
        """Whether the limit is a step of slow start to be taken without judging its rate.

        One quarter step reads only a little faster, within the noise of one window: the
        rate is judged once the limit has doubled since the last limit judged (or reached
        the threshold), by the rules a doubling had.
        """
        reference, reference_rate = self._reference
        return (
            reference_rate is not None
            and not self._regrow
            and reference < self._limit < min(2 * reference, self._threshold)
        )

    def _grow(self) -> None:
        if not self._saturated:
            # Nobody waited for a place: a higher limit would not have been used.
            self._new_window()
            return
        if self._limit < self._threshold:
            # Slow start. Every request a step adds past the catalog's capacity is refused
            # before the first 429 can come back (a round later), so the step is what a
            # crossing costs: a quarter of the limit, not a doubling. Back up to a limit
            # left after a slowdown (no 429 there) it may double.
            step = self._limit if self._regrow else math.ceil(self._limit * self.growth)
            grown = min(self._limit + step, self._threshold)
        else:
            grown = min(self._limit + max(1, math.isqrt(self._limit)), self.maximum)
        if self._ceiling is not None and grown > self._good:
            if self._limit < self._good:
                # Straight back to the most the catalog took without a 429.
                grown = self._good
            elif self._waited < (self._wait if self._ceiling <= self._good + 1 else self.hold):
                # Right below the ceiling the capacity is known: wait long before trying
                # it again. Further below, the capacity lies between the two and trying
                # the next limit costs at most one 429 in all (the one refused is then
                # right below the ceiling): wait only as after a probe taken back.
                self._waited += 1
                grown = self._limit
            else:
                # Long enough without a 429 at the good limit: one more, in case the
                # catalog takes more now (another client gone, the catalog scaled out).
                grown, self._waited = self._limit + 1, 0
        if grown == self._limit:
            self._new_window()
        else:
            self._taken = self._limit
            self._set(grown)

    def _cut(self, limit: int, *, keep_rate: float | None = None, regrow: bool = False) -> None:
        # TCP's ssthresh: after a timeout it regrows fast to half the old window; here a
        # slowdown (the catalog's or our machine's, often gone a second later) may double
        # straight back to where it was, a 429 or a probe taken back may not.
        self._threshold = self._limit if regrow else limit
        self._regrow = regrow
        self._cut_era = self._era + 1
        self._decreases += 1
        self._reference = (limit, keep_rate)
        self._set(limit)

    def _set(self, limit: int) -> None:
        self._strikes = 0
        self._limit = limit
        self._peak = max(self._peak, limit)
        self._era += 1
        self._new_window()

    def _account(self) -> None:
        """Add the time since the last event, times the requests in flight, to the window."""
        now = self._clock()
        self._in_flight_area += self._in_flight * (now - self._last_event)
        self._last_event = now

    def _new_window(self) -> None:
        self._account()
        self._window_start = self._last_event
        self._in_flight_area = 0.0
        self._latencies = []
        self._added = 0
        self._saturated = self._in_flight >= self._limit or self._waiting > 0


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
