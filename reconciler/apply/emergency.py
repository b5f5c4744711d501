"""When the state file cannot be written: keep what it could not save beside it.

A failed state write mid-apply must not lose what the catalog already accepted. The
state in memory holds every accepted change and every proposal sent (each is
journalled before it is sent), so it is written whole to an emergency file beside
the state file, never over an earlier one; if even that fails, the error carries
the text for the CLI to print.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from reconciler.apply.state import StateDocument, StateStore
from reconciler.errors import UnsavedStateError


class StateWriteFailed(Exception):
    """Raised by the ledger's writes once a state write has failed: stop this model."""


def emergency_path(state: Path) -> Path:
    """A file beside ``state`` that no earlier emergency file holds."""
    candidate = state.with_name(state.name + ".emergency")
    number = 1
    while candidate.exists():
        candidate = state.with_name(f"{state.name}.emergency.{number}")
        number += 1
    return candidate


def rescue(store: StateStore, doc: StateDocument, reason: str, target: Path) -> UnsavedStateError:
    """Write ``doc`` to ``target`` (atomically); the error that says where it is."""
    text = store.render(doc)
    try:
        _write(target, text)
    except OSError:
        return UnsavedStateError(reason, str(store.path), None, text)
    return UnsavedStateError(reason, str(store.path), str(target), text)


def _write(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
