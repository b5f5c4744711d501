"""Time and peak memory of refusing hostile YAML: alias bombs and nesting bombs.

Each file goes through the real loader (``load_report``: read, parse with each
parser, locate the problem), in-process, with tracemalloc measuring the peak.

    .venv/bin/python -m benchmarks.yaml_limits
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path

from reconciler.manifests.loader import HAVE_LIBYAML, load_report


def billion_laughs(levels: int = 9) -> str:
    """Nine levels of ten aliases each: 10^9 values if expanded."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    previous = "a"
    for name in "bcdefghijklmnop"[: levels - 1]:
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
        previous = name
    return "\n".join(lines) + "\n"


CASES = {
    "billion laughs (10^9 values)": billion_laughs(),
    "1 MB of [ nesting": "a: " + "[" * 500_000,
    "1 MB of block-sequence nesting": "- " * 500_000 + "x",
}


def main() -> None:
    loaders = [("libyaml", True)] if HAVE_LIBYAML else []
    loaders.append(("pure Python", False))
    print(f"{'case':<32} {'parser':<12} {'ms':>8} {'peak MiB':>9}  problem")
    with tempfile.TemporaryDirectory() as tmp:
        for label, text in CASES.items():
            path = Path(tmp) / "hostile.yaml"
            path.write_text(text)
            for name, libyaml in loaders:
                tracemalloc.start()
                started = time.perf_counter()
                report = load_report([path], libyaml=libyaml)
                elapsed = time.perf_counter() - started
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                message = report.problems[0].message if report.problems else "accepted!"
                print(
                    f"{label:<32} {name:<12} {elapsed * 1000:>8.1f} {peak / 2**20:>9.1f}  {message}"
                )


if __name__ == "__main__":
    main()
