"""The client alone: N creates (soft patch + ack) through ``CatalogClient``, nothing else.

The same requests as ``bare_client.py apply`` makes, through reconciler's client
instead of a bare aiohttp session, so the two measure the client's own cost per
create. Instruction counts are steadier than CPU time on a shared machine: run
each under callgrind at two sizes and take the difference per create (the
import and start-up cancel out):

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python -m benchmarks.client_creates --endpoint URL --models 500
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

from reconciler.catalog.client import CatalogClient, ClientSettings


async def _run(endpoint: str, parallelism: int, models: int) -> None:
    settings = ClientSettings(base_url=endpoint, parallelism=parallelism)
    gate = asyncio.Semaphore(parallelism)
    async with CatalogClient(settings) as client:

        async def one(i: int) -> None:
            async with gate:
                key = str(uuid.uuid4())
                fields = {
                    "name": f"Bare Model {i}",
                    "description": f"Benchmark model number {i}",
                    "value": f"bare-{i}",
                    "provider": "OpenAI",
                }
                staged = await client.soft_patch(fields, idempotency_key=key)
                await client.ack(key, accept=True, draft_id=staged.draft_id)

        await asyncio.gather(*(one(i) for i in range(models)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--models", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(_run(args.endpoint, args.parallelism, args.models))


if __name__ == "__main__":
    main()
