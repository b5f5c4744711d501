"""``reconciler serve`` as a subprocess: answers HTTP as the contract says, guards its token."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

TOKEN = "serve-test-token-91c2"


@dataclass
class Served:
    """A running ``reconciler serve``: its URL and every stderr line so far."""

    url: str
    lines: queue.Queue[str]
    process: subprocess.Popen[str]

    def stderr(self) -> str:
        """Everything the process has written to stderr up to now."""
        out = []
        while not self.lines.empty():
            out.append(self.lines.get_nowait())
        return "".join(out)


def _environment(token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CATALOG_TOKEN"}
    if token is not None:
        env["CATALOG_TOKEN"] = token
    return env


@contextmanager
def serve(tmp_path: Path, *args: str, env_token: str | None = None) -> Iterator[Served]:
    """Start ``reconciler serve --port 0`` and wait for the line that says where it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--port", "0",
         "--db", str(tmp_path / "served.sqlite3"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(env_token),
        cwd=tmp_path,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = lines.get(timeout=20)
        match = re.search(r"listening on (http://\S+)/model/draft", first)
        assert match, first
        served = Served(match.group(1), lines, process)
        served.lines.put(first)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


def test_serve_answers_a_post_and_refuses_a_request_without_the_token(tmp_path):
    with serve(tmp_path, "--token", TOKEN) as served:
        denied = httpx.post(f"{served.url}/model/draft", content=b'{"name": "m"}')
        assert denied.status_code == 401
        assert denied.json()["success"] is False
        created = httpx.post(
            f"{served.url}/model/draft",
            content=b'{"name": "m", "provider": "openai"}',
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert created.status_code == 200
        assert created.json()["form_state"]["provider"] == "OpenAI"
        output = served.stderr()
    assert "served.sqlite3" in output
    assert "bearer token required" in output
    assert TOKEN not in output
    assert (tmp_path / "served.sqlite3").exists()


def test_serve_takes_the_token_from_catalog_token(tmp_path):
    with serve(tmp_path, env_token=TOKEN) as served:
        assert httpx.post(f"{served.url}/model/draft", content=b"{}").status_code == 401
        answer = httpx.post(
            f"{served.url}/model/draft",
            content=b"{}",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert answer.status_code == 422  # authenticated; the empty body names no operation
        assert TOKEN not in served.stderr()


def test_serve_hidden_fault_options_fault_the_server(tmp_path):
    with serve(tmp_path, "--fail-write", "1", "--drop-response", "2") as served:
        url = f"{served.url}/model/draft"
        body = b'{"name": "m", "idempotency_key": "c1"}'
        assert httpx.post(url, content=body).status_code == 503
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(url, content=body)
        replay = httpx.post(url, content=body)
        assert replay.status_code == 200
        assert replay.headers["Idempotent-Replayed"] == "true"


def test_serve_with_a_bad_reference_file_says_so_without_a_traceback(tmp_path):
    data = tmp_path / "reference.yaml"
    data.write_text("providers: [A, a]\n")
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "serve", "--db", str(tmp_path / "c.sqlite3"),
         "--reference-data", str(data)],
        capture_output=True,
        text=True,
        timeout=30,
        env=_environment(None),
    )  # fmt: skip
    assert result.returncode == 1
    assert "duplicate label" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_an_unusable_database_path_says_so(tmp_path):
    from click.testing import CliRunner

    from reconciler.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["serve", "--db", str(blocker / "catalog.sqlite3")])
    assert result.exit_code == 1
    assert "cannot open the catalog database" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
