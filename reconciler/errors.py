"""The exceptions of reconciler: each carries what a person needs to act on it.

The CLI turns any ``ReconcilerError`` into one message and an exit code, in one
place (``reconciler.cli``); nothing else prints errors.
"""

from __future__ import annotations

from dataclasses import dataclass


class ReconcilerError(Exception):
    """Base of every error reconciler reports to a user."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

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
    ) -> None:
        self.status = status
        self.model_key = model_key
        self.draft_id = draft_id
        self.server_message = message
        super().__init__(message)

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
    """401: the token is missing or wrong (set ``CATALOG_TOKEN``)."""


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


class UnsafePlanError(ReconcilerError):
    """The plan changes more of the catalog than the safety threshold allows."""


class PlanError(ReconcilerError):
    """The manifests, state and live drafts cannot be planned (e.g. adopting a missing draft)."""


class PlanFileError(ReconcilerError):
    """A saved plan file is unreadable, not a plan, or of another format version."""


class UsageError(ReconcilerError):
    """The command was called in a way that cannot work (e.g. apply without a terminal)."""


class ReferenceDataError(ReconcilerError):
    """The local catalog's reference data file is unreadable or malformed."""
