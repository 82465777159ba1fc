"""Mutations: start, end and delete executions; create, change and delete flows.

Each returns the changed object (or the deleted object's id), and clears what
the request had cached for it, so fields read after it see the change.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from gateway.graphql import ids
from gateway.graphql.context import Info
from gateway.graphql.errors import bad_input, load
from gateway.graphql.fields import mutation
from gateway.graphql.scalars import JSON, FlowStatus
from gateway.graphql.scopes import ExecutionsWrite, FlowsWrite
from gateway.graphql.types import Execution, Flow


@strawberry.type
class Mutation:
    @mutation(
        description=(
            "Start an execution of a published flow for one contact. Fails with CONFLICT, "
            "naming the active execution in `conflictingExecutionSid`, when that contact "
            "already has one. When Twilio gives no answer saying whether it started one, "
            "the gateway looks: it answers with the execution started, fails with "
            "`created: false` when none was, or fails with CREATE_OUTCOME_UNKNOWN naming "
            "the execution to check in `executionSid`. It is never sent twice."
        ),
        permission_classes=[ExecutionsWrite],
    )
    async def create_execution(
        self,
        info: Info,
        flow_sid: strawberry.ID,
        to: str,
        from_: Annotated[str, strawberry.argument(name="from")],
        parameters: JSON | None = None,
    ) -> Execution | None:
        if parameters is not None and not isinstance(parameters, dict):
            raise bad_input("parameters must be a JSON object")
        record = await load(
            info.context.loaders.create_execution(flow_sid, to, from_, parameters),
            f"flow {flow_sid}",
        )
        return Execution(flow_sid=record.flow_sid, execution_sid=record.sid, record=record)

    @mutation(description="End an active execution.", permission_classes=[ExecutionsWrite])
    async def end_execution(
        self, info: Info, flow_sid: strawberry.ID, sid: strawberry.ID
    ) -> Execution | None:
        record = await load(info.context.loaders.end_execution(flow_sid, sid), f"execution {sid}")
        return Execution(flow_sid=record.flow_sid, execution_sid=record.sid, record=record)

    @mutation(
        description="Delete an execution and its steps. Returns its id.",
        permission_classes=[ExecutionsWrite],
    )
    async def delete_execution(
        self, info: Info, flow_sid: strawberry.ID, sid: strawberry.ID
    ) -> strawberry.ID | None:
        await load(info.context.loaders.delete_execution(flow_sid, sid), f"execution {sid}")
        return strawberry.ID(ids.encode("Execution", flow_sid, sid))

    @mutation(description="Create a flow from a definition.", permission_classes=[FlowsWrite])
    async def create_flow(
        self,
        info: Info,
        friendly_name: str,
        status: FlowStatus,
        definition: JSON,
        commit_message: str | None = None,
    ) -> Flow | None:
        if not isinstance(definition, dict):
            raise bad_input("definition must be a JSON object")
        record = await load(
            info.context.loaders.create_flow(
                friendly_name=friendly_name,
                status=status.value,
                definition=definition,
                commit_message=commit_message,
            ),
            "the new flow",
        )
        return Flow(flow_sid=record.sid, record=record)

    @mutation(
        description="Change a flow. A new definition, or a status change, adds a revision.",
        permission_classes=[FlowsWrite],
    )
    async def update_flow(
        self,
        info: Info,
        sid: strawberry.ID,
        status: FlowStatus,
        friendly_name: str | None = None,
        definition: JSON | None = None,
        commit_message: str | None = None,
    ) -> Flow | None:
        if definition is not None and not isinstance(definition, dict):
            raise bad_input("definition must be a JSON object")
        record = await load(
            info.context.loaders.update_flow(
                sid,
                status=status.value,
                friendly_name=friendly_name,
                definition=definition,
                commit_message=commit_message,
            ),
            f"flow {sid}",
        )
        return Flow(flow_sid=record.sid, record=record)

    @mutation(
        description="Delete a flow with its revisions and executions.",
        permission_classes=[FlowsWrite],
    )
    async def delete_flow(self, info: Info, sid: strawberry.ID) -> strawberry.ID | None:
        await load(info.context.loaders.delete_flow(sid), f"flow {sid}")
        return strawberry.ID(ids.encode("Flow", sid))

    @mutation(
        description="Replace who may test a flow's draft revision.", permission_classes=[FlowsWrite]
    )
    async def update_flow_test_users(
        self, info: Info, sid: strawberry.ID, test_users: list[str]
    ) -> Flow | None:
        await load(info.context.loaders.update_test_users(sid, test_users), f"flow {sid}")
        return Flow(flow_sid=sid)
