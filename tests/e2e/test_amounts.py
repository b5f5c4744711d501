"""Amounts are compared and shown exactly, whatever their number of digits.

Python's decimal context keeps 28 significant digits; an amount the catalog stores
as written must not be rounded to that on the way to a plan, against a served
catalog or the embedded one.
"""

from __future__ import annotations

import pytest

LONG = "1.00000000000000000000000000001"  # 30 significant digits
FORTY_ONE = "12345678901234567890.123456789012345678901"  # 41 significant digits


def _model(amount: str) -> dict:
    price = {"label": "input", "unit": "1M tokens", "amount": amount, "currency": "USD"}
    return {"key": "exact", "spec": {"name": "Exact", "pricing": [price]}}


@pytest.fixture(params=["served", "embedded"])
def where(request, workspace, monkeypatch):
    """The workspace against the catalog over HTTP, or against the embedded catalog."""
    if request.param == "embedded":
        monkeypatch.setattr(workspace, "env", lambda: {"NO_COLOR": "1", "CATALOG_ENDPOINT": ""})
    return workspace


def test_an_amount_beyond_28_digits_is_a_change_from_its_rounding(where):
    where.write_models(_model(LONG))
    assert where.cli(["apply", "--auto-approve"]).exit_code == 0
    assert where.cli(["plan", "--detailed-exitcode"]).exit_code == 0

    where.write_models(_model("1"))
    result = where.cli(["plan", "--detailed-exitcode"])
    assert result.exit_code == 2, result.output
    assert "Plan: 0 to create, 1 to update, 0 to deactivate." in result.stdout
    assert LONG in result.stdout


def test_a_41_digit_amount_is_shown_as_written(where):
    where.write_models(_model(FORTY_ONE))
    result = where.cli(["plan", "--detailed-exitcode"])
    assert result.exit_code == 2, result.output
    assert FORTY_ONE in result.stdout
    assert where.cli(["apply", "--auto-approve"]).exit_code == 0
    again = where.cli(["plan", "--detailed-exitcode"])
    assert again.exit_code == 0, again.output
    assert "No changes" in again.stdout
