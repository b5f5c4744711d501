"""Wall time of ``plan`` (N reads) at fixed parallelism 1..64 against ``auto``.

Creates N models once, then, for each scenario, restarts ``reconciler serve`` on
the same database with latency injected per request (default 50 ms, standing in
for a catalog across a network) and runs ``plan`` as its own process at each
parallelism:

- *latency only*: the catalog serves any number of requests at once;
- *capacity C*: it also answers 429 (``Retry-After: 1``) past C requests in
  flight, as a catalog that rate-limits by concurrency would.

A run that gives up (a request refused more times than the retry policy allows)
is shown as failed, not hidden. One process per run; quote single runs as such:
the machine has 2 shared cores.

    .venv/bin/python benchmarks/parallelism_sweep.py --models 1000 --latency 0.05
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.plan_scale import Step, free_port, run, start_server, write_catalog

FIXED = ["1", "2", "4", "8", "16", "32", "64"]


def sweep(
    root: Path,
    env: dict[str, str],
    port: int,
    label: str,
    server_args: list[str],
    levels: list[str],
) -> list[tuple[str, Step | None]]:
    # The same port every time: the state is bound to the catalog's address.
    server = start_server(root, port, *server_args)
    env = {**env, "CATALOG_ENDPOINT": f"http://127.0.0.1:{port}"}
    rows: list[tuple[str, Step | None]] = []
    try:
        for level in levels:
            try:
                step = run(root, env, f"{label} p={level}", "plan", "--parallelism", level)
            except SystemExit as failed:
                print(f"  {failed}"[-600:], file=sys.stderr)
                step = None
            rows.append((level, step))
            shown = f"{step.seconds:.2f} s" if step else "failed"
            print(f"  {label:<16} parallelism {level:>4}: {shown}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(10)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--capacity", type=int, default=16)
    args = parser.parse_args()
    n = args.models
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_catalog(root, n)
        env = {**os.environ, "CI": "true"}
        port = free_port()
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
        scenarios = {
            "latency only": sweep(root, env, port, "latency only", latency, [*FIXED, "auto"]),
            f"capacity {args.capacity}": sweep(
                root,
                env,
                port,
                f"capacity {args.capacity}",
                [*latency, "--capacity", str(args.capacity)],
                # Below the capacity nothing is refused: the same as latency only.
                [p for p in FIXED if int(p) >= 8] + ["auto"],
            ),
        }
    print(
        f"{n} reads (plan, no changes), {args.latency * 1e3:.0f} ms injected per request, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        "{:<16} {:>11} {:>9} {:>9} {:>7}".format(
            "scenario", "parallelism", "seconds", "reads/s", "CPU s"
        )
    )
    for name, rows in scenarios.items():
        for level, step in rows:
            if step is None:
                print(f"{name:<16} {level:>11} {'failed':>9}")
            else:
                print(
                    f"{name:<16} {level:>11} {step.seconds:>9.2f} {n / step.seconds:>9.0f} "
                    f"{step.cpu:>7.2f}"
                )


if __name__ == "__main__":
    main()
