"""Loads the manifests: finds the files, reads them strictly, validates, merges Defaults.

Every problem in every file is collected before anything is raised, so one run
of ``reconciler validate`` shows them all. Files are every ``*.yaml`` / ``*.yml``
under the given paths, recursively, in sorted order; a Defaults document applies
to the models read in the same run from its directory and below.
"""

from __future__ import annotations

import errno
import gc
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reconciler.errors import ManifestError, ManifestProblem
from reconciler.manifests.defaults import effective_fields, merge_specs
from reconciler.manifests.diagnostics import (
    KINDS,
    api_version_message,
    kind_message,
    problem_at,
    validation_problems,
)
from reconciler.manifests.model import (
    API_VERSION,
    DefaultsDocument,
    DesiredModel,
    ModelDocument,
    SourceLocation,
)
from reconciler.manifests.rules import document_issues, flag_conflict
from reconciler.manifests.yaml_strict import HAVE_LIBYAML, YamlDocument, YamlLimits, read_yaml_file

SUFFIXES: tuple[str, ...] = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadReport:
    """What one load found: the files read, the models without problems, every problem."""

    files: tuple[str, ...]
    models: tuple[DesiredModel, ...]
    problems: tuple[ManifestProblem, ...]


@dataclass
class _Parsed:
    """One document, validated as far as it goes."""

    file: str
    directory: Path
    doc: YamlDocument
    kind: str
    model: ModelDocument | DefaultsDocument | None
    problems: list[ManifestProblem] = field(default_factory=list)

    def where(self, path: tuple[str, ...] = ()) -> str:
        found = problem_at(self.doc, self.file, path, "")
        return f"{found.file}:{found.line}:{found.column}"


def load_manifests(
    paths: Sequence[Path], *, limits: YamlLimits | None = None, libyaml: bool = HAVE_LIBYAML
) -> list[DesiredModel]:
    """The desired models of the manifests under ``paths``; raises ``ManifestError``."""
    report = load_report(paths, limits=limits, libyaml=libyaml)
    if report.problems:
        raise ManifestError(list(report.problems))
    return list(report.models)


def load_report(
    paths: Sequence[Path], *, limits: YamlLimits | None = None, libyaml: bool = HAVE_LIBYAML
) -> LoadReport:
    """Load everything under ``paths`` and report models and problems, without raising."""
    limits = limits or YamlLimits()
    files, problems = _manifest_files(paths)
    parsed: list[_Parsed] = []
    # One Path per directory, hashed once: its files' models look their Defaults up by it.
    directories: dict[str, Path] = {}
    with _few_full_collections():
        for display, resolved in files:
            documents, yaml_problems = read_yaml_file(resolved, display, limits, libyaml=libyaml)
            problems += yaml_problems
            folder = os.path.dirname(resolved)
            directory = directories.get(folder) or directories.setdefault(folder, Path(folder))
            parsed += [p for p in (_parse(doc, display, directory) for doc in documents) if p]
        defaults = _defaults_by_directory(parsed)
        _check_unique(parsed)
        chains: dict[Path, _Chain] = {}
        models = [model for p in parsed if (model := _desired(p, defaults, chains)) is not None]
    for item in parsed:
        problems += item.problems
    unique = list(dict.fromkeys(problems))  # a Defaults conflict shows once, not per model
    unique.sort(key=lambda p: (p.file, p.line, p.column, p.path, p.message))
    return LoadReport(tuple(display for display, _ in files), tuple(models), tuple(unique))


# The collector's thresholds while loading: allocations between two collections of the
# youngest generation, and collections of each generation before one of the next.
LOADING_THRESHOLDS = (50_000, 20, 1_000)


def loading_thresholds() -> tuple[int, int, int]:
    """The collector's thresholds now, each raised to at least ``LOADING_THRESHOLDS``'s."""
    now = gc.get_threshold()
    return (
        max(now[0], LOADING_THRESHOLDS[0]),
        max(now[1], LOADING_THRESHOLDS[1]),
        max(now[2], LOADING_THRESHOLDS[2]),
    )


@contextmanager
def _few_full_collections() -> Iterator[None]:
    """Collect cyclic garbage less often while the manifests are read.

    Every document read is kept until all are checked, and it is all trees, with no
    cycle for the collector to find; yet with the default thresholds the collector
    walked the whole growing heap again and again (10,000 manifests: six full
    collections finding nothing, a third of validate's CPU). With one young collection
    every 20,000 allocations and the older generations' default counts, their passes
    still cost 0.17 s of a 1.2 s load; with ``plan``'s own thresholds (young every
    50,000 allocations, the older generations about never) the load costs what it does
    with the collector off. Young objects are still collected, so garbage another thread
    makes meanwhile is still freed, and the thresholds are restored afterwards (back to
    the defaults, the next allocation starts a pass over all that was read; ``validate``,
    one thread, pauses the collector for the whole command instead).
    """
    before = gc.get_threshold()
    gc.set_threshold(*loading_thresholds())
    try:
        yield
    finally:
        gc.set_threshold(*before)


def manifest_files(paths: Sequence[Path]) -> tuple[list[tuple[str, Path]], list[ManifestProblem]]:
    """Every manifest file under ``paths`` as (display path, resolved path), sorted."""
    files, problems = _manifest_files(paths)
    return [(display, Path(resolved)) for display, resolved in files], problems


def _manifest_files(
    paths: Sequence[Path],
) -> tuple[list[tuple[str, str]], list[ManifestProblem]]:
    """``manifest_files`` with the resolved paths as text, as the loader opens them.

    Files are keyed by their resolved path as text, which names one path as the
    ``Path`` did, without a ``Path`` (and its parsing and formatting) for each of
    many files.
    """
    found: dict[str, str] = {}
    problems = []
    for path in paths:
        if path.is_dir():
            names: list[tuple[str, str, str | None, os.DirEntry[str]]] = []
            for directory, entries in _walk(os.fspath(path)):
                wanted = [entry for entry in entries if entry.name.endswith(SUFFIXES)]
                if wanted:
                    # A file's display and resolved paths are its directory's and its
                    # name: each directory is made a Path, and resolved, once.
                    folder = Path(directory)
                    shown = str(folder / "_")[:-1]
                    real = _real_directory(folder)
                    prefix = None if real is None else str(real / "_")[:-1]
                    names += [(directory, shown, prefix, entry) for entry in wanted]
            if not names:
                message = "no .yaml or .yml files in this directory"
                problems.append(ManifestProblem(str(path), 1, 1, "", message))
            for directory, shown, prefix, entry in names:
                _add_walked_file(directory, shown, prefix, entry, found, problems)
        elif path.exists() or path.is_symlink():
            _add_file(path, found, problems)
        else:
            problems.append(ManifestProblem(str(path), 1, 1, "", "no such file or directory"))
    ordered = sorted(((display, resolved) for resolved, display in found.items()))
    return ordered, problems


def _walk(top: str) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
    """``os.walk(top)``'s directories and the entries of what is not a directory in each.

    The same directories in the same order (subdirectories sorted, symbolic links to
    directories not followed, unreadable directories skipped), but with the entries
    rather than their names: an entry knows from the listing whether it is a regular
    file, where a name needs an ``lstat`` (one system call for each of many files).
    """
    try:
        listing = os.scandir(top)
    except OSError:
        return
    directories: list[str] = []
    others: list[os.DirEntry[str]] = []
    with listing:
        while True:
            try:
                entry = next(listing)
            except StopIteration:
                break
            except OSError:
                return
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                directories.append(entry.name)
            else:
                others.append(entry)
    yield top, others
    directories.sort()
    for name in directories:
        below = os.path.join(top, name)
        if not os.path.islink(below):
            yield from _walk(below)


def _real_directory(folder: Path) -> Path | None:
    """The directory with every symbolic link resolved, or None if that fails."""
    try:
        return folder.resolve(strict=True)
    except (RuntimeError, OSError):
        return None


def _add_walked_file(
    directory: str,
    shown: str,
    real: str | None,
    entry: os.DirEntry[str],
    found: dict[str, str],
    problems: list[ManifestProblem],
) -> None:
    """``_add_file`` for a file found by walking ``directory``, whose real path is ``real``.

    ``shown`` and ``real`` are the directory's display and real paths, each ready for a
    name. A file that is not a symbolic link is where its directory really is, so its
    real path is that directory's and its name: the listing says so (no system call
    where the file system gives each entry's type), rather than a ``stat`` and a
    resolve (an ``lstat`` per part of the path) for each of many files. Anything
    else, or an entry whose type cannot be read, goes the general way, which words
    what is wrong.
    """
    name = entry.name
    if real is not None:
        try:
            regular = entry.is_file(follow_symlinks=False)
        except OSError:
            regular = False
        if regular:
            found.setdefault(real + name, shown + name)
            return
    _add_file(Path(directory, name), found, problems)


def _add_file(path: Path, found: dict[str, str], problems: list[ManifestProblem]) -> None:
    """Record ``path`` if it is a regular file (through symlinks); else report what it is.

    Only regular files are opened: a FIFO named ``*.yaml`` would block the read forever,
    and a device could be endless.
    """
    try:
        mode = path.stat().st_mode
        resolved = path.resolve(strict=True)
    except (RuntimeError, OSError) as exc:
        # Python raises RuntimeError for a symlink loop on resolve, ELOOP from stat.
        loop = isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP
        if loop:
            message = "a symbolic link loop: the link never reaches a file"
        elif isinstance(exc, FileNotFoundError):
            message = "a symbolic link to a file that does not exist"
        else:
            message = f"cannot read it: {exc.strerror or exc}"
        problems.append(ManifestProblem(str(path), 1, 1, "", message))
        return
    if not stat.S_ISREG(mode):
        message = f"not a regular file ({_file_type(mode)}); only regular files are read"
        problems.append(ManifestProblem(str(path), 1, 1, "", message))
        return
    found.setdefault(str(resolved), str(path))


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "a special file"


def _parse(doc: YamlDocument, file: str, directory: Path) -> _Parsed | None:
    value = doc.value
    if not isinstance(value, dict) and () in doc.rejected:
        return None  # the tag refused on the whole document was reported: one problem, not two
    if not isinstance(value, dict):
        message = "a manifest document is a mapping: apiVersion, kind, metadata, spec"
        problem = problem_at(doc, file, (), message)
        return _Parsed(file, directory, doc, "", None, [problem])
    kind = value.get("kind")
    if kind not in KINDS:
        problems = [
            problem_at(doc, file, (), "missing required field 'kind' (Model or Defaults)")
            if "kind" not in value
            else problem_at(doc, file, ("kind",), kind_message(kind))
        ]
        if "apiVersion" in value and value["apiVersion"] != API_VERSION:
            message = api_version_message(value["apiVersion"])
            problems.append(problem_at(doc, file, ("apiVersion",), message))
        return _Parsed(file, directory, doc, "", None, problems)
    document_class = ModelDocument if kind == "Model" else DefaultsDocument
    parsed = _Parsed(file, directory, doc, str(kind), None)
    try:
        parsed.model = document_class.model_validate(value)
    except ValidationError as exc:
        parsed.problems += validation_problems(exc, doc, file, document_class)
    for issue in document_issues(value):
        parsed.problems.append(
            problem_at(doc, file, issue.path, issue.message, at_key=issue.at_key)
        )
    if parsed.problems or doc.flawed:
        parsed.model = None
    return parsed


def _defaults_by_directory(parsed: list[_Parsed]) -> dict[Path, _Parsed]:
    found: dict[Path, _Parsed] = {}
    for item in parsed:
        if item.kind != "Defaults":
            continue
        first = found.setdefault(item.directory, item)
        if first is not item:
            message = (
                f"a second Defaults document for this directory (the first is at {first.where()}):"
                " keep one per directory"
            )
            item.problems.append(problem_at(item.doc, item.file, ("kind",), message))
    return found


def _check_unique(parsed: list[_Parsed]) -> None:
    """A key, and a draft_id, belongs to one model document only."""
    keys: dict[str, _Parsed] = {}
    drafts: dict[str, _Parsed] = {}
    for item in parsed:
        metadata = item.doc.value.get("metadata") if item.kind == "Model" else None
        if not isinstance(metadata, dict):
            continue
        key, draft_id = metadata.get("key"), metadata.get("draft_id")
        if isinstance(key, str):
            first = keys.setdefault(key, item)
            if first is not item:
                where = first.where(("metadata", "key"))
                message = f"the key '{key}' is already used at {where}: keys must be unique"
                item.problems.append(problem_at(item.doc, item.file, ("metadata", "key"), message))
        if isinstance(draft_id, str) and draft_id:
            first = drafts.setdefault(draft_id, item)
            if first is not item:
                where = first.where(("metadata", "draft_id"))
                message = (
                    f"the draft_id '{draft_id}' is already adopted at {where}:"
                    " two models cannot manage one draft"
                )
                path = ("metadata", "draft_id")
                item.problems.append(problem_at(item.doc, item.file, path, message))


def defaults_directories(directory: Path) -> list[Path]:
    """The directories whose Defaults reach a model in ``directory``, outermost first."""
    return list(reversed((directory, *directory.parents)))


@dataclass(frozen=True)
class _Chain:
    """The Defaults reaching one directory's models, outermost first, with what they give."""

    layers: list[_Parsed]
    specs: list[Any]
    ignored: frozenset[str]


def _chain(directory: Path, defaults: dict[Path, _Parsed]) -> _Chain:
    found = [defaults[d] for d in defaults_directories(directory) if d in defaults]
    layers = [layer for layer in found if isinstance(layer.model, DefaultsDocument)]
    documents = [layer.model for layer in layers if isinstance(layer.model, DefaultsDocument)]
    ignored = frozenset(name for doc in documents for name in doc.lifecycle.ignore_changes)
    return _Chain(layers, [doc.spec for doc in documents], ignored)


def _desired(
    item: _Parsed, defaults: dict[Path, _Parsed], chains: dict[Path, _Chain]
) -> DesiredModel | None:
    """The model of ``item`` with its Defaults merged; ``chains`` caches them by directory."""
    model = item.model
    if not isinstance(model, ModelDocument) or item.problems:
        return None
    chain = chains.get(item.directory)
    if chain is None:
        # Many models share a directory: its Defaults are looked up once, not per model.
        chain = chains[item.directory] = _chain(item.directory, defaults)
    merged, conflicts = merge_specs([*chain.specs, model.spec])
    if conflicts:
        layers = [*chain.layers, item]
        for conflict in conflicts:
            inner, outer = layers[conflict.layer], layers[conflict.flag_ids_layer]
            message = flag_conflict(conflict.field, f"by the Defaults at {outer.where()}")
            path = ("spec", conflict.field)
            problem = problem_at(inner.doc, inner.file, path, message, at_key=True)
            # Recorded on the model: a Defaults conflict then stops each model it reaches.
            item.problems.append(problem)
        return None
    own_ignored = model.lifecycle.ignore_changes
    return DesiredModel(
        key=model.metadata.key,
        fields=effective_fields(merged),
        draft_id=model.metadata.draft_id,
        ignore_changes=chain.ignored.union(own_ignored) if own_ignored else chain.ignored,
        source=SourceLocation(item.file, item.doc.start.line, item.doc.start.column),
    )
