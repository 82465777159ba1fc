"""How Studio's requests are spelled: paging, list filters, revision names, forms.

Everything here checks its arguments before anything is sent; `client.py`
sends what these build.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from gateway.studio.errors import InvalidArgument
from gateway.studio.records import ExecutionStatus, FlowStatus

#: `Revision` may be a number or one of these names.
REVISION_ALIASES: Final = ("LatestPublished", "LatestRevision")

#: The query parameters that say where a page is (its size, number and row token).
PAGING_PARAMS: Final = ("PageSize", "Page", "PageToken")
#: The most items Studio answers in one page.
MAX_PAGE_SIZE: Final = 1000
#: The items in a page whose URL names no PageSize.
DEFAULT_PAGE_SIZE: Final = 50
#: Query parameters a page URL may carry forward: its paging and the list's filters.
_PAGE_PARAMS: Final = (*PAGING_PARAMS, "status", "DateCreatedFrom", "DateCreatedTo")


def execution_query(
    status: ExecutionStatus | str | None = None,
    date_created_from: datetime | date | None = None,
    date_created_to: datetime | date | None = None,
) -> dict[str, str]:
    """The query parameters of the executions list's filters; those not given are left out."""
    query = {
        # Twilio's quirk: this one filter is lowercase.
        "status": enum_value(ExecutionStatus, status, "status"),
        "DateCreatedFrom": iso_date(date_created_from),
        "DateCreatedTo": iso_date(date_created_to),
    }
    return {name: value for name, value in query.items() if value is not None}


class PageRef:
    """Where a page is: the query of the upstream's own page URL, nothing invented.

    Only the paging and filter parameters are kept; the host and path are
    always the client's own, so a page reference that came back from outside
    (a GraphQL cursor) can never point a request elsewhere.
    """

    __slots__ = ("params",)

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = {k: v for k, v in params.items() if k in _PAGE_PARAMS}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PageRef) and other.params == self.params

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.params.items())))

    def __repr__(self) -> str:
        return f"PageRef({self.params!r})"

    @property
    def paging(self) -> dict[str, str]:
        """Where the page is, without the list's filters."""
        return {k: v for k, v in self.params.items() if k in PAGING_PARAMS}

    @classmethod
    def from_url(cls, url: str | None) -> PageRef | None:
        if not url:
            return None
        return cls(dict(parse_qsl(urlsplit(url).query, keep_blank_values=True)))


def revision_ref(revision: int | str) -> str:
    """The `Revision` path segment: a positive number or one of the two aliases."""
    if isinstance(revision, bool):
        raise InvalidArgument("revision must be a number or LatestPublished/LatestRevision")
    if isinstance(revision, int):
        if revision < 1:
            raise InvalidArgument("revision numbers start at 1")
        return str(revision)
    if isinstance(revision, str):
        if revision in REVISION_ALIASES:
            return revision
        if revision.isascii() and revision.isdigit() and int(revision) >= 1:
            return str(int(revision))
    raise InvalidArgument("revision must be a number or LatestPublished/LatestRevision")


def page_params(page_size: int | None, page: PageRef | None) -> dict[str, Any]:
    params: dict[str, Any] = dict(page.params) if page is not None else {}
    if page_size is not None:
        if (
            isinstance(page_size, bool)
            or not isinstance(page_size, int)
            or not 1 <= page_size <= MAX_PAGE_SIZE
        ):
            raise InvalidArgument(f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}")
        params["PageSize"] = page_size
    return params


def enum_value(kind: type[Any], value: Any, name: str) -> str | None:
    if value is None:
        return None
    try:
        return str(kind(value.value if isinstance(value, kind) else str(value).lower()).value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidArgument(f"{name} must be one of: {allowed}") from None


def flow_form(
    friendly_name: str | None,
    status: FlowStatus | str,
    definition: Mapping[str, Any] | None,
    commit_message: str | None,
) -> list[tuple[str, str]]:
    form = [("Status", enum_value(FlowStatus, status, "status") or "")]
    if isinstance(friendly_name, str):
        form.append(("FriendlyName", friendly_name))
    if definition is not None:
        if not isinstance(definition, Mapping):
            raise InvalidArgument("definition must be a JSON object")
        form.append(("Definition", json_field(definition, "definition")))
    if isinstance(commit_message, str):
        form.append(("CommitMessage", commit_message))
    return form


def json_field(value: Any, name: str) -> str:
    # Twilio takes JSON inside the form as a string field.
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{name} is not serialisable as JSON: {exc}") from None


def iso_date(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidArgument("date filters need a timezone-aware datetime")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()
