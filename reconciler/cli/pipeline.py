"""The steps plan, apply and drift share: load manifests, read the state, refresh, plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from reconciler.apply.state import StateDocument, StateStore
from reconciler.catalog.client import CatalogClient
from reconciler.catalog.refresh import drafts_to_read, prove_catalog, read_drafts
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


@dataclass(frozen=True)
class PlanRequest:
    """What to plan: the options of ``plan``, ``apply`` and ``drift``."""

    refresh: bool = True
    prune: bool = False
    targets: frozenset[str] | None = None


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
    if request.refresh:
        assert client is not None, "a refresh needs a catalog client"
        drafts = drafts_to_read(desired, doc.models, request.targets)
        if not drafts:
            # Reads prove the catalog answers and takes the token; with none, ask once.
            await prove_catalog(client)
        with settings.progress("Refreshing", len(drafts), lines=False) as progress:
            live = await read_drafts(
                client, drafts, parallelism=settings.parallelism, progress=progress
            )
    plan = build_plan(
        desired,
        doc.models,
        live,
        prune=request.prune,
        targets=request.targets,
        refreshed=request.refresh,
    )
    # Warnings are part of the plan: every renderer shows them.
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
