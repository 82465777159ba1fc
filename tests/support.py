"""Helpers the test suites share: a real uvicorn server on 127.0.0.1, multipart answers."""

from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import threading
import time
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import httpx
import uvicorn

#: What Apollo Client sends for a query with `@defer`.
MULTIPART_ACCEPT = "multipart/mixed;deferSpec=20220824,application/json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(app: Any, *, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="auto", loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def two_widget_flow(
    description: str = "A tiny flow", body: str = "Hello {{flow.data.name}}"
) -> dict[str, Any]:
    """The smallest valid flow definition: a REST trigger, then one message."""
    return {
        "description": description,
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [{"event": "incomingRequest", "next": "hello"}],
                "properties": {"offset": {"x": 0, "y": 0}},
            },
            {
                "name": "hello",
                "type": "send-message",
                "transitions": [{"event": "sent"}, {"event": "failed"}],
                "properties": {"body": body, "offset": {"x": 0, "y": 200}},
            },
        ],
    }


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
