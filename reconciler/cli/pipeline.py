"""The steps plan, apply and drift share: load manifests, read the state, refresh, plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rich.console import Console

from reconciler.apply.state import StateDocument, StateStore
from reconciler.catalog.client import CatalogClient
from reconciler.catalog.refresh import drafts_to_read, in_shard, prove_catalog, read_drafts
from reconciler.cli.common import Settings, warn
from reconciler.errors import UsageError
from reconciler.manifests.loader import load_manifests
from reconciler.manifests.model import DesiredModel
from reconciler.planning.plan import Plan
from reconciler.planning.planner import build_plan

DEFAULT_MANIFESTS = Path("manifests")


def load_desired(paths: Sequence[Path]) -> list[DesiredModel]:
    """The desired models of ``paths`` (default ``manifests/``), or a ManifestError."""
    return load_manifests(list(paths) or [DEFAULT_MANIFESTS])


def check_targets(
    targets: Sequence[str], desired: Sequence[DesiredModel], doc: StateDocument
) -> frozenset[str] | None:
    """The ``--target`` keys, each of which must name a model of the manifests or the state."""
    if not targets:
        return None
    known = {model.key for model in desired} | set(doc.models)
    unknown = sorted(set(targets) - known)
    if unknown:
        raise UsageError(
            f"--target {', '.join(unknown)}: no model with "
            f"{'this key' if len(unknown) == 1 else 'these keys'} in the manifests or the state"
        )
    return frozenset(targets)


Refresh = bool | Literal["changed"]


@dataclass(frozen=True)
class PlanRequest:
    """What to plan: the options of ``plan``, ``apply`` and ``drift``."""

    # True reads every managed draft, False none, "changed" only those the manifests
    # change since the last apply (and those an interrupted apply left in the journal).
    refresh: Refresh = True
    prune: bool = False
    targets: frozenset[str] | None = None


def shard_of(
    desired: Sequence[DesiredModel], doc: StateDocument, index: int, count: int
) -> tuple[list[DesiredModel], StateDocument]:
    """The models of shard ``index``/``count``: the manifests' and the state's, by key hash."""
    models = {k: r for k, r in doc.models.items() if in_shard(k, index, count)}
    journal = {k: e for k, e in doc.journal.items() if in_shard(k, index, count)}
    part = doc.model_copy(update={"models": models, "journal": journal})
    return [m for m in desired if in_shard(m.key, index, count)], part


async def make_plan(
    settings: Settings,
    client: CatalogClient | None,
    desired: Sequence[DesiredModel],
    doc: StateDocument,
    request: PlanRequest,
    err: Console,
) -> Plan:
    """Refresh the managed drafts (unless asked not to) and plan against them."""
    holder = StateStore(settings.state_path).holder()
    if holder is not None:
        # Its proposals are in flight, not left behind: say so, not "interrupted".
        warn(
            err,
            f"{_running(holder)} and holds the state lock: this plan may be out of date "
            "once it finishes",
        )
    elif doc.journal:
        keys = ", ".join(sorted(doc.journal))
        warn(
            err,
            f"an interrupted apply left proposals for {keys}; the next apply settles them first",
        )
    live = {}
    skipped = 0
    if request.refresh:
        assert client is not None, "a refresh needs a catalog client"
        drafts = drafts_to_read(desired, doc.models, request.targets)
        if request.refresh == "changed":
            wanted = _changed_keys(desired, doc, request)
            skipped = len(drafts) - len(wanted & drafts.keys())
            drafts = {key: draft for key, draft in drafts.items() if key in wanted}
        if not drafts:
            # Reads prove the catalog answers and takes the token; with none, ask once.
            await prove_catalog(client)
        with settings.progress("Refreshing", len(drafts), lines=False) as progress:
            live = await read_drafts(
                client, drafts, parallelism=settings.parallelism, progress=progress
            )
    # A model not read is planned from its last applied state (the planner's baseline
    # for a draft this run did not read), so it is a no-op unless the manifests change it.
    plan = build_plan(
        desired,
        doc.models,
        live,
        prune=request.prune,
        targets=request.targets,
        refreshed=bool(request.refresh),
    )
    if skipped:
        # Warnings are part of the plan: every renderer shows them.
        note = (
            f"--refresh=changed: {skipped} managed model(s) the manifests do not change were "
            "not read; changes made to them outside reconciler are not in this plan "
            "(`reconciler drift` finds them)"
        )
        plan = plan.model_copy(update={"warnings": (*plan.warnings, note)})
    return plan


def _running(holder: dict[str, object]) -> str:
    """``an apply is running (pid 12, on host, since ...)`` from the lock's recorded holder."""
    operation = holder.get("operation") or "another reconciler command"
    article = "an" if str(operation)[:1] in "aeiou" else "a"
    details = ", ".join(
        f"{label}{holder[field]}"
        for field, label in (("pid", "pid "), ("host", "on "), ("since", "since "))
        if holder.get(field)
    )
    return f"{article} {operation} is running" + (f" ({details})" if details else "")


def _changed_keys(
    desired: Sequence[DesiredModel], doc: StateDocument, request: PlanRequest
) -> set[str]:
    """The models whose manifests differ from their last applied state, and the journal's."""
    offline = build_plan(
        desired,
        doc.models,
        {},
        prune=request.prune,
        targets=request.targets,
        refreshed=False,
    )
    return {c.key for c in offline.changes if c.is_change} | set(doc.journal)
