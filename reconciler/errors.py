"""The exceptions of reconciler: each carries what a person needs to act on it.

The CLI turns any ``ReconcilerError`` into one message and an exit code, in one
place (``reconciler.cli``); nothing else prints errors. The core says *what* to
do about an error as data (``remedy``, a name, and ``remedy_args``); the CLI
words it with its own flags and commands (``reconciler.cli.remedies``), so no
module below the CLI names an option or a command.

The hierarchy (every exit code is 1; the client retries only where marked)::

    ReconcilerError
    ├── ManifestError          the manifests are invalid: every ManifestProblem, file:line:col
    ├── CatalogError           the catalog answered with an error, or could not be reached
    │   ├── AuthError          401/403: the token is missing or wrong
    │   ├── NotFoundError      404: unknown draft, or an ack for an unknown key
    │   ├── ConflictError      409: stale proposal or opposite decision
    │   │                      (retried only when the key is still in flight)
    │   ├── RejectedError      400/413/422: refused; carries the field errors
    │   ├── RateLimitedError   429 after every retry (retried, honouring Retry-After)
    │   └── UnavailableError   5xx, connection failure, lost response after every retry
    │                          (retried)
    ├── StateError             the state file is unreadable, foreign or inconsistent
    │   ├── LockError          another writer holds the state lock
    │   └── UnsavedStateError  a write failed mid-apply: the unsaved state is kept aside
    ├── StalePlanError         a saved plan no longer matches what it was made from
    ├── PlanMismatchError      a saved plan's changes do not follow from its manifests
    ├── UnsafePlanError        the plan is over a safety share (carries UnsafeShare figures)
    ├── ConflictingPlanError   the plan overwrites catalog edits and was asked to refuse
    ├── PlanError              manifests, state and drafts cannot be planned together
    ├── RewriteError           adopt cannot rewrite a manifest safely (files left as they were)
    ├── PlanFileError          a saved plan file is unreadable or of another format
    ├── UsageError             the command was called in a way that cannot work
    └── ReferenceDataError     the local catalog's reference data is malformed

A usage error of the command line itself (an unknown option) also exits 1, so
that a mistyped flag can never pass for "changes" (2) in CI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class ReconcilerError(Exception):
    """Base of every error reconciler reports to a user."""

    exit_code: int = 1
    # What a person can do about it, named for the CLI to word (``reconciler.cli.remedies``).
    remedy: str | None = None

    def __init__(
        self,
        message: str,
        *,
        remedy: str | None = None,
        remedy_args: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if remedy is not None:
            self.remedy = remedy
        self.remedy_args: Mapping[str, str] = remedy_args or {}

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ManifestProblem:
    """One problem in a manifest file, located as ``file:line:column``."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ManifestError(ReconcilerError):
    """The manifests are invalid; carries every problem found in one run."""

    def __init__(self, problems: list[ManifestProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column, p.path))
        noun = "problem" if len(self.problems) == 1 else "problems"
        lines = [str(p) for p in self.problems]
        super().__init__("\n".join([*lines, f"{len(self.problems)} manifest {noun} found."]))


class CatalogError(ReconcilerError):
    """The catalog answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        model_key: str | None = None,
        draft_id: str | None = None,
        remedy: str | None = None,
    ) -> None:
        self.status = status
        self.model_key = model_key
        self.draft_id = draft_id
        self.server_message = message
        super().__init__(message, remedy=remedy)

    def __str__(self) -> str:
        subject = []
        if self.model_key:
            subject.append(f"model {self.model_key}")
        if self.draft_id:
            subject.append(f"draft {self.draft_id}")
        status = f" (HTTP {self.status})" if self.status else ""
        prefix = f"{', '.join(subject)}: " if subject else ""
        return f"{prefix}{self.server_message}{status}"

    def for_model(self, model_key: str) -> CatalogError:
        """Attach the model key this error concerns (returns self for chaining)."""
        self.model_key = model_key
        return self


class AuthError(CatalogError):
    """401: the token is missing or wrong."""

    remedy = "set_token"


class NotFoundError(CatalogError):
    """404: unknown draft, or ack for an unknown key."""


class ConflictError(CatalogError):
    """409: key in flight, stale proposal, or the opposite decision on a decided ack."""


class RejectedError(CatalogError):
    """400/422: the server rejected the request; carries its field errors."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        field_errors: list[tuple[str, str]] | None = None,
        model_key: str | None = None,
        draft_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, model_key=model_key, draft_id=draft_id)
        self.field_errors = field_errors or []

    def __str__(self) -> str:
        base = super().__str__()
        # Servers often repeat a field error in the message; say each one only once.
        details = "; ".join(
            detail
            for detail in (f"{field}: {msg}" for field, msg in self.field_errors)
            if detail not in self.server_message
        )
        return f"{base} [{details}]" if details else base


class RateLimitedError(CatalogError):
    """429 after every retry the policy allows."""


class UnavailableError(CatalogError):
    """5xx, a connection failure or a lost response, after every retry."""


class StateError(ReconcilerError):
    """The state file is unreadable, of another format, or inconsistent."""


class LockError(StateError):
    """Another writer holds the state lock."""


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches the state, the manifests or the live drafts."""

    remedy = "new_plan"

    def __init__(self, reasons: tuple[str, ...], *, remedy: str | None = None) -> None:
        self.reasons = reasons
        super().__init__(
            "the saved plan is stale and nothing was sent: " + "; ".join(reasons) + ".",
            remedy=remedy,
        )


@dataclass(frozen=True)
class PlanMismatch:
    """One change of a saved plan that its manifests, state and live drafts do not give."""

    key: str
    field: str
    in_plan: str
    expected: str

    def __str__(self) -> str:
        return f"model {self.key}: {self.field} is {self.in_plan} in the plan, {self.expected}"


class PlanMismatchError(ReconcilerError):
    """A saved plan's changes differ from those its manifests give: it was edited."""

    remedy = "new_plan"

    def __init__(self, mismatches: tuple[PlanMismatch, ...]) -> None:
        self.mismatches = mismatches
        lines = "\n".join(f"  {m}" for m in mismatches)
        super().__init__(
            "the saved plan does not follow from the manifests it records, so nothing was "
            f"sent (was it edited?):\n{lines}\n"
        )


@dataclass(frozen=True)
class UnsafeShare:
    """One action of a plan over its safe share: ``count`` of ``total`` managed models."""

    action: str
    count: int
    total: int
    limit: float

    @property
    def share(self) -> float:
        """The share of the managed models the action touches."""
        return self.count / self.total

    def __str__(self) -> str:
        return (
            f"{self.action} {self.count} of {self.total} managed models ({self.share:.0%}), "
            f"above the safe limit of {self.limit:.0%}"
        )


class UnsafePlanError(ReconcilerError):
    """The plan changes more of the catalog than the safety threshold allows."""

    remedy = "force"

    def __init__(self, shares: tuple[UnsafeShare, ...]) -> None:
        self.shares = shares
        super().__init__(f"The plan would {' and '.join(str(s) for s in shares)}.")


@dataclass(frozen=True)
class PlanProblem:
    """One reason a model cannot be planned, with what to do about it (for the CLI to word)."""

    message: str
    remedy: str | None = None
    remedy_args: tuple[tuple[str, str], ...] = ()


class ConflictingPlanError(ReconcilerError):
    """The plan overwrites fields edited in the catalog, and was asked to refuse that."""

    remedy = "resolve_conflicts"

    def __init__(self, conflicts: tuple[str, ...]) -> None:
        # Each conflict described: ``key.field (last applied X, catalog Y, git Z)``.
        self.conflicts = conflicts
        super().__init__(
            f"the plan would overwrite {len(conflicts)} field(s) changed in the catalog since "
            f"the last apply, so nothing was sent: {'; '.join(conflicts)}."
        )


class RewriteError(ReconcilerError):
    """A manifest cannot be rewritten safely by ``adopt``; no file was left changed."""


class PlanError(ReconcilerError):
    """The manifests, state and live drafts cannot be planned (e.g. adopting a missing draft)."""

    def __init__(self, message: str = "", *, problems: tuple[PlanProblem, ...] = ()) -> None:
        self.problems = problems
        super().__init__(message or "\n".join(problem.message for problem in problems))


class PlanFileError(ReconcilerError):
    """A saved plan file is unreadable, not a plan, or of another format version."""


class UsageError(ReconcilerError):
    """The command was called in a way that cannot work (e.g. apply without a terminal)."""


class ReferenceDataError(ReconcilerError):
    """The local catalog's reference data file is unreadable or malformed."""


class UnsavedStateError(StateError):
    """A state write failed mid-apply; what it could not save is in an emergency file.

    ``emergency`` is the file beside the state that holds it, or ``None`` when that
    could not be written either: then ``text`` is the state, for the CLI to show.
    """

    def __init__(self, reason: str, state: str, emergency: str | None, text: str) -> None:
        self.emergency = emergency
        self.text = text
        if emergency is not None:
            where = f"the state it could not save is in {emergency}"
            remedy = "restore_emergency_state"
        else:
            where = f"the state it could not save could not be written beside it either:\n{text}"
            remedy = "restore_state_from_output"
        super().__init__(
            f"{reason}. The apply stopped; nothing the catalog accepted is lost: {where}",
            remedy=remedy,
            remedy_args={"emergency": emergency or "", "state": state},
        )
