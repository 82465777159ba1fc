"""The upstream's sockets (aiohttp under httpx): what reaches Twilio, and what comes back.

A small Starlette app on a real socket answers with what it received, so each
test sees the bytes on the wire, not what the client meant to send.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import trustme
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.studio import ClientConfig, Reason, StudioError, Transport
from tests.support import FAST_RETRY, SLACK, free_port, serve

AUTH = ("AC" + "1" * 32, "token")


async def echo(request: Request) -> JSONResponse:
    form = parse_qsl((await request.body()).decode(), keep_blank_values=True)
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": list(request.query_params.multi_items()),
            "form": form,
            "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
            "client_port": request.client.port if request.client else None,
            # Enough to be worth compressing.
            "padding": "studio " * 500,
        }
    )


async def big_number(request: Request) -> Response:
    # Legal JSON that orjson refuses: an integer beyond 64 bits, as a flow's
    # context may hold.
    return Response(
        b'{"context": {"n": 123456789012345678901234567890}}', media_type="application/json"
    )


APP = Starlette(
    routes=[
        Route("/v2/Big", big_number),
        Route("/v2/{rest:path}", echo, methods=["GET", "POST"]),
    ],
    middleware=[Middleware(GZipMiddleware, minimum_size=100)],
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    # The server closes a connection idle for a second, as a proxy would.
    with serve(APP, timeout_keep_alive=1) as url:
        yield url


async def idled_out(url: str) -> None:
    """Until the server has closed a connection that went idle after now: every
    connection idle since before has been closed by its keep-alive timeout too."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /v2/Echo HTTP/1.1\r\nHost: echo\r\n\r\n")
        async with asyncio.timeout(SLACK):
            await reader.read()  # the answer, then the end when the server closes
    finally:
        writer.close()


def transport_for(url: str) -> Transport:
    return Transport(ClientConfig(base_url=url, retry=FAST_RETRY))


async def send(server: str, method: str = "GET", **options: Any) -> Any:
    """One call on a transport of its own."""
    transport = transport_for(server)
    try:
        return await transport.request(method, "/v2/Echo", "/v2/Echo", auth=AUTH, **options)
    finally:
        await transport.aclose()


def headers_of(answer: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in answer["headers"]:
        found.setdefault(key, []).append(value)
    return found


async def test_query_values_arrive_exactly_as_given(server: str) -> None:
    params = {"DateCreatedFrom": "2026-01-01T00:00:00+00:00", "Name": "a b/é&c=d%"}
    answer = await send(server, params=params)

    assert answer["method"] == "GET" and answer["path"] == "/v2/Echo"
    assert sorted(map(tuple, answer["query"])) == sorted(params.items())


async def test_a_form_with_repeated_keys_arrives_whole(server: str) -> None:
    form = [("TestUsers", "client:a"), ("TestUsers", "+15005550006"), ("Note", "ü & =")]
    answer = await send(server, "POST", form=form)

    assert [tuple(pair) for pair in answer["form"]] == form
    headers = headers_of(answer)
    assert headers["content-type"] == ["application/x-www-form-urlencoded"]


async def test_each_header_is_sent_once_with_the_credentials(server: str) -> None:
    answer = await send(server)

    headers = headers_of(answer)
    basic = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    assert headers["authorization"] == [f"Basic {basic}"]
    assert headers["user-agent"] == ["studio-gateway"]
    assert headers["accept"] == ["application/json"]
    assert all(len(values) == 1 for values in headers.values()), headers


async def test_a_compressed_answer_is_decoded(server: str) -> None:
    answer = await send(server)

    assert "gzip" in headers_of(answer)["accept-encoding"][0]
    assert answer["padding"] == "studio " * 500


async def test_calls_in_a_row_reuse_one_connection(server: str) -> None:
    transport = transport_for(server)
    try:
        answers = [
            await transport.request("GET", "/v2/Echo", "/v2/Echo", auth=AUTH) for _ in range(10)
        ]
    finally:
        await transport.aclose()

    assert len({answer["client_port"] for answer in answers}) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_connection_the_server_closed_while_idle_is_not_used(
    server: str, method: str
) -> None:
    transport = transport_for(server)
    try:
        first = await transport.request(method, "/v2/Echo", "/v2/Echo", auth=AUTH)
        await idled_out(server)
        second = await transport.request(method, "/v2/Echo", "/v2/Echo", auth=AUTH)
    finally:
        await transport.aclose()

    assert first["client_port"] != second["client_port"]


async def test_an_integer_beyond_64_bits_is_read_whole(server: str) -> None:
    transport = transport_for(server)
    try:
        answer = await transport.request("GET", "/v2/Big", "/v2/Big", auth=AUTH)
    finally:
        await transport.aclose()

    assert answer == {"context": {"n": 123456789012345678901234567890}}


@pytest.fixture(scope="module")
def tls() -> Iterator[tuple[str, trustme.CA]]:
    """The echo app over HTTPS, with a certificate for 127.0.0.1 from a CA of its own."""
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    with (
        certificate.private_key_pem.tempfile() as key,
        certificate.cert_chain_pems[0].tempfile() as cert,
        serve(APP, ssl_keyfile=key, ssl_certfile=cert) as url,
    ):
        yield url.replace("http://", "https://"), authority


async def test_an_upstream_whose_certificate_no_trusted_authority_signed_is_refused(
    tls: tuple[str, trustme.CA], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = tls
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    transport = transport_for(url)
    try:
        with pytest.raises(StudioError) as refused:
            await transport.request("GET", "/v2/Echo", "/v2/Echo", auth=AUTH)
    finally:
        await transport.aclose()

    assert refused.value.reason is Reason.NETWORK
    assert "127.0.0.1" not in str(refused.value)


async def test_an_authority_named_by_ssl_cert_file_is_trusted(
    tls: tuple[str, trustme.CA], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As with httpx before: a private CA (a corporate proxy's) by SSL_CERT_FILE.
    url, authority = tls
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))

    answer = await send(url)

    assert answer["path"] == "/v2/Echo"


async def test_the_upstream_is_reached_through_the_proxy_the_environment_names(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens at the upstream's own address: only the proxy can answer.
    upstream = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HTTP_PROXY", server)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    answer = await send(upstream)

    assert answer["path"] == "/v2/Echo"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with pytest.raises(StudioError) as direct:
        await send(upstream)
    assert direct.value.reason is Reason.NETWORK
