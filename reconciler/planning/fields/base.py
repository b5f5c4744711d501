"""The contract every field kind implements, and the plain-value helper they share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.manifests.model import DesiredModel


class FieldKind:
    """What one kind of model field means, in one place.

    A kind says how a value is normalized (one spelling), compared (a hashable value that is
    equal exactly when the server treats two values as equal), displayed in plans, split into
    items, and written into a patch. The defaults suit a single value compared as written;
    ``None`` never reaches these methods except ``normalize`` and the patch methods.
    """

    # Changes to a list kind are shown as the items added and removed.
    is_list: bool = False

    def from_live(self, value: Any) -> Any:
        """A live draft's attribute as plain JSON values."""
        return value

    def normalize(self, value: Any, *, with_ids: bool) -> Any:
        """The comparable form as plans and the state keep it (``with_ids``: a live value)."""
        return value

    def comparable(self, value: Any) -> Any:
        """A hashable value, equal exactly when the server treats two values as equal."""
        return value

    def display(self, value: Any) -> Any:
        """A normalized value as plans show it."""
        return value

    def items(self, side: Iterable[Any], wanted: set[Any]) -> tuple[Any, ...]:
        """The items of ``side`` whose comparable form is in ``wanted``, spelled as there."""
        return tuple(v for v in side if v in wanted)

    def create_value(self, value: Any) -> Any:
        """The value a new draft is created with (never None or "")."""
        return to_plain(value)

    def patch(self, field: str, model: DesiredModel, baseline: Mapping[str, Any]) -> dict[str, Any]:
        """The patch entries that set ``field`` of an existing draft to the manifest's value."""
        return {field: to_plain(model.fields[field])}

    def view(self, desired: Mapping[str, Any], baseline: Mapping[str, Any]) -> Mapping[str, Any]:
        """The baseline as this kind compares it against ``desired`` (most kinds: as it is)."""
        return baseline


def to_plain(value: Any) -> Any:
    """A copy made of plain dicts, lists and scalars, fit for JSON."""
    # The exact plain types first: a manifest is made of them, and the abstract Mapping
    # check below costs more than the copy (a plan digests every model's fields).
    kind = type(value)
    if kind is str or kind is bool or kind is int or kind is float or value is None:
        return value
    # A scalar item is its own plain form: taken without a call (a model's fields are
    # mostly strings in lists; half the cost of the copy).
    if kind is dict:
        return {str(k): v if type(v) in _SCALARS else to_plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in _SCALARS else to_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_plain(v) for v in value]
        return sorted(items) if isinstance(value, (set, frozenset)) else items
    return value


# The exact types ``to_plain`` returns as they are.
_SCALARS: frozenset[type] = frozenset({str, bool, int, float, type(None)})
