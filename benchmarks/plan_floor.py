"""``plan`` and ``drift`` with no changes against the floor, alternated, medians of rounds.

The applied catalog is built once by ``drift_scale.py``'s bulk path; then each
round runs the bare client's reads (``bare_client.py``), ``plan`` and ``drift``,
each its own process (wall time and CPU from the kernel, as in
``plan_scale.py``), and prints the medians and the median of each round's ratio
to that round's bare reads. ``--baseline DIR`` also runs the same steps from
another source tree (a checkout of the commit to compare against), alternating
which goes first each round, so before and after meet the same machine load:

    git archive main | tar -x -C /tmp/base
    .venv/bin/python -m benchmarks.plan_floor --models 10000 --rounds 5 --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.plan_scale import BARE_CLIENT, Step, free_port, run, start_server, write_catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--parallelism", default="10")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="a source tree to compare against")
    args = parser.parse_args()
    n = args.models
    here = Path(__file__).resolve().parent.parent
    trees = {"this tree": here}
    if args.baseline is not None:
        trees = {"baseline": args.baseline.resolve(), **trees}
    results: dict[str, list[Step]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_catalog(root, n)
        subprocess.run(
            [sys.executable, "-m", "benchmarks.drift_scale", "--build", str(root)],
            check=True,
            cwd=here,
        )
        port = free_port()
        server = start_server(root, port)
        try:
            endpoint = f"http://127.0.0.1:{port}"
            base_env = {**os.environ, "CATALOG_ENDPOINT": endpoint, "CI": "true"}
            par = ["--parallelism", str(args.parallelism)]
            state = str(root / "reconciler.state.json")
            bare = ["read", "--state", state, "--endpoint", endpoint, *par]
            for r in range(args.rounds):
                steps = [run(root, base_env, "bare client: reads", *bare, script=BARE_CLIENT)]
                order = list(trees.items())
                if r % 2:
                    order.reverse()
                for name, tree in order:
                    # The tree's package ahead of the installed one.
                    env = {**base_env, "PYTHONPATH": str(tree)}
                    for command in ("plan", "drift"):
                        label = f"{command} ({name})"
                        steps.append(run(root, env, label, command, *par, ok=(0,)))
                floor = steps[0]
                for step in steps:
                    results.setdefault(step.label, []).append(step)
                    results.setdefault(step.label + " CPU ratio", []).append(
                        Step(step.label, step.seconds / floor.seconds, step.cpu / floor.cpu, 0)
                    )
                print(
                    f"round {r + 1}: "
                    + ", ".join(
                        f"{s.label} {s.cpu:.2f} s CPU {s.seconds:.2f} s wall" for s in steps
                    ),
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(10)
    print(
        f"{n} models, parallelism {args.parallelism}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, medians of {args.rounds} rounds"
    )
    heading = ("step", "wall s", "CPU s", "ms CPU/model", "CPU/bare", "wall/bare")
    print("{:<24} {:>8} {:>7} {:>13} {:>9} {:>9}".format(*heading))
    for label, steps in results.items():
        if label.endswith(" CPU ratio"):
            continue
        ratios = results[label + " CPU ratio"]
        wall = statistics.median(s.seconds for s in steps)
        cpu = statistics.median(s.cpu for s in steps)
        cpu_ratio = statistics.median(s.cpu for s in ratios)
        wall_ratio = statistics.median(s.seconds for s in ratios)
        print(
            f"{label:<24} {wall:>8.2f} {cpu:>7.2f} {cpu / n * 1e3:>13.3f} "
            f"{cpu_ratio:>8.2f}x {wall_ratio:>8.2f}x"
        )


if __name__ == "__main__":
    main()
