"""The floor: a bare aiohttp client making the requests reconciler makes, nothing else.

No validation, no retries, no state, no plan: one ``ClientSession``, a semaphore,
``json.dumps`` and ``json.loads``. ``plan_scale.py`` runs it as its own process
in the same run as reconciler, so the two are measured the same way (wall time,
CPU and peak RSS from the kernel) against the same server.

    python -m benchmarks.bare_client read --endpoint URL --state reconciler.state.json
    python -m benchmarks.bare_client apply --endpoint URL --models 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from pathlib import Path

import aiohttp


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, object]) -> dict:
    async with session.post(url, data=json.dumps(body, separators=(",", ":"))) as response:
        answer = json.loads(await response.read())
        if response.status != 200 or not answer.get("success"):
            raise SystemExit(f"the catalog refused {body}: {response.status} {answer}")
        return answer


async def _run(endpoint: str, parallelism: int, jobs: list[dict[str, object]], apply: bool) -> None:
    url = endpoint.rstrip("/") + "/model/draft"
    gate = asyncio.Semaphore(parallelism)
    connector = aiohttp.TCPConnector(limit=parallelism)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(body: dict[str, object]) -> None:
            async with gate:
                if not apply:
                    await _post(session, url, body)
                    return
                staged = await _post(session, url, body)
                ack = {
                    "idempotency_key": body["idempotency_key"],
                    "accept": True,
                    "draft_id": staged["form_state"]["draft_id"],
                }
                await _post(session, url, ack)

        await asyncio.gather(*(one(body) for body in jobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("operation", choices=["read", "apply"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--state", type=Path, help="read: the drafts recorded in this state")
    parser.add_argument("--models", type=int, default=1000, help="apply: how many creates")
    args = parser.parse_args()
    if args.operation == "read":
        state = json.loads(args.state.read_text(encoding="utf-8"))
        jobs: list[dict[str, object]] = [
            {"draft_id": record["draft_id"]} for record in state["models"].values()
        ]
    else:
        # A create as reconciler sends one, less the fields that need reference data.
        jobs = [
            {
                "name": f"Bare Model {i}",
                "description": f"Benchmark model number {i}",
                "value": f"bare-{i}",
                "provider": "OpenAI",
                "soft": True,
                "idempotency_key": str(uuid.uuid4()),
            }
            for i in range(args.models)
        ]
    asyncio.run(_run(args.endpoint, args.parallelism, jobs, apply=args.operation == "apply"))


if __name__ == "__main__":
    main()
