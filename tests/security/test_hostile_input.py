"""Hostile input is the client's fault: a 4xx or a GraphQL error saying what was wrong.

Never a 500, never INTERNAL_SERVER_ERROR, never a traceback in the log. (The
property tests in test_properties.py draw many more; these are the cases that
once reached a RecursionError or int()'s 4,300-digit limit.)
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.emulator import Emulator
from tests.support import secured

JSON = {"content-type": "application/json"}
FLOW = "FW" + "0" * 32
NODE = "query($id: ID!) { node(id: $id) { id } }"
AFTER = "query($c: String) { flows(first: 1, after: $c) { nodes { sid } } }"


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with secured(emulator) as client:
        yield client


@pytest.fixture(autouse=True)
def no_error_logged(caplog: pytest.LogCaptureFixture) -> Any:
    """Nothing here is the gateway's fault: no error, no traceback in the log."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, [r.getMessage()[:300] for r in errors]


def refusal(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    return str(error["message"])


def bad_input(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    return str(error["message"])


# -- JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 30_000, "the body nests deeper than 64 levels"),
        (
            b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 900 + b"]" * 900 + b"}}",
            "the body nests deeper than 64 levels",
        ),
        (
            b'{"query": "{ __typename }", "variables": {"n": NaN}}',
            "the body holds NaN, which is not a JSON number",
        ),
        (
            b'{"query": "{ __typename }", "variables": {"n": -Infinity}}',
            "the body holds -Infinity, which is not a JSON number",
        ),
        (
            b'{"query": "{ __typename }", "variables": {"n": 1e400}}',
            "the body holds a number too large to represent",
        ),
        (
            b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5_000 + b"}}",
            "the body holds an integer of more than 4300 digits",
        ),
        (
            b'{"query": "{ __typename }", "operationName": "\\ud800"}',
            "the body holds a lone UTF-16 surrogate",
        ),
        (
            b'{"query": "{ __typename }", "variables": {"\\udc00": 1}}',
            "the body holds a lone UTF-16 surrogate",
        ),
        (b'{"query": "{ __typename }", "x": "\xed\xa0\x80"}', "the body is not UTF-8 text"),
        (b'{"query": "{ __typename }", "x": "\xff"}', "the body is not UTF-8 text"),
        (b'{"query": "{ __typename }"', "the body is not valid JSON"),
    ],
    ids=[
        "30,000 [",
        "deep variables",
        "NaN",
        "-Infinity",
        "1e400",
        "a 5,000-digit integer",
        "a lone surrogate",
        "a lone surrogate in a key",
        "an encoded surrogate",
        "invalid UTF-8",
        "truncated",
    ],
)
async def test_a_hostile_body_is_a_400_saying_what_is_wrong(
    http: httpx.AsyncClient, body: bytes, message: str
) -> None:
    assert refusal(await http.post("/graphql", content=body, headers=JSON)).startswith(message)


async def test_json_a_client_may_send_still_runs(http: httpx.AsyncClient) -> None:
    # -0, tiny floats, paired surrogates (an emoji) and 64 levels are all fine.
    variables = {
        "n": -0.0,
        "tiny": 1e-400,
        "emoji": "\ud83d\ude00",
        "deep": json.loads("[" * 62 + "]" * 62),
    }
    body = json.dumps({"query": "{ __typename }", "variables": variables}).encode()
    response = await http.post("/graphql", content=body, headers=JSON)
    assert response.json() == {
        "data": {"__typename": "Query"},
        "extensions": {"cost": {"estimatedUpstreamCalls": 0, "budget": 500}},
    }


@pytest.mark.parametrize("name", ["variables", "extensions"])
async def test_a_hostile_get_parameter_is_a_400_saying_which(
    http: httpx.AsyncClient, name: str
) -> None:
    params = {"query": "{ __typename }", name: "[" * 5_000}
    message = refusal(await http.get("/graphql", params=params))
    assert message == f"the {name} parameter nests deeper than 64 levels"
    params[name] = '{"a": NaN}'
    assert refusal(await http.get("/graphql", params=params)).startswith(
        f"the {name} parameter holds NaN"
    )


async def test_a_content_length_of_thousands_of_digits_is_too_large(
    http: httpx.AsyncClient,
) -> None:
    headers = {**JSON, "content-length": "9" * 5_000}
    response = await http.post("/graphql", content=b"{}", headers=headers)
    assert response.status_code == 413, response.text


# -- ids and cursors ---------------------------------------------------------------------


async def test_a_revision_number_of_thousands_of_digits_in_an_id_is_bad_input(
    http: httpx.AsyncClient,
) -> None:
    global_id = base64.b64encode(f"FlowRevision:{FLOW}/{'7' * 5_000}".encode()).decode()
    response = await http.post("/graphql", json={"query": NODE, "variables": {"id": global_id}})
    assert bad_input(response) == "the revision number in the id is too long"


def cursor(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "after",
    [
        cursor({"l": "flows", "p": {"PageSize": "1" * 5_000}, "i": 0}),
        cursor({"l": "flows", "p": {"PageSize": "1" * 600}, "i": 0}),
        cursor({"l": "flows", "p": {"PageSize": "2", "Page": "9" * 600}, "i": 0}),
        cursor({"l": "flows", "p": {"PageSize": "2"}, "i": int("9" * 600)}),
        cursor(b"[" * 20_000),
        cursor(b"[" * 700),
        cursor(b'{"l": "flows", "p": {"PageSize": NaN}, "i": 0}'),
    ],
    ids=[
        "5,000-digit page size",
        "600-digit page size",
        "600-digit page",
        "600-digit index",
        "20,000 [",
        "700 [",
        "NaN",
    ],
)
async def test_a_hostile_cursor_is_bad_input(http: httpx.AsyncClient, after: str) -> None:
    response = await http.post("/graphql", json={"query": AFTER, "variables": {"c": after}})
    message = bad_input(response)
    assert message.startswith("the cursor is"), message


# -- GraphQL documents nested past the parser's limit ------------------------------------


def deep_documents(levels: int) -> dict[str, str]:
    object_literal = "{a: " * levels + "1" + "}" * levels
    return {
        "selections": "{ flows "
        + "{ nodes { executions " * levels
        + "{ sid }"
        + " } }" * levels
        + " }",
        "a list literal": '{ validateFlow(friendlyName: "x", status: DRAFT, definition: '
        + "[" * levels
        + "]" * levels
        + ") { valid } }",
        "an object literal": f'{{ validateFlow(friendlyName: "x", status: DRAFT, definition: {object_literal}) {{ valid }} }}',
        "inline fragments": "{ " + "... on Query { " * levels + "__typename" + " }" * levels + " }",
        "fragment spreads": "".join(
            f"fragment F{i} on Query {{ ...F{i + 1} }} " for i in range(levels)
        )
        + f"fragment F{levels} on Query {{ __typename }} {{ ...F0 }}",
    }


@pytest.mark.parametrize("shape", list(deep_documents(1)))
async def test_a_document_nested_past_the_parsers_limit_is_too_complex(
    emulator: Emulator, shape: str
) -> None:
    # The token limit raised far out of the way: the nesting limit must hold on its own.
    async with secured(emulator, max_tokens=10**7, max_body_bytes=10**7) as http:
        for levels in (250, 20_000):
            document = deep_documents(levels)[shape]
            response = await http.post("/graphql", json={"query": document})
            assert response.status_code == 200, response.text
            (error,) = response.json()["errors"]
            assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
            assert error["extensions"]["limit"] == "nesting", error
            assert (
                "nested too deeply" in error["message"]
                or "nests deeper than 200" in error["message"]
            )
