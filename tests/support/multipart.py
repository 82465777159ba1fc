"""Multipart answers (`@defer`, `@stream`) read as a client reads them, and the
whole answer their parts make."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncGenerator
from typing import Any

import httpx

#: What Apollo Client sends for a query with `@defer`.
MULTIPART_ACCEPT = "multipart/mixed;deferSpec=20220824,application/json"


async def multipart_parts(response: httpx.Response) -> AsyncGenerator[dict[str, Any], None]:
    """The JSON parts of a `multipart/mixed` answer, each as soon as it has arrived.

    Written from RFC 2046 for the tests, not shared with the gateway: each part
    must be `application/json; charset=utf-8`, and the body must end with the
    close delimiter.
    """
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/mixed"), content_type
    boundary = content_type.split("boundary=", 1)[1].split(";", 1)[0].strip().strip('"')
    delimiter = b"\r\n--" + boundary.encode()
    buffer = b"\r\n"  # the first delimiter opens the body without a line break before it
    async for chunk in response.aiter_bytes():
        buffer += chunk
        while (start := buffer.find(delimiter)) >= 0 and (
            end := buffer.find(delimiter, start + len(delimiter))
        ) >= 0:
            part, buffer = buffer[start + len(delimiter) : end], buffer[end:]
            head, _, body = part.partition(b"\r\n\r\n")
            headers = dict(
                line.split(": ", 1) for line in head.decode().strip().split("\r\n") if line
            )
            assert headers["Content-Type"] == "application/json; charset=utf-8", headers
            yield json.loads(body)
    assert buffer.rstrip() == delimiter + b"--", buffer


async def read_multipart(response: httpx.Response) -> list[dict[str, Any]]:
    return [part async for part in multipart_parts(response)]


def plain(document: str) -> str:
    """The same document without `@defer` and `@stream`: whose answer the parts must make."""
    return re.sub(r"@\s*(defer|stream)\b(\s*\([^)]*\))?", "", document)


def merge_parts(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole answer the parts make (deferSpec=20220824): each piece at its `path`."""
    data = copy.deepcopy(parts[0]["data"])
    errors = list(parts[0].get("errors", []))
    for part in parts[1:]:
        for piece in part.get("incremental", []):
            errors.extend(piece.get("errors", []))
            *above, last = piece["path"] or [None]
            if "items" in piece:
                items = _at(data, above)
                assert len(items) == last, "a stream's items arrive in order"
                items.extend(piece["items"] or [])
            elif piece["data"] is None:
                _at(data, above)[last] = None
            else:
                _merge(_at(data, piece["path"]), piece["data"])
    return {"data": data, **({"errors": errors} if errors else {})}


def _at(data: Any, path: list[Any]) -> Any:
    for key in path:
        data = data[key]
    return data


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
