"""Fault injection for tests of the local catalog: off unless asked.

Writes (every operation but a read) are counted from 1 as they arrive, replays
and refused requests included, so "the Nth write" is the Nth write request the
server saw. A test holding the injector may change it while the server runs.
A dropped response only makes sense over a real connection: in-process
(``httpx.ASGITransport``) the half-sent response surfaces as an error of the transport.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

logger = logging.getLogger(__name__)


def _ordinals(value: int | Iterable[int] | None) -> set[int]:
    if value is None:
        return set()
    return {value} if isinstance(value, int) else set(value)


class FaultInjector:
    """Which requests to fail, delay or rate-limit; thread-safe, mutable at runtime."""

    def __init__(
        self,
        *,
        fail_write: int | Iterable[int] | None = None,
        drop_response: int | Iterable[int] | None = None,
        rate_limit: int = 0,
        retry_after: int = 1,
        latency: float = 0.0,
        capacity: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._writes = 0
        # Ordinals (1-based, over all writes) of writes answered 503 without applying them.
        self.fail_writes: set[int] = _ordinals(fail_write)
        # Ordinals of writes that are committed but whose response is cut off.
        self.drop_responses: set[int] = _ordinals(drop_response)
        # How many of the next requests are answered 429, and the Retry-After they carry.
        self.rate_limit = rate_limit
        self.retry_after = retry_after
        # Seconds added to every request.
        self.latency = latency
        # Requests served at once (0: unbounded); one more is answered 429 with
        # ``retry_after``, as a catalog that rate-limits by concurrency would.
        self.capacity = capacity
        self._in_flight = 0

    def __repr__(self) -> str:
        return (
            f"FaultInjector(writes={self._writes}, fail_writes={sorted(self.fail_writes)}, "
            f"drop_responses={sorted(self.drop_responses)}, rate_limit={self.rate_limit}, "
            f"retry_after={self.retry_after}, latency={self.latency}, capacity={self.capacity})"
        )

    @property
    def writes(self) -> int:
        """How many write requests the server has seen."""
        return self._writes

    def fail_next_writes(self, count: int = 1) -> None:
        """Answer the next ``count`` writes with 503, applying nothing."""
        with self._lock:
            self.fail_writes.update(range(self._writes + 1, self._writes + 1 + count))

    def drop_next_response(self) -> None:
        """Commit the next write but cut its response off."""
        with self._lock:
            self.drop_responses.add(self._writes + 1)

    def rate_limit_next(self, count: int, retry_after: int = 1) -> None:
        """Answer the next ``count`` requests with 429 and ``Retry-After: retry_after``."""
        with self._lock:
            self.rate_limit, self.retry_after = count, retry_after

    def reset(self) -> None:
        """Turn every fault off (the write count stays)."""
        with self._lock:
            self.fail_writes.clear()
            self.drop_responses.clear()
            self.rate_limit, self.retry_after, self.latency = 0, 1, 0.0
            self.capacity = 0

    def count_write(self) -> int:
        """Count a write request; returns its ordinal."""
        with self._lock:
            self._writes += 1
            return self._writes

    def take_rate_limit(self) -> int | None:
        """The Retry-After seconds if this request is to be rate limited, else None."""
        with self._lock:
            if self.rate_limit <= 0:
                return None
            self.rate_limit -= 1
            return self.retry_after

    def admit(self) -> bool:
        """Take a place among the requests in flight; False when ``capacity`` are taken."""
        with self._lock:
            if self.capacity > 0 and self._in_flight >= self.capacity:
                return False
            self._in_flight += 1
            return True

    def leave(self) -> None:
        """Give back the place ``admit`` took."""
        with self._lock:
            self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        """How many requests are being answered now (admitted and not yet left)."""
        with self._lock:
            return self._in_flight

    def fails(self, ordinal: int) -> bool:
        """Whether write ``ordinal`` is to be answered 503."""
        return ordinal in self.fail_writes

    def drops(self, ordinal: int) -> bool:
        """Whether write ``ordinal`` is to lose its response."""
        return ordinal in self.drop_responses

    async def delay(self) -> None:
        """Wait the configured latency."""
        if self.latency > 0:
            await asyncio.sleep(self.latency)


class DroppedResponse(Response):
    """Starts the response, then ends without its body: the server closes the connection.

    Over HTTP the client sees the connection break mid-response (httpx raises
    ``RemoteProtocolError``), as when a response is lost after the write committed.
    """

    def __init__(self, ordinal: int, body: bytes) -> None:
        super().__init__(content=body, media_type="application/json")
        self.ordinal = ordinal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        logger.warning("fault injection: write %d committed, its response dropped", self.ordinal)
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
