"""Property: the live draft with the plan's patch applied by the local catalog is the desired one.

For generated live and desired models, the planner's minimal patch, applied by
the real server (in-process, over a SQLite file) as a soft patch and its ack,
leaves a live draft that normalizes to the desired model, and a second plan
against it is empty.
"""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.apply.applier import idempotency_key
from reconciler.apply.state import ModelRecord
from reconciler.catalog.client import CatalogClient, ClientSettings
from reconciler.catalog.wire import PatchModelDraftApiRequest
from reconciler.manifests.model import DesiredModel
from reconciler.planning.normalize import comparable, normalize_desired, normalize_live
from reconciler.planning.planner import build_plan
from reconciler.server import create_app

LABELS = {
    "provider": ["OpenAI", "Anthropic", "Google", "Mistral", "Meta", "Cohere"],
    "departments": ["Research", "Support", "Sales", "Engineering", "Legal", "Marketing"],
    "modalities": ["text", "image", "audio", "video", "embedding"],
    "qualities": ["draft", "standard", "hd"],
    "reasoning_levels": ["none", "low", "medium", "high"],
    "temperature_levels": ["deterministic", "balanced", "creative"],
    "voices": ["alloy", "echo", "verse", "onyx-custom"],
}
BOOLEANS = ["active", "modalities_enabled", "pricing_enabled", "voices_enabled"]
_counter = itertools.count()


def spelled(label: str) -> st.SearchStrategy[str]:
    """The label as a user may write it: any case, maybe padded."""
    return st.sampled_from([label, label.lower(), label.upper(), f" {label.title()} "])


def label_list(field: str) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(LABELS[field]), unique=True, max_size=4).flatmap(
        lambda chosen: st.tuples(*(spelled(label) for label in chosen)).map(list)
    )


amounts = st.decimals(min_value=0, max_value=100, places=2).flatmap(
    lambda d: st.sampled_from([str(d), f"{d:.3f}", f"{d:.4f}"])
)
pricing = st.lists(
    st.fixed_dictionaries(
        {
            "label": st.sampled_from(["input", "output", "cached input"]),
            "unit": st.sampled_from(["1M tokens", "image"]),
            "amount": amounts,
            "currency": st.sampled_from(["USD", "EUR"]),
        }
    ),
    max_size=3,
    unique_by=lambda e: (e["label"], e["unit"], e["currency"]),
)
text = st.text(alphabet="abcXYZ 0123-", max_size=12)


def model_fields(required: tuple[str, ...] = ()) -> st.SearchStrategy[dict]:
    optional = {
        "name": text,
        "description": text,
        "provider": st.sampled_from(LABELS["provider"]).flatmap(spelled),
        "pricing": pricing,
        **{field: label_list(field) for field in LABELS if field != "provider"},
        **{field: st.booleans() for field in BOOLEANS},
    }
    return st.fixed_dictionaries(
        {field: optional.pop(field) for field in required}, optional=optional
    )


def _client(app) -> CatalogClient:
    settings = ClientSettings(base_url="http://catalog.test")
    return CatalogClient(settings, transport=httpx.ASGITransport(app=app))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(tmp_path_factory.mktemp("property") / "catalog.sqlite3")


async def _round_trip(app, live_fields: dict, desired_fields: dict) -> None:
    async with _client(app) as client:
        created = await client.send(PatchModelDraftApiRequest(**live_fields))
        draft_id = created.draft_id
        live = await client.read(draft_id)
        key = f"model-{next(_counter)}"
        desired = DesiredModel(key=key, fields=desired_fields)
        records = {key: ModelRecord(draft_id=draft_id)}
        plan = build_plan([desired], records, {key: live})
        (change,) = plan.changes
        if change.patch:
            token = idempotency_key(change)
            await client.soft_patch(change.patch, idempotency_key=token, draft_id=draft_id)
            await client.ack(token, accept=True, draft_id=draft_id)
        after = await client.read(draft_id)
    wanted = normalize_desired(desired)
    got = normalize_live(after, wanted)
    for field, value in wanted.items():
        assert comparable(field, got[field]) == comparable(field, value), field
    again = build_plan([desired], records, {key: after})
    assert not again.has_changes, again.changes


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A create needs at least one field; the live side always has a name.
@given(live_fields=model_fields(required=("name",)), desired_fields=model_fields())
def test_patched_live_draft_normalizes_to_the_desired_model(app, live_fields, desired_fields):
    asyncio.run(_round_trip(app, live_fields, desired_fields))
