"""``reconciler serve`` as a subprocess on a free loopback port, for the tests that need one."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Served:
    """A running ``reconciler serve``: the base URL it printed and every stderr line so far."""

    url: str
    lines: queue.Queue[str]
    process: subprocess.Popen[str]

    def stderr(self) -> str:
        """Everything the process has written to stderr up to now."""
        out = []
        while not self.lines.empty():
            out.append(self.lines.get_nowait())
        return "".join(out)


def environment(token: str | None) -> dict[str, str]:
    """This process's environment with ``CATALOG_TOKEN`` set to ``token`` (or unset)."""
    env = {k: v for k, v in os.environ.items() if k != "CATALOG_TOKEN"}
    if token is not None:
        env["CATALOG_TOKEN"] = token
    return env


def _pump(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


@contextmanager
def serve(
    cwd: Path, *args: str, env_token: str | None = None, default_db: bool = False
) -> Iterator[Served]:
    """Start ``reconciler serve --port 0`` and wait for the base URL it prints on stdout.

    The database is ``cwd/served.sqlite3``, or with ``default_db`` serve's default.
    """
    db_args = [] if default_db else ["--db", str(cwd / "served.sqlite3")]
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--port", "0", *db_args, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(env_token),
        cwd=cwd,
    )
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, out), daemon=True).start()
    threading.Thread(target=_pump, args=(process.stderr, err), daemon=True).start()
    try:
        try:
            url = out.get(timeout=20).strip()
        except queue.Empty:
            raise AssertionError(f"serve printed no URL; stderr: {list(err.queue)}") from None
        yield Served(url, err, process)
    finally:
        process.terminate()
        process.wait(timeout=10)
