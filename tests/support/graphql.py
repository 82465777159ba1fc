"""Speaking GraphQL to the gateway: one `query` helper, and reading an answer's errors."""

from __future__ import annotations

from typing import Any

import httpx


def operation(document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body a client POSTs for one operation."""
    return {"query": document, "variables": variables or {}}


def answer(response: httpx.Response) -> dict[str, Any]:
    """The GraphQL answer in a response that must be HTTP 200 with a JSON body."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    return body


async def query(
    http: httpx.AsyncClient,
    document: str,
    variables: dict[str, Any] | None = None,
    *,
    url: str = "/graphql",
) -> dict[str, Any]:
    """POST one operation to the gateway; its answer, which must come with HTTP 200."""
    return answer(await http.post(url, json=operation(document, variables)))


def codes(body: dict[str, Any]) -> list[str]:
    """The `extensions.code` of each error in a GraphQL answer, in order."""
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def error_at(result: dict[str, Any], *path: str | int) -> dict[str, Any]:
    """The one error whose path is `path`."""
    errors: list[dict[str, Any]] = result.get("errors", [])
    (error,) = [e for e in errors if tuple(e.get("path", ())) == path]
    return error
