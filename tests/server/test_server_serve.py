"""``reconciler serve`` as a subprocess: answers HTTP as the contract says, guards its token."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import httpx
import pytest
from served import environment, serve

pytestmark = pytest.mark.slow

TOKEN = "serve-test-token-91c2"


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
        env=environment(None),
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


async def test_serve_prints_the_base_url_to_use_as_endpoint(tmp_path):
    from reconciler.catalog.client import CatalogClient, ClientSettings
    from reconciler.errors import NotFoundError

    with serve(tmp_path) as served:
        assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*", served.url), served.url
        async with CatalogClient(ClientSettings(base_url=served.url)) as client:
            with pytest.raises(NotFoundError):
                await client.read("no-such-draft")
        stderr = served.stderr()
    assert f"catalog listening on {served.url} " in stderr
    assert f"use --endpoint {served.url}\n" in stderr
    assert "/model/draft" not in stderr


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "reconciler", "serve", "--port", str(port),
             "--db", str(tmp_path / "c.sqlite3")],
            capture_output=True,
            text=True,
            timeout=30,
            env=environment(None),
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use; "
        "choose another --port, or --port 0 for a free one"
    ]
    assert result.stdout == ""


def test_serve_keeps_its_database_in_the_git_ignored_directory_by_default(tmp_path):
    with serve(tmp_path, default_db=True) as served:
        assert httpx.post(f"{served.url}/model/draft", json={"name": "m"}).status_code == 200
        stderr = served.stderr()
    assert (tmp_path / ".reconciler" / "server.sqlite3").is_file()
    assert not (tmp_path / "catalog.sqlite3").exists()
    assert "db: .reconciler/server.sqlite3" in stderr
