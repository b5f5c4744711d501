"""The local catalog as ``reconciler serve`` runs it, counting the statuses it answers.

For ``parallelism_sweep.py``: how many 429s a run drew is read from the server,
which sees every attempt, retries included (the CLI reports only the outcome).
``GET /__counts`` answers the counts so far as JSON (``{"200": n, "429": m}``);
the sweep reads them before and after each run. Loopback only.

    .venv/bin/python benchmarks/counting_server.py --port 8080 --db catalog.sqlite3 \\
        --latency 0.05 --capacity 16
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.server import FaultInjector, create_app

COUNTS_PATH = "/__counts"


class StatusCounter:
    """ASGI middleware: counts each response's status; answers ``GET /__counts`` itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.counts: Counter[int] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == COUNTS_PATH:
            body = json.dumps({str(k): v for k, v in sorted(self.counts.items())}).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.counts[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counting)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--capacity", type=int, default=0)
    args = parser.parse_args()
    faults = FaultInjector(latency=args.latency, capacity=args.capacity)
    app = StatusCounter(create_app(args.db, faults=faults))
    # As ``reconciler serve`` configures uvicorn, so the catalog costs what it costs there.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
