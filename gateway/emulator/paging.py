"""List paging as Twilio does it: PageSize, Page, and opaque PageTokens.

A token names the row at a page boundary ("PA" + its id: the page after it;
"PB": the page before it), so a client following `next_page_url` neither skips
nor repeats rows when rows are added or removed between pages. Only tokens this
server issued are accepted (21481 otherwise), and only on the list they came from.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar
from urllib.parse import urlencode

from gateway.emulator.errors import invalid_page_token, invalid_parameter

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000

Row = TypeVar("Row")
Key = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PageQuery:
    page_size: int
    page: int
    token: str | None


def parse_page_query(query: Mapping[str, str]) -> PageQuery:
    """Read PageSize, Page and PageToken, refusing what Twilio refuses."""
    page_size = _integer(query, "PageSize", DEFAULT_PAGE_SIZE)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise invalid_parameter("PageSize", f"must be between 1 and {MAX_PAGE_SIZE}")
    page = _integer(query, "Page", 0)
    if page < 0:
        raise invalid_parameter("Page", "must be 0 or more")
    token = query.get("PageToken") or None
    return PageQuery(page_size=page_size, page=page, token=token)


def _integer(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_parameter(name, "must be an integer") from None


@dataclass(frozen=True, slots=True)
class Boundary:
    scope: str
    key: Key
    after: bool


class PageTokens:
    """The tokens one account has been issued, and the boundary each one names."""

    def __init__(self) -> None:
        self._issued: dict[str, Boundary] = {}

    def issue(self, *, scope: str, row_id: str, key: Key, after: bool) -> str:
        token = ("PA" if after else "PB") + row_id
        self._issued[token] = Boundary(scope=scope, key=key, after=after)
        return token

    def resolve(self, token: str, scope: str) -> Boundary:
        boundary = self._issued.get(token)
        if boundary is None or boundary.scope != scope:
            raise invalid_page_token()
        return boundary


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    rows: list[Row]
    page: int
    next_token: str | None
    previous_token: str | None


def paginate(
    rows: Sequence[Row],
    *,
    key: Callable[[Row], Key],
    row_id: Callable[[Row], str],
    query: PageQuery,
    tokens: PageTokens,
    scope: str,
) -> Page[Row]:
    """One page of `rows`, which are in display order with strictly rising `key`s."""
    if query.token is None:
        start = query.page * query.page_size
        end = start + query.page_size
    else:
        boundary = tokens.resolve(query.token, scope)
        if boundary.after:
            start = bisect.bisect_right(rows, boundary.key, key=key)
            end = start + query.page_size
        else:
            end = bisect.bisect_left(rows, boundary.key, key=key)
            start = max(0, end - query.page_size)
    selected = list(rows[start:end])
    next_token = previous_token = None
    if selected and end < len(rows):
        last = selected[-1]
        next_token = tokens.issue(scope=scope, row_id=row_id(last), key=key(last), after=True)
    if selected and start > 0:
        first = selected[0]
        previous_token = tokens.issue(
            scope=scope, row_id=row_id(first), key=key(first), after=False
        )
    return Page(
        rows=selected, page=query.page, next_token=next_token, previous_token=previous_token
    )


def page_meta(
    page: Page[Any],
    *,
    list_key: str,
    list_url: str,
    filters: Sequence[tuple[str, str]],
    query: PageQuery,
) -> dict[str, Any]:
    """The `meta` object of a list response; filters carry forward into every URL."""

    def url(page_number: int, token: str | None) -> str:
        params = [*filters, ("PageSize", str(query.page_size)), ("Page", str(page_number))]
        if token is not None:
            params.append(("PageToken", token))
        return f"{list_url}?{urlencode(params)}"

    return {
        "first_page_url": url(0, None),
        "key": list_key,
        "next_page_url": None if page.next_token is None else url(page.page + 1, page.next_token),
        "page": page.page,
        "page_size": query.page_size,
        "previous_page_url": (
            None if page.previous_token is None else url(max(page.page - 1, 0), page.previous_token)
        ),
        "url": url(page.page, query.token),
    }
