"""The OpenAPI document of the contract, and Schemathesis against ``reconciler serve``.

The default run is short and reproducible (seeded, derandomized: the same
requests every time). ``RECONCILER_SCHEMATHESIS_EXAMPLES=N`` makes it long:
the coverage phase too (every boundary of the schema), N fuzzed requests, and a
random seed, which Schemathesis prints for a rerun.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from served import serve

from reconciler.catalog.wire import PatchModelDraftApiRequest, PricingDraftValue
from reconciler.server.openapi import openapi_document

TOKEN = "openapi-test-token"
CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "unsupported_method",
        "missing_required_header",
        "ignored_auth",
    ]
)
LONG = os.environ.get("RECONCILER_SCHEMATHESIS_EXAMPLES")


def request_validator() -> Draft202012Validator:
    document = openapi_document()
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openapi", resource)
    schema = {"$ref": "urn:openapi#/components/schemas/PatchModelDraftApiRequest"}
    return Draft202012Validator(schema, registry=registry)


def test_the_document_names_every_field_of_the_wire_model():
    schemas = openapi_document()["components"]["schemas"]
    for shape in ("ReadRequest", "CreateRequest", "HardPatchRequest", "SoftPatchRequest"):
        assert set(schemas[shape]["properties"]) == set(PatchModelDraftApiRequest.model_fields)
    assert set(schemas["PricingDraftValue"]["properties"]) == set(PricingDraftValue.model_fields)
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)


def test_the_document_lists_every_status_and_header_of_the_contract():
    operation = openapi_document()["paths"]["/model/draft"]["post"]
    statuses = set(operation["responses"])
    assert statuses == {"200", "400", "401", "404", "409", "413", "422", "429", "5XX"}
    assert "Idempotent-Replayed" in operation["responses"]["200"]["headers"]
    assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert operation["security"] == [{"bearerAuth": []}]


PRICE = {"label": "input", "unit": "1M tokens", "amount": "0.60", "currency": "USD"}


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"draft_id": "d"}, True),
        ({"input_draft_id": "d", "name": None}, True),
        ({"name": "m", "pricing": [PRICE]}, True),
        ({"draft_id": "d", "active": False, "idempotency_key": "k"}, True),
        ({"soft": True, "idempotency_key": "k", "name": "m"}, True),
        ({"idempotency_key": "k", "accept": False, "draft_id": "d"}, True),
        ({"soft": True, "name": "m"}, False),  # soft without a key
        ({"idempotency_key": "k", "accept": True, "name": "m"}, False),  # ack with fields
        ({"name": "m", "extra": 1}, False),
        ({"name": 5}, False),
        ({"name": "m", "pricing": [{**PRICE, "currency": "XXZ"}]}, False),
        ({"name": "m", "pricing": [{**PRICE, "amount": "-1"}]}, False),
        ({"name": "m", "idempotency_key": "k" * 256}, False),
    ],
)
def test_the_request_schema_takes_the_contracts_shapes_and_only_those(body, valid):
    assert request_validator().is_valid(body) is valid


def test_serve_publishes_the_document(tmp_path):
    with serve(tmp_path, "--token", TOKEN) as served:
        response = httpx.get(f"{served.url}/openapi.json")  # no token: the document is public
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == openapi_document()
    assert response.json()["openapi"] == "3.1.0"


@pytest.mark.slow
def test_schemathesis_finds_nothing_against_reconciler_serve(tmp_path):
    if LONG:
        budget = ["--phases", "coverage,fuzzing", "--max-examples", LONG]
    else:
        budget = ["--phases", "fuzzing", "--max-examples", "60", "--seed", "14"]
        budget.append("--generation-deterministic")
    with serve(tmp_path, "--token", TOKEN) as served:
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("st")),
                "--config-file", str(CONFIG),
                "run", f"{served.url}/openapi.json",
                "--header", f"Authorization: Bearer {TOKEN}",
                "--checks", CHECKS,
                "--workers", "1",
                "--no-color",
                "--report-dir", str(tmp_path / "report"),
                *budget,
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=3600,
        )  # fmt: skip
        server_log = served.stderr()
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr + server_log
    # The summary's test-case line ("60 generated, 60 passed"): no case failed a check. A
    # warning (e.g. most random draft ids answer 404) is not a failure of the contract.
    [cases] = re.findall(r"^\s*(\d+ generated, .*)$", result.stdout, re.M)
    assert "passed" in cases
    assert "failed" not in cases, result.stdout[-20_000:]
    assert TOKEN not in result.stdout
