"""`StudioClient`: one method per Studio v2 operation, all 19.

Arguments are checked before anything is sent (a malformed SID never costs a
round trip). Lists return one `Page`; the `iter_*` methods walk every page by
following the upstream's own `next_page_url`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from gateway.studio.credentials import Credentials
from gateway.studio.errors import InvalidArgument, StudioError
from gateway.studio.outcome import LOOKUP_PAGE_SIZE, find_created
from gateway.studio.params import (
    PageRef,
    enum_value,
    execution_query,
    flow_form,
    json_field,
    page_params,
    revision_ref,
)
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
    executions_page,
    flows_page,
    revisions_page,
    steps_page,
)
from gateway.studio.sids import validate
from gateway.studio.transport import Form, Transport

R = TypeVar("R")


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
        return await self._get("/v2/Flows", "/v2/Flows", flows_page, page_params(page_size, page))

    def iter_flows(self, *, page_size: int | None = None) -> AsyncIterator[Flow]:
        return self._iterate(lambda ref: self.list_flows(page_size=page_size, page=ref))

    async def fetch_flow(self, sid: str) -> Flow:
        sid = validate("FW", sid)
        return await self._get("/v2/Flows/{Sid}", f"/v2/Flows/{sid}", Flow.from_json)

    async def create_flow(
        self,
        friendly_name: str,
        status: FlowStatus | str,
        definition: Mapping[str, Any],
        commit_message: str | None = None,
    ) -> Flow:
        form = flow_form(friendly_name, status, definition, commit_message)
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
        form = flow_form(friendly_name, status, definition, commit_message)
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
        form = flow_form(friendly_name, status, definition, commit_message)
        data = await self._post("/v2/Flows/Validate", "/v2/Flows/Validate", form)
        return FlowValidation.from_json(data)

    # -- Revisions ------------------------------------------------------------

    async def list_flow_revisions(
        self, flow_sid: str, *, page_size: int | None = None, page: PageRef | None = None
    ) -> Page[FlowRevision]:
        flow_sid = validate("FW", flow_sid)
        return await self._get(
            "/v2/Flows/{Sid}/Revisions",
            f"/v2/Flows/{flow_sid}/Revisions",
            revisions_page,
            page_params(page_size, page),
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
        return await self._get(
            "/v2/Flows/{Sid}/Revisions/{Revision}",
            f"/v2/Flows/{flow_sid}/Revisions/{ref}",
            FlowRevision.from_json,
        )

    # -- Test users -----------------------------------------------------------

    async def fetch_test_users(self, flow_sid: str) -> TestUsers:
        flow_sid = validate("FW", flow_sid)
        return await self._get(
            "/v2/Flows/{Sid}/TestUsers", f"/v2/Flows/{flow_sid}/TestUsers", TestUsers.from_json
        )

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
        params = page_params(page_size, page)
        params.update(execution_query(status, date_created_from, date_created_to))
        return await self._get(
            "/v2/Flows/{FlowSid}/Executions",
            f"/v2/Flows/{flow_sid}/Executions",
            executions_page,
            params,
        )

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
        """Start an execution. Never sent twice unless Twilio said it did not carry it
        out (429): it must not run twice. When it fails without an answer saying
        whether it ran, the flow's executions say (`gateway.studio.outcome`): the
        execution it started is returned, or `NotCreated` / `CreateOutcomeUnknown`
        raised."""
        flow_sid = validate("FW", flow_sid)
        for name, value in (("to", to), ("from", from_)):
            if not isinstance(value, str) or not value.strip():
                raise InvalidArgument(f"{name!r} must be a non-empty phone number or address")
        form: list[tuple[str, str]] = [("To", to), ("From", from_)]
        if parameters is not None:
            if not isinstance(parameters, Mapping):
                raise InvalidArgument("parameters must be a JSON object")
            form.append(("Parameters", json_field(parameters, "parameters")))
        sent_at = datetime.now(UTC)
        try:
            data = await self._post(
                "/v2/Flows/{FlowSid}/Executions",
                f"/v2/Flows/{flow_sid}/Executions",
                form,
                creates=True,
            )
        except StudioError as error:
            if not error.outcome_unknown:
                raise
            return await find_created(
                lambda since: self.list_executions(
                    flow_sid, date_created_from=since, page_size=LOOKUP_PAGE_SIZE
                ),
                to,
                sent_at,
                error,
                within=self.transport.config.create_lookup,
            )
        return Execution.from_json(data)

    async def fetch_execution(self, flow_sid: str, sid: str) -> Execution:
        path = _execution_path(flow_sid, sid)
        return await self._get("/v2/Flows/{FlowSid}/Executions/{Sid}", path, Execution.from_json)

    async def update_execution(
        self, flow_sid: str, sid: str, status: ExecutionStatus | str = ExecutionStatus.ENDED
    ) -> Execution:
        """Set an execution's status; Twilio accepts only `ended`."""
        path = _execution_path(flow_sid, sid)
        form = [("Status", enum_value(ExecutionStatus, status, "status") or "")]
        data = await self._post("/v2/Flows/{FlowSid}/Executions/{Sid}", path, form)
        return Execution.from_json(data)

    async def delete_execution(self, flow_sid: str, sid: str) -> None:
        """Delete an execution and all its steps."""
        await self._delete("/v2/Flows/{FlowSid}/Executions/{Sid}", _execution_path(flow_sid, sid))

    async def fetch_execution_context(self, flow_sid: str, execution_sid: str) -> ExecutionContext:
        path = _execution_path(flow_sid, execution_sid) + "/Context"
        return await self._get(
            "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context",
            path,
            ExecutionContext.from_json,
        )

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
        return await self._get(
            "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps",
            path,
            steps_page,
            page_params(page_size, page),
        )

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
        return await self._get(
            "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{Sid}",
            path,
            ExecutionStep.from_json,
        )

    async def fetch_step_context(
        self, flow_sid: str, execution_sid: str, step_sid: str
    ) -> StepContext:
        path = _step_path(flow_sid, execution_sid, step_sid) + "/Context"
        return await self._get(
            "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps/{StepSid}/Context",
            path,
            StepContext.from_json,
        )

    # -- plumbing -------------------------------------------------------------

    async def _get(
        self,
        route: str,
        path: str,
        decode: Callable[[Any], R],
        params: Mapping[str, Any] | None = None,
    ) -> R:
        # Decoded inside the transport: readers sharing one call share its records.
        record: R = await self.transport.request(
            "GET",
            route,
            path,
            auth=self.credentials.basic_auth,
            params=params,
            account=self.account_sid,
            decode=decode,
        )
        return record

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


def _execution_path(flow_sid: str, sid: str) -> str:
    return f"/v2/Flows/{validate('FW', flow_sid)}/Executions/{validate('FN', sid)}"


def _step_path(flow_sid: str, execution_sid: str, sid: str) -> str:
    return f"{_execution_path(flow_sid, execution_sid)}/Steps/{validate('FT', sid)}"
