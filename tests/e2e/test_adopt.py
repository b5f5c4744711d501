"""adopt against the local catalog over real HTTP: drift, adopt, plan, apply, drift."""

from __future__ import annotations

from tests.e2e.test_apply import CLAUDE, GPT

MANIFEST = """\
# yaml-language-server: $schema=../manifest.schema.json
apiVersion: reconciler/v1
kind: Model
metadata:
  key: gpt-4o-mini

spec:
  name: GPT-4o mini   # the marketing name
  provider: openai
  departments: [Support, research]
  modalities:
    - text
    - image
  pricing:
    - {label: input,  unit: 1M tokens, amount: "0.15", currency: USD}
    - {label: output, unit: 1M tokens, amount: "0.60", currency: USD}
"""


def _setup(workspace) -> str:
    path = workspace.root / "manifests" / "gpt.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(MANIFEST)
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    return workspace.state()["models"][GPT["key"]]["draft_id"]


def test_adopt_writes_a_hard_patched_edit_into_git_and_apply_only_records_it(workspace):
    draft_id = _setup(workspace)
    live = workspace.read(draft_id)
    prices = [
        {"id": e.id, "label": e.label, "unit": e.unit, "amount": e.amount, "currency": e.currency}
        for e in live.pricing
    ]
    prices[0]["amount"] = "0.2"
    workspace.send(
        draft_id=draft_id,
        name="GPT-4o mini (ui)",
        modalities=["text", "image", "audio"],
        pricing_ids=[e["id"] for e in prices[1:]],
        pricing=[{k: v for k, v in prices[0].items() if k != "id"}],
    )
    assert workspace.cli(["drift"]).exit_code == 2

    adopted = workspace.cli(["adopt"])
    assert adopted.exit_code == 0, adopted.output
    assert 'manifests/gpt.yaml: gpt-4o-mini: name: "GPT-4o mini" -> "GPT-4o mini (ui)"' in (
        adopted.stdout
    )
    text = (workspace.root / "manifests" / "gpt.yaml").read_text()
    # Only the lines of the changed values moved (ruamel re-spaces those lines only).
    assert text == (
        MANIFEST.replace("name: GPT-4o mini   #", "name: GPT-4o mini (ui) #")
        .replace("    - image\n", "    - image\n    - audio\n")
        .replace(
            'input,  unit: 1M tokens, amount: "0.15"', 'input, unit: 1M tokens, amount: "0.20"'
        )
    )

    plan = workspace.cli(["plan", "--detailed-exitcode"])
    assert plan.exit_code == 0, plan.output
    assert "No changes." in plan.stdout
    writes = workspace.catalog.faults.writes
    applied = workspace.cli(["apply", "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    assert "recorded without a write" in applied.stdout
    assert workspace.catalog.faults.writes == writes
    assert workspace.cli(["drift"]).exit_code == 0
    assert workspace.cli(["adopt"]).exit_code == 3


def test_adopt_with_nothing_drifted_exits_3_and_touches_nothing(workspace):
    _setup(workspace)
    result = workspace.cli(["adopt"])
    assert result.exit_code == 3
    assert "Nothing to adopt" in result.stdout
    assert (workspace.root / "manifests" / "gpt.yaml").read_text() == MANIFEST


def test_exclude_patterns_and_folders_choose_what_adopt_drift_and_plan_look_at(workspace):
    workspace.write_models(GPT, name="openai/gpt.yaml")
    workspace.write_models(CLAUDE, name="anthropic/claude.yaml")
    assert workspace.cli(["apply", "--auto-approve"]).exit_code == 0
    for key in (GPT["key"], CLAUDE["key"]):
        draft_id = workspace.state()["models"][key]["draft_id"]
        workspace.send(draft_id=draft_id, name=f"{key} (ui)")
    assert workspace.cli(["drift", "--exclude", "gpt-*", "--exclude", "claude*"]).exit_code == 0
    assert workspace.cli(["drift", "--target", "manifests/anthropic/"]).exit_code == 2
    nothing = workspace.cli(["plan", "--target", "llama*"])
    assert nothing.exit_code == 1
    assert "--target llama*: matches no model" in nothing.stderr

    adopted = workspace.cli(["adopt", "--exclude", "gpt-4o*"])
    assert adopted.exit_code == 0, adopted.output
    assert "claude-3-5-haiku: name" in adopted.stdout
    assert "gpt-4o-mini" not in adopted.stdout
    assert workspace.cli(["drift", "--target", "claude*"]).exit_code == 2  # not recorded yet
    applied = workspace.cli(["apply", "--auto-approve", "--exclude", "manifests/openai/"])
    assert applied.exit_code == 0, applied.output
    assert workspace.cli(["drift", "--target", "claude*"]).exit_code == 0
    assert workspace.cli(["drift", "--target", "gpt*"]).exit_code == 2


def test_a_conflict_is_shown_and_fail_on_conflict_refuses_it(workspace):
    draft_id = _setup(workspace)
    workspace.send(draft_id=draft_id, name="GPT-4o mini (ui)")
    path = workspace.root / "manifests" / "gpt.yaml"
    path.write_text(MANIFEST.replace("name: GPT-4o mini ", "name: GPT-4o mini (git) "))
    plan = workspace.cli(["plan"])
    assert "1 conflict: git overwrites a catalog edit." in plan.stdout
    writes = workspace.catalog.faults.writes
    refused = workspace.cli(["apply", "--auto-approve", "--fail-on-conflict"])
    assert refused.exit_code == 1
    assert "gpt-4o-mini.name" in refused.stderr
    assert workspace.catalog.faults.writes == writes
    applied = workspace.cli(["apply", "--auto-approve"])  # git wins by default
    assert applied.exit_code == 0, applied.output
    assert workspace.read(draft_id).name == "GPT-4o mini (git)"
