"""``reconciler drift``: compare the live drafts with the manifests, for scheduled runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reconciler.apply.state import StateStore
from reconciler.cli.common import FORMATS, Settings, catalog_options, emit, run
from reconciler.cli.pipeline import (
    PlanRequest,
    check_targets,
    collect_rarely,
    load_desired,
    make_plan,
    manifests_first,
    read_while_loading,
    reads_while_loading,
    shard_of,
    target_options,
)
from reconciler.render import pending
from reconciler.render.formats import RenderOptions, render_plan

EXIT_DRIFT = 2


class ShardType(click.ParamType):
    """``I/N``: shard I (1-based) of N."""

    name = "I/N"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value  # type: ignore[return-value]
        index, _, count = str(value).partition("/")
        try:
            i, n = int(index), int(count)
        except ValueError:
            i = n = 0
        if not 1 <= i <= n:
            self.fail(f"{value!r} is not I/N with 1 <= I <= N, e.g. 1/4", param, ctx)
        return i, n


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@catalog_options
@target_options
@click.option(
    "--shard",
    type=ShardType(),
    metavar="I/N",
    help="Check only shard I of N (1-based; a stable share of the models by key hash).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@run
async def drift(
    paths: tuple[Path, ...],
    settings: Settings,
    targets: tuple[str, ...],
    shard: tuple[int, int] | None,
    excludes: tuple[str, ...],
    fmt: str,
) -> None:
    """Exit 0 when the catalog matches the manifests, 2 when it drifted, 1 on error."""
    collect_rarely()
    err = settings.err
    # The manifests load while the state's drafts are read (see plan).
    early = reads_while_loading(settings, True, targets, excludes)
    desired = [] if early else load_desired(paths)
    doc = manifests_first(paths, early, StateStore(settings.state_path).load)
    manifests_first(paths, early, lambda: settings.check_catalog(doc))
    request = PlanRequest(targets=check_targets(targets, desired, doc, excludes))
    if shard is not None:
        desired, doc = shard_of(desired, doc, *shard)
    async with manifests_first(paths, early, settings.open_client) as client:
        read = None
        if early:
            desired, read = await read_while_loading(settings, client, paths, doc, shard=shard)
        plan = await make_plan(settings, client, desired, doc, request, err, read=read)
    title = "reconciler drift"
    if shard is not None:
        title += f" (shard {shard[0]}/{shard[1]})"
        note = (
            f"shard {shard[0]}/{shard[1]}: checked {len(doc.models)} of the managed models; "
            "the other shards check the rest"
        )
        plan = plan.model_copy(update={"warnings": (*plan.warnings, note)})
    proposals = pending.pending_proposals(
        plan, {e.idempotency_key: e.created_at for e in doc.journal.values()}
    )
    options = RenderOptions(
        color=settings.color and fmt == "text",
        title=title,
        actions_heading="To match the manifests, `reconciler apply` would:",
    )
    rendered = render_plan(plan, fmt, options)
    if fmt == "json":
        document = json.loads(rendered)
        document["pending_proposals"] = pending.documents(proposals)
        emit(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        section = (pending.render_markdown if fmt == "markdown" else pending.render_text)(proposals)
        emit(rendered + (f"\n{section}" if section else ""))
    # A proposal of ours that can never be accepted is something to clean up; a current
    # one is a pull request's stage under review, and no reason to alarm.
    stale = any(p.ours and p.stale for p in proposals)
    if plan.has_changes or plan.drift or plan.without_manifest or doc.journal or stale:
        sys.exit(EXIT_DRIFT)
