"""Relay connections written over Studio's own pages.

A cursor wraps where its item sits upstream: the paging parameters of the
page that holds it (taken from the upstream's `next_page_url`, never invented)
and its index in that page. The cursor of a page's last item points at the
start of the next page instead, so resuming from it costs no extra call.
`first` may cross pages: the connection keeps following `next_page_url`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final, Generic, TypeVar

import strawberry

from gateway.graphql.errors import GatewayError, bad_input
from gateway.graphql.fields import field
from gateway.security import client_json
from gateway.studio import Page, PageRef

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_FIRST: Final = 50
MAX_FIRST: Final = 1000
#: The paging parameters a cursor may carry; filters come from the arguments.
_PAGING: Final = ("PageSize", "Page", "PageToken")
#: Longer than any cursor this API writes (a list id and a page token of at most 256).
MAX_CURSOR_LENGTH: Final = 1024
#: Digits of a page number in a cursor: far past any list, well short of int()'s limit.
MAX_PAGE_DIGITS: Final = 9


@strawberry.type(description="Where a page of a connection starts and ends.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="One item of a connection, with the cursor to continue after it.")
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list, Relay style.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @field(description="The items of this page, without their cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def first_page_params(first: int | None, filters: dict[str, str] | None = None) -> dict[str, str]:
    """The query of a list's first page: its filters and a page of `first` items."""
    return {**(filters or {}), "PageSize": str(check_first(first))}


def check_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_FIRST
    if not 1 <= first <= MAX_FIRST:
        raise bad_input(f"first must be from 1 to {MAX_FIRST}, got {first}")
    return first


async def paginate(
    load_page: Callable[[dict[str, str]], Awaitable[Page[R]]],
    wrap: Callable[[R], T],
    *,
    list_id: str,
    first: int | None,
    after: str | None,
    filters: dict[str, str] | None = None,
) -> Connection[T]:
    """`first` items after `after`, fetching as many upstream pages as that takes."""
    count = check_first(first)
    filters = filters or {}
    if after is not None:
        paging, skip = _decode_cursor(after, list_id)
        skip += 1
    else:
        paging, skip = {"PageSize": first_page_params(count)["PageSize"]}, 0
    edges: list[Edge[T]] = []
    has_next = False
    while True:
        page = await load_page({**filters, **paging})
        next_paging = _paging_of(PageRef.from_url(page.meta.next_page_url))
        last = len(page.items) - 1
        for index in range(skip, len(page.items)):
            if len(edges) == count:
                has_next = True
                break
            if index == last and next_paging is not None:
                cursor = _encode_cursor(list_id, next_paging, -1)
            else:
                cursor = _encode_cursor(list_id, paging, index)
            edges.append(Edge(cursor=cursor, node=wrap(page.items[index])))
        if len(edges) == count or next_paging is None or not page.items:
            has_next = has_next or (len(edges) == count and next_paging is not None)
            break
        paging, skip = next_paging, 0
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def _paging_of(ref: PageRef | None) -> dict[str, str] | None:
    if ref is None:
        return None
    return {k: v for k, v in ref.params.items() if k in _PAGING}


def _encode_cursor(list_id: str, paging: dict[str, str], index: int) -> str:
    raw = json.dumps({"l": list_id, "p": paging, "i": index}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def load_cursor(cursor: str) -> Any:
    """The JSON inside a cursor; BAD_USER_INPUT when there is none to read."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise bad_input("the cursor is longer than any this API returns: pass one it returned")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        # A cursor this API wrote nests two levels deep.
        return client_json.loads(base64.urlsafe_b64decode(padded.encode()), max_depth=2)
    except (binascii.Error, ValueError, UnicodeError):
        raise _malformed() from None


def _malformed() -> GatewayError:
    return bad_input("the cursor is malformed: pass a cursor this API returned")


def _decode_cursor(cursor: str, list_id: str) -> tuple[dict[str, str], int]:
    data = load_cursor(cursor)
    if not isinstance(data, dict) or not isinstance(data.get("p"), dict):
        raise bad_input("the cursor is malformed: pass a cursor this API returned")
    if data.get("l") != list_id:
        raise bad_input("the cursor belongs to another list (or other filters)")
    paging, index = data["p"], data.get("i")
    if not isinstance(index, int) or isinstance(index, bool) or not -1 <= index < MAX_FIRST:
        raise bad_input("the cursor is malformed: pass a cursor this API returned")
    if set(paging) - set(_PAGING) or not all(isinstance(v, str) for v in paging.values()):
        raise bad_input("the cursor is malformed: pass a cursor this API returned")
    size, number = paging.get("PageSize", "50"), paging.get("Page", "0")
    token = paging.get("PageToken", "")
    if not (_digits(size, len(str(MAX_FIRST))) and 1 <= int(size) <= MAX_FIRST):
        raise bad_input("the cursor is malformed: pass a cursor this API returned")
    if not _digits(number, MAX_PAGE_DIGITS):
        raise bad_input("the cursor is malformed: pass a cursor this API returned")
    if len(token) > 256 or not token.isprintable():
        raise bad_input("the cursor is malformed: pass a cursor this API returned")
    return paging, index


def _digits(text: str, most: int) -> bool:
    # str.isdigit() is true for "²", which int() refuses; and int() refuses
    # text of over 4,300 digits, so the length is checked first.
    return len(text) <= most and text.isascii() and text.isdigit()
