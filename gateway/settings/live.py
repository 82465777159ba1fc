"""Settings of live executions: Event Streams in, subscriptions out (see README)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from gateway.settings.values import items, secret
from gateway.studio import is_sid


class LiveSettings(BaseSettings):
    """The `events_*`, `subscription_*` and `websocket_*` settings (`Settings` has them)."""

    group_title: ClassVar[str] = "Live executions"

    events: bool = Field(
        False, description="Receive Twilio Event Streams webhooks at `events_path`."
    )
    events_path: str = Field(
        "/webhooks/twilio/events", description="Where Event Streams deliveries are received."
    )
    events_auth_token: SecretStr | None = Field(
        None,
        description=(
            "The Auth Token that signs the deliveries of the gateway's own account "
            "(TWILIO_ACCOUNT_SID); default: TWILIO_AUTH_TOKEN (needed when the gateway "
            "itself uses an API key)."
        ),
    )
    events_auth_tokens: SecretStr | None = Field(
        None,
        description=(
            "Accounts whose deliveries are received, each with the Auth Token that signs "
            "them: `AC…:token` pairs, comma-separated (an account twice while its token "
            "rotates). An event is acted on only for the account whose token signed it."
        ),
    )
    events_public_url: str | None = Field(
        None,
        description=(
            "The webhook's URL as Twilio calls it (behind a proxy); default: the URL as received."
        ),
    )
    events_max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest Event Streams delivery, bytes."
    )
    events_source: Literal["poll", "webhook"] | None = Field(
        None,
        description=(
            "Where live events come from: `webhook` (Studio's Event Streams) or `poll` "
            "(the gateway polls the Steps list of watched executions); unset: `webhook` "
            "when `events` is on, else `poll`."
        ),
    )
    events_reorder_window: float = Field(
        0.25,
        ge=0,
        description=(
            "Seconds an Event Streams event waits for those that happened before it "
            "(delivery is unordered) before it goes to subscribers; 0 sends at once."
        ),
    )
    events_poll_interval: float = Field(
        0.5, gt=0, description="Seconds between polls of a watched execution at first."
    )
    events_poll_max_interval: float = Field(
        8.0,
        gt=0,
        description="The longest wait between polls: it doubles up to this while nothing changes.",
    )
    events_poll_lease: float = Field(
        10.0,
        gt=0,
        description="Seconds a replica's Redis lease on polling one execution lasts unrenewed.",
    )
    events_retry_for: float = Field(
        60.0,
        gt=0,
        description=(
            "Seconds a live subscription keeps retrying reads that fail for a passing reason "
            "(5xx, timeouts, 429), with backoff, before it ends with the error."
        ),
    )
    subscription_queue: int = Field(
        256,
        ge=1,
        description=(
            "Events one subscriber may have waiting; past it, it is told it missed events "
            "and its subscription ends."
        ),
    )
    websocket_max_connections: int = Field(
        1000,
        ge=1,
        description="Authenticated WebSocket connections a replica accepts at once.",
    )
    websocket_max_connections_per_principal: int = Field(
        100,
        ge=1,
        description=(
            "Authenticated WebSocket connections one principal (API key, JWT subject; "
            "without client authentication, one client address) may hold at once on a "
            "replica; one more is closed at its connection_init (1008)."
        ),
    )
    websocket_max_pending: int = Field(
        100,
        ge=1,
        description=(
            "WebSocket connections a replica holds at once before their connection_init "
            "authenticates them; past it, the oldest of them is closed (4408)."
        ),
    )
    websocket_max_pending_per_address: int = Field(
        10,
        ge=1,
        description=(
            "WebSocket connections one client address may hold at once before their "
            "connection_init; one more is closed at once (1008)."
        ),
    )
    websocket_init_timeout: float = Field(
        3.0,
        gt=0,
        description="Seconds a new WebSocket connection has to send its connection_init.",
    )
    websocket_max_subscriptions: int = Field(
        20, ge=1, description="Operations one WebSocket connection may run at once."
    )
    websocket_max_subscriptions_per_principal: int = Field(
        200,
        ge=1,
        description=(
            "Subscriptions one principal may run at once on a replica, over all its "
            "connections; one more gets an `error` (RATE_LIMITED)."
        ),
    )
    subscription_calls_per_minute: int = Field(
        600,
        ge=0,
        description=(
            "Upstream calls a minute one principal's subscription updates may be priced "
            "at, on a replica; past it their nested fields answer RATE_LIMITED while the "
            "updates go on. 0 for no bound."
        ),
    )
    websocket_ping_interval: float = Field(
        15.0,
        ge=0,
        description="Seconds between the server's graphql-transport-ws pings; 0 sends none.",
    )

    def listed_signers(self) -> list[tuple[str, str]]:
        """`events_auth_tokens` as (account SID, Auth Token) pairs; a ValueError names a
        wrong item by its place, never by what it holds."""
        pairs: list[tuple[str, str]] = []
        for place, item in enumerate(items(secret(self.events_auth_tokens)), start=1):
            account, _, token = item.partition(":")
            if not is_sid("AC", account.strip()) or not token.strip():
                raise ValueError(
                    f"events_auth_tokens: item {place} is not `AC…:token` (an account SID, "
                    "a colon, the account's Auth Token)"
                )
            pairs.append((account.strip(), token.strip()))
        return pairs

    def events_mode(self) -> Literal["poll", "webhook"]:
        """Where live events come from: `events_source`, else the webhook when it is on,
        else polling."""
        if self.events_source is not None:
            return self.events_source
        return "webhook" if self.events else "poll"
