"""``reconciler serve``: run the local catalog server under uvicorn.

The socket is bound here, before uvicorn starts, so a port in use is one clear
line and exit 1 (uvicorn would log its own error and exit 3). Once listening,
the base URL to give reconciler as ``--endpoint`` goes to stdout (one line, for
scripts using ``--port 0``) and a line for people to stderr.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
import sys
from pathlib import Path

import click
import uvicorn

from reconciler.errors import UsageError
from reconciler.server import FaultInjector, create_app

# Beside the embedded catalog (.reconciler/catalog.sqlite3), git-ignored, but its own file:
# a state file belongs to one catalog, and the served one is another catalog.
DEFAULT_DB = Path(".reconciler") / "server.sqlite3"


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that says once, on stderr, where it listens (port 0 resolved)."""

    def __init__(self, config: uvicorn.Config, db_path: Path, *, guarded: bool) -> None:
        super().__init__(config)
        self._db_path = db_path
        self._guarded = guarded

    async def startup(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
        await super().startup(sockets)
        if not self.started:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        where = f"[{host}]" if ":" in host else host
        base_url = f"http://{where}:{port}"
        auth = "bearer token required" if self._guarded else "no token required"
        click.echo(
            f"catalog listening on {base_url} (db: {self._db_path}; {auth}); "
            f"use --endpoint {base_url}",
            err=True,
        )
        click.echo(base_url)
        sys.stdout.flush()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port; 0 picks a free one (the base URL printed on stdout says which).",
)
@click.option(
    "--db",
    "db_path",
    default=DEFAULT_DB,
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file of the catalog; created and seeded if missing.",
)
@click.option(
    "--token",
    envvar="CATALOG_TOKEN",
    default=None,
    show_default=False,
    help="Bearer token every request must carry [default: $CATALOG_TOKEN, else none].",
)
@click.option(
    "--reference-data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of providers, departments, ... to seed instead of the built-in one.",
)
@click.option("--fail-write", type=int, multiple=True, hidden=True, help="Answer write N with 503.")
@click.option(
    "--drop-response", type=int, multiple=True, hidden=True, help="Commit write N, drop its reply."
)
@click.option("--rate-limit", type=int, default=0, hidden=True, help="Answer K requests 429.")
@click.option("--retry-after", type=int, default=1, hidden=True, help="Retry-After of the 429s.")
@click.option("--latency", type=float, default=0.0, hidden=True, help="Seconds added per request.")
@click.option(
    "--capacity", type=int, default=0, hidden=True, help="Answer 429 past N requests in flight."
)
def serve(
    host: str,
    port: int,
    db_path: Path,
    token: str | None,
    reference_data: Path | None,
    fail_write: tuple[int, ...],
    drop_response: tuple[int, ...],
    rate_limit: int,
    retry_after: int,
    latency: float,
    capacity: int,
) -> None:
    """Run the local catalog server (POST /model/draft) over a SQLite file."""
    faults = FaultInjector(
        fail_write=fail_write,
        drop_response=drop_response,
        rate_limit=rate_limit,
        retry_after=retry_after,
        latency=latency,
        capacity=capacity,
    )
    sock = _bind(host, port)
    try:
        try:
            app = create_app(
                db_path, token=token or None, reference_data=reference_data, faults=faults
            )
        except (sqlite3.Error, OSError) as exc:
            raise UsageError(f"cannot open the catalog database {db_path}: {exc}") from exc
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        _AnnouncingServer(config, db_path, guarded=bool(token)).run(sockets=[sock])
    finally:
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (uvicorn makes it listen), or a ``UsageError``."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}: the address does not resolve ({exc})") from exc
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP.
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"cannot listen on {host}:{port}: the port is already in use; "
                "choose another --port, or --port 0 for a free one"
            ) from exc
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock
