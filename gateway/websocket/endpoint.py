"""`/graphql` for WebSockets, over the HTTP side's GraphQL view (see `gateway.websocket`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.http.websocket_origin import normalize_allowed_origins
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway.graphql import Context
from gateway.security.auth import Authenticator
from gateway.security.persisted import PersistedQueries
from gateway.settings import Settings
from gateway.websocket.connections import GraphQLWebSocket, WebSocketLimits
from gateway.websocket.protocol import handler, reader

__all__ = ["websocket_endpoint"]


def websocket_endpoint(
    view: AsyncBaseHTTPView[Any, Any, Any, Any, Any, Context, None],
    settings: Settings,
    authenticator: Authenticator,
    persisted: PersistedQueries,
) -> GraphQLWebSocket:
    """`/graphql` for WebSockets (its `route()`), over `view` (the HTTP side's GraphQL view)."""
    view.protocols = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
    view.websocket_adapter_class = reader(settings.max_body_bytes)
    view.allowed_origins = normalize_allowed_origins(settings.cors_origin_list())
    view.max_subscriptions_per_connection = None  # ours, with a clearer answer
    view.connection_init_wait_timeout = timedelta(seconds=settings.websocket_init_timeout)
    view.graphql_transport_ws_handler_class = handler(
        authenticator,
        persisted,
        passthrough=settings.upstream_credentials == "passthrough",
        max_operations=settings.websocket_max_subscriptions,
        ping_interval=settings.websocket_ping_interval,
    )
    return GraphQLWebSocket(
        view,
        WebSocketLimits(
            connections=settings.websocket_max_connections,
            pending=settings.websocket_max_pending,
            connections_per_principal=settings.websocket_max_connections_per_principal,
            pending_per_address=settings.websocket_max_pending_per_address,
            subscriptions_per_principal=settings.websocket_max_subscriptions_per_principal,
        ),
    )
