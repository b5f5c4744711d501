"""Shared fixtures: the local catalog server over real HTTP on an ephemeral loopback port."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from hypothesis import settings

from reconciler.server import FaultInjector, create_app

# In CI every run tries the same examples (derandomized, no example database), so a
# failure there is reproducible and a pass does not depend on luck; locally each run
# explores new examples and remembers failing ones.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "default")


@dataclass(frozen=True)
class LiveServer:
    """A running local catalog: where it listens, its faults (mutable live) and its file."""

    base_url: str
    faults: FaultInjector
    db_path: Path
    token: str | None


class _Running:
    def __init__(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        self.server = server
        self.thread = thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _start(db_path: Path, token: str | None) -> tuple[LiveServer, _Running]:
    faults = FaultInjector()
    app = create_app(db_path, token=token, faults=faults)
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every response waits ~40 ms for a delayed ACK (Nagle's algorithm).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only on the main thread, so a thread is safe here;
    # the same process lets a test change the FaultInjector while the server runs.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the local catalog server did not start")
        time.sleep(0.005)
    live = LiveServer(f"http://127.0.0.1:{port}", faults, db_path, token)
    return live, _Running(server, thread)


@pytest.fixture
def live_server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Starts local catalog servers (``token=`` optional), each on its own port and file."""
    running: list[_Running] = []

    def start(*, token: str | None = None) -> LiveServer:
        live, handle = _start(tmp_path / f"catalog-{len(running)}.sqlite3", token)
        running.append(handle)
        return live

    yield start
    for handle in running:
        handle.stop()


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """The local catalog under uvicorn on 127.0.0.1, no token, faults off."""
    return live_server_factory()
