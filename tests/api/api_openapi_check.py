"""Validate requests and responses against the API's own OpenAPI document (jsonschema)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from api.openapi import openapi_document

BASE = "urn:acd-openapi"


@cache
def _document() -> dict[str, Any]:
    return openapi_document()


@cache
def _registry() -> Registry:  # type: ignore[type-arg]
    resource = Resource.from_contents(_document(), default_specification=DRAFT202012)
    return Registry().with_resource(BASE, resource)


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def find_operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The documented path template and operation for a concrete /api/v1 path."""
    relative = path.split("?", 1)[0].removeprefix("/api/v1")
    for template, item in _document()["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, relative) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not documented")


def _validate(pointer: str, instance: Any) -> None:
    validator = Draft202012Validator({"$ref": f"{BASE}#/{pointer}"}, registry=_registry())
    errors = sorted(validator.iter_errors(instance), key=str)
    assert not errors, f"{pointer}: {errors[0].message} in {instance!r}"[:2000]


def validate_request(method: str, path: str, body: Any) -> None:
    template, operation = find_operation(method, path)
    request_body = operation.get("requestBody")
    if body is None:
        assert not (request_body and request_body["required"]), f"{template} needs a body"
        return
    assert request_body is not None, f"{method} {template} takes no body"
    pointer = _pointer(
        "paths", template, method.lower(), "requestBody", "content", "application/json", "schema"
    )
    _validate(pointer, body)


def validate_response(method: str, path: str, status: int, content_type: str, body: Any) -> None:
    template, operation = find_operation(method, path)
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {template}: status {status} is not documented"
    response = responses[str(status)]
    base: tuple[str, ...] = ("paths", template, method.lower(), "responses", str(status))
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[1]
        base = ("components", "responses", name)
        response = _document()["components"]["responses"][name]
    content = response.get("content")
    if content is None:
        assert body in (None, b"", ""), f"{method} {template} {status}: unexpected body"
        return
    assert content_type in content, f"{method} {template} {status}: {content_type} undocumented"
    if content_type == "application/json":
        _validate(_pointer(*base, "content", content_type, "schema"), body)


def schema_errors(name: str, instance: Any) -> list[str]:
    """What the component schema `name` finds wrong with `instance` (empty: valid)."""
    validator = Draft202012Validator(
        {"$ref": f"{BASE}#/components/schemas/{name}"}, registry=_registry()
    )
    return sorted(error.message for error in validator.iter_errors(instance))
