"""What a plan keeps of a live draft: its managed fields normalized, its fingerprint, its
pending proposals and whether it is active.

A refresh of 10,000 drafts held every response as a ``DraftFormState`` (about 6 KB each)
until the plan was built; this is what the planner reads of one, built as each response
arrives so the response itself can go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.catalog.wire import DraftFormState
from reconciler.planning.normalize import UNMANAGEABLE, live_fingerprint, normalize_live


@dataclass(frozen=True, slots=True)
class LiveDraft:
    """The parts of a live draft a plan uses; ``fields`` holds only those it was made for."""

    draft_id: str
    active: bool
    pending_ids: tuple[str, ...]
    fingerprint: str
    fields: dict[str, Any]

    def normalized(self, names: Iterable[str]) -> Mapping[str, Any]:
        """The named fields as ``normalize_live`` gives them: the names it was made for.

        The kept fields themselves, read-only: a plan only reads them, and a copy of each of
        10,000 drafts cost 2 µs.
        """
        wanted = set(names) - UNMANAGEABLE
        if wanted != self.fields.keys():
            # Kept for other fields than the plan compares: planning on it would miss drift.
            raise ValueError(
                f"draft {self.draft_id} was kept for {sorted(self.fields)}, not {sorted(wanted)}"
            )
        return self.fields


def compact(draft: DraftFormState | LiveDraft, names: Iterable[str]) -> LiveDraft:
    """``draft`` as a plan keeps it, with the named fields normalized."""
    if isinstance(draft, LiveDraft):
        return draft
    return LiveDraft(
        draft_id=draft.draft_id,
        active=draft.active,
        pending_ids=tuple(draft.pending_ids),
        fingerprint=live_fingerprint(draft),
        fields=normalize_live(draft, names),
    )
