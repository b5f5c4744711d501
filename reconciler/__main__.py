"""``python -m reconciler`` and the ``reconciler`` command's entry point.

Importing the command line takes a moment (pydantic, httpx, rich); an interrupt in
that moment would otherwise print a Python traceback, which the README promises
never to show. Until the command runs, SIGINT exits quietly with 130; the command
restores Python's own handler (``reconciler.cli``), under which asyncio and the
command's own interrupt handling work as usual.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType


def _interrupted_at_start(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("Interrupted.\n")
    raise SystemExit(130)


def entry() -> None:
    """Run the command line, quiet on an interrupt while it starts."""
    signal.signal(signal.SIGINT, _interrupted_at_start)
    try:
        from reconciler.cli import main

        main()
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        raise SystemExit(130) from None
    finally:
        # The command is done and the process is exiting with its own code: an interrupt
        # now would only turn that code into a death by signal.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    entry()
