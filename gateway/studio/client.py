"""`StudioClient`: one method per Studio v2 operation, all 19.

Arguments are checked before anything is sent (a malformed SID never costs a
round trip). Lists return one `Page`; the `iter_*` methods walk every page by
following the upstream's own `next_page_url`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from gateway.studio.credentials import Credentials
from gateway.studio.errors import InvalidArgument
from gateway.studio.records import (
    Execution,
    ExecutionContext,
    ExecutionStatus,
    ExecutionStep,
    Flow,
    FlowRevision,
    FlowStatus,
    FlowValidation,
    Page,
    StepContext,
    TestUsers,
)
from gateway.studio.sids import validate
from gateway.studio.transport import Form, Transport

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


class StudioClient:
    """Typed async access to Twilio Studio v2 for one set of credentials.

    The transport (connections, in-flight bound, retries) is shared: make one
    per process and derive per-account clients with `with_credentials`.
    """

    def __init__(self, transport: Transport, credentials: Credentials) -> None:
        self.transport = transport
        self.credentials = credentials

    def __repr__(self) -> str:
        return f"StudioClient(account_sid={self.credentials.account_sid!r})"

    @property
    def account_sid(self) -> str:
        return self.credentials.account_sid

    @property
    def accepted(self) -> bool:
        """Whether Twilio accepted these credentials in this process and has not refused
        them since: only then may a read go out before the answer that would say so."""
        return self.transport.accepted.holds(self.credentials.digest)

    def with_credentials(self, credentials: Credentials) -> StudioClient:
        """A client for other credentials over the same transport."""
        return StudioClient(self.transport, credentials)

    async def aclose(self) -> None:
        await self.transport.aclose()

    # -- Flows ----------------------------------------------------------------

    async def list_flows(
        self, *, page_size: int | None = None, page: PageRef | None = None
    ) -> Page[Flow]:
        data = await self._get("/v2/Flows", "/v2/Flows", _page_params(page_size, page))
        return Page.from_json(data, "flows", lambda row: Flow.from_json(row, partial=True))

    def iter_flows(self, *, page_size: int | None = None) -> AsyncIterator[Flow]:
        return self._iterate(lambda ref: self.list_flows(page_size=page_size, page=ref))

    async def fetch_flow(self, sid: str) -> Flow:
        sid = validate("FW", sid)
        return Flow.from_json(await self._get("/v2/Flows/{Sid}", f"/v2/Flows/{sid}"))

    async def create_flow(
        self,
        friendly_name: str,
        status: FlowStatus | str,
        definition: Mapping[str, Any],
        commit_message: str | None = None,
    ) -> Flow:
        form = _flow_form(friendly_name, status, definition, commit_message)
        return Flow.from_json(await self._post("/v2/Flows", "/v2/Flows", form))

    async def update_flow(
        self,
        sid: str,
        status: FlowStatus | str,
        *,
        friendly_name: str | None = None,
        definition: Mapping[str, Any] | None = None,
        commit_message: str | None = None,
    ) -> Flow:
        sid = validate("FW", sid)
        form = _flow_form(friendly_name, status, definition, commit_message)
        return Flow.from_json(await self._post("/v2/Flows/{Sid}", f"/v2/Flows/{sid}", form))

    async def delete_flow(self, sid: str) -> None:
        sid = validate("FW", sid)
        await self._delete("/v2/Flows/{Sid}", f"/v2/Flows/{sid}")

    async def validate_flow(
        self,
        friendly_name: str,
        status: FlowStatus | str,
        definition: Mapping[str, Any],
        commit_message: str | None = None,
    ) -> FlowValidation:
        """Ask Twilio whether a definition is valid. No side effects."""
        form = _flow_form(friendly_name, status, definition, commit_message)
        data = await self._post("/v2/Flows/Validate", "/v2/Flows/Validate", form)
        return FlowValidation.from_json(data)

    # -- Revisions ------------------------------------------------------------

    async def list_flow_revisions(
        self, flow_sid: str, *, page_size: int | None = None, page: PageRef | None = None
    ) -> Page[FlowRevision]:
        flow_sid = validate("FW", flow_sid)
        data = await self._get(
            "/v2/Flows/{Sid}/Revisions",
            f"/v2/Flows/{flow_sid}/Revisions",
            _page_params(page_size, page),
        )
        return Page.from_json(
            data, "revisions", lambda row: FlowRevision.from_json(row, partial=True)
        )

    def iter_flow_revisions(
        self, flow_sid: str, *, page_size: int | None = None
    ) -> AsyncIterator[FlowRevision]:
        return self._iterate(
            lambda ref: self.list_flow_revisions(flow_sid, page_size=page_size, page=ref)
        )

    async def fetch_flow_revision(self, flow_sid: str, revision: int | str) -> FlowRevision:
        """A revision by number, or `LatestPublished` / `LatestRevision`."""
        flow_sid = validate("FW", flow_sid)
        ref = revision_ref(revision)
        data = await self._get(
            "/v2/Flows/{Sid}/Revisions/{Revision}", f"/v2/Flows/{flow_sid}/Revisions/{ref}"
        )
        return FlowRevision.from_json(data)

    # -- Test users -----------------------------------------------------------

    async def fetch_test_users(self, flow_sid: str) -> TestUsers:
        flow_sid = validate("FW", flow_sid)
        data = await self._get("/v2/Flows/{Sid}/TestUsers", f"/v2/Flows/{flow_sid}/TestUsers")
        return TestUsers.from_json(data)

    async def update_test_users(self, flow_sid: str, test_users: Sequence[str]) -> TestUsers:
        flow_sid = validate("FW", flow_sid)
        if isinstance(test_users, str):
            raise InvalidArgument("test_users must be a list of identities, not one string")
        form = [("TestUsers", str(user)) for user in test_users]
        if not form:
            # Twilio requires the parameter; an empty list cannot be form-encoded.
            raise InvalidArgument("test_users must name at least one identity")
        data = await self._post(
            "/v2/Flows/{Sid}/TestUsers", f"/v2/Flows/{flow_sid}/TestUsers", form
        )
        return TestUsers.from_json(data)

    # -- Executions -----------------------------------------------------------

    async def list_executions(
        self,
        flow_sid: str,
        *,
        status: ExecutionStatus | str | None = None,
        date_created_from: datetime | date | None = None,
        date_created_to: datetime | date | None = None,
        page_size: int | None = None,
        page: PageRef | None = None,
    ) -> Page[Execution]:
        """Executions, most recent first, optionally filtered.

        On later pages the filters travel inside the upstream's page URL; a
        filter given here as well replaces the page's own.
        """
        flow_sid = validate("FW", flow_sid)
        params = _page_params(page_size, page)
        params.update(execution_query(status, date_created_from, date_created_to))
        data = await self._get(
            "/v2/Flows/{FlowSid}/Executions", f"/v2/Flows/{flow_sid}/Executions", params
        )
        return Page.from_json(data, "executions", Execution.from_json)

    def iter_executions(
        self,
        flow_sid: str,
        *,
        status: ExecutionStatus | str | None = None,
        date_created_from: datetime | date | None = None,
        date_created_to: datetime | date | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Execution]:
        return self._iterate(
            lambda ref: self.list_executions(
                flow_sid,
                status=status,
                date_created_from=date_created_from,
                date_created_to=date_created_to,
                page_size=page_size,
                page=ref,
            )
        )

    async def create_execution(
        self,
        flow_sid: str,
        to: str,
        from_: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> Execution:
        """Start an execution. Never retried once sent: it must not run twice."""
        flow_sid = validate("FW", flow_sid)
        for name, value in (("to", to), ("from", from_)):
            if not isinstance(value, str) or not value.strip():
                raise InvalidArgument(f"{name!r} must be a non-empty phone number or address")
        form: list[tuple[str, str]] = [("To", to), ("From", from_)]
        if parameters is not None:
            if not isinstance(parameters, Mapping):
                raise InvalidArgument("parameters must be a JSON object")
            form.append(("Parameters", _json(parameters, "parameters")))
        data = await self._post(
            "/v2/Flows/{FlowSid}/Executions", f"/v2/Flows/{flow_sid}/Executions", form, creates=True
        )
        return Execution.from_json(data)

    async def fetch_execution(self, flow_sid: str, sid: str) -> Execution:
        path = _execution_path(flow_sid, sid)
        return Execution.from_json(await self._get("/v2/Flows/{FlowSid}/Executions/{Sid}", path))

    async def update_execution(
        self, flow_sid: str, sid: str, status: ExecutionStatus | str = ExecutionStatus.ENDED
    ) -> Execution:
        """Set an execution's status; Twilio accepts only `ended`."""
        path = _execution_path(flow_sid, sid)
        form = [("Status", _enum_value(ExecutionStatus, status, "status") or "")]
        data = await self._post("/v2/Flows/{FlowSid}/Executions/{Sid}", path, form)
        return Execution.from_json(data)

    async def delete_execution(self, flow_sid: str, sid: str) -> None:
        """Delete an execution and all its steps."""
        await self._delete("/v2/Flows/{FlowSid}/Executions/{Sid}", _execution_path(flow_sid, sid))

    async def fetch_execution_context(self, flow_sid: str, execution_sid: str) -> ExecutionContext:
        path = _execution_path(flow_sid, execution_sid) + "/Context"
        data = await self._get("/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context", path)
        return ExecutionContext.from_json(data)

    # -- Steps ----------------------------------------------------------------

    async def list_execution_steps(
        self,
        flow_sid: str,
        execution_sid: str,
        *,
        page_size: int | None = None,
        page: PageRef | None = None,
    ) -> Page[ExecutionStep]:
        """An execution's steps, most recent first."""
        path = _execution_path(flow_sid, execution_sid) + "/Steps"
        data = await self._get(
            "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps",
            path,
            _page_params(page_size, page),
        )
        return Page.from_json(data, "steps", ExecutionStep.from_json)

    def iter_execution_steps(
        self, flow_sid: str, execution_sid: str, *, page_size: int | None = None
    ) -> AsyncIterator[ExecutionStep]:
        return self._iterate(
            lambda ref: self.list_execution_steps(
                flow_sid, execution_sid, page_size=page_size, page=ref
            )
        )

    async def fetch_execution_step(
        self, flow_sid: str, execution_sid: str, sid: str
    ) -> ExecutionStep:
        path = _step_path(flow_sid, execution_sid, sid)
        data = await self._get("/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{Sid}", path)
        return ExecutionStep.from_json(data)

    async def fetch_step_context(
        self, flow_sid: str, execution_sid: str, step_sid: str
    ) -> StepContext:
        path = _step_path(flow_sid, execution_sid, step_sid) + "/Context"
        data = await self._get(
            "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{StepSid}/Context", path
        )
        return StepContext.from_json(data)

    # -- plumbing -------------------------------------------------------------

    async def _get(self, route: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.transport.request(
            "GET",
            route,
            path,
            auth=self.credentials.basic_auth,
            params=params,
            account=self.account_sid,
        )

    async def _post(self, route: str, path: str, form: Form, *, creates: bool = False) -> Any:
        return await self.transport.request(
            "POST",
            route,
            path,
            auth=self.credentials.basic_auth,
            form=form,
            account=self.account_sid,
            creates=creates,
        )

    async def _delete(self, route: str, path: str) -> None:
        await self.transport.request(
            "DELETE", route, path, auth=self.credentials.basic_auth, account=self.account_sid
        )

    async def _iterate(self, fetch: Callable[[PageRef | None], Any]) -> AsyncIterator[Any]:
        ref: PageRef | None = None
        while True:
            page = await fetch(ref)
            for item in page.items:
                yield item
            ref = PageRef.from_url(page.meta.next_page_url)
            if ref is None:
                return


def execution_query(
    status: ExecutionStatus | str | None = None,
    date_created_from: datetime | date | None = None,
    date_created_to: datetime | date | None = None,
) -> dict[str, str]:
    """The query parameters of the executions list's filters; those not given are left out."""
    query = {
        # Twilio's quirk: this one filter is lowercase.
        "status": _enum_value(ExecutionStatus, status, "status"),
        "DateCreatedFrom": _iso(date_created_from),
        "DateCreatedTo": _iso(date_created_to),
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


def _page_params(page_size: int | None, page: PageRef | None) -> dict[str, Any]:
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


def _execution_path(flow_sid: str, sid: str) -> str:
    return f"/v2/Flows/{validate('FW', flow_sid)}/Executions/{validate('FN', sid)}"


def _step_path(flow_sid: str, execution_sid: str, sid: str) -> str:
    return f"{_execution_path(flow_sid, execution_sid)}/Steps/{validate('FT', sid)}"


def _enum_value(kind: type[Any], value: Any, name: str) -> str | None:
    if value is None:
        return None
    try:
        return str(kind(value.value if isinstance(value, kind) else str(value).lower()).value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidArgument(f"{name} must be one of: {allowed}") from None


def _flow_form(
    friendly_name: str | None,
    status: FlowStatus | str,
    definition: Mapping[str, Any] | None,
    commit_message: str | None,
) -> list[tuple[str, str]]:
    form = [("Status", _enum_value(FlowStatus, status, "status") or "")]
    if isinstance(friendly_name, str):
        form.append(("FriendlyName", friendly_name))
    if definition is not None:
        if not isinstance(definition, Mapping):
            raise InvalidArgument("definition must be a JSON object")
        form.append(("Definition", _json(definition, "definition")))
    if isinstance(commit_message, str):
        form.append(("CommitMessage", commit_message))
    return form


def _json(value: Any, name: str) -> str:
    # Twilio takes JSON inside the form as a string field.
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{name} is not serialisable as JSON: {exc}") from None


def _iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidArgument("date filters need a timezone-aware datetime")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()
