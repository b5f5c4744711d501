"""Contract: Pricing (immutable entries, pricing_ids rules) and the choices of pricing.py."""

from __future__ import annotations

import pytest
from server_refs import price


async def test_entry_without_id_is_created_and_its_id_merged(catalog):
    form = await catalog.create(pricing=[price("input", "0.60")])
    [entry] = form["pricing"]
    assert entry["id"]
    assert {k: v for k, v in entry.items() if k != "id"} == price("input", "0.60")
    assert form["pricing_ids"] == [entry["id"]]


async def test_created_entries_merge_into_the_current_pricing_ids(catalog):
    draft = await catalog.create(pricing=[price("input", "0.60")])
    form = (
        await catalog.post({"draft_id": draft["draft_id"], "pricing": [price("output", "2.40")]})
    ).form
    assert [e["label"] for e in form["pricing"]] == ["input", "output"]
    assert draft["pricing_ids"][0] in form["pricing_ids"]


async def test_entry_with_id_equal_to_the_stored_one_is_kept(catalog):
    draft = await catalog.create(pricing=[price("input", "0.60")])
    stored = draft["pricing"][0]
    form = (await catalog.post({"draft_id": draft["draft_id"], "pricing": [stored]})).form
    assert form["pricing"] == [stored]


async def test_amount_compares_as_a_number(catalog):
    draft = await catalog.create(pricing=[price("input", "0.60")])
    same = {**draft["pricing"][0], "amount": "0.6"}
    form = (await catalog.post({"draft_id": draft["draft_id"], "pricing": [same]})).form
    assert form["pricing"] == draft["pricing"]  # kept as stored, not rewritten


async def test_entry_with_id_that_differs_from_the_stored_one_is_422(catalog):
    draft = await catalog.create(pricing=[price("input", "0.60")])
    changed = {**draft["pricing"][0], "amount": "0.70"}
    reply = await catalog.post({"draft_id": draft["draft_id"], "pricing": [changed]})
    assert reply.status == 422
    assert reply.error_fields == ["pricing[0]"]
    assert "immutable" in reply.body["message"]
    assert (await catalog.read(draft["draft_id"]))["pricing"] == draft["pricing"]


async def test_entry_with_unknown_id_is_422(catalog):
    reply = await catalog.post({"pricing": [price(id="no-such-entry")]})
    assert reply.status == 422
    assert reply.error_fields == ["pricing[0].id"]


async def test_pricing_ids_replace_the_kept_set(catalog):
    draft = await catalog.create(pricing=[price("input", "0.60"), price("output", "2.40")])
    keep = next(e for e in draft["pricing"] if e["label"] == "output")
    form = (await catalog.post({"draft_id": draft["draft_id"], "pricing_ids": [keep["id"]]})).form
    assert form["pricing"] == [keep]


async def test_empty_pricing_ids_drop_every_entry(catalog):
    draft = await catalog.create(pricing=[price("input", "0.60")])
    form = (await catalog.post({"draft_id": draft["draft_id"], "pricing_ids": []})).form
    assert (form["pricing"], form["pricing_ids"]) == ([], [])


async def test_changing_a_price_is_creating_the_new_entry_and_dropping_the_old_id(catalog):
    draft = await catalog.create(pricing=[price("input", "0.60"), price("output", "2.40")])
    output = next(e for e in draft["pricing"] if e["label"] == "output")
    form = (
        await catalog.post(
            {
                "draft_id": draft["draft_id"],
                "pricing_ids": [output["id"]],
                "pricing": [price("input", "0.50")],
            }
        )
    ).form
    assert [(e["label"], e["amount"]) for e in form["pricing"]] == [
        ("input", "0.50"),
        ("output", "2.40"),
    ]
    assert output["id"] in form["pricing_ids"]
    assert not set(draft["pricing_ids"]) - {output["id"]} & set(form["pricing_ids"])


async def test_entry_with_id_is_kept_even_when_pricing_ids_leave_it_out(catalog):
    draft = await catalog.create(pricing=[price("input", "0.60")])
    stored = draft["pricing"][0]
    form = (
        await catalog.post({"draft_id": draft["draft_id"], "pricing_ids": [], "pricing": [stored]})
    ).form
    assert form["pricing"] == [stored]


async def test_pricing_alone_never_removes_an_entry(catalog):
    draft = await catalog.create(pricing=[price("input", "0.60")])
    form = (await catalog.post({"draft_id": draft["draft_id"], "pricing": []})).form
    assert form["pricing"] == draft["pricing"]


async def test_unknown_pricing_id_is_422(catalog):
    reply = await catalog.post({"pricing_ids": ["no-such-entry"]})
    assert reply.status == 422
    assert reply.error_fields == ["pricing_ids"]


async def test_duplicate_pricing_id_is_422(catalog):
    draft = await catalog.create(pricing=[price()])
    entry_id = draft["pricing_ids"][0]
    reply = await catalog.post({"draft_id": draft["draft_id"], "pricing_ids": [entry_id] * 2})
    assert reply.status == 422
    assert "duplicate" in reply.body["message"]


async def test_two_equal_new_entries_are_422(catalog):
    reply = await catalog.post({"pricing": [price("input", "0.6"), price("input", "0.60")]})
    assert reply.status == 422
    assert reply.error_fields == ["pricing[1]"]


@pytest.mark.parametrize("amount", ["abc", "", "1e3", "-1", "0.6 ", "NaN", ".5", "1,5", "\u0661"])
async def test_amount_that_is_not_a_decimal_string_is_422(catalog, amount):
    reply = await catalog.post({"pricing": [price(amount=amount)]})
    assert reply.status == 422
    assert reply.error_fields == ["pricing[0].amount"]


@pytest.mark.parametrize("currency", ["usd", "US", "USDT", "U$D", ""])
async def test_currency_that_is_not_an_iso_4217_code_is_422(catalog, currency):
    reply = await catalog.post({"pricing": [price(currency=currency)]})
    assert reply.status == 422
    assert reply.error_fields == ["pricing[0].currency"]


async def test_entry_with_empty_label_or_unit_is_422(catalog):
    reply = await catalog.post({"pricing": [price(label=" ", unit="")]})
    assert sorted(reply.error_fields) == ["pricing[0].label", "pricing[0].unit"]


async def test_pricing_is_listed_in_a_stable_order_with_aligned_ids(catalog):
    entries = [
        price("output", "2.40"),
        price("Input", "0.60", currency="USD"),
        price("input", "0.55", currency="EUR"),
        price("input", "10", unit="1K images"),
        price("input", "9.5", unit="1K images"),
    ]
    form = await catalog.create(pricing=entries)
    order = [(e["label"], e["unit"], e["currency"], e["amount"]) for e in form["pricing"]]
    assert order == [
        ("input", "1K images", "USD", "9.5"),
        ("input", "1K images", "USD", "10"),
        ("input", "1M tokens", "EUR", "0.55"),
        ("Input", "1M tokens", "USD", "0.60"),
        ("output", "1M tokens", "USD", "2.40"),
    ]
    assert form["pricing_ids"] == [e["id"] for e in form["pricing"]]
    assert (await catalog.read(form["draft_id"]))["pricing"] == form["pricing"]
