"""Pages of the upstream's lists as the loaders key them: whose list, where, which filters.

A page is named by the paging of the upstream's own page URLs (never invented)
and the list's filters, kept typed: how Twilio spells them is the client's
(`studio/client.py`). The loaders re-export these, so the GraphQL layer reads
pages through the loaders alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from gateway.studio import ExecutionStatus, Page, PageRef, execution_query

__all__ = ["NO_FILTERS", "ExecutionFilters", "PageKey", "next_paging"]


@dataclass(frozen=True, slots=True)
class ExecutionFilters:
    """The executions list's filters, as the client's `list_executions` takes them."""

    status: ExecutionStatus | None = None
    date_created_from: datetime | None = None
    date_created_to: datetime | None = None

    @property
    def query(self) -> dict[str, str]:
        """The filters as Twilio's query parameters: what tells one filtered list from another."""
        return execution_query(self.status, self.date_created_from, self.date_created_to)


NO_FILTERS: Final = ExecutionFilters()


@dataclass(frozen=True, slots=True)
class PageKey:
    """One upstream page: whose list it is, where the page is, and the list's filters."""

    parent: tuple[str, ...]
    paging: tuple[tuple[str, str], ...]
    filters: ExecutionFilters = NO_FILTERS

    @classmethod
    def of(
        cls, parent: Iterable[str], paging: dict[str, str], filters: ExecutionFilters = NO_FILTERS
    ) -> PageKey:
        return cls(tuple(parent), tuple(sorted(paging.items())), filters)

    @property
    def page(self) -> PageRef:
        return PageRef(dict(self.paging))


def next_paging(page: Page[Any]) -> dict[str, str] | None:
    """Where the page after `page` is, from the upstream's own URL; None after the last."""
    ref = PageRef.from_url(page.meta.next_page_url)
    return None if ref is None else ref.paging
