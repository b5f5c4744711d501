import json
from pathlib import Path

from plan_builders import PRICE_NEW, PRICE_OLD, fixed_plan

from reconciler.planning.plan import PLAN_FORMAT_VERSION, Plan
from reconciler.render import render
from reconciler.render.json_format import plan_document, render_json


def test_the_document_is_versioned_and_summarized():
    doc = json.loads(render_json(fixed_plan()))
    assert doc["format_version"] == PLAN_FORMAT_VERSION == 1
    assert doc["summary"] == {
        "adopt": 1,
        "create": 1,
        "update": 1,
        "deactivate": 1,
        "noop": 1,
        "recreate": 0,
        "conflicts": 0,
        "managed_models": 4,
        "has_changes": True,
        "line": "Plan: 1 to adopt, 1 to create, 1 to update, 1 to deactivate.",
    }
    assert list(doc) == [
        "format_version",
        "refreshed",
        "not_refreshed",
        "targets",
        "summary",
        "changes",
        "drift",
        "missing_from_catalog",
        "without_manifest",
        "conflicts",
        "warnings",
    ]


def test_each_change_carries_key_action_field_changes_and_patch():
    doc = json.loads(render_json(fixed_plan()))
    assert [(c["key"], c["action"]) for c in doc["changes"]] == [
        ("claude", "adopt"),
        ("gpt-4o", "update"),
        ("mini", "create"),
        ("old", "deactivate"),
        ("same", "noop"),
    ]
    update = doc["changes"][1]
    assert update == {
        "key": "gpt-4o",
        "draft_id": "d-1",
        "action": "update",
        "source": "manifests/openai.yaml:1:1",
        "field_changes": [
            {
                "field": "name",
                "before": "GPT-4o",
                "after": "GPT-4o (2024)",
                "added": [],
                "removed": [],
            },
            {
                "field": "departments",
                "before": ["Legal", "Research"],
                "after": ["Research", "support"],
                "added": ["support"],
                "removed": ["Legal"],
            },
            {
                "field": "pricing",
                "before": [PRICE_OLD],
                "after": [PRICE_NEW],
                "added": [PRICE_NEW],
                "removed": [PRICE_OLD],
            },
        ],
        "patch": {
            "name": "GPT-4o (2024)",
            "departments": ["support", "Research"],
            "pricing": [PRICE_NEW],
            "pricing_ids": [],
        },
        "pending_ids": ["k-1"],
        "warnings": ["draft d-1 has pending proposals not made by this plan: k-1"],
        "live_fingerprint": "sha256:f1",
        "desired_digest": "sha256:d1",
    }


def test_drift_and_plan_warnings_are_their_own_sections():
    doc = plan_document(fixed_plan())
    assert doc["drift"] == [
        {
            "key": "gpt-4o",
            "draft_id": "d-1",
            "field_changes": [
                {
                    "field": "name",
                    "before": "GPT-4o",
                    "after": "GPT 4o",
                    "added": [],
                    "removed": [],
                }
            ],
        }
    ]
    assert doc["warnings"] == [
        "model legacy is in the state but has no manifest; run with --prune to deactivate it"
    ]


def test_an_empty_plan_is_a_valid_document():
    assert json.loads(render_json(Plan(refreshed=False, targets=()))) == {
        "format_version": 1,
        "refreshed": False,
        "not_refreshed": 0,
        "targets": [],
        "summary": {
            "adopt": 0,
            "create": 0,
            "update": 0,
            "deactivate": 0,
            "noop": 0,
            "recreate": 0,
            "conflicts": 0,
            "managed_models": 0,
            "has_changes": False,
            "line": "No changes. The catalog matches the manifests.",
        },
        "changes": [],
        "drift": [],
        "missing_from_catalog": [],
        "without_manifest": [],
        "conflicts": [],
        "warnings": [],
    }


def test_output_is_deterministic_text_with_a_final_newline():
    text = render(fixed_plan(), "json")
    assert text == render_json(fixed_plan())
    assert text.endswith("}\n")
    assert render_json(fixed_plan(), indent=None).count("\n") == 1


def test_the_documented_example_is_what_the_renderer_produces():
    # docs/plan-format.md shows this plan's document; keep the two in step.
    doc = Path(__file__).parent.parent / "docs" / "plan-format.md"
    example = doc.read_text(encoding="utf-8").split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(example) == plan_document(fixed_plan())
