"""Wall time and 429s of ``plan`` (N reads) at fixed parallelism levels against ``auto``.

Creates N models once, then, for each scenario, starts the local catalog
(``counting_server.py``: ``reconciler serve``'s app, counting the statuses it
answers) on the same database with latency injected per request (default 50 ms,
standing in for a catalog across a network) and runs ``plan`` as its own process
at each parallelism:

- *latency only*: the catalog serves any number of requests at once;
- *capacity C*: it also answers 429 (``Retry-After: 1``) past C requests in
  flight, as a catalog that rate-limits by concurrency would.

The 429 column is what the server answered, retries included. A run that gives
up (a request refused more times than the retry policy allows) is shown as
failed, not hidden. With ``--repeat R`` the levels run in rotation R times (so
each level sees the same mix of the machine's load) and the median is shown,
with every run's seconds beside it: the machine has 2 shared cores.

    .venv/bin/python benchmarks/parallelism_sweep.py --models 10000 --repeat 3 \\
        --levels 16,32,64,128,auto --capacity-levels 8,16,24,32,auto

``--root DIR --port P`` keeps the catalog in DIR (built and applied there on the
first run, reused after: applying 10,000 models takes minutes on 2 shared cores);
its state is bound to the catalog's address, so P must stay the same.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.plan_scale import Step, free_port, run, start_server, write_catalog

COUNTING_SERVER = str(Path(__file__).with_name("counting_server.py"))
LEVELS = "1,2,4,8,16,32,64,96,128,auto"


@dataclass
class Row:
    """One parallelism level in one scenario: every run's figures."""

    level: str
    steps: list[Step | None]
    refused: list[int]


def start_counting_server(root: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``counting_server.py`` on a loopback port, its own process; returns once it answers."""
    db = str(root / "catalog.sqlite3")
    server = subprocess.Popen(
        [sys.executable, COUNTING_SERVER, "--port", str(port), "--db", db, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        counts(port, wait=20.0)
    except BaseException:
        server.terminate()
        raise
    return server


def counts(port: int, *, wait: float = 0.0) -> dict[str, int]:
    """The statuses the counting server has answered so far."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/__counts", timeout=5) as answer:
                return json.loads(answer.read())
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("the counting catalog server did not answer") from None
            time.sleep(0.05)


def sweep(
    root: Path,
    env: dict[str, str],
    port: int,
    label: str,
    server_args: list[str],
    levels: list[str],
    repeat: int,
) -> list[Row]:
    # The same port every time: the state is bound to the catalog's address.
    server = start_counting_server(root, port, *server_args)
    env = {**env, "CATALOG_ENDPOINT": f"http://127.0.0.1:{port}"}
    rows = {level: Row(level, [], []) for level in levels}
    try:
        for _ in range(repeat):
            for level in levels:
                before = counts(port).get("429", 0)
                try:
                    step = run(root, env, f"{label} p={level}", "plan", "--parallelism", level)
                except SystemExit as failed:
                    print(f"  {failed}"[-600:], file=sys.stderr)
                    step = None
                refused = counts(port).get("429", 0) - before
                rows[level].steps.append(step)
                rows[level].refused.append(refused)
                shown = f"{step.seconds:.2f} s" if step else "failed"
                print(
                    f"  {label:<16} parallelism {level:>4}: {shown}, {refused} x 429",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(10)
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--capacity", type=int, default=16)
    parser.add_argument(
        "--levels", default=LEVELS, help=f"comma-separated levels [default: {LEVELS}]"
    )
    parser.add_argument(
        "--capacity-levels",
        help="levels for the capacity scenario [default: --levels from half the capacity up]",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every level")
    parser.add_argument("--scenarios", default="latency,capacity", help="latency, capacity or both")
    parser.add_argument("--root", type=Path, help="keep (or reuse) the applied catalog here")
    parser.add_argument("--port", type=int, help="the catalog's port, the same on every reuse")
    args = parser.parse_args()
    if args.root is not None and args.port is None:
        parser.error("--root needs --port: the state is bound to the catalog's address")
    n = args.models
    levels = args.levels.split(",")
    wanted = set(args.scenarios.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) if args.root is None else args.root
        env = {**os.environ, "CI": "true"}
        port = free_port() if args.port is None else args.port
        if not (root / "catalog.sqlite3").exists():
            root.mkdir(parents=True, exist_ok=True)
            write_catalog(root, n)
            server = start_server(root, port)
            try:
                run(
                    root,
                    {**env, "CATALOG_ENDPOINT": f"http://127.0.0.1:{port}"},
                    "setup",
                    "apply",
                    "--auto-approve",
                    "--parallelism",
                    "32",
                )
            finally:
                server.terminate()
                server.wait(10)
        latency = ["--latency", str(args.latency)]
        scenarios: dict[str, list[Row]] = {}
        if "latency" in wanted:
            scenarios["latency only"] = sweep(
                root, env, port, "latency only", latency, levels, args.repeat
            )
        if "capacity" in wanted:
            capped = [*latency, "--capacity", str(args.capacity)]
            # Below the capacity nothing is refused: the same as latency only.
            below = (
                args.capacity_levels.split(",")
                if args.capacity_levels
                else [p for p in levels if p == "auto" or int(p) >= args.capacity // 2]
            )
            name = f"capacity {args.capacity}"
            scenarios[name] = sweep(root, env, port, name, capped, below, args.repeat)
    print(
        f"{n} reads (plan, no changes), {args.latency * 1e3:.0f} ms injected per request, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"median of {args.repeat} run(s)"
    )
    print(
        "{:<16} {:>11} {:>9} {:>9} {:>7} {:>7}  {}".format(
            "scenario", "parallelism", "seconds", "reads/s", "CPU s", "429s", "runs (s)"
        )
    )
    for name, rows in scenarios.items():
        for row in rows:
            done = [step for step in row.steps if step is not None]
            runs = " ".join(f"{s.seconds:.1f}" if s else "failed" for s in row.steps)
            refused = statistics.median(row.refused)
            if len(done) < len(row.steps):
                blank = ""
                print(
                    f"{name:<16} {row.level:>11} {'failed':>9} {blank:>17} {refused:>7.0f}  {runs}"
                )
                continue
            seconds = statistics.median(s.seconds for s in done)
            cpu = statistics.median(s.cpu for s in done)
            print(
                f"{name:<16} {row.level:>11} {seconds:>9.2f} {n / seconds:>9.0f} "
                f"{cpu:>7.2f} {refused:>7.0f}  {runs}"
            )


if __name__ == "__main__":
    main()
