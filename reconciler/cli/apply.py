"""``reconciler apply``: plan (or take a saved plan), confirm, then apply with the journal."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console

from reconciler.apply.applier import Applier, ApplyResult
from reconciler.apply.state import StateDocument, StateStore
from reconciler.catalog.client import CatalogClient
from reconciler.catalog.refresh import read_drafts
from reconciler.cli.common import (
    FORMATS,
    Settings,
    catalog_options,
    emit,
    now,
    run,
)
from reconciler.cli.pipeline import PlanRequest, check_targets, load_desired, make_plan
from reconciler.cli.plan import plan_options, read_saved_plan
from reconciler.errors import StalePlanError, UsageError
from reconciler.manifests.model import DesiredModel
from reconciler.planning.normalize import live_fingerprint, manifests_digest
from reconciler.planning.plan import Plan, SafetyLimits, SavedPlan, endpoint_label
from reconciler.render import outcomes
from reconciler.render import render as render_plan


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@catalog_options
@plan_options
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply this saved plan, after proving it is still current.",
)
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--force", is_flag=True, help="Apply even above the safe share of changes.")
@click.option(
    "--max-update-share",
    type=click.FloatRange(0, 1),
    default=SafetyLimits.max_update_share,
    show_default=True,
    help="Refuse (unless --force) to update more than this share of the managed models.",
)
@click.option(
    "--max-deactivate-share",
    type=click.FloatRange(0, 1),
    default=SafetyLimits.max_deactivate_share,
    show_default=True,
    help="Refuse (unless --force) to deactivate more than this share of the managed models.",
)
@click.option(
    "--safety-min-models",
    type=click.IntRange(0),
    default=SafetyLimits.min_models,
    show_default=True,
    help="The share limits apply only when at least this many models are managed.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Format of the apply result on stdout.",
)
@run
async def apply(
    paths: tuple[Path, ...],
    settings: Settings,
    refresh: bool,
    targets: tuple[str, ...],
    prune: bool,
    plan_file: Path | None,
    auto_approve: bool,
    force: bool,
    max_update_share: float,
    max_deactivate_share: float,
    safety_min_models: int,
    fmt: str,
) -> None:
    """Apply the manifests to the catalog (PATHS default: manifests/)."""
    err = settings.err
    saved = read_saved_plan(plan_file) if plan_file is not None else None
    if saved is not None and (targets or prune or not refresh):
        raise UsageError("--target, --prune and --refresh are chosen when a saved plan is made")
    if saved is not None and saved.endpoint != endpoint_label(settings.endpoint):
        raise StalePlanError(
            f"the saved plan was made against the catalog {saved.endpoint}, but this run "
            f"talks to {endpoint_label(settings.endpoint)}; nothing was sent. Set --endpoint / "
            "CATALOG_ENDPOINT to the plan's catalog"
        )
    if saved is None and not auto_approve:
        # Before anything is sent: settling an interrupted apply is a write too.
        _require_terminal()
    desired = load_desired(paths)
    store = StateStore(settings.state_path)
    with store.lock(settings.lock_timeout, operation="apply"):
        doc = store.load()
        settings.check_catalog(doc, bind=True)
        async with settings.open_client() as client:
            applier = Applier(
                client,
                store,
                doc,
                {model.key: model for model in desired},
                parallelism=settings.parallelism,
                now=now,
            )
            if saved is not None:
                lineage = store.lineage_of(doc)
                plan = await _prove_current(settings, client, saved, desired, doc, lineage, err)
            else:
                await _settle(settings, applier, doc, err)
                request = PlanRequest(refresh, prune, check_targets(targets, desired, doc))
                plan = await make_plan(settings, client, desired, doc, request, err)
                if not plan.has_changes:
                    _report(ApplyResult(()), fmt, settings)
                    return
                if fmt == "text":
                    emit(render_plan(plan, "text", color=settings.color))
                else:
                    err.print(render_plan(plan, "text", color=False), markup=False)
            if not plan.has_changes:
                _report(ApplyResult(()), fmt, settings)
                return
            limits = SafetyLimits(max_update_share, max_deactivate_share, safety_min_models)
            plan.raise_if_unsafe(limits, force=force)
            if saved is None and not auto_approve:
                _confirm(err)
            changes = sum(1 for change in plan.changes if change.is_change)
            with settings.progress("Applying", changes, lines=True) as progress:
                result = await applier.apply(plan, progress)
    _report(result, fmt, settings)


async def _settle(settings: Settings, applier: Applier, doc: StateDocument, err: Console) -> None:
    if not doc.journal:
        return
    err.print(f"Settling {len(doc.journal)} proposal(s) left by an interrupted apply…")
    with settings.progress("Settling", len(doc.journal), lines=True) as progress:
        settled = await applier.settle(progress)
    for outcome in settled:
        err.print(f"  {outcome.key}: {outcome.message}", markup=False, highlight=False)


async def _prove_current(
    settings: Settings,
    client: CatalogClient,
    saved: SavedPlan,
    desired: Sequence[DesiredModel],
    doc: StateDocument,
    lineage: str,
    err: Console,
) -> Plan:
    """The saved plan, if nothing it was made from has changed since; else StalePlanError."""
    reasons = []
    if not saved.state_lineage and lineage:
        reasons.append("the state changed: it did not exist yet when the plan was made")
    elif saved.state_lineage != lineage:
        reasons.append("the state file is another one (its lineage differs)")
    elif saved.state_serial != doc.serial:
        reasons.append(f"the state changed (serial {saved.state_serial} -> {doc.serial})")
    if doc.journal:
        reasons.append("an interrupted apply left proposals; run `reconciler apply` to settle them")
    if saved.manifests_digest != manifests_digest(desired):
        reasons.append("the manifests changed")
    affected = {
        change.key: change.draft_id
        for change in saved.plan.changes
        if change.is_change and change.draft_id is not None
    }
    if affected and not saved.plan.refreshed:
        # Such a plan recorded no live fingerprint: comparing would call every draft changed.
        reasons.append(
            "it was made with --refresh=false, so the live drafts it changes were never read "
            f"and cannot be proven unchanged ({', '.join(sorted(affected))}); make it without "
            "--refresh=false"
        )
        affected = {}
    with settings.progress("Checking", len(affected), lines=False) as progress:
        live = await read_drafts(
            client, affected, parallelism=settings.parallelism, progress=progress
        )
    fingerprints = {c.key: c.live_fingerprint for c in saved.plan.changes}
    changed = sorted(
        key
        for key, draft in live.items()
        if (live_fingerprint(draft) if draft is not None else None) != fingerprints[key]
    )
    if changed:
        reasons.append(f"live drafts changed since the plan: {', '.join(changed)}")
    if reasons:
        raise StalePlanError(
            "the saved plan is stale and nothing was sent: "
            + "; ".join(reasons)
            + ". Make a new plan with `reconciler plan --out FILE`."
        )
    return saved.plan


def _require_terminal() -> None:
    if not sys.stdin.isatty():
        raise UsageError(
            "apply needs confirmation and there is no terminal to ask on: "
            "pass --auto-approve, or apply a saved plan with --plan FILE"
        )


def _confirm(err: Console) -> None:
    _require_terminal()
    err.print("\nDo you want to apply these changes? Only 'yes' will be accepted.")
    answer = click.prompt("Enter a value", default="", show_default=False, err=True)
    if answer.strip() != "yes":
        raise UsageError("apply cancelled; nothing was changed")


def _report(result: ApplyResult, fmt: str, settings: Settings) -> None:
    if fmt == "json":
        emit(outcomes.render_json(result))
    elif fmt == "markdown":
        emit(outcomes.render_markdown(result))
    else:
        # Without a progress bar, each model's outcome was already said as it finished.
        emit(outcomes.render_text(result, per_model=settings.shows_bar))
    if result.failed:
        sys.exit(1)
