"""Why the local catalog refuses a request: one exception, mapped to a status by the app."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ApiProblem(Exception):
    """A refused request: HTTP status, a message a person can act on, field errors for a 422."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = list(errors)
        self.headers = dict(headers or {})


class FieldErrors:
    """Collects every field problem of one request, so a 422 reports them all at once."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def add(self, field: str, message: str) -> None:
        """Record that ``field`` is invalid, and why."""
        self.errors.append((field, message))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        """Raise a 422 naming every recorded field, if any was recorded."""
        if not self.errors:
            return
        if len(self.errors) == 1:
            field, message = self.errors[0]
            raise ApiProblem(422, f"{field}: {message}", errors=self.errors)
        details = "; ".join(f"{field}: {message}" for field, message in self.errors)
        raise ApiProblem(
            422, f"{len(self.errors)} fields are invalid: {details}", errors=self.errors
        )
