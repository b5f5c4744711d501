"""End-to-end fixtures: the local catalog under uvicorn on a loopback port, and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
import yaml
from click.testing import CliRunner, Result

from reconciler.apply.state import StateStore
from reconciler.catalog.client import CatalogClient, CatalogResponse, ClientSettings
from reconciler.catalog.wire import DraftFormState, PatchModelDraftApiRequest
from reconciler.cli import main
from reconciler.server import FaultInjector, create_app

TOKEN = "e2e-secret-token-7f3a9c"


@dataclass
class Catalog:
    """A running local catalog: where it listens, its faults and its database file."""

    url: str
    faults: FaultInjector
    db_path: Path

    def drafts(self) -> dict[str, dict]:
        """Every live draft in the catalog, read straight from its database."""
        out = {}
        with sqlite3.connect(self.db_path) as db:
            db.row_factory = sqlite3.Row
            for row in db.execute("SELECT * FROM drafts"):
                out[row["id"]] = dict(row)
        return out

    def pending(self) -> list[str]:
        """Keys of every proposal still pending, on any draft."""
        with sqlite3.connect(self.db_path) as db:
            rows = db.execute("SELECT key FROM proposals WHERE status = 'pending'").fetchall()
        return sorted(key for (key,) in rows)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    """A fresh catalog over real HTTP, guarded by TOKEN, for one test."""
    faults = FaultInjector()
    db_path = tmp_path / "catalog.sqlite3"
    app = create_app(db_path, token=TOKEN, faults=faults)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the catalog server did not start")
        time.sleep(0.01)
    yield Catalog(f"http://127.0.0.1:{port}", faults, db_path)
    server.should_exit = True
    thread.join(10)


@dataclass
class Workspace:
    """A repository-like directory: manifests, state, and the CLI run inside it."""

    root: Path
    catalog: Catalog

    @property
    def state_path(self) -> Path:
        return self.root / "reconciler.state.json"

    def state(self) -> dict:
        """The state as reconciler reads it: the file, with an interrupted apply's log replayed."""
        if not self.state_path.with_name(self.state_path.name + ".wal").exists():
            return json.loads(self.state_path.read_text())
        return StateStore(self.state_path).load().model_dump(mode="json")

    def write_models(self, *models: dict, name: str = "models.yaml") -> None:
        """Write model manifests (key, spec, and optional metadata/lifecycle) to one file."""
        docs = []
        for model in models:
            metadata = {"key": model["key"], **model.get("metadata", {})}
            doc = {"apiVersion": "reconciler/v1", "kind": "Model", "metadata": metadata}
            doc["spec"] = model["spec"]
            if "lifecycle" in model:
                doc["lifecycle"] = model["lifecycle"]
            docs.append(doc)
        path = self.root / "manifests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))

    def read(self, draft_id: str) -> DraftFormState:
        """A draft's live state, read through the API."""

        async def go() -> DraftFormState:
            settings = ClientSettings(base_url=self.catalog.url, token=TOKEN)
            async with CatalogClient(settings) as client:
                return await client.read(draft_id)

        return asyncio.run(go())

    def send(self, **fields: object) -> CatalogResponse:
        """Change the catalog outside reconciler, as a person with another tool would."""

        async def go() -> CatalogResponse:
            settings = ClientSettings(base_url=self.catalog.url, token=TOKEN)
            async with CatalogClient(settings) as client:
                return await client.send(PatchModelDraftApiRequest(**fields))

        return asyncio.run(go())

    def env(self) -> dict[str, str]:
        return {"CATALOG_ENDPOINT": self.catalog.url, "CATALOG_TOKEN": TOKEN, "NO_COLOR": "1"}

    def cli(self, args: Sequence[str]) -> Result:
        """Run the CLI in-process, in the workspace, against the catalog."""
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            return CliRunner().invoke(main, list(args), env=self.env(), catch_exceptions=False)
        finally:
            os.chdir(cwd)

    def spawn(self, args: Sequence[str]) -> subprocess.Popen[str]:
        """Start the CLI as a separate process (to be killed by a test)."""
        env = {**os.environ, **self.env()}
        return subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def workspace(tmp_path: Path, catalog: Catalog) -> Workspace:
    root = tmp_path / "repo"
    root.mkdir()
    return Workspace(root, catalog)
