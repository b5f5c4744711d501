"""``reconciler unstage``: reject proposals a pull request staged and nobody will accept."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.apply.keys import is_ours, is_stale
from reconciler.apply.stage import withdraw
from reconciler.apply.state import StateDocument, StateStore
from reconciler.catalog.refresh import read_drafts
from reconciler.cli.common import Settings, catalog_options, emit, run
from reconciler.cli.pipeline import DEFAULT_MANIFESTS, check_targets, load_desired, target_options
from reconciler.cli.plan import read_saved_plan
from reconciler.errors import UsageError


@click.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@catalog_options
@target_options
@click.option(
    "--stale",
    is_flag=True,
    help="Instead of a plan file: reject reconciler's own pending proposals on managed "
    "drafts that can no longer be accepted.",
)
@run
async def unstage(
    plan_file: Path | None,
    settings: Settings,
    stale: bool,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
) -> None:
    """Reject the still-pending proposals PLAN_FILE staged (`plan --stage --out`); idempotent."""
    if (plan_file is None) == (not stale):
        raise UsageError("unstage takes a plan file made with `plan --stage --out`, or --stale")
    doc: StateDocument | None = None
    async with settings.open_client() as client:
        if plan_file is not None:
            saved = read_saved_plan(plan_file)
            saved.raise_if_other_catalog(settings.catalog)
            proposals = [
                (v.key, v.idempotency_key, v.draft_id)
                for v in saved.plan.stage or ()
                if v.verdict == "staged"
            ]
        else:
            doc = StateStore(settings.state_path).load()
            settings.check_catalog(doc)
            drafts = {key: record.draft_id for key, record in doc.models.items()}
            with settings.progress("Reading", len(drafts), lines=False) as progress:
                live = await read_drafts(
                    client, drafts, parallelism=settings.parallelism, progress=progress
                )
            # An interrupted apply's proposals are the next apply's to settle, not ours.
            journalled = {entry.idempotency_key for entry in doc.journal.values()}
            proposals = [
                (key, pending, draft.draft_id)
                for key, draft in live.items()
                if draft is not None
                for pending in draft.pending_ids
                if is_ours(pending) and is_stale(pending, draft) and pending not in journalled
            ]
        if targets or excludes:
            # Folders and files resolve through the manifests, when there are any.
            desired = load_desired(()) if DEFAULT_MANIFESTS.is_dir() else []
            if doc is None:
                doc = StateStore(settings.state_path).load()
            chosen = check_targets(
                targets, desired, doc, excludes, also=(key for key, _, _ in proposals)
            )
            if chosen is not None:
                proposals = [p for p in proposals if p[0] in chosen]
        with settings.progress("Unstaging", len(proposals), lines=True) as progress:
            results = await withdraw(
                client, proposals, parallelism=settings.parallelism, progress=progress
            )
    lines = [f"{r.key}: {r.idempotency_key}: {r.message}" for r in results]
    counts = {
        what: sum(1 for r in results if r.result == what)
        for what in ("rejected", "accepted", "gone", "failed")
    }
    lines.append(
        f"Unstaged: {counts['rejected']} rejected, {counts['accepted']} already accepted, "
        f"{counts['gone']} gone, {counts['failed']} failed."
    )
    emit("\n".join(lines))
    if counts["failed"]:
        sys.exit(1)
