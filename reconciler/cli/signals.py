"""SIGINT and SIGTERM during apply, handled the way Terraform handles them.

Outside the phases that write (settling, applying) an interrupt stops the command
at once: nothing has been sent, or everything sent is already recorded. While
they write, the first interrupt asks the applier to start no new model and lets
the models in flight finish and be recorded; the run then reports and exits 130.
A second interrupt exits at once (130), naming the proposals still journalled:
each is on disk before it was sent, so the next apply settles it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from types import FrameType

from reconciler.apply.interrupts import Interrupt

INTERRUPTED_EXIT = 130
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Guard:
    """The signal handlers' view of the run: whether it writes, and what is journalled."""

    def __init__(self, interrupt: Interrupt, now: Callable[[], str]) -> None:
        self.interrupt = interrupt
        self._now = now
        # The keys of the proposals in the state's journal, once the state is loaded.
        self.journalled: Callable[[], Sequence[str]] = tuple
        self._armed = False
        self._received = 0

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A phase that writes: an interrupt now lets what is in flight finish."""
        self._armed = True
        try:
            yield
        finally:
            self._armed = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The handler of SIGINT and SIGTERM."""
        if not self._armed and not self.interrupt.requested:
            raise KeyboardInterrupt
        self._received += 1
        if self._received == 1:
            self.interrupt.request(self._now)
            _say(
                "\nInterrupt received: starting no new model; the changes in flight finish "
                "and are recorded. Interrupt again to exit at once.\n"
            )
            return
        keys = sorted(self.journalled())
        left = (
            f"{len(keys)} proposal(s) may be left in flight: {', '.join(keys)}. They are "
            "journalled in the state file; the next apply settles them.\n"
            if keys
            else "No proposal is left in flight.\n"
        )
        _say(f"\nSecond interrupt: exiting now. {left}")
        # At once, as asked: every write is atomic and every proposal journalled before
        # it was sent, so stopping between two statements loses nothing. The lock is
        # released with the process.
        os._exit(INTERRUPTED_EXIT)


def _say(text: str) -> None:
    # Written straight to the descriptor: a signal may arrive while the console prints.
    with contextlib.suppress(OSError):
        os.write(sys.stderr.fileno(), text.encode())


@contextlib.contextmanager
def guarded(guard: Guard) -> Iterator[Guard]:
    """Install ``guard`` as the handler of SIGINT and SIGTERM for the block."""
    previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    for signum in _SIGNALS:
        signal.signal(signum, guard.handle)
    try:
        yield guard
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
