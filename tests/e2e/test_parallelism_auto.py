"""``--parallelism auto`` against the local catalog, over HTTP, with 429s injected."""

from __future__ import annotations

import asyncio

from reconciler.apply.state import ModelRecord
from reconciler.catalog.client import CatalogClient, ClientSettings
from reconciler.catalog.refresh import read_drafts
from reconciler.catalog.retry import RetryPolicy
from tests.e2e.conftest import TOKEN, Workspace

MODELS = [
    {"key": f"auto-model-{i:02d}", "spec": {"name": f"Auto {i}", "provider": "OpenAI"}}
    for i in range(24)
]


class Quiet:
    def advance(self, key: str, message: str) -> None:
        pass


def test_plan_and_apply_with_auto_parallelism_converge_through_429s(workspace: Workspace):
    workspace.write_models(*MODELS)
    workspace.catalog.faults.rate_limit_next(3, retry_after=0)
    applied = workspace.cli(["apply", "--auto-approve", "--parallelism", "auto"])
    assert applied.exit_code == 0, applied.output
    assert "24 created" in applied.stdout
    assert len(workspace.catalog.drafts()) == 24

    workspace.catalog.faults.rate_limit_next(5, retry_after=0)
    planned = workspace.cli(["plan", "--detailed-exitcode", "--parallelism", "auto"])
    assert planned.exit_code == 0, planned.output
    assert "No changes" in planned.stdout

    workspace.catalog.faults.rate_limit_next(2, retry_after=0)
    drifted = workspace.cli(["drift", "--parallelism", "AUTO"])
    assert drifted.exit_code == 0, drifted.output


def test_parallelism_rejects_what_is_neither_a_number_nor_auto(workspace: Workspace):
    for bad in ("fast", "0", "257"):
        result = workspace.cli(["plan", "--parallelism", bad])
        # A usage error: exit 1, as every other bad option (README, exit codes).
        assert result.exit_code == 1
        assert "Invalid value for '--parallelism'" in result.output
        assert "Traceback" not in result.output


def test_the_limit_halves_on_429_and_every_read_still_arrives(workspace: Workspace):
    workspace.write_models(*MODELS)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    records = {k: ModelRecord.model_validate(r) for k, r in workspace.state()["models"].items()}
    drafts = {key: record.draft_id for key, record in records.items()}

    async def go() -> tuple[dict, int, int]:
        settings = ClientSettings(
            base_url=workspace.catalog.url,
            token=TOKEN,
            parallelism=64,
            adaptive=True,
            retry=RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05),
        )
        async with CatalogClient(settings) as client:
            assert client.limiter is not None
            # The first window's requests are all refused: the limit must come down.
            workspace.catalog.faults.rate_limit_next(4, retry_after=0)
            read = await read_drafts(client, drafts, parallelism=64, progress=Quiet())
            return read, client.limiter.decreases, client.limiter.limit

    read, decreases, limit = asyncio.run(go())
    assert sorted(read) == sorted(drafts)
    assert all(state is not None for state in read.values())
    assert decreases >= 1
    assert 1 <= limit <= 64
