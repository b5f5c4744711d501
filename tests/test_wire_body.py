"""``plain_request_body`` is the request model's body whenever it answers at all."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.catalog.wire import PatchModelDraftApiRequest, plain_request_body

_NAMES = [*PatchModelDraftApiRequest.model_fields, "colour"]
# Values of the right type and of types the model coerces or refuses.
_VALUES = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.booleans(),
    st.integers(-2, 2),
    st.lists(st.text(max_size=3), max_size=3),
    st.lists(st.one_of(st.integers(0, 1), st.none()), max_size=2),
    st.lists(
        st.dictionaries(
            st.sampled_from(["id", "label", "unit", "amount", "currency", "extra"]),
            st.one_of(st.none(), st.text(max_size=3), st.integers(0, 1)),
        ),
        max_size=2,
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(_NAMES), _VALUES, max_size=8))
def test_a_plain_body_is_the_models_body_in_its_order(wire: dict[str, Any]) -> None:
    body = plain_request_body(wire)
    try:
        expected = PatchModelDraftApiRequest.model_validate(wire).to_wire()
    except ValidationError:
        assert body is None  # the model says why; the plain path never sends it
        return
    if body is not None:
        assert list(body.items()) == list(expected.items())
        for mine, theirs in zip(body.get("pricing", []), expected.get("pricing", []), strict=True):
            assert list(mine.items()) == list(theirs.items())


def test_a_request_of_plain_values_takes_the_plain_path() -> None:
    wire = {
        "name": "x",
        "soft": True,
        "idempotency_key": "k",
        "draft_id": None,
        "flag_ids": ["f"],
        "pricing": [{"label": "a", "unit": "u", "amount": "1", "currency": "USD", "id": None}],
    }
    assert plain_request_body(wire) == PatchModelDraftApiRequest.model_validate(wire).to_wire()
