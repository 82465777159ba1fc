"""The upstream's sockets: one request out, one status, headers and body back.

The `Transport` decides what to send and what an answer means; a `Wire` only
carries it. Two wires, one contract:

- `AiohttpWire`, for real sockets: aiohttp's pool and its C parser. httpx's
  client cost about 1.3 ms of CPU per call with 20 calls in flight (httpcore
  and h11 are pure Python, and every request parses and validates its URL
  character by character), aiohttp about 0.25 ms; a page of executions with
  their steps sends 20 at once, so the second round started 11 ms after its
  first call with httpx under us and answers that much sooner without it.
- `HttpxWire`, over any `httpx.AsyncClient`: what tests hand in to reach the
  emulator in process (httpx's ASGI transport).

A call that gets no HTTP answer raises `WireError`, which says whether the
request may have reached Twilio: only a connection that could not be made (or
did not come free in time) is `sent=False`, which the retry policy may repeat
whatever the method; a reset, a disconnect, a cut body or a read timeout may
follow a request Twilio carried out, and a POST is never sent twice.
"""

from __future__ import annotations

import asyncio
import io
import urllib.request
from collections.abc import AsyncIterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Final, Protocol

import aiohttp
import httpx
from yarl import URL

from gateway.studio.config import ClientConfig

#: Request bodies above this go to aiohttp as a stream (its own threshold for a warning).
_LARGE_BODY: Final = 2**20
_FORM: Final = "application/x-www-form-urlencoded"


class WireError(Exception):
    """No HTTP answer came. The message is the failure's class name only (aiohttp's
    and httpx's own messages name hosts and ports)."""

    def __init__(self, kind: str, *, sent: bool, timed_out: bool) -> None:
        super().__init__(kind)
        self.kind = kind
        #: Whether the request may have reached the upstream.
        self.sent = sent
        self.timed_out = timed_out


class TooLarge(Exception):
    """The answer's body is over the size cap; it was not read further."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes


@dataclass(frozen=True, slots=True)
class WireConfig:
    base_url: str
    user_agent: str
    connect: float  # seconds to connect
    read: float  # seconds any read may wait; also the bound on writing a request
    max_connections: int
    keepalive: float  # seconds an idle connection is kept
    max_body: int  # bytes of an answer's body, at most

    @classmethod
    def of(cls, config: ClientConfig) -> WireConfig:
        """What the client's configuration asks of the wire."""
        timeouts = config.timeouts
        return cls(
            base_url=config.base_url,
            user_agent=config.user_agent,
            connect=timeouts.connect,
            read=timeouts.read,
            max_connections=config.max_in_flight,
            keepalive=config.keepalive_seconds,
            max_body=config.max_response_bytes,
        )


class Wire(Protocol):
    async def send(
        self, method: str, target: str, authorization: str, form: bytes | None
    ) -> Answer:
        """Send `method` to `target` (path and query, already encoded); `form` is an
        urlencoded body."""
        ...

    async def aclose(self) -> None: ...


# -- aiohttp ---------------------------------------------------------------------------

#: aiohttp's errors, most specific first: (class, may have been sent, timed out).
_AIOHTTP_ERRORS: Final[tuple[tuple[type[BaseException], bool, bool], ...]] = (
    (aiohttp.ConnectionTimeoutError, False, True),
    (aiohttp.ClientConnectorError, False, False),
    (aiohttp.ServerTimeoutError, True, True),
)


@contextmanager
def _aiohttp_errors() -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as exc:
        for source, sent, timed_out in _AIOHTTP_ERRORS:
            if isinstance(exc, source):
                raise WireError(type(exc).__name__, sent=sent, timed_out=timed_out) from exc
        raise WireError(type(exc).__name__, sent=True, timed_out=False) from exc


class _Sending:
    """One request's write-and-answer bound, started once it has a connection."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.bound: asyncio.Timeout | None = None

    def connected(self) -> None:
        if self.bound is not None:
            self.bound.reschedule(asyncio.get_running_loop().time() + self.seconds)


async def _on_connection(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    sending = context.trace_request_ctx
    if isinstance(sending, _Sending):
        sending.connected()


class AiohttpWire:
    """Real sockets, kept alive and bounded; the session is made on first use, in the
    running event loop (aiohttp binds one to its loop)."""

    def __init__(self, config: WireConfig) -> None:
        self._config = config
        self._base = config.base_url.rstrip("/")
        self._headers = {"Accept": "application/json", "User-Agent": config.user_agent}
        # `connect` bounds name resolution too (httpx's connect timeout did);
        # `sock_connect` alone starts at the socket.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=config.connect, sock_connect=config.connect, sock_read=config.read
        )
        self._session: aiohttp.ClientSession | None = None
        self._proxy = proxy_from_environment(config.base_url)

    def _current(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            tracing = aiohttp.TraceConfig()
            tracing.on_connection_create_end.append(_on_connection)
            tracing.on_connection_reuseconn.append(_on_connection)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._config.max_connections,
                    keepalive_timeout=self._config.keepalive,
                    ssl=httpx.create_ssl_context(),  # certifi's roots, as httpx had
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers=self._headers,
                timeout=self._timeout,
                trace_configs=[tracing],
            )
        return self._session

    async def send(
        self, method: str, target: str, authorization: str, form: bytes | None
    ) -> Answer:
        session = self._current()
        headers = {"Authorization": authorization}
        if form is not None:
            headers["Content-Type"] = _FORM
        # aiohttp bounds connecting and each read, not writing the request: a peer
        # that stops reading would hold the call to its deadline. Once a connection
        # is had, the request must be written and answered within twice the read
        # timeout (httpx's write and read timeouts together, as before).
        sending = _Sending(2 * self._config.read)
        try:
            async with asyncio.timeout(None) as sending.bound:
                with _aiohttp_errors():
                    response = await session.request(
                        method,
                        URL(self._base + target, encoded=True),
                        headers=headers,
                        data=_payload(form),
                        allow_redirects=False,
                        proxy=self._proxy,
                        trace_request_ctx=sending,
                    )
        except TimeoutError:
            if sending.bound is None or not sending.bound.expired():
                raise  # a deadline of the caller's
            raise WireError("WriteTimeout", sent=True, timed_out=True) from None
        try:
            with _aiohttp_errors():
                body = await _read_capped(
                    response.status,
                    response.headers.get("Content-Length", ""),
                    response.content.iter_any(),
                    self._config.max_body,
                )
        finally:
            # Read to its end, the connection goes back to the pool; cut short, it closes.
            response.release() if response.content.at_eof() else response.close()
        return Answer(response.status, response.headers, body)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def proxy_from_environment(base_url: str) -> str | None:
    """The proxy the environment names for the upstream, as httpx honoured it:
    `HTTPS_PROXY` or `HTTP_PROXY` by the scheme, else `ALL_PROXY`, unless
    `NO_PROXY` names the host. (aiohttp's own `trust_env` would also read
    `~/.netrc` on every request, in a thread.)"""
    url = URL(base_url)
    if url.host is None or urllib.request.proxy_bypass(url.host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(url.scheme) or proxies.get("all")


def _payload(form: bytes | None) -> bytes | io.BytesIO | None:
    # aiohttp warns that a large `bytes` body could hold the loop; a stream goes in parts.
    if form is not None and len(form) > _LARGE_BODY:
        return io.BytesIO(form)
    return form


# -- httpx -----------------------------------------------------------------------------

_HTTPX_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class HttpxWire:
    """Over an `httpx.AsyncClient` (its base URL, transport and timeouts)."""

    def __init__(self, http: httpx.AsyncClient, config: WireConfig) -> None:
        self._http = http
        self._config = config
        self._headers = {"Accept": "application/json", "User-Agent": config.user_agent}

    async def send(
        self, method: str, target: str, authorization: str, form: bytes | None
    ) -> Answer:
        headers = {**self._headers, "Authorization": authorization}
        if form is not None:
            headers["Content-Type"] = _FORM
        request = self._http.build_request(method, target, headers=headers, content=form)
        try:
            response = await self._http.send(request, stream=True)
            try:
                body = await _read_capped(
                    response.status_code,
                    response.headers.get("Content-Length", ""),
                    response.aiter_bytes(),
                    self._config.max_body,
                )
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise WireError(
                type(exc).__name__,
                sent=not isinstance(exc, _HTTPX_NOT_SENT),
                timed_out=isinstance(exc, httpx.TimeoutException),
            ) from exc
        return Answer(response.status_code, response.headers, body)

    async def aclose(self) -> None:
        await self._http.aclose()


async def _read_capped(status: int, declared: str, chunks: AsyncIterable[bytes], cap: int) -> bytes:
    if declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise TooLarge(status)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise TooLarge(status)
        parts.append(chunk)
    return b"".join(parts)
