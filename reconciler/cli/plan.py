"""``reconciler plan`` and ``reconciler show``."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click

from reconciler.apply.state import StateStore
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
    collect_rarely,
    load_desired,
    make_plan,
    manifests_first,
    read_while_loading,
    reads_while_loading,
    target_options,
)
from reconciler.errors import PlanFileError, UsageError
from reconciler.planning.normalize import manifests_digest
from reconciler.planning.saved import SavedPlan, endpoint_label
from reconciler.render import render as render_plan
from reconciler.render.text import text_lines


class RefreshType(click.ParamType):
    """A boolean, or ``changed``."""

    name = "true|false|changed"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Refresh:
        if value is True or value is False or value == "changed":
            return value  # type: ignore[return-value]
        if isinstance(value, str) and value.strip().lower() == "changed":
            return "changed"
        try:
            converted: bool = click.BOOL.convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not one of true, false, changed", param, ctx)
        return converted


def plan_options(func: click.decorators.FC) -> click.decorators.FC:
    """The options that choose what to plan, shared by plan, apply and drift."""
    for option in reversed(
        [
            click.option(
                "--refresh",
                type=RefreshType(),
                default="true",
                show_default=True,
                help=(
                    "Read the live drafts; --refresh=false plans from the state alone; "
                    "--refresh=changed reads only the models the manifests change."
                ),
            ),
            click.option(
                "--prune",
                is_flag=True,
                help="Deactivate models that are in the state but have no manifest.",
            ),
        ]
    ):
        func = option(func)
    return target_options(func)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@catalog_options
@plan_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan for `reconciler apply --plan FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 for no changes, 1 for an error, 2 when there are changes.",
)
@click.option(
    "--stage",
    is_flag=True,
    help="Send each change's soft patch so the catalog validates it (nothing is accepted); "
    "exit 1 if it refuses any.",
)
@run
async def plan(
    paths: tuple[Path, ...],
    settings: Settings,
    refresh: Refresh,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    prune: bool,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    stage: bool,
) -> None:
    """Show what apply would change, and why (PATHS default: manifests/)."""
    collect_rarely()
    err = settings.err
    # Reading every managed draft: the manifests load while the state's drafts are read.
    early = reads_while_loading(settings, refresh, targets, excludes)
    desired = [] if early else load_desired(paths)
    store = StateStore(settings.state_path)
    doc = manifests_first(paths, early, store.load)
    manifests_first(paths, early, lambda: settings.check_catalog(doc))
    request = PlanRequest(refresh, prune, check_targets(targets, desired, doc, excludes))
    if stage and refresh is not True:
        # The keys digest the live drafts apply will read: a stage must have read them all.
        raise UsageError(
            "--stage sends what apply would send, which needs every live draft read: "
            f"drop --refresh={str(refresh).lower()}"
        )
    # --refresh=false reads nothing, so it needs no catalog (and creates no embedded one).
    opening = manifests_first(paths, early, settings.open_client) if refresh else None
    async with opening or contextlib.nullcontext() as client:
        read = None
        if early and client is not None:
            desired, read = await read_while_loading(settings, client, paths, doc)
        result = await make_plan(settings, client, desired, doc, request, err, read=read)
        read = None  # the plan holds what it needs of the drafts read
        if stage and client is not None:
            # Only --stage sends anything: its keys and proposals are not imported otherwise.
            from reconciler.apply.keys import planned_on
            from reconciler.apply.stage import stage_plan

            # Keyed by the state as apply will find it: the stage never writes the state.
            on = planned_on(store.lineage_of(doc), doc.serial)
            sending = sum(1 for c in result.changes if c.is_change and c.patch)
            with settings.progress("Staging", sending, lines=False) as progress:
                result = await stage_plan(
                    client, result, on, parallelism=settings.parallelism, progress=progress
                )
    digest = manifests_digest(desired) if out is not None else ""
    # Nothing below needs the desired models: free them before the plan is rendered,
    # the run's peak (at 10,000 models they hold about as much as the rendered text).
    del desired
    if fmt == "text":
        emit_lines(text_lines(result, color=settings.color))
    else:
        emit(render_plan(result, fmt))
    if out is not None:
        saved = SavedPlan(
            created_at=now(),
            endpoint=endpoint_label(settings.endpoint),
            state_lineage=store.lineage_of(doc),
            state_serial=doc.serial,
            manifests_digest=digest,
            plan=result,
        )
        try:
            out.write_text(saved.to_json(), encoding="utf-8")
        except OSError as exc:
            raise PlanFileError(f"cannot write the plan file {out}: {exc.strerror}") from None
        err.print(f"Saved the plan to {out}; apply it with: reconciler apply --plan {out}")
    if result.refusals:
        sys.exit(1)
    if detailed_exitcode and result.has_changes:
        sys.exit(2)


@click.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--no-color", is_flag=True, help="No colour (also NO_COLOR).")
def show(plan_file: Path, fmt: str, no_color: bool) -> None:
    """Render a plan saved with `reconciler plan --out FILE`."""
    saved = read_saved_plan(plan_file)
    color = sys.stdout.isatty() and not no_color and "NO_COLOR" not in os.environ
    emit(render_plan(saved.plan, fmt, color=color and fmt == "text"))


def read_saved_plan(path: Path) -> SavedPlan:
    """A saved plan from ``path``, or a PlanFileError that says what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(f"cannot read the plan file {path}: {exc.strerror}") from None
    return SavedPlan.from_json(text, source=str(path))
