"""The refresh alone: N reads of a state's drafts, through reconciler or the bare client.

``bare`` is ``bare_client.py read``'s loop in this process; ``client`` is
``read_drafts`` over ``open_catalog``'s client, each draft dropped as it arrives;
``keep`` also keeps each draft as ``plan`` does (``compact`` for the fields its
record was applied with). Instruction counts are steadier than CPU time on a
shared machine: run each under callgrind at two sizes and take the difference
per read (the import and start-up cancel out):

    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python \\
        -m benchmarks.client_reads keep --endpoint URL --state reconciler.state.json --reads 1200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.bare_client import _run
from reconciler.catalog.connection import open_catalog
from reconciler.catalog.refresh import read_drafts
from reconciler.catalog.wire import DraftFormState
from reconciler.planning.live import compact


class _Quiet:
    def advance(self, key: str, outcome: str = "") -> None:
        pass


def _drafts(state: Path, reads: int) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """``reads`` drafts of the state (round and round), and each one's applied fields."""
    records = list(json.loads(state.read_text(encoding="utf-8"))["models"].items())
    drafts: dict[str, str] = {}
    fields: dict[str, tuple[str, ...]] = {}
    for i in range(reads):
        key, record = records[i % len(records)]
        drafts[f"{key}#{i}"] = record["draft_id"]
        fields[f"{key}#{i}"] = tuple(record["last_applied"])
    return drafts, fields


async def _client(endpoint: str, parallelism: int, drafts: dict[str, str], keep: Any) -> None:
    client = open_catalog(
        endpoint, token=None, parallelism=parallelism, embedded_db=Path("unused"), notify=print
    )
    async with client:
        await read_drafts(client, drafts, parallelism=parallelism, progress=_Quiet(), keep=keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["bare", "client", "keep"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=10)
    args = parser.parse_args()
    drafts, fields = _drafts(args.state, args.reads)
    started = time.process_time()
    if args.mode == "bare":
        jobs: list[dict[str, object]] = [{"draft_id": draft} for draft in drafts.values()]
        asyncio.run(_run(args.endpoint, args.parallelism, jobs, apply=False))
    else:

        def keep(key: str, draft: DraftFormState) -> Any:
            return compact(draft, fields[key]) if args.mode == "keep" else None

        asyncio.run(_client(args.endpoint, args.parallelism, drafts, keep))
    print(f"{args.mode}: {args.reads} reads, {time.process_time() - started:.3f} s CPU")


if __name__ == "__main__":
    main()
