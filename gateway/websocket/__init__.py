"""GraphQL over WebSocket on `/graphql`: graphql-transport-ws, behind the same door as HTTP.

- **Origin.** A browser's handshake from an origin not in
  `STUDIO_GATEWAY_CORS_ORIGINS` is refused (HTTP 403) before anything else;
  clients that send no `Origin` are not browsers and carry no ambient credentials.
- **Connections.** At most `STUDIO_GATEWAY_WEBSOCKET_MAX_CONNECTIONS` authenticated
  at once per replica; one more is closed at once (1013, with the reason: a
  refusal before the handshake's answer would reach the client as a bare 403).
  Until its `connection_init` authenticates it, a connection counts against the
  smaller `STUDIO_GATEWAY_WEBSOCKET_MAX_PENDING` instead, and waits at most
  `STUDIO_GATEWAY_WEBSOCKET_INIT_TIMEOUT` seconds for it (then 4408); with that
  many waiting, the oldest of them is closed (4408) to make room for a new one.
  So silent sockets take no authenticated client's room, and a flood of them
  must outpace a client's own `connection_init` to keep it out.
- **Whose.** One client cannot take a replica's room: one client address holds
  at most `STUDIO_GATEWAY_WEBSOCKET_MAX_PENDING_PER_ADDRESS` connections waiting
  for `connection_init`, one principal (`gateway.security.quota_key`: its API key
  or JWT subject; without client authentication, its address) at most
  `STUDIO_GATEWAY_WEBSOCKET_MAX_CONNECTIONS_PER_PRINCIPAL` authenticated ones;
  one more of either is closed with 1008 and a reason naming the bound. Its
  subscriptions over all its connections are bounded too
  (`STUDIO_GATEWAY_WEBSOCKET_MAX_SUBSCRIPTIONS_PER_PRINCIPAL`: one more gets an
  `error`, RATE_LIMITED). WebSockets take none of the HTTP slots
  (`gateway.server.HttpSlots`).
- **Who.** Checked at `connection_init` by the same authenticator as HTTP, from
  the payload (`{"Authorization": "Bearer …"}` or `{"X-API-Key": …}`, as the
  headers would be) over the handshake's headers; refused: close 4403 with the
  reason. Scopes then apply per operation, as over HTTP. A JWT's expiry holds
  on an open connection too: at it (`exp` and `STUDIO_GATEWAY_JWT_LEEWAY`) the
  connection is closed with 4403, and the client connects again with a fresh token.
- **What.** Subscriptions only: a query or a mutation gets an `error` message
  that sends it to HTTP (graphql-ws clients send only subscriptions here). Each
  `subscribe` passes the persisted queries as HTTP does (APQ, and with
  `STUDIO_GATEWAY_SAFELIST_FILE` only what the safelist holds runs), with the
  same code and message as HTTP in an `error` message when refused.
- **How much.** At most `STUDIO_GATEWAY_WEBSOCKET_MAX_SUBSCRIPTIONS` operations
  at once per connection: one more gets an `error` message saying so. Each
  operation runs with its own copy of the connection's context, so what one
  sets for itself (its loaders, per update) is never another's.
- **What it reads.** Each message is read by `gateway.security.client_json`, the
  HTTP body's reader (bad JSON closes 4400 with the reason), and one larger than
  `STUDIO_GATEWAY_MAX_BODY_BYTES` closes 1009 unread (uvicorn's `ws_max_size`
  too, from `gateway.server.options`).
- **Keep-alive.** The server pings every `STUDIO_GATEWAY_WEBSOCKET_PING_INTERVAL`
  seconds (a graphql-transport-ws `ping`); clients answer `pong`.
- **Going away.** At the end of the SIGTERM drain (`gateway.lifecycle`) every
  open connection is closed with 1001 (going away), so its client reconnects
  to another replica, before the server stops.
"""

from __future__ import annotations

from gateway.websocket.connections import GraphQLWebSocket, WebSocketLimits
from gateway.websocket.endpoint import websocket_endpoint

__all__ = ["GraphQLWebSocket", "WebSocketLimits", "websocket_endpoint"]
