"""Each field kind: its table entry and the rules it owns (normalize, compare, display, patch)."""

import pytest

from reconciler.catalog.wire import MODEL_FIELDS
from reconciler.planning import fields
from reconciler.planning.fields import (
    KINDS,
    LIST_FIELDS,
    UNMANAGEABLE,
    comparable,
    display,
    items,
    kind_of,
    normalize,
)
from reconciler.planning.fields.flags import Flag
from reconciler.planning.fields.ids import IdList
from reconciler.planning.fields.labels import Label, LabelList
from reconciler.planning.fields.pricing import Pricing, PricingIds
from reconciler.planning.fields.text import Text


def test_every_model_field_but_pending_ids_has_exactly_one_kind():
    assert set(KINDS) == set(MODEL_FIELDS) - UNMANAGEABLE
    assert {"pending_ids"} == UNMANAGEABLE


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        ("name", Text),
        ("name_id", Text),
        ("provider_id", Text),
        ("provider", Label),
        ("departments", LabelList),
        ("department_ids", IdList),
        ("flag_ids", IdList),
        ("active", Flag),
        ("pricing", Pricing),
        ("pricing_ids", PricingIds),
    ],
)
def test_the_table_gives_each_field_its_kind(field, kind):
    assert type(kind_of(field)) is kind


def test_an_unknown_field_is_a_value_error_that_names_it():
    with pytest.raises(ValueError, match="'bogus' is not a model field"):
        kind_of("bogus")


def test_list_fields_are_exactly_the_label_lists_id_lists_and_pricing():
    assert {"departments", "department_ids", "flag_ids", "pricing", "pricing_ids"} <= LIST_FIELDS
    assert not LIST_FIELDS & {"name", "name_id", "provider", "provider_id", "active"}
    assert {f for f, kind in KINDS.items() if kind.is_list} == LIST_FIELDS


@pytest.mark.parametrize("field", sorted(KINDS))
def test_none_is_none_in_every_kind(field):
    assert normalize(field, None, with_ids=False) is None
    assert comparable(field, None) is None
    assert display(field, None) is None
    assert items(field, None, {"x"}) == ()


def test_flags_are_booleans():
    assert normalize("active", 1, with_ids=False) is True
    assert normalize("active", 0, with_ids=True) is False


def test_items_of_a_single_value_kind_are_none():
    assert items("name", "N", {"N"}) == ()
    assert items("departments", ["A"], ()) == ()


def test_the_module_names_what_it_exports():
    assert set(fields.__all__) <= set(dir(fields))
