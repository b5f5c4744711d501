"""``reconciler adopt``: write the catalog's drifted values into the manifests."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from reconciler.apply.state import ModelRecord, StateStore
from reconciler.catalog.refresh import drafts_to_read, read_drafts
from reconciler.catalog.wire import DraftFormState
from reconciler.cli.common import Settings, catalog_options, emit, run, warn
from reconciler.cli.pipeline import DEFAULT_MANIFESTS, check_targets, load_desired, target_options
from reconciler.errors import ReconcilerError, RewriteError
from reconciler.manifests.rewrite import Edit, rewrite
from reconciler.manifests.sources import DocumentRef, model_sources
from reconciler.planning.adopt import AdoptionPlan, plan_adoption
from reconciler.planning.planner import build_plan
from reconciler.render.adoption import render_adoption

EXIT_NOTHING_TO_ADOPT = 3


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@catalog_options
@target_options
@run
async def adopt(
    paths: tuple[Path, ...],
    settings: Settings,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
) -> None:
    """Rewrite the manifests to the catalog's drifted values: exit 0 adopted, 3 nothing, 1 error."""
    desired = load_desired(paths)
    sources = model_sources(list(paths) or [DEFAULT_MANIFESTS])
    doc = StateStore(settings.state_path).load()
    settings.check_catalog(doc)
    chosen = check_targets(targets, desired, doc, excludes)
    async with settings.open_client() as client:
        drafts = drafts_to_read(desired, doc.models, chosen)
        with settings.progress("Refreshing", len(drafts), lines=False) as progress:
            live = await read_drafts(
                client, drafts, parallelism=settings.parallelism, progress=progress
            )
    plan = plan_adoption(desired, sources, doc.models, live, chosen)
    for message in plan.unadoptable:
        warn(settings.err, message)
    if plan.adoptions:
        originals = _write(plan.edits)
        try:
            _check_adopted(paths, plan, doc.models, live, chosen)
        except ReconcilerError:
            _restore(originals)
            raise
    emit(render_adoption(plan))
    if not plan.adoptions:
        sys.exit(EXIT_NOTHING_TO_ADOPT)


def _write(edits: Mapping[DocumentRef, Sequence[Edit]]) -> dict[Path, bytes]:
    """Rewrite every file (all computed before any is written); the original bytes by path."""
    by_file: dict[Path, tuple[str, dict[int, Sequence[Edit]]]] = {}
    for ref, doc_edits in edits.items():
        by_file.setdefault(ref.path, (ref.file, {}))[1][ref.index] = doc_edits
    originals: dict[Path, bytes] = {}
    new: dict[Path, bytes] = {}
    for path, (display, per_doc) in sorted(by_file.items()):
        data = path.read_bytes()
        bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
        text = data[len(bom) :].decode("utf-8")
        originals[path] = data
        new[path] = bom + rewrite(text, per_doc, source=display).text.encode("utf-8")
    for path, data in new.items():
        _replace(path, data)
    return originals


def _replace(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, path.stat().st_mode & 0o7777)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _restore(originals: Mapping[Path, bytes]) -> None:
    for path, data in originals.items():
        _replace(path, data)


def _check_adopted(
    paths: Sequence[Path],
    plan: AdoptionPlan,
    records: Mapping[str, ModelRecord],
    live: Mapping[str, DraftFormState | None],
    chosen: frozenset[str] | None,
) -> None:
    """Load the rewritten manifests and plan again: no adopted field may still differ."""
    desired = load_desired(paths)
    again = build_plan(desired, records, live, targets=chosen)
    adopted = {(a.key, a.field) for a in plan.adoptions}
    left = sorted(
        f"{change.key}.{fc.field}"
        for change in again.changes
        for fc in change.field_changes
        if (change.key, fc.field) in adopted
    )
    if left:
        raise RewriteError(
            f"the rewritten manifests still differ from the catalog at {', '.join(left)}; "
            "the files were restored. This is a bug in reconciler: please report it"
        )
