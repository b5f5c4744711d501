"""``reconciler serve``: run the local catalog server under uvicorn."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click
import uvicorn

from reconciler.errors import UsageError
from reconciler.server import FaultInjector, create_app


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
        auth = "bearer token required" if self._guarded else "no token required"
        click.echo(
            f"catalog listening on http://{where}:{port}/model/draft (db: {self._db_path}; {auth})",
            err=True,
        )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port; 0 picks a free one (the line on stderr says which).",
)
@click.option(
    "--db",
    "db_path",
    default=Path("catalog.sqlite3"),
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
) -> None:
    """Run the local catalog server (POST /model/draft) over a SQLite file."""
    faults = FaultInjector(
        fail_write=fail_write,
        drop_response=drop_response,
        rate_limit=rate_limit,
        retry_after=retry_after,
        latency=latency,
    )
    try:
        app = create_app(db_path, token=token or None, reference_data=reference_data, faults=faults)
    except (sqlite3.Error, OSError) as exc:
        raise UsageError(f"cannot open the catalog database {db_path}: {exc}") from exc
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    _AnnouncingServer(config, db_path, guarded=bool(token)).run()
