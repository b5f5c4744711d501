import sqlite3
from pathlib import Path

import pytest

from reconciler.catalog.connection import open_catalog
from reconciler.errors import AuthError, NotFoundError, UsageError
from reconciler.render.remedies import describe

TOKEN = "conn-tok-5Hh2-keep-secret"


class Notes:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, message: str) -> None:
        self.messages.append(message)


async def round_trip(client) -> str:
    """Stage and accept a draft, read it back; returns its id."""
    staged = await client.soft_patch(
        {"name": "Embedded", "provider": "anthropic"}, idempotency_key="k1"
    )
    await client.ack("k1", accept=True, draft_id=staged.draft_id)
    state = await client.read(staged.draft_id)
    assert state.provider == "Anthropic"
    return staged.draft_id


async def test_without_an_endpoint_the_embedded_catalog_is_used_and_said_once(tmp_path):
    db = tmp_path / ".reconciler" / "nested" / "catalog.sqlite3"
    notes = Notes()
    client = open_catalog(None, token=None, parallelism=4, embedded_db=db, notify=notes)
    async with client:
        await round_trip(client)
    assert db.is_file()
    assert notes.messages == [
        f"No catalog endpoint configured: using the embedded local catalog at {db}"
    ]


@pytest.mark.parametrize("endpoint", ["", "   "])
async def test_an_empty_endpoint_means_none_configured(tmp_path, endpoint):
    notes = Notes()
    db = tmp_path / "catalog.sqlite3"
    async with open_catalog(endpoint, token=None, parallelism=1, embedded_db=db, notify=notes):
        pass
    assert len(notes.messages) == 1
    assert db.is_file()


async def test_the_embedded_catalog_keeps_its_drafts_between_runs(tmp_path):
    db = tmp_path / "catalog.sqlite3"
    async with open_catalog(None, token=None, parallelism=2, embedded_db=db, notify=Notes()) as c:
        draft_id = await round_trip(c)
    async with open_catalog(None, token=None, parallelism=2, embedded_db=db, notify=Notes()) as c:
        assert (await c.read(draft_id)).name == "Embedded"


async def test_closing_the_embedded_client_shuts_the_app_down(tmp_path):
    db = tmp_path / "catalog.sqlite3"
    wal = db.with_name(db.name + "-wal")
    client = open_catalog(None, token=None, parallelism=2, embedded_db=db, notify=Notes())
    await round_trip(client)
    assert wal.exists()
    await client.aclose()
    # The app's shutdown closed its SQLite connections; the last close removes the WAL.
    assert not wal.exists()


async def test_the_embedded_catalog_answers_errors_like_the_server(tmp_path):
    db = tmp_path / "catalog.sqlite3"
    async with open_catalog(None, token=None, parallelism=2, embedded_db=db, notify=Notes()) as c:
        with pytest.raises(NotFoundError):
            await c.read("missing")


def test_an_embedded_catalog_that_cannot_be_created_is_a_usage_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    notes = Notes()
    with pytest.raises(UsageError) as info:
        open_catalog(
            None, token=None, parallelism=1, embedded_db=blocker / "catalog.sqlite3", notify=notes
        )
    assert "Cannot open the embedded local catalog" in str(info.value)
    assert "CATALOG_ENDPOINT" in describe(info.value)
    assert notes.messages == []


def test_a_file_that_is_not_a_catalog_is_a_usage_error(tmp_path):
    db = tmp_path / "catalog.sqlite3"
    db.write_bytes(b"this is not an SQLite database, just some bytes" * 100)
    with pytest.raises(UsageError, match="Cannot open the embedded local catalog"):
        open_catalog(None, token=None, parallelism=1, embedded_db=db, notify=Notes())


async def test_with_an_endpoint_the_client_talks_to_it_over_http(live_server, tmp_path):
    db = tmp_path / "unused" / "catalog.sqlite3"
    notes = Notes()
    client = open_catalog(
        live_server.base_url, token=None, parallelism=3, embedded_db=db, notify=notes
    )
    async with client:
        draft_id = await round_trip(client)
    assert notes.messages == []
    assert not db.parent.exists()
    assert client.settings.base_url == live_server.base_url
    assert client.settings.parallelism == 3
    with sqlite3.connect(live_server.db_path) as server_db:
        rows = server_db.execute("SELECT id FROM drafts").fetchall()
    assert rows == [(draft_id,)]


async def test_the_token_is_sent_to_the_endpoint(live_server_factory, tmp_path):
    server = live_server_factory(token=TOKEN)
    db = tmp_path / "catalog.sqlite3"
    async with open_catalog(
        server.base_url, token=TOKEN, parallelism=2, embedded_db=db, notify=Notes()
    ) as client:
        await round_trip(client)
    async with open_catalog(
        server.base_url, token=None, parallelism=2, embedded_db=db, notify=Notes()
    ) as client:
        with pytest.raises(AuthError):
            await client.read("anything")


def test_an_endpoint_that_is_not_a_url_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="not an http:// or https:// URL"):
        open_catalog(
            "localhost:8080",
            token=None,
            parallelism=1,
            embedded_db=tmp_path / "c.sqlite3",
            notify=Notes(),
        )
