"""Property: the live draft with the plan's patch applied by the local catalog is the desired one.

For generated live and desired models, the planner's minimal patch, applied by
the real server (in-process, over a SQLite file) as a soft patch and its ack,
leaves a live draft that normalizes to the desired model, and a second plan
against it is empty. Models use either form of a field (labels or ``*_ids``,
booleans or ``flag_ids``), repeat prices, keep live prices by ``pricing_ids``
and ignore some of their fields.
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
from reconciler.catalog.wire import FLAG_BOOLEANS, REFERENCE_FIELDS, PatchModelDraftApiRequest
from reconciler.manifests.model import DesiredModel
from reconciler.planning.fields import view
from reconciler.planning.normalize import comparable, normalize_desired, normalize_live
from reconciler.planning.planner import build_plan
from reconciler.server import create_app
from reconciler.server.reference import flag_option_id, resource_id

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
# Labels of the catalog's reference data, which have ids (a new voice gets one only when used).
REFERENCE = {field: [v for v in labels if v != "onyx-custom"] for field, labels in LABELS.items()}
RELEASE_STAGES = ["preview", "ga", "deprecated"]
_counter = itertools.count()


def spelled(label: str) -> st.SearchStrategy[str]:
    """The label as a user may write it: any case, maybe padded."""
    return st.sampled_from([label, label.lower(), label.upper(), f" {label.title()} "])


def label_list(field: str) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(LABELS[field]), unique=True, max_size=4).flatmap(
        lambda chosen: st.tuples(*(spelled(label) for label in chosen)).map(list)
    )


def id_list(field: str) -> st.SearchStrategy[list[str]]:
    """The ids form of a label list: reference labels by their stable ids."""
    chosen = st.lists(st.sampled_from(REFERENCE[field]), unique=True, max_size=4)
    return chosen.map(lambda labels: [resource_id(field, label) for label in labels])


def flag_ids() -> st.SearchStrategy[list[str]]:
    """A complete flag selection: each boolean flag's option, maybe a release stage."""
    booleans = st.tuples(*(st.booleans() for _ in FLAG_BOOLEANS))
    stage = st.none() | st.sampled_from(RELEASE_STAGES)
    return st.tuples(booleans, stage).map(
        lambda chosen: [
            *(
                flag_option_id(flag, "true" if value else "false")
                for flag, value in zip(FLAG_BOOLEANS.values(), chosen[0], strict=True)
            ),
            *([flag_option_id("model_release_stage", chosen[1])] if chosen[1] else []),
        ]
    )


# Few amounts, spelled several ways, so desired and live prices often meet.
amounts = st.sampled_from(["0", "0.5", "1", "2.25"]).flatmap(
    lambda a: st.sampled_from([a, a + ("0" if "." in a else ".00")])
) | st.decimals(min_value=0, max_value=100, places=2).flatmap(
    lambda d: st.sampled_from([str(d), f"{d:.3f}", f"{d:.4f}"])
)
prices = st.fixed_dictionaries(
    {
        "label": st.sampled_from(["input", "output", "cached input"]),
        "unit": st.sampled_from(["1M tokens", "image"]),
        "amount": amounts,
        "currency": st.sampled_from(["USD", "EUR"]),
    }
)
# Repeated prices on purpose: pricing is a multiset, on both sides.

# A manifest names each price once (validate refuses a second price for one label, unit
# and currency) and the catalog refuses a request that repeats an entry; but a live draft
# can hold equal prices, each added by its own request, so repeats are made on that side.
pricing = st.lists(prices, max_size=3, unique_by=lambda e: (e["label"], e["unit"], e["currency"]))
text = st.text(alphabet="abcXYZ 0123-", max_size=12)
# Which of the live draft's price ids the desired model keeps (resolved once it exists).
KEEP = "pricing_ids"


def model_fields(required: tuple[str, ...] = (), *, live: bool = False) -> st.SearchStrategy[dict]:
    """Fields of a model; the provider, the flags and each label list in one of its forms."""
    provider = {"provider": st.sampled_from(LABELS["provider"]).flatmap(spelled)}
    provider_id = {
        "provider_id": st.sampled_from(REFERENCE["provider"]).map(
            lambda label: resource_id("providers", label)
        )
    }
    booleans = {field: st.booleans() for field in BOOLEANS}
    flags = {"flag_ids": flag_ids()}
    forms = [st.sampled_from([provider, provider_id]), st.sampled_from([booleans, flags])]
    for field in LABELS:
        if field != "provider":
            by_label = {field: label_list(field)}
            by_id = {REFERENCE_FIELDS[field]: id_list(field)}
            forms.append(st.sampled_from([by_label, by_id]))

    def build(chosen: tuple[dict, ...]) -> st.SearchStrategy[dict]:
        optional: dict[str, st.SearchStrategy] = {"name": text, "description": text}
        optional["pricing"] = pricing
        if not live:
            optional[KEEP] = st.lists(st.integers(min_value=0, max_value=7), max_size=4)
        for form in chosen:
            optional.update(form)
        required_fields = {field: optional.pop(field) for field in required}
        return st.fixed_dictionaries(required_fields, optional=optional)

    return st.tuples(*forms).flatmap(build)


def _client(app) -> CatalogClient:
    settings = ClientSettings(base_url="http://catalog.test")
    return CatalogClient(settings, transport=httpx.ASGITransport(app=app))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(tmp_path_factory.mktemp("property") / "catalog.sqlite3")


async def _round_trip(
    app, live_fields: dict, repeats: list[int], desired_fields: dict, ignored: set[str]
) -> None:
    async with _client(app) as client:
        created = await client.send(PatchModelDraftApiRequest(**live_fields))
        draft_id = created.draft_id
        for index in repeats:
            entries = live_fields.get("pricing") or []
            if entries:
                again = [entries[index % len(entries)]]
                await client.send(PatchModelDraftApiRequest(draft_id=draft_id, pricing=again))
        live = await client.read(draft_id)
        if KEEP in desired_fields:
            # Indices into the live draft's entries: keep some of them by id.
            ids, picks = live.pricing_ids, desired_fields[KEEP]
            desired_fields[KEEP] = list(dict.fromkeys(ids[i % len(ids)] for i in picks if ids))
        key = f"model-{next(_counter)}"
        ignore = frozenset(ignored & desired_fields.keys())
        desired = DesiredModel(key=key, fields=desired_fields, ignore_changes=ignore)
        records = {key: ModelRecord(draft_id=draft_id)}
        plan = build_plan([desired], records, {key: live})
        (change,) = plan.changes
        if change.patch:
            token = idempotency_key(change)
            await client.soft_patch(change.patch, idempotency_key=token, draft_id=draft_id)
            await client.ack(token, accept=True, draft_id=draft_id)
        after = await client.read(draft_id)
    wanted = normalize_desired(desired)
    # Entries kept by id and entries given by content are compared apart, as the plan does.
    got = view(wanted, normalize_live(after, wanted))
    for field, value in wanted.items():
        assert comparable(field, got[field]) == comparable(field, value), field
    again = build_plan([desired], records, {key: after})
    assert not again.has_changes, again.changes


FIELDS = sorted({*LABELS, *REFERENCE_FIELDS.values(), *FLAG_BOOLEANS, "flag_ids", "name"})


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A create needs at least one field; the live side always has a name.
@given(
    live_fields=model_fields(required=("name",), live=True),
    repeats=st.lists(st.integers(min_value=0, max_value=2), max_size=2),
    desired_fields=model_fields(),
    ignored=st.sets(st.sampled_from([*FIELDS, "description", "pricing", KEEP]), max_size=3),
)
def test_patched_live_draft_normalizes_to_the_desired_model(
    app, live_fields, repeats, desired_fields, ignored
):
    asyncio.run(_round_trip(app, live_fields, repeats, desired_fields, ignored))
