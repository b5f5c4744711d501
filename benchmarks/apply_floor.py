"""``apply`` of all creates against the floor, alternated with a baseline tree, medians.

Each round, each variant (the bare client's creates, ``apply --auto-approve``
from this tree and, with ``--baseline DIR``, from another source tree) gets a
fresh repository of N generated models, a fresh state and a fresh
``reconciler serve`` on a loopback port, so every apply starts from the same
empty catalog. Each runs as its own process (wall time and CPU from the kernel
with ``wait4``, as in ``plan_scale.py``); the order of the variants alternates
each round, so before and after meet the same machine load. Prints the medians
and the median of each round's ratio to that round's bare creates:

    git archive main | tar -x -C /tmp/base
    .venv/bin/python -m benchmarks.apply_floor --models 1000 --rounds 5 --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
from pathlib import Path

from benchmarks.plan_scale import BARE_CLIENT, Step, free_port, run, start_server, write_catalog


def one(n: int, parallelism: str, label: str, tree: Path | None) -> Step:
    """One variant against a fresh catalog: ``tree`` None is the bare client."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_catalog(root, n)
        port = free_port()
        server = start_server(root, port)
        try:
            endpoint = f"http://127.0.0.1:{port}"
            env = {**os.environ, "CATALOG_ENDPOINT": endpoint, "CI": "true"}
            par = ["--parallelism", parallelism]
            if tree is None:
                bare = ["apply", "--models", str(n), "--endpoint", endpoint, *par]
                return run(root, env, label, *bare, script=BARE_CLIENT)
            # The tree's package ahead of the installed one.
            env["PYTHONPATH"] = str(tree)
            return run(root, env, label, "apply", "--auto-approve", *par, ok=(0,))
        finally:
            server.terminate()
            server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--parallelism", default="10")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="a source tree to compare against")
    args = parser.parse_args()
    n = args.models
    here = Path(__file__).resolve().parent.parent
    variants: list[tuple[str, Path | None]] = [("bare client: creates", None)]
    if args.baseline is not None:
        variants.append(("apply (baseline)", args.baseline.resolve()))
    variants.append(("apply (this tree)", here))
    results: dict[str, list[Step]] = {}
    ratios: dict[str, list[float]] = {}
    for r in range(args.rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        steps = {label: one(n, args.parallelism, label, tree) for label, tree in order}
        floor = steps["bare client: creates"]
        for label, step in steps.items():
            results.setdefault(label, []).append(step)
            ratios.setdefault(label, []).append(step.cpu / floor.cpu)
        print(
            f"round {r + 1}: " + ", ".join(f"{s.label} {s.cpu:.2f} s CPU" for s in steps.values()),
            flush=True,
        )
    print(
        f"{n} models, parallelism {args.parallelism}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, medians of {args.rounds} rounds"
    )
    heading = ("step", "wall s", "CPU s", "ms CPU/model", "CPU/bare", "peak MiB")
    print("{:<24} {:>8} {:>7} {:>13} {:>9} {:>9}".format(*heading))
    for label, _ in variants:
        steps = results[label]
        wall = statistics.median(s.seconds for s in steps)
        cpu = statistics.median(s.cpu for s in steps)
        rss = statistics.median(s.rss_mib for s in steps)
        ratio = statistics.median(ratios[label])
        print(
            f"{label:<24} {wall:>8.2f} {cpu:>7.2f} {cpu / n * 1e3:>13.3f} {ratio:>8.2f}x "
            f"{rss:>9.1f}"
        )


if __name__ == "__main__":
    main()
