"""What a refresh keeps of each draft plans exactly as the draft itself would."""

import pytest
from plan_builders import desired, live, record

from reconciler.apply.state import ModelRecord
from reconciler.planning.live import LiveDraft, compact
from reconciler.planning.normalize import managed_fields
from reconciler.planning.planner import build_plan


def test_a_plan_from_kept_drafts_is_the_plan_from_the_drafts():
    drifted = desired("a", name="Mine", departments=["A"], ignore=("departments",))
    adopted = desired("b", name="N", draft_id="d-b")
    models = [drifted, adopted]
    applied = live("d-a", name="Mine", departments=["A"])
    records = {
        "a": record(applied, drifted),
        "gone": ModelRecord(draft_id="d-g", last_applied={"active": True}),
        "old": ModelRecord(draft_id="d-o", last_applied={"active": True}),
    }
    drafts = {
        "a": live("d-a", name="Theirs", departments=["A", "B"], pending_ids=["k-1"]),
        "b": live("d-b", name="Old", provider="OpenAI"),
        "gone": None,
        "old": live("d-o", active=True, pending_ids=["rc-0123abcd-ffff"]),
    }
    fields = {model.key: managed_fields(model) for model in models}
    kept = {
        key: None if draft is None else compact(draft, fields.get(key, ()))
        for key, draft in drafts.items()
    }
    for prune in (False, True):
        assert build_plan(models, records, kept, prune=prune) == build_plan(
            models, records, drafts, prune=prune
        )


def test_a_draft_kept_for_other_fields_is_refused_rather_than_missing_drift():
    model = desired(name="N", description="D", draft_id="d-1")
    kept = compact(live(name="N", description="Other"), ("name",))
    assert isinstance(kept, LiveDraft)
    with pytest.raises(ValueError, match=r"kept for \['name'\], not \['description', 'name'\]"):
        build_plan([model], {}, {model.key: kept})
