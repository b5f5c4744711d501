"""``reconciler apply``: plan (or take a saved plan), confirm, then apply with the journal."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import ParamSpec

import click
from rich.console import Console

from reconciler.apply.applier import Applier, ApplyResult
from reconciler.apply.interrupts import Interrupt
from reconciler.apply.state import StateDocument, StateStore
from reconciler.catalog.client import CatalogClient
from reconciler.catalog.refresh import drafts_to_read, prove_catalog, read_drafts
from reconciler.cli.common import (
    FORMATS,
    Settings,
    catalog_options,
    emit,
    emit_lines,
    now,
    run,
)
from reconciler.cli.pipeline import (
    PlanRequest,
    Refresh,
    check_targets,
    load_desired,
    make_plan,
)
from reconciler.cli.plan import plan_options, read_saved_plan
from reconciler.cli.signals import INTERRUPTED_EXIT, Guard, guarded
from reconciler.errors import UsageError
from reconciler.manifests.model import DesiredModel
from reconciler.planning.normalize import live_fingerprint, manifests_digest
from reconciler.planning.plan import Plan, SafetyLimits
from reconciler.planning.planner import build_plan
from reconciler.planning.saved import PlanBasis, SavedPlan
from reconciler.render.formats import RenderOptions, render_outcomes, render_plan
from reconciler.render.text import text_lines

P = ParamSpec("P")


def _frozen_at_end(command: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
    """Run ``command``, then give what it froze (``_kept``) back to the cyclic collector.

    For a caller that runs commands in its own process (tests); the CLI's process exits.
    """

    @functools.wraps(command)
    async def unfreezing(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await command(*args, **kwargs)
        finally:
            gc.unfreeze()

    return unfreezing


@contextlib.contextmanager
def _kept() -> Iterator[None]:
    """Build what the whole run keeps with the cyclic collector paused, then freeze it.

    The manifests, the state and the plan live to the end of an apply, and none of them
    is garbage: each full collection walked all of them again, about ten times while
    10,000 manifests were loaded and planned (1.6 s of CPU, a tenth of the run's,
    growing with the catalog) and more while applying. Building them makes no garbage
    cycles (planning with 1,000 reads left none for the collector), so pausing it
    meanwhile keeps nothing alive that it would have freed; frozen, they are left out of
    every later collection, which then walks only what applying makes and drops.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


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
    "--partial",
    is_flag=True,
    help="Apply each model on its own: one refused change stops no other "
    "(default: stage every change first, and accept all of them or none).",
)
@click.option(
    "--fail-on-conflict",
    is_flag=True,
    help="Refuse a plan that overwrites fields changed in the catalog since the last apply.",
)
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
    "--max-recreate-share",
    type=click.FloatRange(0, 1),
    default=SafetyLimits.max_recreate_share,
    show_default=True,
    help="Refuse (unless --force) to create anew more than this share of the managed models "
    "(models in the state whose draft the catalog no longer has).",
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
@_frozen_at_end
async def apply(
    paths: tuple[Path, ...],
    settings: Settings,
    refresh: Refresh,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    prune: bool,
    plan_file: Path | None,
    auto_approve: bool,
    force: bool,
    partial: bool,
    fail_on_conflict: bool,
    max_update_share: float,
    max_deactivate_share: float,
    safety_min_models: int,
    max_recreate_share: float,
    fmt: str,
) -> None:
    """Apply the manifests to the catalog (PATHS default: manifests/)."""
    saved = _read_saved(
        settings, plan_file, refresh=refresh, targets=(*targets, *excludes), prune=prune
    )
    if saved is None and not auto_approve:
        # Before anything is sent: settling an interrupted apply is a write too.
        _require_terminal()
    with _kept():
        desired = load_desired(paths)
    limits = SafetyLimits(
        max_update_share=max_update_share,
        max_deactivate_share=max_deactivate_share,
        min_models=safety_min_models,
        max_recreate_share=max_recreate_share,
    )
    store = StateStore(settings.state_path)
    interrupt = Interrupt()
    guard = Guard(interrupt, now)
    lock = store.lock(settings.lock_timeout, operation="apply", notify=settings.note_lock_wait)
    with guarded(guard), lock:
        with _kept():
            doc = store.load()
        guard.journalled = lambda: tuple(doc.journal)
        settings.check_catalog(doc)
        doc.catalog = settings.catalog  # the first apply binds the state to its catalog
        async with settings.open_client() as client:
            # Before anything is written (settling included): the catalog answers, the
            # token is accepted, even when the plan has nothing to read.
            await prove_catalog(client)
            applier = Applier(
                client,
                store,
                doc,
                {model.key: model for model in desired},
                parallelism=settings.parallelism,
                now=now,
                interrupt=interrupt,
            )
            settled = ApplyResult(())
            if saved is not None:
                with _kept():
                    plan = await _prove_saved(settings, client, saved, desired, store, doc)
            else:
                with guard.writing():
                    settled = await _settle(settings, applier, doc)
                if settled.stopped is not None:
                    applier.save()
                    _report(settled, fmt, settings)
                chosen = check_targets(targets, desired, doc, excludes)
                request = PlanRequest(refresh, prune, chosen)
                with _kept():
                    plan = await make_plan(settings, client, desired, doc, request, settings.err)
                if plan.has_changes:
                    _show(plan, fmt, settings)
            result = ApplyResult(())
            if plan.has_changes:
                plan.raise_if_unsafe(limits, force=force)
                if fail_on_conflict:
                    plan.raise_if_conflicts()
                if saved is None and not auto_approve:
                    _confirm(settings.err)
                # Shown and checked: what is only for people need not be held while applying.
                with _kept():
                    plan = plan.for_applying()
                with guard.writing():
                    result = await _apply(settings, applier, plan, partial=partial)
            if result.stopped is None:
                # Refresh-only: adopted catalog edits become the last applied values, unsent.
                with guard.writing():
                    adopted = await applier.record_adopted(plan)
                result = dataclasses.replace(result, outcomes=result.outcomes + adopted)
            # Compacted here rather than as the lock is released: a state file that cannot
            # be written then keeps the state in an emergency file (UnsavedStateError).
            applier.save()
    # A settled model is as done as an applied one: it is reported like one.
    _report(settled.then(result), fmt, settings)


def _read_saved(
    settings: Settings,
    plan_file: Path | None,
    *,
    refresh: bool,
    targets: tuple[str, ...],
    prune: bool,
) -> SavedPlan | None:
    """The saved plan of ``--plan``, refused before anything is read if it is another catalog's."""
    if plan_file is None:
        return None
    saved = read_saved_plan(plan_file)
    if targets or prune or not refresh:
        raise UsageError(
            "--target, --exclude, --prune and --refresh are chosen when a saved plan is made"
        )
    saved.raise_if_other_catalog(settings.catalog)
    return saved


async def _settle(settings: Settings, applier: Applier, doc: StateDocument) -> ApplyResult:
    if not doc.journal:
        return ApplyResult(())
    err = settings.err
    err.print(f"Settling {len(doc.journal)} proposal(s) left by an interrupted apply…")
    with settings.progress("Settling", len(doc.journal), lines=True) as progress:
        settled = await applier.settle(progress)
    for outcome in settled.outcomes:
        err.print(f"  {outcome.key}: {outcome.message}", markup=False, highlight=False)
    return settled


def _show(plan: Plan, fmt: str, settings: Settings) -> None:
    """The plan about to be applied: on stdout for text, else on stderr beside the result."""
    if fmt == "text":
        emit_lines(text_lines(plan, color=settings.color))
    else:
        settings.err.print(render_plan(plan, "text"), markup=False)


async def _prove_saved(
    settings: Settings,
    client: CatalogClient,
    saved: SavedPlan,
    desired: Sequence[DesiredModel],
    store: StateStore,
    doc: StateDocument,
) -> Plan:
    """The saved plan, once proven current and derived from its manifests (else an error)."""
    basis = PlanBasis(
        catalog=settings.catalog,
        state_lineage=store.lineage_of(doc),
        state_serial=doc.serial,
        journal_keys=tuple(sorted(doc.journal)),
        manifests_digest=manifests_digest(desired),
    )
    known = {model.key: model.draft_id or "" for model in desired}
    known.update({key: record.draft_id for key, record in doc.models.items()})
    saved.raise_if_foreign(known)
    # The plan's scope is read again: its drafts prove the plan current, and planning the
    # scope again from the same inputs proves each change derived and none left out.
    scope = frozenset(saved.plan.targets) if saved.plan.targets is not None else None
    drafts = drafts_to_read(desired, doc.models, scope) if saved.plan.refreshed else {}
    with settings.progress("Checking", len(drafts), lines=False) as progress:
        live = await read_drafts(
            client, drafts, parallelism=settings.parallelism, progress=progress
        )
    affected = saved.changed_drafts()
    saved.raise_if_stale(
        basis,
        {
            key: live_fingerprint(draft) if draft is not None else None
            for key, draft in live.items()
            if key in affected
        },
    )
    recomputed = build_plan(
        desired,
        doc.models,
        live,
        # Plans saved before ``prune`` was recorded say it by their deactivations.
        prune=saved.plan.prune or any(c.action == "deactivate" for c in saved.plan.changes),
        targets=scope,
        refreshed=saved.plan.refreshed,
    )
    saved.raise_if_not_derived(recomputed)
    return saved.plan


async def _apply(settings: Settings, applier: Applier, plan: Plan, *, partial: bool) -> ApplyResult:
    changes = sum(1 for change in plan.changes if change.is_change)
    with settings.progress("Applying", changes, lines=True) as progress:
        return await applier.apply(plan, progress, partial=partial)


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
    # Without a progress bar, each model's outcome was already said as it finished.
    emit(render_outcomes(result, fmt, RenderOptions(per_model=settings.shows_bar)))
    if result.stopped is not None and result.stopped.reason == "interrupted":
        sys.exit(INTERRUPTED_EXIT)
    if result.failed or result.stopped is not None:
        sys.exit(1)
