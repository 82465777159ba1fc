"""The root query: flows, one flow, execution or step by its SIDs, any node by id."""

from __future__ import annotations

import strawberry

from gateway.graphql import ids
from gateway.graphql.access import ScopeTable
from gateway.graphql.connections import PAGES, Connection, paginate
from gateway.graphql.context import Info
from gateway.graphql.errors import Code, GatewayError, from_studio, load
from gateway.graphql.fields import field
from gateway.graphql.flow_fields import FlowValidation
from gateway.graphql.internals import core_schema
from gateway.graphql.policy import BY_TYPE, ONE_CALL, needs
from gateway.graphql.prefetch import (
    prefetch_execution_children,
    prefetch_flow_children,
    prefetch_step_children,
)
from gateway.graphql.scalars import JSON, FlowStatus
from gateway.graphql.scopes import principal
from gateway.graphql.types import NODES, Execution, ExecutionStep, Flow, Node
from gateway.security.principal import EXECUTIONS_READ, FLOWS_READ
from gateway.studio import StudioError


@strawberry.type
class Query:
    @field(description="The account's flows.", scopes=needs(FLOWS_READ), price=PAGES)
    async def flows(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Flow] | None:
        return await paginate(
            info.context.loaders.flows_page,
            (),
            "flows",
            lambda f: Flow(flow_sid=f.sid, record=f),
            list_id="flows",
            first=first,
            after=after,
        )

    @field(description="One flow by its SID.", scopes=needs(FLOWS_READ), price=ONE_CALL)
    async def flow(self, info: Info, sid: strawberry.ID) -> Flow | None:
        prefetch_flow_children(info, sid)
        record = await load(info.context.loaders.flow.load(sid), f"flow {sid}")
        return Flow(flow_sid=record.sid, record=record)

    @field(
        description="One execution by its flow's SID and its own.",
        scopes=needs(EXECUTIONS_READ),
        price=ONE_CALL,
    )
    async def execution(
        self, info: Info, flow_sid: strawberry.ID, sid: strawberry.ID
    ) -> Execution | None:
        await prefetch_execution_children(info, flow_sid, sid)
        record = await load(
            info.context.loaders.execution.load((flow_sid, sid)), f"execution {sid}"
        )
        return Execution(flow_sid=record.flow_sid, execution_sid=record.sid, record=record)

    @field(
        description="One execution step by its flow's, execution's and own SIDs.",
        scopes=needs(EXECUTIONS_READ),
        price=ONE_CALL,
    )
    async def execution_step(
        self,
        info: Info,
        flow_sid: strawberry.ID,
        execution_sid: strawberry.ID,
        sid: strawberry.ID,
    ) -> ExecutionStep | None:
        prefetch_step_children(info, flow_sid, execution_sid, sid)
        record = await load(
            info.context.loaders.step.load((flow_sid, execution_sid, sid)), f"step {sid}"
        )
        return ExecutionStep(
            flow_sid=record.flow_sid,
            execution_sid=record.execution_sid,
            step_sid=record.sid,
            record=record,
        )

    @field(description="Any object by its global id.", scopes=BY_TYPE, price=ONE_CALL)
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, path = ids.decode(id)
        scope = ScopeTable.of(core_schema(info.schema)).read_scope(type_name)
        if not principal(info).allows(scope):
            # Checked before the fetch: a forbidden node costs no upstream call.
            raise GatewayError(
                f"this object needs the {scope} scope", Code.FORBIDDEN, requiredScope=scope
            )
        return await NODES[type_name].fetch(info, path)

    @field(
        description=(
            "Ask Twilio whether a flow definition is valid, without saving anything. "
            "An invalid definition answers valid: false with Twilio's list of errors."
        ),
        scopes=needs(FLOWS_READ),
        price=ONE_CALL,
    )
    async def validate_flow(
        self,
        info: Info,
        friendly_name: str,
        status: FlowStatus,
        definition: JSON,
        commit_message: str | None = None,
    ) -> FlowValidation | None:
        try:
            result = await info.context.loaders.validate_flow(
                friendly_name=friendly_name,
                status=status.value,
                definition=definition,
                commit_message=commit_message,
            )
        except StudioError as error:
            if error.code == 81022:
                failures = (error.details or {}).get("errors", error.details)
                return FlowValidation(valid=False, errors=failures)
            raise from_studio(error, "the flow definition") from None
        return FlowValidation(valid=bool(result.valid), errors=None)
