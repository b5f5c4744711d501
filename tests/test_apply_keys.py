"""Idempotency keys: reconciler's prefix, the live state they were staged on, staleness."""

from __future__ import annotations

from reconciler.apply.keys import idempotency_key, is_ours, is_stale, planned_on, proposal_entry
from reconciler.planning.plan import ModelChange, Plan, StageVerdict

CHANGE = ModelChange(
    key="gpt-4o",
    action="update",
    draft_id="d-1",
    patch={"name": "GPT-4o"},
    live_fingerprint="sha256:abcdef0123456789",
)


def test_a_key_names_reconciler_and_the_live_state_it_was_staged_on():
    key = idempotency_key(CHANGE, planned_on("lineage", 3))
    assert key.startswith("rc-abcdef01-")
    assert is_ours(key)
    assert is_stale(key, "sha256:abcdef01ffff") is False
    assert is_stale(key, "sha256:00000000ffff") is True


def test_staleness_of_keys_that_do_not_say_is_unknown():
    assert is_stale("someone-elses-key", "sha256:abcdef01") is None
    assert is_stale("rc-" + "f" * 40, "sha256:abcdef01") is None


def test_a_retry_attempt_and_another_state_give_other_keys():
    first = idempotency_key(CHANGE, planned_on("l", 1))
    assert idempotency_key(CHANGE, planned_on("l", 1)) == first
    assert idempotency_key(CHANGE, planned_on("l", 1), attempt=2) != first
    assert idempotency_key(CHANGE, planned_on("l", 2)) != first


def test_the_proposal_entry_carries_the_key_and_the_exact_request():
    entry = proposal_entry(CHANGE, planned_on("l", 1), "now", batch="b")
    assert entry.idempotency_key == idempotency_key(CHANGE, planned_on("l", 1))
    assert entry.request == {"name": "GPT-4o", "draft_id": "d-1"}
    assert entry.batch == "b"


def test_the_stage_line_counts_refusals_and_failures():
    def verdict(key: str, what: str) -> StageVerdict:
        return StageVerdict(key=key, verdict=what, idempotency_key=f"rc-{key}")

    plan = Plan(stage=(verdict("a", "staged"), verdict("b", "refused"), verdict("c", "failed")))
    assert plan.stage_line() == "1 of 3 changes validated by the catalog; 1 refused, 1 not staged."
    assert [v.key for v in plan.refusals] == ["b", "c"]
    assert Plan(stage=(verdict("a", "staged"),)).stage_line() == (
        "1 of 1 changes validated by the catalog."
    )
