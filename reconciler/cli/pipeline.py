"""The steps plan, apply and drift share: load manifests, read the state, refresh, plan."""

from __future__ import annotations

import asyncio
import fnmatch
import gc
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import click
from rich.console import Console

from reconciler.apply.state import StateDocument, StateStore
from reconciler.catalog.client import CatalogClient
from reconciler.catalog.refresh import drafts_to_read, in_shard, prove_catalog, read_drafts
from reconciler.catalog.wire import DraftFormState
from reconciler.cli.common import Settings, warn
from reconciler.errors import ReconcilerError, UsageError
from reconciler.manifests.loader import load_manifests
from reconciler.manifests.model import DesiredModel
from reconciler.planning.live import LiveDraft, compact
from reconciler.planning.normalize import UNMANAGEABLE, managed_fields
from reconciler.planning.plan import Plan
from reconciler.planning.planner import PlannedModel, build_plan, plan_model

DEFAULT_MANIFESTS = Path("manifests")
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def load_desired(paths: Sequence[Path]) -> list[DesiredModel]:
    """The desired models of ``paths`` (default ``manifests/``), or a ManifestError."""
    return load_manifests(list(paths) or [DEFAULT_MANIFESTS])


def collect_rarely() -> None:
    """Run the cyclic garbage collector about never, for this short process.

    Everything a ``plan`` or ``drift`` builds (the desired models, the state's records, the
    drafts kept, the plan) lives until the command ends and is made of trees, so a pass of
    the collector frees nothing. At 10,000 models the default thresholds ran nine full
    passes, 1.4 s of 6.5 s of CPU; one young pass every 50,000 allocations still ran a
    dozen passes of 11 to 48 ms each that freed nothing (0.3 s, a twentieth of the run).
    One young pass per million allocations, and older ones about never, leaves a safety
    net for a cycle made by mistake at the cost of one or two passes a run; peak memory
    is the same at 10,000 models (184 MiB either way: reading makes no garbage cycles).
    The thresholds are restored when the command ends, for a caller that runs it
    in-process.
    """
    before = gc.get_threshold()
    gc.set_threshold(*(max(now, rare) for now, rare in zip(before, _RARELY, strict=True)))
    click.get_current_context().call_on_close(lambda: gc.set_threshold(*before))


# The collector's thresholds for a plan or a drift: allocations between two young passes,
# and passes of each generation before one of the next (``collect_rarely``).
_RARELY = (1_000_000, 1_000, 1_000)


def reads_while_loading(
    settings: Settings, refresh: Refresh, targets: Sequence[str], excludes: Sequence[str]
) -> bool:
    """Whether the state's drafts can be read while the manifests load (``read_while_loading``).

    Only when every managed draft is read (no ``--target``, ``--exclude`` or
    ``--refresh=changed``, which need the manifests to choose) and over the network: the
    embedded catalog answers in this process, so there is nothing to overlap.
    """
    endpoint = (settings.endpoint or "").strip()
    return refresh is True and not targets and not excludes and bool(endpoint)


def manifests_first(paths: Sequence[Path], early: bool, step: Callable[[], T]) -> T:
    """``step()``; when the manifests are not loaded yet (``early``) and it fails, a problem in
    the manifests is raised instead, as when they were loaded first."""
    if not early:
        return step()
    try:
        return step()
    except ReconcilerError:
        load_desired(paths)
        raise


@dataclass
class EarlyReads:
    """What ``read_while_loading`` gives ``make_plan``: the drafts read and the models
    already planned against them as they arrived."""

    read: dict[str, LiveDraft | None]
    planned: dict[str, PlannedModel]


# Models planned between two turns of the event loop while reads are in flight: about a
# millisecond of planning, so a response waits no longer than that to be taken.
_PLAN_BATCH = 25


async def read_while_loading(
    settings: Settings,
    client: CatalogClient,
    paths: Sequence[Path],
    doc: StateDocument,
    *,
    shard: tuple[int, int] | None = None,
) -> tuple[list[DesiredModel], EarlyReads | None]:
    """The manifests, loaded in a thread while the drafts the state records are read.

    Reading a recorded draft needs only the state, so the reads start at once and the
    loader's CPU overlaps the catalog's work on the other core, instead of the catalog
    waiting for the loader. A draft that answers before its manifest is loaded is kept for
    the fields its record was last applied with (the model's managed fields, unless its
    manifest changed which); once the manifests are loaded, a draft kept for other fields
    than its model's, and the few drafts only a manifest names (``metadata.draft_id``, to
    adopt), are read then. A problem in the manifests is raised rather than a failed read,
    as when they were loaded first.

    Once the manifests are loaded each model is also planned as its draft arrives, and
    those that arrived before in the gaps between responses, so planning overlaps the
    reads instead of following them (``build_plan`` takes each such result only if made
    from the same model, record and draft). Returns the desired models (of ``shard``
    only, if given) and every draft ``make_plan`` would read as it keeps them with the
    models planned ahead, or None for those when the state records no draft (nothing to
    overlap).
    """
    recorded = drafts_to_read((), doc.models, None)
    if not recorded:
        desired = load_desired(paths)
        return (desired if shard is None else _in_shard(desired, shard)), None
    fields = {key: tuple(record.last_applied) for key, record in doc.models.items()}
    kept: dict[str, LiveDraft] = {}
    planned: dict[str, PlannedModel] = {}
    # Set once the manifests are loaded: the model of each key and its managed fields.
    models: dict[str, tuple[DesiredModel, tuple[str, ...]]] | None = None

    def plan_ahead(key: str, live: LiveDraft) -> None:
        found = models.get(key) if models is not None else None
        if found is None or key in planned or not _kept_for(live, found[1]):
            return
        try:
            planned[key] = plan_model(found[0], doc.models.get(key), live)
        except Exception:  # build_plan plans it again and reports what is wrong
            return

    def keep(key: str, draft: DraftFormState) -> LiveDraft:
        live = compact(draft, fields.get(key, ()))
        kept[key] = live
        plan_ahead(key, live)
        return live

    async def plan_earlier() -> None:
        # The drafts that answered while the manifests loaded, between responses.
        for done, (key, live) in enumerate(list(kept.items()), 1):
            plan_ahead(key, live)
            if done % _PLAN_BATCH == 0:
                await asyncio.sleep(0)

    parallelism = settings.parallelism
    with settings.progress("Refreshing", len(recorded), lines=False) as progress:
        reading = asyncio.ensure_future(
            read_drafts(client, recorded, parallelism=parallelism, progress=progress, keep=keep)
        )
        try:
            desired = await asyncio.to_thread(load_desired, paths)
        except BaseException:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            raise
        if shard is not None:
            desired = _in_shard(desired, shard)
        managed = {model.key: managed_fields(model) for model in desired}
        fields = {key: managed.get(key, ()) for key in doc.models} | managed
        if len(managed) == len(desired):  # a key described twice: build_plan refuses it
            models = {model.key: (model, managed[model.key]) for model in desired}
        earlier = asyncio.ensure_future(plan_earlier())
        try:
            read: dict[str, LiveDraft | None] = await reading
        finally:
            await earlier
        wanted = drafts_to_read(desired, doc.models, None)
        again = {
            key: draft
            for key, draft in wanted.items()
            if key not in read or not _kept_for(read[key], fields[key])
        }
        if again:
            progress.extend(len(again))
            for key in again:
                planned.pop(key, None)
            read |= await read_drafts(
                client, again, parallelism=parallelism, progress=progress, keep=keep
            )
    kept.clear()
    return desired, EarlyReads({key: read[key] for key in wanted}, planned)


def _kept_for(live: LiveDraft | None, names: Iterable[str]) -> bool:
    """Whether ``live`` (None: not found) was kept for exactly the fields ``names`` plans."""
    return live is None or live.fields.keys() == set(names) - UNMANAGEABLE


def _in_shard(desired: Sequence[DesiredModel], shard: tuple[int, int]) -> list[DesiredModel]:
    return [model for model in desired if in_shard(model.key, *shard)]


def target_options(func: F) -> F:
    """``--target`` and ``--exclude``: the models a command looks at, by key, pattern, folder
    or manifest file."""
    exclude = click.option(
        "--exclude",
        "excludes",
        multiple=True,
        metavar="KEY",
        help="Leave this model out: a key, a shell pattern, a folder or a manifest file "
        "(repeatable).",
    )
    target = click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="KEY",
        help="Only this model: a key, a shell pattern ('gpt-4o*'), a folder or a manifest file "
        "(repeatable).",
    )
    return target(exclude(func))


def check_targets(
    targets: Sequence[str],
    desired: Sequence[DesiredModel],
    doc: StateDocument,
    excludes: Sequence[str] = (),
    *,
    also: Iterable[str] = (),
) -> frozenset[str] | None:
    """The models chosen by ``--target`` and ``--exclude`` (None: every model).

    Each is a model key, a shell-style pattern over keys (``gpt-4o*``) or a folder of
    manifests (``manifests/openai/``); one that matches no model is an error, not an
    empty plan. ``also`` names further models a command knows of (a saved plan's).
    """
    if not targets and not excludes:
        return None
    known = {model.key for model in desired} | set(doc.models) | set(also)
    chosen = _matching("--target", targets, desired, known) if targets else known
    return frozenset(chosen - _matching("--exclude", excludes, desired, known))


def _matching(
    option: str, patterns: Sequence[str], desired: Sequence[DesiredModel], known: set[str]
) -> set[str]:
    found: set[str] = set()
    unmatched = []
    for pattern in patterns:
        if pattern.endswith(("/", os.sep)) or Path(pattern).is_dir():
            folder = Path(pattern).resolve()
            keys = {
                model.key
                for model in desired
                if model.source is not None and folder in Path(model.source.file).resolve().parents
            }
        elif Path(pattern).is_file():
            # A manifest file chooses the models it describes.
            file = Path(pattern).resolve()
            keys = {
                model.key
                for model in desired
                if model.source is not None and Path(model.source.file).resolve() == file
            }
        else:
            keys = {key for key in known if fnmatch.fnmatchcase(key, pattern)}
        if not keys:
            unmatched.append(pattern)
        found |= keys
    if unmatched:
        raise UsageError(
            f"{option} {', '.join(unmatched)}: matches no model in the manifests or the state"
        )
    return found


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
    return _in_shard(desired, (index, count)), part


async def make_plan(
    settings: Settings,
    client: CatalogClient | None,
    desired: Sequence[DesiredModel],
    doc: StateDocument,
    request: PlanRequest,
    err: Console,
    *,
    read: EarlyReads | None = None,
) -> Plan:
    """Refresh the managed drafts (unless asked not to) and plan against them.

    ``read``: the drafts a refresh reads, already read and planned (``read_while_loading``).
    """
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
    planned: Mapping[str, PlannedModel] | None = None
    skipped: frozenset[str] = frozenset()
    if request.refresh:
        assert client is not None, "a refresh needs a catalog client"
        drafts = drafts_to_read(desired, doc.models, request.targets)
        if request.refresh == "changed":
            wanted = _changed_keys(desired, doc, request)
            skipped = frozenset(drafts.keys() - wanted)
            drafts = {key: draft for key, draft in drafts.items() if key in wanted}
        if not drafts:
            # Reads prove the catalog answers and takes the token; with none, ask once.
            await prove_catalog(client)
        if read is not None:
            live, planned = dict(read.read), read.planned
        else:
            with settings.progress("Refreshing", len(drafts), lines=False) as progress:
                live = await read_drafts(
                    client,
                    drafts,
                    parallelism=settings.parallelism,
                    progress=progress,
                    keep=_keeper(desired),
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
        unread=skipped,
        planned=planned,
    )
    if skipped:
        # Warnings are part of the plan: every renderer shows them.
        note = (
            f"--refresh=changed: {len(skipped)} managed model(s) the manifests do not change were "
            "not read; changes made to them outside reconciler are not in this plan "
            "(`reconciler drift` finds them)"
        )
        plan = plan.model_copy(update={"warnings": (*plan.warnings, note)})
    return plan


def _keeper(desired: Sequence[DesiredModel]) -> Callable[[str, DraftFormState], LiveDraft]:
    """Keep of each draft read what the planner compares: its model's managed fields."""
    fields = {model.key: managed_fields(model) for model in desired}
    return lambda key, draft: compact(draft, fields.get(key, ()))


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
