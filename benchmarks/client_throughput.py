"""Requests per second of CatalogClient over each candidate transport.

Starts the local catalog server under uvicorn on a loopback port, in its own
process so client and server do not share a core, seeds one draft, then sends
the same N requests (reads of that draft, or soft patches each proposing a new
draft) at a fixed concurrency through CatalogClient over:

- httpx's own async transport (httpcore's pool; encode/httpx#3215),
- httpx_aiohttp's transport (aiohttp's pool under httpx's API), used behind a proxy,
- no transport: CatalogClient's own aiohttp session, without httpx, our default,
- httpx's ASGI transport in-process (the embedded catalog), for reference.

Besides requests per second it reports the client's own CPU time per request,
which does not depend on how fast the server is.

    .venv/bin/python benchmarks/client_throughput.py --requests 3000 --concurrency 10
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import uvicorn
from httpx_aiohttp import AiohttpTransport

from reconciler.catalog.client import CatalogClient, ClientSettings
from reconciler.catalog.retry import RetryPolicy
from reconciler.server import create_app

WARM_UP = 100


@dataclass(frozen=True)
class Measure:
    requests_per_second: float
    client_cpu_us: float


def serve(db_path: str, sock: socket.socket) -> None:
    """Server process: the local catalog under uvicorn, quiet, on an inherited socket."""
    config = uvicorn.Config(create_app(Path(db_path)), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def limits(parallelism: int) -> httpx.Limits:
    return httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism)


async def wait_until_up(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        for _ in range(200):
            try:
                await http.post("model/draft", json={"draft_id": "none"})
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise SystemExit("the local catalog server did not start")


async def seed(base_url: str, transport: httpx.AsyncBaseTransport) -> str:
    """A live draft to read or patch."""
    async with CatalogClient(ClientSettings(base_url=base_url), transport) as client:
        key = str(uuid.uuid4())
        staged = await client.soft_patch(
            {"name": "bench", "provider": "OpenAI", "active": True}, idempotency_key=key
        )
        await client.ack(key, accept=True, draft_id=staged.draft_id)
        return staged.draft_id


async def run(
    base_url: str,
    transport: httpx.AsyncBaseTransport | None,
    draft_id: str,
    *,
    requests: int,
    concurrency: int,
    operation: str,
) -> Measure:
    """``requests`` operations by ``concurrency`` workers sharing one client."""
    settings = ClientSettings(
        base_url=base_url, parallelism=concurrency, retry=RetryPolicy(max_attempts=1)
    )
    async with CatalogClient(settings, transport) as client:

        async def one(i: int) -> None:
            if operation == "read":
                await client.read(draft_id)
            else:
                # A proposal for a new draft each time: proposals pending on one draft
                # would grow its pending_ids, and so every response, as the run goes on.
                await client.soft_patch(
                    {"name": f"run {i}", "provider": "OpenAI"}, idempotency_key=str(uuid.uuid4())
                )

        async def workers(total: int) -> None:
            async def worker(indexes: range) -> None:
                for i in indexes:
                    await one(i)

            await asyncio.gather(
                *(worker(range(w, total, concurrency)) for w in range(concurrency))
            )

        await workers(WARM_UP)
        wall, cpu = time.perf_counter(), time.process_time()
        await workers(requests)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return Measure(requests / wall, cpu / requests * 1e6)


def best_of(rounds: int, measure: Callable[[], Measure]) -> Measure:
    runs = [measure() for _ in range(rounds)]
    return Measure(max(r.requests_per_second for r in runs), min(r.client_cpu_us for r in runs))


def report(name: str, result: Measure) -> None:
    print(
        f"  {name:<38} {result.requests_per_second:7.0f} req/s"
        f"   client CPU {result.client_cpu_us:5.0f} us/request"
    )


class LocalServer:
    """The local catalog under uvicorn in a child process, over a fresh file."""

    def __init__(self, db_path: Path) -> None:
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so, and without
        # it every response waits ~40 ms for a delayed ACK (Nagle's algorithm).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._process = multiprocessing.get_context("fork").Process(
            target=serve, args=(str(db_path), sock), daemon=True
        )

    def __enter__(self) -> LocalServer:
        self._process.start()
        asyncio.run(wait_until_up(self.base_url))
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--operation", choices=["read", "soft-patch"], default="read")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    common = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "operation": args.operation,
    }
    print(
        f"{args.requests} {args.operation} requests at concurrency {args.concurrency}, "
        f"best of {args.rounds}; {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"httpx {httpx.__version__}, aiohttp {aiohttp.__version__}, uvicorn {uvicorn.__version__}"
    )
    candidates: dict[str, Callable[[], httpx.AsyncBaseTransport | None]] = {
        "httpx AsyncHTTPTransport": lambda: httpx.AsyncHTTPTransport(
            limits=limits(args.concurrency)
        ),
        "httpx-aiohttp AiohttpTransport": lambda: AiohttpTransport(limits=limits(args.concurrency)),
        "aiohttp session, no httpx (default)": lambda: None,
    }
    with tempfile.TemporaryDirectory() as tmp:
        files = (Path(tmp) / f"catalog-{n}.sqlite3" for n in range(1_000_000))

        # Each round gets a fresh server and file, so no run pays for an earlier one's data.
        def over_http(make: Callable[[], httpx.AsyncBaseTransport | None]) -> Measure:
            with LocalServer(next(files)) as server:
                draft_id = asyncio.run(seed(server.base_url, httpx.AsyncHTTPTransport()))
                return asyncio.run(run(server.base_url, make(), draft_id, **common))

        def in_process() -> Measure:
            app = create_app(next(files))
            url = "http://embedded.catalog"
            draft_id = asyncio.run(seed(url, httpx.ASGITransport(app=app)))
            return asyncio.run(run(url, httpx.ASGITransport(app=app), draft_id, **common))

        for name, make in candidates.items():
            report(f"{name} (uvicorn)", best_of(args.rounds, lambda make=make: over_http(make)))
        report("embedded ASGITransport (in-process)", best_of(args.rounds, in_process))


if __name__ == "__main__":
    main()
