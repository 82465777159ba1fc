"""Writes: the operation's one way to change anything upstream, and what it then forgets.

A mutation calls the client through `Writes`, which makes the change, then has
`Invalidation` drop what the operation's loaders hold for what changed (and,
for a deletion, what every replica's shared cache holds), and primes the
loaders with the answer, so fields read after it see the change.
"""

from __future__ import annotations

from typing import Any

from gateway.loaders import Loaders
from gateway.studio import Execution, ExecutionStatus, Flow, TestUsers

__all__ = ["Invalidation", "Writes"]


class Invalidation:
    """What an operation forgets when something it read changed or went away."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders

    def flow(self, sid: str) -> None:
        """Drop what the operation holds for a flow that changed or went away."""
        loaders = self.loaders
        loaders.flow.clear(sid)
        loaders.test_users.clear(sid)
        loaders.listed_flows.pop(sid, None)
        loaders.flows_page.clear_all()
        loaders.revisions_page.clear_where(lambda k: k.parent == (sid,))
        loaders.flow_revision.clear_where(lambda k: k[0] == sid and not k[1].isdigit())
        loaders.executions_page.clear_where(lambda k: k.parent == (sid,))

    def execution(self, flow_sid: str, sid: str) -> None:
        """Drop what the operation holds for one execution.

        Only an ended execution is ever cached across requests, and ending one
        changes nothing cached: the shared cache is cleared on deletion alone.
        """
        loaders = self.loaders
        key = (flow_sid, sid)
        loaders.execution_changed(key)
        loaders.execution_context.clear(key)
        loaders.executions_page.clear_where(lambda k: k.parent == (flow_sid,))
        loaders.steps_page.clear_where(lambda k: k.parent == key)
        loaders.step.clear_where(lambda k: k[:2] == key)
        loaders.step_context.clear_where(lambda k: k[:2] == key)

    async def gone(self, *path: str) -> None:
        """What lived under `path` (a flow, or a flow's execution) was deleted: its
        entries go from the shared cache, on every replica."""
        cache = self.loaders.cache
        if cache is not None:
            await cache.invalidate([self.loaders.names.tag(*path)], gone=True)


class Writes:
    """The changes one operation makes, through its loaders' client."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        self.client = loaders.client
        self.forget = Invalidation(loaders)

    async def create_flow(self, **fields: Any) -> Flow:
        flow = await self.client.create_flow(**fields)
        self.loaders.flows_page.clear_all()
        self.loaders.flow.prime(flow.sid, flow)
        return flow

    async def update_flow(self, sid: str, **fields: Any) -> Flow:
        flow = await self.client.update_flow(sid, **fields)
        self.forget.flow(sid)
        self.loaders.flow.prime(sid, flow)
        return flow

    async def delete_flow(self, sid: str) -> None:
        await self.client.delete_flow(sid)
        self.forget.flow(sid)
        await self.forget.gone(sid)  # its revisions, executions and steps with it

    async def update_test_users(self, sid: str, users: list[str]) -> TestUsers:
        result = await self.client.update_test_users(sid, users)
        self.loaders.test_users.clear(sid).prime(sid, result)
        return result

    async def create_execution(
        self, flow_sid: str, to: str, from_: str, parameters: dict[str, Any] | None
    ) -> Execution:
        execution = await self.client.create_execution(flow_sid, to, from_, parameters)
        self.loaders.executions_page.clear_where(lambda k: k.parent == (flow_sid,))
        self.loaders.execution.prime((flow_sid, execution.sid), execution)
        return execution

    async def end_execution(self, flow_sid: str, sid: str) -> Execution:
        execution = await self.client.update_execution(flow_sid, sid, ExecutionStatus.ENDED)
        self.forget.execution(flow_sid, sid)
        self.loaders.execution.prime((flow_sid, sid), execution)
        return execution

    async def delete_execution(self, flow_sid: str, sid: str) -> None:
        await self.client.delete_execution(flow_sid, sid)
        self.forget.execution(flow_sid, sid)
        await self.forget.gone(flow_sid, sid)
