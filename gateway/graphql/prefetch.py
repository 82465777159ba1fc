"""Reads started before the resolver that needs them runs, and answers that load later.

A parent's fetch and its children's need not wait on each other when nothing
the children read comes from the parent's record: `flow(sid) { executions }`
asks for the flow and the first page of its executions at once, and the list's
resolver later finds its page already on the way in the request's loaders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar, cast

from strawberry.types.nodes import SelectedField

from gateway.graphql.connections import first_page
from gateway.graphql.context import Info
from gateway.graphql.errors import GatewayError
from gateway.graphql.filters import execution_filters
from gateway.graphql.scalars import ExecutionStatus
from gateway.graphql.scopes import principal
from gateway.loaders import PageKey
from gateway.security.principal import EXECUTIONS_READ, PII_READ

V = TypeVar("V")


def prefetch_flow_children(info: Info, flow_sid: str, selections: list[Any]) -> None:
    """Start the first pages a flow's selected lists will read, beside the flow's own fetch.

    Nothing a list needs comes from the flow's record, so `flow(sid) { executions }`
    need not wait for the flow before asking for its executions: both go out at
    once, and the list's resolver later finds its page already on the way. Only
    plain first pages are started (no cursor, no date filter), only what the
    caller may read, and a prefetch that fails is left for the field to report.
    """
    loaders = info.context.loaders
    caller = principal(info)
    for selected in selections:
        if not isinstance(selected, SelectedField) or selected.arguments.get("after") is not None:
            continue
        args = selected.arguments
        try:
            if selected.name == "executions" and caller.allows(EXECUTIONS_READ):
                if args.get("dateCreatedFrom") is not None or args.get("dateCreatedTo") is not None:
                    continue
                status = args.get("status")
                filters = execution_filters(
                    ExecutionStatus[status] if isinstance(status, str) else None, None, None
                )
                paging = first_page(_int(args.get("first")))
                _quietly(loaders.executions_page.load(PageKey.of((flow_sid,), paging, filters)))
            elif selected.name == "revisions":
                paging = first_page(_int(args.get("first")))
                _quietly(loaders.revisions_page.load(PageKey.of((flow_sid,), paging)))
            elif selected.name == "testUsers" and caller.allows(PII_READ):
                _quietly(loaders.test_users.load(flow_sid))
        except (GatewayError, KeyError, TypeError, ValueError):
            continue  # the field itself will say what is wrong with its arguments


def _int(value: Any) -> int | None:
    # strawberry hands a literal argument over as its source text ("3"), a
    # variable as its value (3).
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else value


def _quietly(future: Awaitable[Any]) -> None:
    # A prefetch nobody reads (the flow was not found) must not warn that its
    # exception was never retrieved.
    if isinstance(future, asyncio.Future):
        future.add_done_callback(lambda done: done.cancelled() or done.exception())


def later(value: Awaitable[V]) -> V:
    """An awaitable of a sync resolver's answer, passed off as the answer itself.

    graphql-core awaits whatever awaitable a resolver returns, so a field answers
    at once when its record is here and loads it only when it is not, while the
    resolver's return annotation, which strawberry reads the field's GraphQL type
    from, names the value alone. This is the one place that says so to mypy.
    """
    return cast(V, value)
