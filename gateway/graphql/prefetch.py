"""Reads started before the resolver that needs them runs, and answers that load later.

A parent's fetch and its children's need not wait on each other when nothing
the children read comes from the parent's record: `flow(sid) { executions }`
asks for the flow and the first page of its executions at once, and the list's
resolver later finds its page already on the way in the request's loaders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from functools import partial
from typing import Any

from gateway.graphql.connections import first_page
from gateway.graphql.context import Info
from gateway.graphql.documents import selected
from gateway.graphql.errors import GatewayError
from gateway.graphql.filters import execution_filters
from gateway.graphql.internals import core_schema
from gateway.graphql.scalars import ExecutionStatus
from gateway.graphql.scopes import principal
from gateway.graphql.selection import Field, fields
from gateway.loaders import Page, PageKey
from gateway.security.principal import EXECUTIONS_READ, PII_READ


def prefetch_flow_children(info: Info, flow_sid: str) -> None:
    """Start the first pages a flow's selected lists will read, beside the flow's own fetch.

    Nothing a list needs comes from the flow's record, so `flow(sid) { executions }`
    need not wait for the flow before asking for its executions: both go out at
    once, and the list's resolver later finds its page already on the way. Only
    plain first pages are started (no cursor, no date filter), only what the
    caller may read, and a prefetch that fails is left for the field to report;
    and, as for an execution's, only for credentials Twilio has accepted (a guessed
    token costs one refused call, not one per list).
    """
    if not _may_read_ahead(info):
        return
    loaders = info.context.loaders
    caller = principal(info)
    variables = info.variable_values
    for child in _children(info):
        args = child.arguments(variables)
        if args.get("after") is not None:
            continue
        try:
            if child.name == "executions" and caller.allows(EXECUTIONS_READ):
                if args.get("dateCreatedFrom") is not None or args.get("dateCreatedTo") is not None:
                    continue
                status = args.get("status")
                filters = execution_filters(
                    status if isinstance(status, ExecutionStatus) else None, None, None
                )
                paging = first_page(args.get("first"))
                _quietly(loaders.executions_page.load(PageKey.of((flow_sid,), paging, filters)))
            elif child.name == "revisions":
                paging = first_page(args.get("first"))
                _quietly(loaders.revisions_page.load(PageKey.of((flow_sid,), paging)))
            elif child.name == "testUsers" and caller.allows(PII_READ):
                _quietly(loaders.test_users.load(flow_sid))
        except (GatewayError, TypeError, ValueError):
            continue  # the field itself will say what is wrong with its arguments


async def prefetch_execution_children(info: Info, flow_sid: str, sid: str) -> None:
    """Start an execution's selected `context` and first `steps` page beside its own fetch,
    and its steps' contexts as that page arrives: `execution { steps { nodes { context } } }`
    takes two dependent rounds, not three.

    Only for credentials Twilio has accepted (`_may_read_ahead`), and only while
    the execution is not known ended: an ended one is in the shared cache, and
    its children, read after that is known, are final and kept (most likely
    they are cached already). A read that starts before the execution's answer
    is kept only when that answer shows the execution had ended well before the
    read started (`gateway/keeping.py`); otherwise it serves this answer alone,
    and a GET answer holding it is not cacheable by the client (`Loaders.reads`).
    """
    loaders = info.context.loaders
    if not _may_read_ahead(info) or await loaders.known_ended(flow_sid, sid):
        return
    reads_pii = principal(info).allows(PII_READ)
    parent = (flow_sid, sid)
    for child in _children(info):
        if child.name == "context" and reads_pii:
            _quietly(loaders.execution_context.load(parent))
        elif child.name == "steps":
            args = child.arguments(info.variable_values)
            if args.get("after") is not None:
                continue
            try:
                paging = first_page(args.get("first"))
            except (GatewayError, TypeError, ValueError):
                continue  # the field itself will say what is wrong with its arguments
            page = loaders.steps_page.load(PageKey.of(parent, paging))
            _quietly(page)
            if (
                reads_pii
                and _step_context_selected(info, child)
                and isinstance(page, asyncio.Future)
            ):
                page.add_done_callback(partial(_start_step_contexts, info, parent))


def prefetch_step_children(info: Info, flow_sid: str, execution_sid: str, sid: str) -> None:
    """Start a step's selected `context` beside the step's own fetch."""
    if not _may_read_ahead(info) or not principal(info).allows(PII_READ):
        return
    if any(child.name == "context" for child in _children(info)):
        _quietly(info.context.loaders.step_context.load((flow_sid, execution_sid, sid)))


def _may_read_ahead(info: Info) -> bool:
    """Whether reads may go out before the answer they would otherwise wait for.

    The parent's fetch is what first tells Twilio's verdict on the caller's
    credentials (docs/ARCHITECTURE.md, "What never changes"): reads ahead of it,
    of the shared cache or of Twilio, are only for credentials Twilio has
    already accepted in this process. A guessed token then costs exactly one
    refused call, and nothing cached is read for it before that refusal.
    """
    return info.context.loaders.client.accepted


def _start_step_contexts(
    info: Info, parent: tuple[str, str], page: asyncio.Future[Page[Any]]
) -> None:
    if page.cancelled() or page.exception() is not None:
        return
    loaders = info.context.loaders
    for step in page.result().items:
        _quietly(loaders.step_context.load((*parent, step.sid)))


def _step_context_selected(info: Info, steps: Field) -> bool:
    """Whether `steps { nodes { context } }` (or `edges { node { context } }`) is asked for."""
    for part in _below(info, steps):
        if part.name == "nodes" and any(f.name == "context" for f in _below(info, part)):
            return True
        if part.name == "edges":
            for node in _below(info, part):
                if node.name == "node" and any(f.name == "context" for f in _below(info, node)):
                    return True
    return False


def _children(info: Info) -> list[Field]:
    """What the operation selects below the field `info` resolves, as it will run now:
    fragments opened, `@skip`/`@include` applied, what `@defer` puts off left out."""
    return [child for field in selected(info) for child in _below(info, field)]


def _below(info: Info, field: Field) -> Iterator[Field]:
    return fields(
        field.selection,
        None,
        info.variable_values,
        schema=core_schema(info.schema),
        deferred=False,
    )


def _quietly(future: Awaitable[Any]) -> None:
    # A prefetch nobody reads (the flow was not found) must not warn that its
    # exception was never retrieved.
    if isinstance(future, asyncio.Future):
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
