"""Why the local catalog refuses a request: one exception, mapped to a status by the app.

One answer lists at most ``MAX_ERRORS_LISTED`` field errors and says how many
more there were, so a request with 100,000 bad labels gets a short 422, not a
22 MB one. Each field message is cut to ``MAX_MESSAGE_CHARS``: messages quote
what the request sent, and a request may send long strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MAX_ERRORS_LISTED = 50
MAX_MESSAGE_CHARS = 1_000


class ApiProblem(Exception):
    """A refused request: HTTP status, a message a person can act on, field errors for a 422.

    ``errors`` keeps the first ``MAX_ERRORS_LISTED`` field errors; ``omitted``
    counts the ones left out.
    """

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
        self.errors = [
            (clip(field), clip(text)) for field, text in list(errors)[:MAX_ERRORS_LISTED]
        ]
        self.omitted = max(0, len(errors) - MAX_ERRORS_LISTED)
        self.headers = dict(headers or {})


def invalid(errors: Sequence[tuple[str, str]], prefix: str = "") -> ApiProblem:
    """The 422 naming every field of ``errors`` (the first ``MAX_ERRORS_LISTED`` of them)."""
    listed = [f"{clip(field)}: {clip(text)}" for field, text in errors[:MAX_ERRORS_LISTED]]
    if len(errors) == 1:
        message = listed[0]
    else:
        message = f"{len(errors)} fields are invalid: " + "; ".join(listed)
    if len(errors) > MAX_ERRORS_LISTED:
        message += f"; and {len(errors) - MAX_ERRORS_LISTED} more errors, not listed"
    return ApiProblem(422, prefix + message, errors=errors)


def clip(text: str) -> str:
    """``text`` cut to ``MAX_MESSAGE_CHARS`` (an echoed value must not make an answer huge)."""
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return f"{text[: MAX_MESSAGE_CHARS - 30]}... ({len(text)} characters in all)"


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
        if self.errors:
            raise invalid(self.errors)
