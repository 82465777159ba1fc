"""Relay connections written over Studio's own pages.

A cursor wraps where its item sits upstream: the paging parameters of the
page that holds it (taken from the upstream's `next_page_url`, never invented)
and its index in that page. The cursor of a page's last item points at the
start of the next page instead, so resuming from it costs no extra call.
`first` may cross pages: the connection keeps following `next_page_url`.

Pages are asked for at the size still needed, not the size an earlier request
chose: a page named by a PageToken (a row boundary) or the first page (Page 0)
starts at the same row whatever its PageSize, so `first: 1000` after a cursor
from `first: 1` is one call, not a thousand. A page named only by its number
(`Page` × `PageSize` rows in) keeps its size, or it would start elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

import orjson
import strawberry

from gateway.graphql.errors import GatewayError, bad_input, load
from gateway.graphql.fields import field
from gateway.graphql.policy import Price
from gateway.loaders import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    NO_FILTERS,
    PAGING_PARAMS,
    ExecutionFilters,
    Page,
    PageKey,
    next_paging,
)
from gateway.security import client_json

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_FIRST: Final = 50
#: `first` may ask for one full upstream page at most.
MAX_FIRST: Final = MAX_PAGE_SIZE
#: Longer than any cursor this API writes (a list id and a page token of at most 256).
MAX_CURSOR_LENGTH: Final = 1024
#: Digits of a page number in a cursor: far past any list, well short of int()'s limit.
MAX_PAGE_DIGITS: Final = 9
#: The price of a connection: a call per upstream page, `first` items (else the default).
PAGES: Final = Price(weight=1, list_size=DEFAULT_FIRST)


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


def first_page(first: int | None) -> dict[str, str]:
    """The paging of a list's first page: a page of `first` items."""
    return {"PageSize": str(check_first(first))}


def check_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_FIRST
    if not 1 <= first <= MAX_FIRST:
        raise bad_input(f"first must be from 1 to {MAX_FIRST}, got {first}")
    return first


@dataclass(frozen=True)
class Cursor:
    """Where an item sits upstream: its list, the paging of its page, its index there.

    An index of -1 names the start of the page: the item before it ended the previous one.
    """

    list_id: str
    paging: dict[str, str]
    index: int

    @property
    def resizable(self) -> bool:
        """Whether its page may be asked for at another size and still start at the same row."""
        return _resizable(self.paging)


def decode_cursor(cursor: str) -> Cursor:
    """The cursor's contents, checked; BAD_USER_INPUT when it is not one this API returned."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise bad_input("the cursor is longer than any this API returns: pass one it returned")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        # A cursor this API wrote nests two levels deep.
        data: Any = client_json.loads(base64.urlsafe_b64decode(padded.encode()), max_depth=2)
    except (binascii.Error, ValueError, UnicodeError):
        raise _malformed() from None
    if not isinstance(data, dict) or not isinstance(data.get("p"), dict):
        raise _malformed()
    list_id, paging, index = data.get("l"), data["p"], data.get("i")
    if not isinstance(list_id, str):
        raise _malformed()
    if not isinstance(index, int) or isinstance(index, bool) or not -1 <= index < MAX_PAGE_SIZE:
        raise _malformed()
    if set(paging) - set(PAGING_PARAMS) or not all(isinstance(v, str) for v in paging.values()):
        raise _malformed()
    size, number = paging.get("PageSize", str(DEFAULT_PAGE_SIZE)), paging.get("Page", "0")
    token = paging.get("PageToken", "")
    if not (_digits(size, len(str(MAX_PAGE_SIZE))) and 1 <= int(size) <= MAX_PAGE_SIZE):
        raise _malformed()
    if not _digits(number, MAX_PAGE_DIGITS):
        raise _malformed()
    if len(token) > 256 or not token.isprintable():
        raise _malformed()
    return Cursor(list_id, paging, index)


def most_pages(first: int, after: Cursor | None) -> int:
    """The most upstream pages `paginate` asks for: `first` items after `after`.

    Each page it asks for is full unless it is the list's last, as Studio's are.
    """
    if after is None:
        return 1  # a page of exactly `first`
    skip = after.index + 1
    if after.resizable:
        # The cursor's page at skip + first, capped; what the cap leaves, one page more.
        return 1 + math.ceil(max(0, skip + first - MAX_PAGE_SIZE) / MAX_PAGE_SIZE)
    # The cursor's page at its own size; then pages of that size, or (with a
    # PageToken, as Studio's next pages have) one page of what is left.
    size = int(after.paging.get("PageSize", str(DEFAULT_PAGE_SIZE)))
    return 1 + math.ceil(max(0, first - max(0, size - skip)) / size)


class PageLoader(Protocol[R]):
    """The loader of one list's pages (`Loaders.steps_page` and its kind)."""

    def load(self, key: PageKey, /) -> Awaitable[Page[R]]: ...


async def paginate(
    pages: PageLoader[R],
    parent: tuple[str, ...],
    what: str,
    wrap: Callable[[R], T],
    *,
    list_id: str,
    first: int | None,
    after: str | None,
    filters: ExecutionFilters = NO_FILTERS,
) -> Connection[T]:
    """`first` items of `parent`'s list after `after`, from as many upstream pages as that takes.

    A cursor carries where its page is (the paging), not the list's filters:
    those come from the arguments, and `list_id` names them, so a cursor of one
    filtered list is refused by another. `what` names the list in errors.
    """
    count = check_first(first)
    if after is not None:
        cursor = decode_cursor(after)
        if cursor.list_id != list_id:
            raise bad_input("the cursor belongs to another list (or other filters)")
        skip = cursor.index + 1
        paging = _sized(cursor.paging, skip + count)
    else:
        paging, skip = first_page(count), 0
    edges: list[Edge[T]] = []
    has_next = False
    while True:
        page = await load(pages.load(PageKey.of(parent, paging, filters)), what)
        following = next_paging(page)
        last = len(page.items) - 1
        for index in range(skip, len(page.items)):
            if len(edges) == count:
                has_next = True
                break
            if index == last and following is not None:
                cursor_text = _encode_cursor(list_id, following, -1)
            else:
                cursor_text = _encode_cursor(list_id, paging, index)
            edges.append(Edge(cursor=cursor_text, node=wrap(page.items[index])))
        if len(edges) == count or following is None or not page.items:
            has_next = has_next or (len(edges) == count and following is not None)
            break
        paging, skip = _sized(following, count - len(edges)), 0
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def _resizable(paging: dict[str, str]) -> bool:
    # A PageToken names a row boundary; Page 0 without one starts at the first row.
    # (A next page's Page comes from the upstream's URL, unchecked: it may be "".)
    number = paging.get("Page", "0")
    return bool(paging.get("PageToken")) or (_digits(number, MAX_PAGE_DIGITS) and int(number) == 0)


def _sized(paging: dict[str, str], wanted: int) -> dict[str, str]:
    """The page at `paging`, asked for at `wanted` items when its start allows it."""
    if not _resizable(paging):
        return paging
    return {**paging, "PageSize": str(min(MAX_PAGE_SIZE, wanted))}


def _encode_cursor(list_id: str, paging: dict[str, str], index: int) -> str:
    # One per edge: orjson, whose compact output is json.dumps' with (",", ":").
    raw = orjson.dumps({"l": list_id, "p": paging, "i": index})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _malformed() -> GatewayError:
    return bad_input("the cursor is malformed: pass a cursor this API returned")


def _digits(text: str, most: int) -> bool:
    # str.isdigit() is true for "²", which int() refuses; and int() refuses
    # text of over 4,300 digits, so the length is checked first.
    return len(text) <= most and text.isascii() and text.isdigit()
