from __future__ import annotations

import pytest
from api_openapi_check import validate_request, validate_response
from api_support import Api
from openapi_spec_validator import validate

from api.app import PREFIX, ROUTES
from api.openapi import openapi_document


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_document_lists_exactly_the_served_routes() -> None:
    documented = {
        (method.upper(), path)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert documented == {(method, path) for method, path, _ in ROUTES}


def test_every_error_status_is_documented_with_the_error_body() -> None:
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or operation.get("security") == []:
                continue
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_the_checker_rejects_what_the_document_forbids() -> None:
    # The validation every API test relies on must be able to fail.
    with pytest.raises(AssertionError):
        validate_response("GET", f"{PREFIX}/queues", 200, "application/json", [{"name": 1}])
    with pytest.raises(AssertionError):
        validate_response("GET", f"{PREFIX}/queues", 418, "application/json", {})
    with pytest.raises(AssertionError):
        validate_response("GET", f"{PREFIX}/queues/x", 404, "application/json", {"oops": 1})
    with pytest.raises(AssertionError):
        validate_request("POST", f"{PREFIX}/agents", {"id": "1", "colour": "red"})
    with pytest.raises(AssertionError):
        validate_request("GET", f"{PREFIX}/nowhere", None)


async def test_served_document_and_root_aliases(api: Api) -> None:
    for path in ("/openapi.json", f"{PREFIX}/openapi.json"):
        status, document = await api.get(path, token=None)
        assert status == 200
        assert document == openapi_document()
