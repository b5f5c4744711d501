"""Wall time of apply for a large plan: all or nothing vs --partial, after a stage vs not.

Each scenario gets a fresh repository of N models and a fresh ``reconciler serve``
on a loopback port; the CLI runs as a separate process (see ``plan_scale``):

1. ``apply`` all or nothing (stage all N, then accept all N)
2. ``apply --partial``      (each model staged and accepted on its own)
3. ``plan --stage``, then ``apply`` (N replayed soft patches + N acks)

    .venv/bin/python -m benchmarks.apply_modes --models 1000 --parallelism 10
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.plan_scale import free_port, run, write_catalog


def scenario(models: int, steps: list[list[str]]) -> list[float]:
    """Seconds of each CLI step against a fresh catalog and repository."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_catalog(root, models)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "serve",
                "--port",
                str(port),
                "--db",
                str(root / "catalog.sqlite3"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the catalog server did not start") from None
                    time.sleep(0.05)
            env = {**os.environ, "CATALOG_ENDPOINT": f"http://127.0.0.1:{port}", "CI": "true"}
            return [run(root, env, *step)[0] for step in steps]
        finally:
            server.terminate()
            server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=10)
    args = parser.parse_args()
    par = ["--parallelism", str(args.parallelism)]
    apply = ["apply", "--auto-approve", *par]
    (all_or_nothing,) = scenario(args.models, [apply])
    (partial,) = scenario(args.models, [[*apply, "--partial"]])
    stage, after_stage = scenario(args.models, [["plan", "--stage", *par], apply])
    n = args.models
    print(
        f"{n} creates, parallelism {args.parallelism}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{'step':<34} {'seconds':>8} {'models/s':>9}")
    for label, seconds in (
        ("apply, all or nothing", all_or_nothing),
        ("apply --partial", partial),
        ("plan --stage", stage),
        ("apply after the stage (replays)", after_stage),
    ):
        print(f"{label:<34} {seconds:>8.2f} {n / seconds:>9.0f}")


if __name__ == "__main__":
    main()
