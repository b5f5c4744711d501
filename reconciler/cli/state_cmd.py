"""``reconciler import`` and ``reconciler state list|show|rm|merge``."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from reconciler.apply.state import ModelRecord, StateDocument, StateStore
from reconciler.apply.state_merge import merge_states
from reconciler.cli.common import Settings, catalog_options, emit, lock_wait_words, now, run
from reconciler.cli.pipeline import DEFAULT_MANIFESTS
from reconciler.errors import NotFoundError, StateError, UsageError
from reconciler.manifests.loader import load_manifests
from reconciler.manifests.model import DesiredModel, key_problem
from reconciler.planning.importer import manifest_for
from reconciler.planning.normalize import managed_fields, normalize_live

_STATE_OPTION = click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reconciler.state.json"),
    show_default=True,
    help="State file.",
)
_LOCK_OPTION = click.option(
    "--lock-timeout", type=click.FloatRange(0), default=10.0, show_default=True
)


@click.command("import")
@click.argument("key")
@click.argument("draft_id")
@click.option(
    "--manifests",
    "manifest_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Where the model's manifest is (default: manifests/ when it exists).",
)
@catalog_options
@run
async def import_(
    key: str,
    draft_id: str,
    manifest_paths: tuple[Path, ...],
    settings: Settings,
) -> None:
    """Adopt the existing draft DRAFT_ID into the state as model KEY, after reading it.

    When no manifest describes KEY yet, prints one (YAML) that matches the draft.
    """
    err = settings.err
    problem = key_problem(key)
    if problem is not None:
        raise UsageError(f"KEY is the model's metadata.key: {problem}")
    model = _manifest_model(key, manifest_paths)
    store = StateStore(settings.state_path)
    with store.lock(settings.lock_timeout, operation="import", notify=settings.note_lock_wait):
        doc = store.load()
        settings.check_catalog(doc)
        doc.catalog = settings.catalog  # the first import binds the state to its catalog
        existing = doc.models.get(key)
        if existing is not None and existing.draft_id != draft_id:
            raise StateError(
                f"model {key} is already in the state as draft {existing.draft_id}; "
                f"run `reconciler state rm {key}` first to import another draft"
            )
        holder = next((k for k, r in doc.models.items() if r.draft_id == draft_id), None)
        if holder is not None and holder != key:
            # Two keys on one draft would undo each other's changes on every apply, and
            # pruning one would deactivate the other's live draft.
            raise StateError(
                f"draft {draft_id} is already in the state as model {holder}; nothing was "
                f"imported. Run `reconciler state rm {holder}` first to manage it as {key}"
            )
        async with settings.open_client() as client:
            try:
                live = await client.read(draft_id)
            except NotFoundError:
                raise NotFoundError(
                    f"draft {draft_id} does not exist in the catalog; nothing was imported",
                    status=404,
                    model_key=key,
                ) from None
        fields = managed_fields(model) if model is not None else ()
        doc.models[key] = ModelRecord(
            draft_id=draft_id, last_applied=normalize_live(live, fields), applied_at=now()
        )
        store.save(doc)
    err.print(f"Imported {key} as draft {draft_id} into {settings.state_path}.")
    if model is None:
        err.print("No manifest describes it yet; this one matches the draft as it is:")
        emit(yaml.safe_dump(manifest_for(key, live), sort_keys=False, allow_unicode=True))


def _manifest_model(key: str, paths: tuple[Path, ...]) -> DesiredModel | None:
    if not paths and not DEFAULT_MANIFESTS.exists():
        return None
    models = load_manifests(list(paths) or [DEFAULT_MANIFESTS])
    return next((m for m in models if m.key == key), None)


@click.group("state")
def state() -> None:
    """Inspect or edit the state: which draft each model is."""


@state.command("list")
@_STATE_OPTION
def list_(state_path: Path) -> None:
    """Each managed model's key and draft id."""
    if not state_path.exists():
        # Not an error (no apply has run yet), but a mistyped --state should not look empty.
        click.echo(f"No state file {state_path} yet: no model is managed.", err=True)
        return
    # Lists a draft held by two models too: a person needs to see them to remove one.
    doc = StateStore(state_path).load(repairing=True)
    for key, record in sorted(doc.models.items()):
        emit(f"{key}\t{record.draft_id}")
    for key in sorted(doc.journal):
        stderr = click.get_text_stream("stderr")
        stderr.write(f"{key}: a proposal of an interrupted apply is pending\n")


@state.command("show")
@click.argument("key")
@_STATE_OPTION
def show(key: str, state_path: Path) -> None:
    """What the state holds for model KEY, as JSON."""
    doc = StateStore(state_path).load()
    record = doc.models.get(key)
    if record is None:
        raise UsageError(f"model {key} is not in the state {state_path}")
    emit(json.dumps({"key": key, **record.model_dump(mode="json")}, indent=2, sort_keys=True))


@state.command("rm")
@click.argument("keys", nargs=-1, required=True)
@_STATE_OPTION
@_LOCK_OPTION
def rm(keys: tuple[str, ...], state_path: Path, lock_timeout: float) -> None:
    """Forget models KEYS; their drafts in the catalog are left as they are."""
    store = StateStore(state_path)

    def notify(message: str) -> None:
        click.echo(lock_wait_words(message), err=True)

    with store.lock(lock_timeout, operation="state rm", notify=notify):
        # Removing one of two models that hold one draft is how such a state is repaired.
        doc = store.load(repairing=True)
        missing = sorted(set(keys) - set(doc.models))
        if missing:
            raise UsageError(f"not in the state {state_path}: {', '.join(missing)}")
        # Settling would put such a model back; forgetting it would orphan its proposal.
        pending = sorted(set(keys) & set(doc.journal))
        if pending:
            raise UsageError(
                f"an interrupted apply left a proposal for {', '.join(pending)}; "
                "run `reconciler apply` to settle it first, then remove the model"
            )
        for key in keys:
            record = doc.models.pop(key)
            click.echo(f"Removed {key} (draft {record.draft_id} is unchanged in the catalog).")
        store.save(doc)


@state.command("merge")
@click.argument("other", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--base",
    "base_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The state both started from; with it a model removed on one side stays removed.",
)
@_STATE_OPTION
@_LOCK_OPTION
def merge(other: Path, base_path: Path | None, state_path: Path, lock_timeout: float) -> None:
    """Merge OTHER, a copy of the same state, into the state, model by model.

    For a state that changed in two places at once (an apply, and a pull request merged
    meanwhile). Refuses, changing nothing, if the two have different lineages or catalogs
    or changed one model differently; the merged serial is greater than both.
    """
    theirs = _existing_state(other)
    base = _existing_state(base_path) if base_path is not None else None
    store = StateStore(state_path)
    with store.lock(lock_timeout, operation="state merge"):
        ours = _existing_state(state_path)
        merged = merge_states(ours, theirs, base, names=(str(state_path), str(other)))
        if merged.model_copy(update={"serial": ours.serial}) == ours:
            # The state has everything already (the other is itself, or an older copy): a
            # new serial would change the idempotency keys of plans staged on this one.
            click.echo(
                f"Nothing to merge: {state_path} already holds everything in {other}; "
                f"it is unchanged (serial {ours.serial}).",
                err=True,
            )
            return
        # render() advances the serial once more; hand it one less so that the file
        # carries exactly the merged serial.
        store.write(StateStore.render(merged.model_copy(update={"serial": merged.serial - 1})))
    click.echo(
        f"Merged {other} into {state_path}: {len(merged.models)} models, serial {merged.serial}.",
        err=True,
    )


def _existing_state(path: Path) -> StateDocument:
    # load() invents an empty state for a missing file; merging that would be a guess.
    if not path.exists():
        raise UsageError(f"no state file {path}")
    return StateStore(path).load()
