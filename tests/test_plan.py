import json

import pydantic
import pytest
from plan_builders import fixed_plan

from reconciler.errors import PlanFileError, ReconcilerError, UnsafePlanError
from reconciler.planning.plan import (
    DriftEntry,
    FieldChange,
    ModelChange,
    Plan,
    PlanSummary,
    SafetyLimits,
)
from reconciler.planning.saved import SavedPlan, endpoint_label
from reconciler.render.remedies import describe, plan_warnings


def plan_of(*actions: str, managed: int = 0) -> Plan:
    changes = [
        ModelChange(key=f"m{i:03d}", action=action, draft_id=None if action == "create" else "d")
        for i, action in enumerate(actions)
    ]
    return Plan(changes=tuple(changes), managed_models=managed)


def saved(plan: Plan | None = None) -> SavedPlan:
    return SavedPlan(
        created_at="2026-01-02T03:04:05Z",
        endpoint="catalog.example.com",
        state_lineage="lin-1",
        state_serial=7,
        manifests_digest="sha256:abc",
        plan=plan or sample_plan(),
    )


def sample_plan() -> Plan:
    return Plan(
        changes=(
            ModelChange(
                key="b",
                action="update",
                draft_id="d-b",
                field_changes=(
                    FieldChange(field="name", before="Old", after="New"),
                    FieldChange(
                        field="pricing",
                        before=[],
                        after=[{"label": "in", "unit": "u", "amount": "1", "currency": "USD"}],
                        added=({"label": "in", "unit": "u", "amount": "1", "currency": "USD"},),
                    ),
                ),
                patch={
                    "name": "New",
                    "pricing": [{"label": "in", "unit": "u", "amount": "1", "currency": "USD"}],
                    "pricing_ids": [],
                },
                live_fingerprint="sha256:1",
                desired_digest="sha256:2",
                pending_ids=("k",),
                source="manifests/b.yaml:1:1",
                warnings=("draft d-b has pending proposals not made by this plan: k",),
            ),
            ModelChange(key="a", action="create", patch={"name": "A"}),
        ),
        drift=(
            DriftEntry(
                key="b",
                draft_id="d-b",
                field_changes=(FieldChange(field="name", before="Was", after="Old"),),
            ),
        ),
        unmanaged=("z",),
        managed_models=1,
        targets=("a", "b"),
    )


def test_changes_are_kept_sorted_by_key():
    assert [c.key for c in sample_plan().changes] == ["a", "b"]


def test_summary_line_counts_each_action():
    plan = plan_of("create", "update", "update", "noop")
    assert plan.summary == PlanSummary(create=1, update=2, noop=1)
    assert plan.summary.line() == "Plan: 1 to create, 2 to update, 0 to deactivate."


def test_adoptions_are_named_only_when_there_are_some():
    assert plan_of("adopt", "deactivate").summary.line() == (
        "Plan: 1 to adopt, 0 to create, 0 to update, 1 to deactivate."
    )


def test_a_plan_of_noops_has_no_changes():
    plan = plan_of("noop", "noop")
    assert not plan.has_changes
    assert plan.summary.line() == "No changes. The catalog matches the manifests."


def test_all_warnings_prefix_change_warnings_with_the_model_key():
    assert plan_warnings(sample_plan()) == (
        "b: draft d-b has pending proposals not made by this plan: k",
        "model z is in the state but has no manifest; run with --prune to deactivate it",
    )


def test_the_plan_is_immutable():
    plan = sample_plan()
    with pytest.raises(pydantic.ValidationError):
        plan.warnings = ()
    with pytest.raises(pydantic.ValidationError):
        plan.changes[0].action = "noop"


def test_a_patch_must_be_a_request_the_api_takes():
    with pytest.raises(pydantic.ValidationError, match="not model fields: colour"):
        ModelChange(key="a", action="update", patch={"colour": "red"})
    with pytest.raises(pydantic.ValidationError, match="not model fields: soft"):
        ModelChange(key="a", action="update", patch={"soft": True})
    with pytest.raises(pydantic.ValidationError, match="not model fields: pending_ids"):
        ModelChange(key="a", action="update", patch={"pending_ids": []})
    with pytest.raises(pydantic.ValidationError):
        ModelChange(key="a", action="update", patch={"active": "maybe"})


# --- safety -----------------------------------------------------------------------------------


def test_a_small_catalog_is_never_refused():
    plan_of(*["update"] * 9, managed=9).raise_if_unsafe()


def test_updates_above_the_share_are_refused_with_the_numbers_and_force():
    plan = plan_of(*["update"] * 4, *["noop"] * 6, managed=10)
    with pytest.raises(UnsafePlanError) as caught:
        plan.raise_if_unsafe()
    message = str(caught.value)
    assert "update 4 of 10 managed models (40%), above the safe limit of 30%" in message
    [share] = caught.value.shares
    assert (share.action, share.count, share.total, share.limit) == ("update", 4, 10, 0.30)
    assert caught.value.remedy == "force"
    assert "--force" in describe(caught.value)


def test_updates_at_the_share_are_allowed():
    plan_of(*["update"] * 3, managed=10).raise_if_unsafe()


def test_deactivations_are_checked_against_their_own_share():
    plan = plan_of(*["deactivate"] * 4, managed=10)
    with pytest.raises(UnsafePlanError, match="deactivate 4 of 10 managed models"):
        plan.raise_if_unsafe()


def test_both_shares_exceeded_are_named_in_one_message():
    plan = plan_of(*["update"] * 4, *["deactivate"] * 4, managed=10)
    with pytest.raises(UnsafePlanError, match=r"update 4 of 10.* and deactivate 4 of 10"):
        plan.raise_if_unsafe()


def test_creates_and_adoptions_are_never_unsafe():
    plan_of(*["create"] * 50, *["adopt"] * 50, managed=10).raise_if_unsafe()


def test_force_skips_the_check():
    plan_of(*["update"] * 10, managed=10).raise_if_unsafe(force=True)


def test_limits_are_configurable():
    plan = plan_of("update", "update", managed=4)
    plan.raise_if_unsafe()
    limits = SafetyLimits(max_update_share=0.25, min_models=4)
    with pytest.raises(UnsafePlanError, match="above the safe limit of 25%"):
        plan.raise_if_unsafe(limits)


def test_a_first_apply_with_the_size_minimum_off_creates_without_dividing_by_zero():
    limits = SafetyLimits(min_models=0)
    plan_of("create", "create", managed=0).raise_if_unsafe(limits)


# --- saved plan -------------------------------------------------------------------------------


def test_a_saved_plan_round_trips_through_json():
    original = saved()
    text = original.to_json()
    assert SavedPlan.from_json(text) == original
    assert json.loads(text)["kind"] == "reconciler-plan"
    assert text.endswith("\n")


def test_a_file_that_is_not_json_is_refused_clearly():
    with pytest.raises(PlanFileError, match=r"plan\.json is not a reconciler plan: invalid JSON"):
        SavedPlan.from_json("{not json", source="plan.json")


def test_json_that_is_not_a_plan_is_refused():
    with pytest.raises(PlanFileError, match="is not a reconciler plan"):
        SavedPlan.from_json('{"format_version": 1, "models": {}}')
    with pytest.raises(PlanFileError, match="is not a reconciler plan"):
        SavedPlan.from_json("[1, 2]")


def test_a_plan_of_another_format_version_is_refused():
    data = json.loads(saved().to_json())
    data["format_version"] = 2
    with pytest.raises(
        PlanFileError, match=r"plan file format version 2, but this reconciler reads version 1"
    ):
        SavedPlan.from_json(json.dumps(data))
    data["format_version"] = 1
    data["plan"]["format_version"] = 9
    with pytest.raises(PlanFileError, match=r"has plan format version 9.*make the plan again"):
        SavedPlan.from_json(json.dumps(data))


def test_a_damaged_plan_is_refused_with_the_broken_field():
    data = json.loads(saved().to_json())
    data["plan"]["changes"][0]["action"] = "explode"
    with pytest.raises(PlanFileError, match=r"plan\.changes\.0\.action"):
        SavedPlan.from_json(json.dumps(data))
    assert issubclass(PlanFileError, ReconcilerError)
    del data["plan"]
    with pytest.raises(PlanFileError, match="plan: Field required"):
        SavedPlan.from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("endpoint", "label"),
    [
        (None, "embedded"),
        ("", "embedded"),
        ("https://catalog.example.com/api?token=s3cret", "catalog.example.com"),
        ("https://user:s3cret@catalog.example.com:8443/x", "catalog.example.com:8443"),
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://[::1]:9000/", "[::1]:9000"),
        ("http://host:notaport", "unknown"),
        ("not a url", "unknown"),
    ],
)
def test_endpoint_labels_never_carry_credentials_paths_or_queries(endpoint, label):
    assert endpoint_label(endpoint) == label


def test_the_plan_for_applying_keeps_everything_but_the_field_level_changes():
    plan = fixed_plan()
    assert any(c.field_changes for c in plan.changes)
    applying = plan.for_applying()
    assert all(not c.field_changes for c in applying.changes)
    assert [c.model_dump(exclude={"field_changes"}) for c in applying.changes] == [
        c.model_dump(exclude={"field_changes"}) for c in plan.changes
    ]
    assert applying.model_dump(exclude={"changes"}) == plan.model_dump(exclude={"changes"})
    assert applying.drift == plan.drift
    assert applying.summary == plan.summary
