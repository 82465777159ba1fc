"""Checks a response against the Studio v2 OpenAPI spec, the upstream contract.

Two checks on every success: openapi-core validates the response against the
operation it answers (status, content type, schema), and a strict copy of the
same schema (every property required, no others allowed) proves the body has
exactly the spec's fields. Errors, which the spec does not document, are checked
against the Twilio error shape below.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "studio_v2.json"
SPEC_HOST = "https://studio.twilio.com"

TWILIO_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "more_info", "status"],
    "additionalProperties": False,
    "properties": {
        "code": {"type": "integer", "minimum": 20000},
        "message": {"type": "string", "minLength": 1},
        "more_info": {
            "type": "string",
            "pattern": r"^https://www\.twilio\.com/docs/errors/\d+$",
        },
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "details": {"type": "object"},
    },
}


@functools.cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded


@functools.cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(spec())


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    # Literal paths first, so /v2/Flows/Validate is not read as /v2/Flows/{Sid}.
    templates = sorted(spec()["paths"], key=lambda path: path.count("{"))
    return [(re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", t) + "$"), t) for t in templates]


def template_of(path: str) -> str:
    return next(template for pattern, template in _templates() if pattern.match(path))


def _inline(node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return _inline(copy.deepcopy(spec()["components"]["schemas"][name]))
        return {key: _inline(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item) for item in node]
    return node


def _strict(node: Any) -> Any:
    """Every object with declared properties requires them all and allows no others."""
    if isinstance(node, dict):
        node = {key: _strict(value) for key, value in node.items()}
        if isinstance(node.get("properties"), dict) and node["properties"]:
            node["required"] = sorted(node["properties"])
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


@functools.cache
def _strict_schema(template: str, method: str, status: int) -> dict[str, Any] | None:
    response = spec()["paths"][template][method.lower()]["responses"][str(status)]
    content = response.get("content")
    if content is None:
        return None
    schema: dict[str, Any] = _strict(_inline(content["application/json"]["schema"]))
    return schema


def check(response: httpx.Response) -> Any:
    """Validate `response` against the contract; return its parsed JSON body (or None)."""
    request = response.request
    path = request.url.path
    if response.status_code >= 400:
        return check_error(response)
    mock_request = MockRequest(
        host_url=SPEC_HOST,
        method=request.method.lower(),
        path=path,
        args=dict(parse_qsl(urlsplit(str(request.url)).query)),
        data=request.content,
        content_type=request.headers.get("content-type", "application/json"),
    )
    mock_response = MockResponse(
        data=response.content,
        status_code=response.status_code,
        headers=dict(response.headers),
        content_type=response.headers.get("content-type", "application/json"),
    )
    openapi().validate_response(mock_request, mock_response)
    strict = _strict_schema(template_of(path), request.method, response.status_code)
    if strict is None:
        assert response.content == b"", "a response the spec gives no body has none"
        return None
    body = response.json()
    OAS30Validator(strict).validate(body)
    _check_dates(body)
    return body


_TWILIO_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _check_dates(node: Any) -> None:
    """Dates are exactly YYYY-MM-DDThh:mm:ssZ: the one format the twilio SDK parses."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("date_") and value is not None:
                assert _TWILIO_DATE.match(value), f"{key}={value!r}"
            else:
                _check_dates(value)
    elif isinstance(node, list):
        for item in node:
            _check_dates(item)


def check_error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    OAS30Validator(TWILIO_ERROR_SCHEMA).validate(body)
    assert body["status"] == response.status_code
    assert body["more_info"].endswith(f"/{body['code']}")
    return body
