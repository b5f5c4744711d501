from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from reconciler.catalog.retry import (
    Retrier,
    RetryableFailure,
    RetryEvent,
    RetryPolicy,
    parse_retry_after,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeSleep:
    """Records each requested wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class GiveUp(Exception):
    pass


def failing(times: int, *, retry_after: str | None = None, result: str = "ok"):
    """An attempt that raises a RetryableFailure ``times`` times, then returns ``result``."""
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise RetryableFailure(
                "HTTP 503", lambda n: GiveUp(f"gave up after {n}"), retry_after=retry_after
            )
        return result

    return attempt, calls


def retrier(policy: RetryPolicy, sleep: FakeSleep, rand: float = 0.5, events=None) -> Retrier:
    return Retrier(
        policy,
        sleep=sleep,
        random=lambda: rand,
        clock=lambda: NOW,
        on_retry=None if events is None else events.append,
    )


def test_backoff_ceiling_doubles_from_the_base_delay_until_the_cap():
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, max_attempts=10)
    ceilings = [policy.backoff_ceiling(n) for n in range(1, 7)]
    assert ceilings == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_backoff_ceiling_of_a_huge_retry_number_is_the_cap_not_an_overflow():
    assert RetryPolicy(max_delay=3.0).backoff_ceiling(5000) == 3.0


@pytest.mark.parametrize("rand", [0.0, 0.25, 0.999999])
def test_full_jitter_spreads_the_delay_between_zero_and_the_ceiling(rand):
    policy = RetryPolicy(base_delay=0.5, max_delay=10.0, max_attempts=5)
    delay = policy.delay(3, rand)
    assert delay == pytest.approx(rand * 2.0)
    assert 0.0 <= delay < policy.backoff_ceiling(3)


def test_delay_is_none_once_the_attempts_are_spent():
    policy = RetryPolicy(max_attempts=3)
    assert policy.delay(2, 0.5) is not None
    assert policy.delay(3, 0.5) is None


def test_retry_after_is_a_lower_bound_on_the_delay():
    policy = RetryPolicy(base_delay=0.1, max_delay=0.4)
    assert policy.delay(1, 0.9, retry_after=2.0) == 2.0


def test_jitter_longer_than_retry_after_is_kept():
    policy = RetryPolicy(base_delay=4.0, max_delay=8.0)
    assert policy.delay(1, 0.75, retry_after=1.0) == pytest.approx(3.0)


def test_retry_after_beyond_the_cap_stops_retrying():
    policy = RetryPolicy(max_retry_after=30.0)
    assert policy.delay(1, 0.5, retry_after=31.0) is None
    assert policy.delay(1, 0.5, retry_after=30.0) == 30.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"base_delay": -1.0}, "negative"),
        ({"max_retry_after": -0.5}, "negative"),
    ],
)
def test_policy_refuses_nonsense_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 1.5 ", 1.5), ("0", 0.0), (None, None), ("", None), ("-2", None),
     ("soon", None), ("nan", None), ("inf", None)],
)  # fmt: skip
def test_parse_retry_after_reads_delta_seconds_and_ignores_garbage(header, seconds):
    assert parse_retry_after(header, NOW) == seconds


def test_parse_retry_after_reads_an_http_date_relative_to_the_clock():
    header = format_datetime(NOW + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after(header, NOW) == pytest.approx(7.0)


def test_parse_retry_after_of_a_past_http_date_is_zero():
    header = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert parse_retry_after(header, NOW) == 0.0


async def test_runner_returns_the_first_success_without_sleeping():
    sleep = FakeSleep()
    attempt, calls = failing(0)
    assert await retrier(RetryPolicy(), sleep).run(attempt, label="read") == "ok"
    assert len(calls) == 1
    assert sleep.waits == []


async def test_runner_retries_with_jittered_backoff_until_success():
    sleep = FakeSleep()
    policy = RetryPolicy(base_delay=1.0, max_delay=3.0, max_attempts=5)
    attempt, calls = failing(3)
    assert await retrier(policy, sleep, rand=0.5).run(attempt, label="read") == "ok"
    assert len(calls) == 4
    assert sleep.waits == pytest.approx([0.5, 1.0, 1.5])


async def test_runner_stops_after_max_attempts_with_the_give_up_error():
    sleep = FakeSleep()
    attempt, calls = failing(100)
    with pytest.raises(GiveUp, match="gave up after 3") as info:
        await retrier(RetryPolicy(max_attempts=3), sleep).run(attempt, label="read")
    assert len(calls) == 3
    assert len(sleep.waits) == 2
    # The final error stands alone: nothing of the failed attempts is chained to it.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


async def test_runner_with_one_attempt_never_retries():
    sleep = FakeSleep()
    attempt, calls = failing(1)
    with pytest.raises(GiveUp, match="gave up after 1"):
        await retrier(RetryPolicy(max_attempts=1), sleep).run(attempt, label="read")
    assert len(calls) == 1


async def test_runner_waits_at_least_retry_after():
    sleep = FakeSleep()
    policy = RetryPolicy(base_delay=0.01, max_delay=0.05)
    attempt, _ = failing(2, retry_after="2")
    await retrier(policy, sleep, rand=0.99).run(attempt, label="ack")
    assert sleep.waits == [2.0, 2.0]


async def test_runner_gives_up_at_once_when_retry_after_exceeds_the_cap():
    sleep = FakeSleep()
    attempt, calls = failing(1, retry_after="3600")
    with pytest.raises(GiveUp, match="gave up after 1"):
        await retrier(RetryPolicy(max_retry_after=60), sleep).run(attempt, label="ack")
    assert len(calls) == 1
    assert sleep.waits == []


async def test_runner_does_not_retry_other_exceptions():
    sleep = FakeSleep()
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        raise KeyError("not retryable")

    with pytest.raises(KeyError):
        await retrier(RetryPolicy(), sleep).run(attempt, label="read")
    assert len(calls) == 1


async def test_runner_reports_each_retry_to_the_hook():
    sleep = FakeSleep()
    events: list[RetryEvent] = []
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, max_attempts=4)
    attempt, _ = failing(2)
    await retrier(policy, sleep, rand=0.25, events=events).run(attempt, label="soft patch k1")
    assert events == [
        RetryEvent("soft patch k1", 1, 4, 0.25, "HTTP 503"),
        RetryEvent("soft patch k1", 2, 4, 0.5, "HTTP 503"),
    ]
    assert str(events[0]) == "soft patch k1: HTTP 503; retry 1/3 in 0.25s"
