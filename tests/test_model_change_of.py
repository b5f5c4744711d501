"""``ModelChange.of``, the planner's unvalidated constructor, makes exactly what validating
the same values makes: equal, the same fields in the same order with values of the same
types (tuples stay tuples), dumping alike; and a patch validation refuses is refused."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.apply.state import ModelRecord
from reconciler.manifests.model import DesiredModel, SourceLocation
from reconciler.planning.normalize import normalize_live
from reconciler.planning.plan import ModelChange
from reconciler.planning.planner import build_plan, plan_model
from tests.plan_builders import live

TEXT = st.text(max_size=6)
LABELS = st.lists(st.sampled_from(["Research", "sales", " Legal ", "text", "IMAGE"]), max_size=3)
PRICE = st.fixed_dictionaries(
    {
        "label": st.sampled_from(["input", "output"]),
        "unit": st.just("1M tokens"),
        "amount": st.sampled_from(["0.15", "0.150", "1", "2.5"]),
        "currency": st.sampled_from(["USD", "EUR"]),
    }
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "name": TEXT,
        "description": TEXT,
        "provider": st.sampled_from(["OpenAI", "openai ", "Meta"]),
        "departments": LABELS,
        "modalities": LABELS,
        "active": st.booleans(),
        "pricing_enabled": st.booleans(),
        "pricing": st.lists(PRICE, max_size=3),
    },
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[DesiredModel, ModelRecord | None, Any]:
    fields = draw(FIELDS)
    ignored = draw(st.frozensets(st.sampled_from(sorted(fields) or ["name"]), max_size=2))
    model = DesiredModel(
        key="m",
        fields=fields,
        draft_id=draw(st.sampled_from([None, "d-1"])),
        ignore_changes=ignored,
        source=SourceLocation("manifests/m.yaml", 3),
    )
    live_fields = draw(FIELDS)
    pricing = [{**e, "id": f"p-{i}"} for i, e in enumerate(live_fields.pop("pricing", []))]
    draft = live(
        "d-1",
        **live_fields,
        pricing=pricing,
        pending_ids=draw(st.lists(st.sampled_from(["rc-1", "x"]), max_size=2)),
    )
    record = None
    if draw(st.booleans()):
        record = ModelRecord(draft_id="d-1", last_applied=normalize_live(draft, model.fields))
    return model, record, draft


def assert_as_validated(change: ModelChange) -> None:
    validated = ModelChange(**change.__dict__)
    assert change == validated
    assert list(change.__dict__) == list(validated.__dict__)
    for name, value in change.__dict__.items():
        assert type(value) is type(validated.__dict__[name]), name
    assert change.model_dump_json() == validated.model_dump_json()
    assert change.model_dump() == validated.model_dump()
    assert repr(change) == repr(validated)
    # What apply keeps of a plan: a copy that adds to the copied change's fields-set.
    update = {"field_changes": ()}
    assert change.model_copy(update=update) == validated.model_copy(update=update)
    assert change.model_fields_set >= validated.model_fields_set


@given(cases(), st.sampled_from(["read", "gone", "unread"]))
def test_a_planned_change_is_what_validation_makes(case, how):
    model, record, draft = case
    reads = {"m": draft} if how == "read" else {"m": None} if how == "gone" else {}
    if how == "gone" and record is None and model.draft_id:
        return  # a problem, not a change
    plan = build_plan([model], {"m": record} if record else {}, reads)
    assert_as_validated(plan.changes[0])
    if how == "read":
        assert_as_validated(plan_model(model, record, draft).change)


def test_every_field_given():
    change = ModelChange.of(
        key="m",
        action="update",
        draft_id="d-1",
        patch={"name": "x", "pricing_ids": ["p-1"]},
        live_fingerprint="sha256:f",
        desired_digest="sha256:d",
        pending_ids=("rc-1",),
        source="manifests/m.yaml:3:1",
        warnings=("w",),
    )
    assert_as_validated(change)


@pytest.mark.parametrize(
    "patch", [{"pending_ids": ["x"]}, {"nope": 1}, {"name": 5}, {"pricing": [{"label": "x"}]}]
)
def test_a_patch_validation_refuses_is_refused_alike(patch):
    with pytest.raises(ValidationError) as validated:
        ModelChange(key="m", action="update", patch=patch)
    with pytest.raises(ValidationError) as made:
        ModelChange.of(key="m", action="update", patch=patch)
    assert str(made.value) == str(validated.value)
