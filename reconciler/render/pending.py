"""Pending proposals on managed drafts, as ``drift`` reports them in their own section."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from reconciler.apply.keys import is_ours, is_stale
from reconciler.planning.plan import Plan


@dataclass(frozen=True)
class PendingProposal:
    """One proposal pending on a managed draft."""

    model: str
    draft_id: str
    idempotency_key: str
    # Staged by reconciler (by the key's prefix), not by another tool or person.
    ours: bool
    # True: it can never be accepted (the draft moved since); None: cannot tell.
    stale: bool | None
    # When it was staged, if this state's journal knows (the catalog does not say).
    staged_at: str | None


def pending_proposals(plan: Plan, journalled: Mapping[str, str]) -> list[PendingProposal]:
    """Every pending proposal the plan's refresh saw; ``journalled``: key -> created_at."""
    found = []
    for change in plan.changes:
        if change.draft_id is None or change.live_fingerprint is None:
            continue
        for key in sorted(change.pending_ids):
            found.append(
                PendingProposal(
                    model=change.key,
                    draft_id=change.draft_id,
                    idempotency_key=key,
                    ours=is_ours(key),
                    stale=is_stale(key, change.live_fingerprint),
                    staged_at=journalled.get(key),
                )
            )
    return found


def _stale_word(proposal: PendingProposal) -> str:
    return {True: "stale", False: "current", None: "unknown"}[proposal.stale]


def render_text(pending: Sequence[PendingProposal]) -> str:
    """A section for the text report; empty when nothing is pending."""
    if not pending:
        return ""
    lines = ["Pending proposals on managed drafts:", ""]
    for p in pending:
        who = "reconciler" if p.ours else "not reconciler"
        age = f"staged {p.staged_at}" if p.staged_at else "age unknown"
        lines.append(
            f"  {p.model} (draft {p.draft_id}): {p.idempotency_key} [{who}, {age}, "
            f"{_stale_word(p)}]"
        )
    stale = sum(1 for p in pending if p.ours and p.stale)
    if stale:
        lines += ["", f"{stale} stale; `reconciler unstage --stale` rejects them."]
    return "\n".join(lines) + "\n"


def render_markdown(pending: Sequence[PendingProposal]) -> str:
    """A section for the Markdown report; empty when nothing is pending."""
    if not pending:
        return ""
    rows = [
        "### Pending proposals on managed drafts\n",
        "| Model | Draft | Key | Staged by | Age | Stale |",
        "|---|---|---|---|---|---|",
    ]
    for p in pending:
        rows.append(
            f"| `{p.model}` | `{p.draft_id}` | `{p.idempotency_key}` | "
            f"{'reconciler' if p.ours else 'other'} | {p.staged_at or 'unknown'} | "
            f"{_stale_word(p)} |"
        )
    return "\n".join(rows) + "\n"


def documents(pending: Sequence[PendingProposal]) -> list[dict[str, object]]:
    """The JSON form: one object per proposal."""
    return [asdict(p) for p in pending]
