"""Models planned as their drafts arrive (``plan_model``) plan exactly as ``build_plan`` would,
and ``build_plan`` plans anew any model planned from another model, record or draft."""

from plan_builders import desired, live, record

from reconciler.apply.state import ModelRecord
from reconciler.planning.live import compact
from reconciler.planning.normalize import managed_fields
from reconciler.planning.planner import build_plan, plan_model


def _scene():
    """A no-op, a drifted model with a three-way conflict, an adoption, a model with pending
    proposals, a model whose draft is gone and one left in the state without a manifest."""
    same = desired("same", name="Same", departments=["A"])
    conflict = desired("conflict", name="Git", modalities=["text"])
    adopted = desired("adopted", name="N", draft_id="d-b")
    pending = desired("pending", name="P")
    gone = desired("gone", name="G")
    models = [same, conflict, adopted, pending, gone]
    records = {
        "same": record(live("d-s", name="Same", departments=["A"]), same),
        "conflict": record(
            live("d-c", name="Applied", modalities=["text"]),
            desired("conflict", name="Applied", modalities=["text"]),
        ),
        "pending": record(live("d-p", name="P"), pending),
        "gone": record(live("d-g", name="G"), gone),
        "old": ModelRecord(draft_id="d-o", last_applied={"active": True}),
    }
    drafts = {
        "same": live("d-s", name="Same", departments=["A"]),
        "conflict": live("d-c", name="Catalog", modalities=["text"]),
        "adopted": live("d-b", name="Old", provider="OpenAI"),
        "pending": live("d-p", name="P", pending_ids=["k-1", "rc-0123abcd-ffff"]),
        "gone": None,
        "old": live("d-o", active=True),
    }
    fields = {model.key: managed_fields(model) for model in models}
    kept = {
        key: None if draft is None else compact(draft, fields.get(key, ()))
        for key, draft in drafts.items()
    }
    return models, records, kept


def _ahead(models, records, kept):
    return {
        model.key: plan_model(model, records.get(model.key), kept[model.key])
        for model in models
        if kept.get(model.key) is not None
    }


def test_models_planned_ahead_give_the_plan_build_plan_makes():
    models, records, kept = _scene()
    planned = _ahead(models, records, kept)
    assert len(planned) == 4
    for prune in (False, True):
        expected = build_plan(models, records, kept, prune=prune)
        assert build_plan(models, records, kept, prune=prune, planned=planned) == expected
    plan = build_plan(models, records, kept, planned=planned)
    assert [(c.key, c.field) for c in plan.conflicts] == [("conflict", "name")]
    assert [d.key for d in plan.drift] == ["conflict"]
    assert plan.missing_from_catalog == ("gone",)


def test_a_model_planned_from_another_draft_record_or_manifest_is_planned_anew():
    models, records, kept = _scene()
    planned = _ahead(models, records, kept)
    # Each planned ahead from something other than what build_plan is given: a newer
    # read, a changed record, another manifest of the same key.
    reread = {
        **kept,
        "conflict": compact(
            live("d-c", name="Newer", modalities=["text"]), managed_fields(models[1])
        ),
    }
    changed = {**records, "same": ModelRecord(draft_id="d-s", last_applied={"name": "Before"})}
    renamed = [desired("same", name="Renamed", departments=["A"]), *models[1:]]
    for args in ((models, records, reread), (models, changed, kept), (renamed, records, kept)):
        assert build_plan(*args, planned=planned) == build_plan(*args)
    # Not refreshed, or a model a partial refresh did not read: never planned ahead.
    assert build_plan(models, records, kept, refreshed=False, planned=planned) == build_plan(
        models, records, kept, refreshed=False
    )
    unread = frozenset({"same"})
    assert build_plan(models, records, kept, unread=unread, planned=planned) == build_plan(
        models, records, kept, unread=unread
    )
