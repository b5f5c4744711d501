"""When and how long to wait before repeating a request: the retry policy and its runner.

Exponential backoff with full jitter (a uniform wait between 0 and
``min(max_delay, base_delay * 2**(n-1))`` before the n-th retry), a bounded number
of attempts, and a server's ``Retry-After`` honoured: we never come back sooner
than it asks, and we give up at once when it asks for more than ``max_retry_after``.

The policy is plain data with pure functions; the runner takes its clock, sleep
and randomness as arguments, so tests drive it without waiting.
"""

from __future__ import annotations

import asyncio
import math
import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``max_attempts`` counts the first try."""

    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("retry delays must not be negative")

    def backoff_ceiling(self, retry: int) -> float:
        """The longest wait before the ``retry``-th retry (1-based): capped exponential."""
        if retry < 1:
            raise ValueError("retry numbers start at 1")
        # 2**1024 overflows a float; anything that large is past the cap anyway.
        exponent = min(retry - 1, 1023)
        return min(self.max_delay, self.base_delay * math.pow(2.0, exponent))

    def delay(self, retry: int, rand: float, retry_after: float | None = None) -> float | None:
        """The wait before the ``retry``-th retry, or ``None`` when the policy says stop.

        ``rand`` is a uniform draw from [0, 1) (full jitter). ``retry_after`` is the
        server's requested wait in seconds: the delay is never shorter than it, and a
        request for longer than ``max_retry_after`` stops the retries.
        """
        if retry >= self.max_attempts:
            return None
        jittered = rand * self.backoff_ceiling(retry)
        if retry_after is None:
            return jittered
        if retry_after > self.max_retry_after:
            return None
        return max(retry_after, jittered)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), else None."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


@dataclass(frozen=True)
class RetryEvent:
    """A failed attempt that will be retried, as reported to the ``on_retry`` hook."""

    label: str
    attempt: int
    max_attempts: int
    delay: float
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.label}: {self.reason}; retry {self.attempt}/{self.max_attempts - 1}"
            f" in {self.delay:.2f}s"
        )


class RetryableFailure(Exception):
    """Raised by an attempt that may be repeated; carries the error to raise if we stop.

    ``give_up`` builds the final error from the number of attempts made, so its
    message can say how hard we tried.
    """

    def __init__(
        self,
        reason: str,
        give_up: Callable[[int], Exception],
        *,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.give_up = give_up
        self.retry_after = retry_after


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Retrier:
    """Runs an attempt until it succeeds, fails for good, or the policy says stop."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], datetime] = _utc_now,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._random = random
        self._clock = clock
        self._on_retry = on_retry

    async def run(self, attempt: Callable[[], Awaitable[T]], *, label: str) -> T:
        """Call ``attempt`` until it returns; a ``RetryableFailure`` is retried per the policy."""
        number = 1
        while True:
            try:
                return await attempt()
            except RetryableFailure as caught:
                failure = caught
            # Decided outside the except block so the final error has no __context__:
            # it stands alone and holds nothing of the failed attempt.
            retry_after = parse_retry_after(failure.retry_after, self._clock())
            wait = self.policy.delay(number, self._random(), retry_after)
            if wait is None:
                raise failure.give_up(number)
            if self._on_retry is not None:
                self._on_retry(
                    RetryEvent(label, number, self.policy.max_attempts, wait, failure.reason)
                )
            await self._sleep(wait)
            number += 1
