import pytest
from plan_builders import desired, live, price, record

from reconciler.apply.state import ModelRecord
from reconciler.errors import PlanError, PlanProblem
from reconciler.planning.normalize import desired_digest, live_fingerprint
from reconciler.planning.plan import FieldChange, WithoutManifest
from reconciler.planning.planner import build_plan
from reconciler.render.remedies import describe, plan_warnings


def only(plan):
    """The one change of a single-model plan."""
    (change,) = plan.changes
    return change


def test_a_model_without_record_or_draft_id_is_created_with_every_field():
    model = desired(name="N", description="first", active=True, ignore=("description",), line=3)
    change = only(build_plan([model], {}, {}))
    assert change.action == "create"
    assert change.draft_id is None
    assert change.patch == {"name": "N", "description": "first", "active": True}
    assert change.desired_digest == desired_digest(model)
    assert change.source == "manifests/gpt-4o.yaml:3:1"
    assert change.live_fingerprint is None


def test_a_model_with_metadata_draft_id_is_adopted_with_a_minimal_patch():
    model = desired(name="N", provider="openai", draft_id="d-7")
    draft = live("d-7", name="Old", provider="OpenAI")
    change = only(build_plan([model], {}, {model.key: draft}))
    assert change.action == "adopt"
    assert change.draft_id == "d-7"
    assert change.patch == {"name": "N"}
    assert change.live_fingerprint == live_fingerprint(draft)


def test_adopting_a_draft_that_already_matches_is_still_a_change_with_nothing_to_send():
    model = desired(name="N", draft_id="d-7")
    plan = build_plan([model], {}, {model.key: live("d-7", name="N")})
    assert only(plan).action == "adopt"
    assert only(plan).patch == {}
    assert plan.has_changes
    assert plan.summary.line() == "Plan: 1 to adopt, 0 to create, 0 to update, 0 to deactivate."


def test_adopting_a_draft_the_catalog_does_not_have_is_an_error():
    model = desired(name="N", draft_id="d-missing")
    with pytest.raises(PlanError, match=r"metadata\.draft_id d-missing names a draft the catalog"):
        build_plan([model], {}, {model.key: None})


def test_adopting_without_reading_the_draft_sets_every_managed_field():
    model = desired(name="N", description="x", draft_id="d-7", ignore=("description",))
    change = only(build_plan([model], {}, {}, refreshed=False))
    assert change.action == "adopt"
    assert change.patch == {"name": "N"}
    assert "not read" in change.warnings[0]


def test_a_draft_id_that_contradicts_the_state_is_an_error():
    model = desired(name="N", draft_id="d-new")
    records = {model.key: ModelRecord(draft_id="d-old")}
    with pytest.raises(PlanError) as caught:
        build_plan([model], records, {model.key: live("d-old", name="N")})
    [problem] = caught.value.problems
    assert problem.remedy == "state_rm_to_adopt"
    assert "state rm gpt-4o" in describe(caught.value)


def test_adopting_a_draft_another_model_already_manages_is_an_error():
    # Two models on one draft would undo each other's changes on every apply.
    claude = desired("claude", name="Claude", draft_id="d-1")
    records = {"gpt-4o": ModelRecord(draft_id="d-1")}
    with pytest.raises(PlanError, match=r"claude: .*d-1 is already model gpt-4o"):
        build_plan([claude], records, {"claude": live("d-1"), "gpt-4o": live("d-1")})


def test_a_recorded_model_that_differs_is_updated():
    model = desired(name="New", active=True)
    before = live(name="New", active=True)
    draft = live(name="Old", active=True, revision=4)
    change = only(build_plan([model], {model.key: record(before, model)}, {model.key: draft}))
    assert change.action == "update"
    assert change.draft_id == "d-1"
    assert change.patch == {"name": "New"}
    assert change.field_changes == (FieldChange(field="name", before="Old", after="New"),)


def test_a_live_state_equal_to_the_desired_one_gives_an_empty_plan():
    model = desired(
        provider="openai",
        departments=["support", "research"],
        active=True,
        pricing=[price("in", "0.60", "usd")],
    )
    draft = live(
        provider="OpenAI",
        departments=["Research", "Support"],
        active=True,
        pricing=[price("in", "0.6", id="p-1")],
        pricing_ids=["p-1"],
    )
    plan = build_plan([model], {model.key: record(draft, model)}, {model.key: draft})
    assert only(plan).action == "noop"
    assert not plan.has_changes
    assert plan.drift == ()
    assert plan.summary.line() == "No changes. The catalog matches the manifests."


def test_a_recorded_draft_that_is_gone_is_created_anew_with_a_warning():
    model = desired(name="N")
    plan = build_plan([model], {model.key: ModelRecord(draft_id="d-gone")}, {model.key: None})
    change = only(plan)
    assert change.action == "create"
    assert change.draft_id is None
    assert change.patch == {"name": "N"}
    assert "draft d-gone in the state no longer exists" in change.warnings[0]


def test_an_active_model_without_manifest_is_listed_apart_without_prune():
    plan = build_plan([], {"old": ModelRecord(draft_id="d-9")}, {"old": live("d-9", active=True)})
    assert plan.changes == ()
    assert plan.without_manifest == (WithoutManifest(key="old", draft_id="d-9"),)
    assert plan.unmanaged == ()
    assert plan_warnings(plan) == ()
    assert not plan.has_changes


def test_an_inactive_or_unread_model_without_manifest_is_only_warned_about():
    records = {"old": ModelRecord(draft_id="d-9"), "older": ModelRecord(draft_id="d-8")}
    plan = build_plan([], records, {"old": live("d-9", active=False)})
    assert plan.without_manifest == ()
    assert plan.unmanaged == ("old", "older")
    assert plan_warnings(plan) == (
        "model old is in the state but has no manifest; run with --prune to deactivate it",
        "model older is in the state but has no manifest; run with --prune to deactivate it",
    )


def test_models_whose_drafts_are_gone_are_listed_and_counted_as_recreations():
    kept, gone = desired("kept", name="K"), desired("gone", name="G")
    records = {"kept": ModelRecord(draft_id="d-1"), "gone": ModelRecord(draft_id="d-2")}
    plan = build_plan([kept, gone], records, {"kept": live("d-1", name="K"), "gone": None})
    assert plan.missing_from_catalog == ("gone",)
    assert plan.summary.recreate == 1
    assert plan.missing_line.startswith("1 model recorded in the state is missing from the catalog")


def test_prune_deactivates_a_model_without_manifest():
    draft = live("d-9", active=True)
    plan = build_plan([], {"old": ModelRecord(draft_id="d-9")}, {"old": draft}, prune=True)
    change = only(plan)
    assert change.action == "deactivate"
    assert change.patch == {"active": False}
    assert change.field_changes == (FieldChange(field="active", before=True, after=False),)
    assert change.live_fingerprint == live_fingerprint(draft)
    assert plan.summary.line() == "Plan: 0 to create, 0 to update, 1 to deactivate."


def test_pruning_an_inactive_draft_only_drops_it_from_the_state():
    plan = build_plan(
        [], {"old": ModelRecord(draft_id="d-9")}, {"old": live("d-9", active=False)}, prune=True
    )
    change = only(plan)
    assert change.action == "deactivate"
    assert change.patch == {}
    assert "already inactive" in change.warnings[0]


def test_pruning_a_draft_that_is_gone_only_drops_it_from_the_state():
    plan = build_plan([], {"old": ModelRecord(draft_id="d-9")}, {"old": None}, prune=True)
    assert only(plan).patch == {}
    assert "no longer exists" in only(plan).warnings[0]


def test_pruning_without_refresh_trusts_the_last_applied_active_flag():
    records = {
        "on": ModelRecord(draft_id="d-1", last_applied={"active": True}),
        "off": ModelRecord(draft_id="d-2", last_applied={"active": False}),
        "unknown": ModelRecord(draft_id="d-3"),
    }
    plan = build_plan([], records, {}, prune=True, refreshed=False)
    patches = {c.key: c.patch for c in plan.changes}
    assert patches == {"off": {}, "on": {"active": False}, "unknown": {"active": False}}


def test_targets_limit_the_plan_including_prune():
    a, b = desired("a", name="A"), desired("b", name="B")
    records = {"gone": ModelRecord(draft_id="d-9"), "kept": ModelRecord(draft_id="d-8")}
    reads = {"gone": live("d-9", active=True), "kept": live("d-8", active=True)}
    plan = build_plan([a, b], records, reads, prune=True, targets=frozenset({"a", "gone"}))
    assert [(c.key, c.action) for c in plan.changes] == [("a", "create"), ("gone", "deactivate")]
    assert plan.targets == ("a", "gone")


def test_a_target_that_matches_nothing_is_warned_about():
    plan = build_plan([desired("a", name="A")], {}, {}, targets=frozenset({"a", "typo"}))
    assert plan.warnings == ("target typo matches no manifest and no model in the state",)


def test_without_refresh_the_plan_is_made_against_the_last_applied_values():
    model = desired(name="New", departments=["A"])
    records = {model.key: record(live(name="Old", departments=["a"]), model)}
    ignored_live = {model.key: live(name="New", departments=["A"])}
    plan = build_plan([model], records, ignored_live, refreshed=False)
    change = only(plan)
    assert change.action == "update"
    assert change.patch == {"name": "New"}
    assert change.live_fingerprint is None
    assert change.warnings == ()
    assert plan.drift == ()
    assert not plan.refreshed


def test_a_recorded_draft_not_read_is_planned_against_the_state_with_a_warning():
    model = desired(name="New")
    plan = build_plan([model], {model.key: record(live(name="Old"), model)}, {})
    assert only(plan).patch == {"name": "New"}
    assert "not read; planned against the last applied state" in only(plan).warnings[0]


def test_a_field_newly_managed_is_patched_when_planning_from_the_state():
    model = desired(name="N", voices=["alloy"])
    records = {model.key: ModelRecord(draft_id="d-1", last_applied={"name": "N"})}
    change = only(build_plan([model], records, {}, refreshed=False))
    assert change.patch == {"voices": ["alloy"]}
    assert change.field_changes[0].before is None


def test_pending_proposals_are_reported_on_the_change():
    model = desired(name="N")
    draft = live(name="N", pending_ids=["k-2", "k-1"])
    change = only(build_plan([model], {model.key: record(draft, model)}, {model.key: draft}))
    assert change.pending_ids == ("k-2", "k-1")
    assert change.warnings == ("draft d-1 has pending proposals not made by this plan: k-1, k-2",)
    assert change.action == "noop"


def test_pending_proposals_staged_by_reconciler_are_not_called_someone_elses():
    # After `plan --stage` in a pull request, apply on merge meets its own proposals.
    model = desired(name="N")
    draft = live(name="N", pending_ids=["rc-0123abcd-ffff", "k-1"])
    change = only(build_plan([model], {model.key: record(draft, model)}, {model.key: draft}))
    assert change.warnings == (
        "draft d-1 has pending proposals not made by this plan: k-1",
        "draft d-1 has proposals staged by reconciler pending: rc-0123abcd-ffff",
    )


def test_drift_is_reported_apart_and_still_corrected_by_the_manifest():
    model = desired(name="Mine", description="Doc", departments=["A"])
    applied = live(name="Mine", description="Doc", departments=["A"])
    edited = live(name="Theirs", description="Doc", departments=["A", "B"])
    plan = build_plan([model], {model.key: record(applied, model)}, {model.key: edited})
    (entry,) = plan.drift
    assert entry.key == model.key
    assert entry.draft_id == "d-1"
    assert [(c.field, c.before, c.after) for c in entry.field_changes] == [
        ("name", "Mine", "Theirs"),
        ("departments", ["A"], ["A", "B"]),
    ]
    assert only(plan).patch == {"name": "Mine", "departments": ["A"]}


def test_drift_that_the_manifest_now_agrees_with_is_reported_without_a_change():
    model = desired(name="Theirs")
    applied = live(name="Mine")
    edited = live(name="Theirs")
    plan = build_plan([model], {model.key: record(applied, model)}, {model.key: edited})
    assert only(plan).action == "noop"
    assert len(plan.drift) == 1


def test_a_manifest_change_alone_is_not_drift():
    model = desired(name="Next")
    draft = live(name="Now")
    plan = build_plan([model], {model.key: record(draft, model)}, {model.key: draft})
    assert only(plan).action == "update"
    assert plan.drift == ()


def test_ignored_fields_are_never_compared_patched_or_drift():
    model = desired(name="N", description="mine", ignore=("description",))
    # Even a record that once stored the field (before it was ignored) sees no drift in it.
    rec = ModelRecord(draft_id="d-1", last_applied={"name": "N", "description": "mine"})
    edited = live(name="N", description="theirs")
    plan = build_plan([model], {model.key: rec}, {model.key: edited})
    assert only(plan).action == "noop"
    assert plan.drift == ()


def test_defaults_merged_fields_are_planned_like_any_other():
    # The loader merges Defaults into fields; the planner cannot and need not tell them apart.
    model = desired(name="N", pricing_enabled=True, departments=["Research"])
    draft = live(name="N", pricing_enabled=False, departments=["Research"])
    change = only(build_plan([model], {model.key: record(draft, model)}, {model.key: draft}))
    assert change.patch == {"pricing_enabled": True}


def test_every_action_together_is_sorted_by_key_and_counted():
    models = [
        desired("c-create", name="C"),
        desired("a-adopt", name="A", draft_id="d-a"),
        desired("u-update", name="U"),
        desired("n-noop", name="N"),
    ]
    records = {
        "u-update": ModelRecord(draft_id="d-u", last_applied={"name": "old"}),
        "n-noop": ModelRecord(draft_id="d-n", last_applied={"name": "N"}),
        "z-gone": ModelRecord(draft_id="d-z", last_applied={"active": True}),
    }
    reads = {
        "a-adopt": live("d-a", name="A"),
        "u-update": live("d-u", name="old"),
        "n-noop": live("d-n", name="N"),
        "z-gone": live("d-z", active=True),
    }
    plan = build_plan(models, records, reads, prune=True)
    assert [(c.key, c.action) for c in plan.changes] == [
        ("a-adopt", "adopt"),
        ("c-create", "create"),
        ("n-noop", "noop"),
        ("u-update", "update"),
        ("z-gone", "deactivate"),
    ]
    assert plan.managed_models == 3
    assert plan.summary.line() == "Plan: 1 to adopt, 1 to create, 1 to update, 1 to deactivate."


def test_one_key_described_twice_is_an_error():
    with pytest.raises(PlanError, match="described twice"):
        build_plan([desired("a", name="A"), desired("a", name="B")], {}, {})


def test_every_problem_is_reported_at_once():
    a = desired("a", name="A", draft_id="d-missing")
    b = desired("b", name="B", draft_id="d-other")
    with pytest.raises(PlanError) as caught:
        build_plan([a, b], {"b": ModelRecord(draft_id="d-b")}, {"a": None, "b": live("d-b")})
    assert "model a:" in str(caught.value)
    assert "model b:" in str(caught.value)


PENDING = "draft d-1 has pending proposals not made by this plan: k-1"


def test_pruning_a_draft_with_pending_proposals_warns_about_them():
    rec = ModelRecord(draft_id="d-1", last_applied={"active": True})
    change = only(
        build_plan([], {"old": rec}, {"old": live(active=True, pending_ids=["k-1"])}, prune=True)
    )
    assert change.warnings == (PENDING,)
    assert change.pending_ids == ("k-1",)
    assert change.patch == {"active": False}


def test_pruning_an_inactive_draft_with_pending_proposals_keeps_both_warnings():
    rec = ModelRecord(draft_id="d-1", last_applied={"active": True})
    draft = live(active=False, pending_ids=["k-1"])
    change = only(build_plan([], {"old": rec}, {"old": draft}, prune=True))
    assert change.warnings == (
        PENDING,
        "draft d-1 is already inactive; the model is only dropped from the state",
    )
    assert change.patch == {}
    assert change.live_fingerprint == live_fingerprint(draft)


def _contradiction(key):
    return desired(key, name=key, draft_id=f"d-other-{key}"), {
        key: ModelRecord(draft_id=f"d-{key}")
    }


def _taken(key):
    owner = f"owner-of-{key}"
    return desired(key, name=key, draft_id=f"d-{key}"), {owner: ModelRecord(draft_id=f"d-{key}")}


def _missing(key):
    return desired(key, name=key, draft_id=f"d-{key}"), {}


@pytest.mark.parametrize("problem", [_contradiction, _taken, _missing])
def test_a_problem_never_hides_the_problems_of_later_models(problem):
    (first, first_records), (last, last_records) = problem("a"), problem("b")
    reads = {"a": None, "b": None} if problem is _missing else {}
    with pytest.raises(PlanError) as caught:
        build_plan([last, first], {**first_records, **last_records}, reads)
    assert "model a:" in str(caught.value)
    assert "model b:" in str(caught.value)


def test_a_model_without_draft_id_is_not_taken_for_a_record_with_an_empty_one():
    # A hand-edited state may hold draft_id ""; it names no draft a model can ask for.
    model = desired("new", name="N")
    plan = build_plan([model], {"odd": ModelRecord(draft_id="")}, {})
    assert [c.action for c in plan.changes] == ["create"]


def test_problems_are_one_per_line_with_their_whole_advice():
    a = desired("a", name="A", draft_id="d-a")
    b = desired("b", name="B", draft_id="d-b")
    with pytest.raises(PlanError) as caught:
        build_plan([a, b], {}, {"a": None, "b": None})
    assert str(caught.value).split("\n") == [
        f"model {key}: metadata.draft_id d-{key} names a draft the catalog does not have; "
        "fix the id, or remove it to create a new draft"
        for key in ("a", "b")
    ]


def test_a_model_without_a_source_has_none():
    assert only(build_plan([desired(name="N")], {}, {})).source is None


def test_a_draft_taken_by_another_model_is_a_problem_with_its_remedy():
    model = desired("b", name="B", draft_id="d-a")
    with pytest.raises(PlanError) as caught:
        build_plan([model], {"a": ModelRecord(draft_id="d-a")}, {})
    assert caught.value.problems == (
        PlanProblem(
            "model b: metadata.draft_id d-a is already model a in the state",
            remedy="state_rm_owner",
            remedy_args=(("key", "b"), ("owner", "a")),
        ),
    )


def test_models_with_a_manifest_are_never_listed_as_without_one():
    model = desired("kept", name="K")
    records = {"kept": ModelRecord(draft_id="d-1")}
    plan = build_plan([model], records, {"kept": live("d-1", name="K", active=True)})
    assert plan.without_manifest == ()
    assert plan.unmanaged == ()


def test_targets_list_their_models_without_manifest_and_missing_from_the_catalog():
    records = {
        "old": ModelRecord(draft_id="d-9"),
        "gone": ModelRecord(draft_id="d-2"),
        "other": ModelRecord(draft_id="d-3"),
    }
    gone = desired("gone", name="G")
    reads = {"old": live("d-9", active=True), "gone": None, "other": None}
    plan = build_plan([gone], records, reads, targets=frozenset({"old", "gone"}))
    assert plan.without_manifest == (WithoutManifest(key="old", draft_id="d-9"),)
    assert plan.missing_from_catalog == ("gone",)


def test_a_pruning_plan_says_so_and_lists_nothing_as_unmanaged():
    records = {"old": ModelRecord(draft_id="d-9")}
    plan = build_plan([], records, {"old": live("d-9", active=False)}, prune=True)
    assert plan.prune is True
    assert plan.unmanaged == ()
    assert build_plan([], records, {}).prune is False


def test_the_conflicts_of_every_model_are_listed():
    models, records, reads = [], {}, {}
    for key in ("a", "b"):
        applied = live(f"d-{key}", name="Applied")
        model = desired(key, name=f"{key} in git")
        models.append(model)
        records[key] = record(applied, model)
        reads[key] = live(f"d-{key}", name=f"{key} in the catalog")
    plan = build_plan(models, records, reads)
    assert [(c.key, c.field, c.git) for c in plan.conflicts] == [
        ("a", "name", "a in git"),
        ("b", "name", "b in git"),
    ]
