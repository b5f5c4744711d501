"""The circuit breaker: stop starting models once the catalog has stopped answering.

Each model's requests are already retried by the client; a model that still fails to
reach the catalog has waited through every retry. When several models in a row fail
that way, the catalog is gone, not one draft: starting the remaining models would
only repeat the same wait and the same error for each of them. The breaker opens
after ``threshold`` consecutive such failures; the applier then starts no new model,
and the run ends with what it did, its journal on disk, for a rerun to finish.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.errors import CatalogError, UnavailableError

# Statuses a gateway answers for a catalog behind it that is down.
_GATEWAY_DOWN = frozenset({502, 503, 504})
DEFAULT_THRESHOLD = 3


def is_unreachable(error: CatalogError) -> bool:
    """Whether ``error`` says the catalog could not be reached, rather than refusing a model."""
    return isinstance(error, UnavailableError) and (
        error.status is None or error.status in _GATEWAY_DOWN
    )


class Breaker:
    """Counts consecutive models that could not reach the catalog; opens at ``threshold``."""

    def __init__(self, now: Callable[[], str], threshold: int = DEFAULT_THRESHOLD) -> None:
        self._now = now
        self._threshold = max(threshold, 1)
        self._consecutive = 0
        self.opened_at: str | None = None

    @property
    def open(self) -> bool:
        """True once the catalog is taken for gone: start no new model."""
        return self.opened_at is not None

    def succeeded(self) -> None:
        """A model reached the catalog (whatever it answered): the run of failures ends."""
        self._consecutive = 0

    def failed(self, error: CatalogError) -> None:
        """A model's change failed with ``error``; opens the breaker after enough in a row."""
        if not is_unreachable(error):
            self._consecutive = 0
            return
        self._consecutive += 1
        if self._consecutive >= self._threshold and self.opened_at is None:
            self.opened_at = self._now()
