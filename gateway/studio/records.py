"""Typed records for every Studio v2 resource, parsed from the upstream's JSON.

Every field of the spec's schemas is here; fields Twilio adds later are
ignored. Timestamps are timezone-aware. A record parsed from a list page that
Twilio abridges (the Flows and Revisions lists send `definition: null`) says
so in `partial`, so nobody mistakes "not sent" for "empty".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from gateway.studio.errors import Malformed

JSON = Any
E = TypeVar("E", bound=StrEnum)


class FlowStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class ExecutionStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


def parse_datetime(value: object) -> datetime | None:
    """Twilio's `YYYY-MM-DDTHH:MM:SSZ`, or any ISO-8601 form, as an aware datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed(f"expected a timestamp, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"unreadable timestamp {value[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise Malformed(f"field {key!r} should be a string")


def _req_str(data: Mapping[str, Any], key: str) -> str:
    value = _str(data, key)
    if value is None:
        raise Malformed(f"field {key!r} is missing")
    return value


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"field {key!r} should be an integer")
    return value


def _bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise Malformed(f"field {key!r} should be a boolean")


def _list(data: Mapping[str, Any], key: str) -> list[Any] | None:
    value = data.get(key)
    if value is None or isinstance(value, list):
        return value
    raise Malformed(f"field {key!r} should be a list")


def _links(data: Mapping[str, Any]) -> dict[str, str]:
    value = data.get("links")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed("field 'links' should be an object")
    return {str(k): str(v) for k, v in value.items()}


def _enum(kind: type[E], data: Mapping[str, Any], key: str) -> E:
    value = data.get(key)
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    raise Malformed(f"field {key!r} has unknown value {str(value)[:20]!r}")


@dataclass(frozen=True, slots=True)
class Flow:
    sid: str
    account_sid: str | None
    author_sid: str | None
    friendly_name: str | None
    definition: JSON | None
    status: FlowStatus
    revision: int | None
    commit_message: str | None
    valid: bool | None
    errors: list[Any] | None
    warnings: list[Any] | None
    date_created: datetime | None
    date_updated: datetime | None
    webhook_url: str | None
    url: str | None
    links: dict[str, str] = field(default_factory=dict)
    #: True when parsed from the Flows list, which never sends the definition.
    partial: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, partial: bool = False) -> Flow:
        return cls(
            sid=_req_str(data, "sid"),
            account_sid=_str(data, "account_sid"),
            author_sid=_str(data, "author_sid"),
            friendly_name=_str(data, "friendly_name"),
            definition=data.get("definition"),
            status=_enum(FlowStatus, data, "status"),
            revision=_int(data, "revision"),
            commit_message=_str(data, "commit_message"),
            valid=_bool(data, "valid"),
            errors=_list(data, "errors"),
            warnings=_list(data, "warnings"),
            date_created=parse_datetime(data.get("date_created")),
            date_updated=parse_datetime(data.get("date_updated")),
            webhook_url=_str(data, "webhook_url"),
            url=_str(data, "url"),
            links=_links(data),
            partial=partial,
        )


@dataclass(frozen=True, slots=True)
class FlowRevision:
    sid: str
    account_sid: str | None
    author_sid: str | None
    friendly_name: str | None
    definition: JSON | None
    status: FlowStatus
    revision: int
    commit_message: str | None
    valid: bool | None
    errors: list[Any] | None
    date_created: datetime | None
    date_updated: datetime | None
    url: str | None
    #: True when parsed from the Revisions list, which leaves out the definition.
    partial: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, partial: bool = False) -> FlowRevision:
        revision = _int(data, "revision")
        if revision is None:
            raise Malformed("field 'revision' is missing")
        return cls(
            sid=_req_str(data, "sid"),
            account_sid=_str(data, "account_sid"),
            author_sid=_str(data, "author_sid"),
            friendly_name=_str(data, "friendly_name"),
            definition=data.get("definition"),
            status=_enum(FlowStatus, data, "status"),
            revision=revision,
            commit_message=_str(data, "commit_message"),
            valid=_bool(data, "valid"),
            errors=_list(data, "errors"),
            date_created=parse_datetime(data.get("date_created")),
            date_updated=parse_datetime(data.get("date_updated")),
            url=_str(data, "url"),
            partial=partial,
        )


@dataclass(frozen=True, slots=True)
class FlowValidation:
    valid: bool | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlowValidation:
        return cls(valid=_bool(data, "valid"))


@dataclass(frozen=True, slots=True)
class TestUsers:
    __test__ = False  # not a pytest test class, whatever its name says

    sid: str
    test_users: list[str]
    url: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestUsers:
        return cls(
            sid=_req_str(data, "sid"),
            test_users=[str(u) for u in _list(data, "test_users") or []],
            url=_str(data, "url"),
        )


@dataclass(frozen=True, slots=True)
class Execution:
    sid: str
    account_sid: str | None
    flow_sid: str
    contact_channel_address: str | None
    contact_sid: str | None
    flow_version: int | None
    context: JSON | None
    status: ExecutionStatus
    date_created: datetime | None
    date_updated: datetime | None
    initiated_by: str | None
    url: str | None
    links: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        # `context` and `contact_channel_address` are PII: never in a repr or a log.
        return (
            f"Execution(sid={self.sid!r}, flow_sid={self.flow_sid!r}, status={self.status.value!r})"
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Execution:
        return cls(
            sid=_req_str(data, "sid"),
            account_sid=_str(data, "account_sid"),
            flow_sid=_req_str(data, "flow_sid"),
            contact_channel_address=_str(data, "contact_channel_address"),
            contact_sid=_str(data, "contact_sid"),
            flow_version=_int(data, "flow_version"),
            context=data.get("context"),
            status=_enum(ExecutionStatus, data, "status"),
            date_created=parse_datetime(data.get("date_created")),
            date_updated=parse_datetime(data.get("date_updated")),
            initiated_by=_str(data, "initiated_by"),
            url=_str(data, "url"),
            links=_links(data),
        )


@dataclass(frozen=True, slots=True)
class ExecutionContext:
    account_sid: str | None
    context: JSON | None
    flow_sid: str
    execution_sid: str
    url: str | None

    def __repr__(self) -> str:
        return f"ExecutionContext(execution_sid={self.execution_sid!r})"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExecutionContext:
        return cls(
            account_sid=_str(data, "account_sid"),
            context=data.get("context"),
            flow_sid=_req_str(data, "flow_sid"),
            execution_sid=_req_str(data, "execution_sid"),
            url=_str(data, "url"),
        )


@dataclass(frozen=True, slots=True)
class ExecutionStep:
    sid: str
    account_sid: str | None
    flow_sid: str
    execution_sid: str
    parent_step_sid: str | None
    name: str | None
    context: JSON | None
    transitioned_from: str | None
    transitioned_to: str | None
    type: str | None
    date_created: datetime | None
    date_updated: datetime | None
    url: str | None
    links: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ExecutionStep(sid={self.sid!r}, execution_sid={self.execution_sid!r})"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExecutionStep:
        return cls(
            sid=_req_str(data, "sid"),
            account_sid=_str(data, "account_sid"),
            flow_sid=_req_str(data, "flow_sid"),
            execution_sid=_req_str(data, "execution_sid"),
            parent_step_sid=_str(data, "parent_step_sid"),
            name=_str(data, "name"),
            context=data.get("context"),
            transitioned_from=_str(data, "transitioned_from"),
            transitioned_to=_str(data, "transitioned_to"),
            type=_str(data, "type"),
            date_created=parse_datetime(data.get("date_created")),
            date_updated=parse_datetime(data.get("date_updated")),
            url=_str(data, "url"),
            links=_links(data),
        )


@dataclass(frozen=True, slots=True)
class StepContext:
    account_sid: str | None
    context: JSON | None
    execution_sid: str
    flow_sid: str
    step_sid: str
    url: str | None

    def __repr__(self) -> str:
        return f"StepContext(step_sid={self.step_sid!r})"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepContext:
        return cls(
            account_sid=_str(data, "account_sid"),
            context=data.get("context"),
            execution_sid=_req_str(data, "execution_sid"),
            flow_sid=_req_str(data, "flow_sid"),
            step_sid=_req_str(data, "step_sid"),
            url=_str(data, "url"),
        )


R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class PageMeta:
    """The `meta` object of a list page. There is never a total count."""

    key: str
    page: int
    page_size: int
    url: str | None
    first_page_url: str | None
    previous_page_url: str | None
    next_page_url: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PageMeta:
        return cls(
            key=_req_str(data, "key"),
            page=_int(data, "page") or 0,
            page_size=_int(data, "page_size") or 0,
            url=_str(data, "url"),
            first_page_url=_str(data, "first_page_url"),
            previous_page_url=_str(data, "previous_page_url"),
            next_page_url=_str(data, "next_page_url"),
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    """One page of a list, and where the next one is."""

    items: list[R]
    meta: PageMeta

    @property
    def has_next(self) -> bool:
        return self.meta.next_page_url is not None

    @classmethod
    def from_json(
        cls,
        data: object,
        key: str,
        parse: Callable[[Mapping[str, Any]], R],
    ) -> Page[R]:
        if not isinstance(data, dict):
            raise Malformed("a list page should be a JSON object")
        rows = data.get(key)
        meta = data.get("meta")
        if not isinstance(rows, list) or not isinstance(meta, dict):
            raise Malformed(f"a list page should hold {key!r} and 'meta'")
        for row in rows:
            if not isinstance(row, dict):
                raise Malformed(f"an item of {key!r} is not an object")
        return cls(items=[parse(row) for row in rows], meta=PageMeta.from_json(meta))


# Decoders of each list's pages, one function each: the transport keys identical
# reads by their decoder too, so one kind of page must always bring the same one.
def flows_page(data: object) -> Page[Flow]:
    return Page.from_json(data, "flows", lambda row: Flow.from_json(row, partial=True))


def revisions_page(data: object) -> Page[FlowRevision]:
    return Page.from_json(data, "revisions", lambda row: FlowRevision.from_json(row, partial=True))


def executions_page(data: object) -> Page[Execution]:
    return Page.from_json(data, "executions", Execution.from_json)


def steps_page(data: object) -> Page[ExecutionStep]:
    return Page.from_json(data, "steps", ExecutionStep.from_json)
