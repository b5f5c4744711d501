"""Adopt in-process: manifests on disk, drafts as the catalog would hold them, no server."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reconciler.apply.state import ModelRecord
from reconciler.catalog.wire import DraftFormState
from reconciler.manifests.loader import load_manifests
from reconciler.manifests.rewrite import rewrite
from reconciler.manifests.sources import model_sources
from reconciler.planning.adopt import AdoptionPlan, plan_adoption
from reconciler.planning.normalize import normalize_live
from reconciler.planning.plan import Plan
from reconciler.planning.planner import build_plan


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def applied(root: Path) -> tuple[dict[str, DraftFormState], dict[str, ModelRecord]]:
    """The drafts and state right after an apply of the manifests under ``root``."""
    drafts, records = {}, {}
    for model in load_manifests([root]):
        fields: dict[str, Any] = dict(model.fields)
        if "pricing" in fields:
            fields["pricing"] = [
                {"id": f"p-{model.key}-{i}", **entry} for i, entry in enumerate(fields["pricing"])
            ]
        draft = DraftFormState(draft_id=f"d-{model.key}", **fields)
        drafts[model.key] = draft
        managed = [f for f in model.fields if f not in model.ignore_changes]
        records[model.key] = ModelRecord(
            draft_id=draft.draft_id, last_applied=normalize_live(draft, managed)
        )
    return drafts, records


def edited(
    drafts: Mapping[str, DraftFormState], edits: Mapping[str, Mapping[str, Any]]
) -> dict[str, DraftFormState]:
    """The drafts after someone changed them in the catalog (hard patches)."""
    return {key: draft.model_copy(update=dict(edits.get(key, {}))) for key, draft in drafts.items()}


def adopt(
    root: Path, records: Mapping[str, ModelRecord], live: Mapping[str, DraftFormState]
) -> AdoptionPlan:
    """Plan the adoption and rewrite the files under ``root`` as ``reconciler adopt`` does."""
    plan = plan_adoption(load_manifests([root]), model_sources([root]), records, live)
    by_file: dict[Path, dict[int, Any]] = {}
    for ref, doc_edits in plan.edits.items():
        by_file.setdefault(ref.path, {})[ref.index] = doc_edits
    for path, per_doc in by_file.items():
        path.write_text(rewrite(path.read_text(encoding="utf-8"), per_doc).text, encoding="utf-8")
    return plan


def replan(
    root: Path, records: Mapping[str, ModelRecord], live: Mapping[str, DraftFormState]
) -> Plan:
    return build_plan(load_manifests([root]), records, live)


Edits = Callable[[DraftFormState], dict[str, Any]]
