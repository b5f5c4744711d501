"""``reconciler drift``: compare the live drafts with the manifests, for scheduled runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.apply.state import StateStore
from reconciler.cli.common import FORMATS, Settings, catalog_options, emit, run
from reconciler.cli.pipeline import (
    PlanRequest,
    check_targets,
    load_desired,
    make_plan,
    target_options,
)
from reconciler.render.formats import RenderOptions, render_plan

EXIT_DRIFT = 2


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@catalog_options
@target_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@run
async def drift(
    paths: tuple[Path, ...],
    settings: Settings,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    fmt: str,
) -> None:
    """Exit 0 when the catalog matches the manifests, 2 when it drifted, 1 on error."""
    err = settings.err
    desired = load_desired(paths)
    doc = StateStore(settings.state_path).load()
    settings.check_catalog(doc)
    request = PlanRequest(targets=check_targets(targets, desired, doc, excludes))
    async with settings.open_client() as client:
        plan = await make_plan(settings, client, desired, doc, request, err)
    options = RenderOptions(
        color=settings.color and fmt == "text",
        title="reconciler drift",
        actions_heading="To match the manifests, `reconciler apply` would:",
    )
    emit(render_plan(plan, fmt, options))
    if plan.has_changes or plan.drift or plan.without_manifest or doc.journal:
        sys.exit(EXIT_DRIFT)
