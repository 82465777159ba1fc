"""A delivery speaks for the account whose Auth Token signed it, and for no other:
with pass-through credentials, subscribers of several accounts share one gateway,
and a delivery signed with one account's token that names another account's
execution must never reach that account's subscribers."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.emulator import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, Emulator, eventstreams
from gateway.emulator.eventstreams import EXECUTION_ENDED, CloudEvent
from gateway.emulator.live import LiveMode, LiveOptions
from gateway.events import StudioEvent
from tests.support import basic, until
from tests.support.graphql_ws import connected
from tests.support.live import Served, sample, served, step_sids

OTHER_ACCOUNT = "AC" + "b" * 32
OTHER_TOKEN = "other-account-auth-token"
#: The contact address a forger would slip in.
FORGED_CONTACT = "+15559990000"

UPDATES = """
subscription Updates($flow: ID!, $execution: ID!) {
  executionUpdates(flowSid: $flow, executionSid: $execution) {
    __typename
    ... on ExecutionStep { sid }
    ... on Execution { sid status contactChannelAddress }
  }
}
"""


def forged_end(live: LiveMode, sid: str) -> CloudEvent:
    """The end of another account's execution, with a contact address of the forger's."""
    record = live.account.execution(live.emitted[sid][0]["data"]["flow_sid"], sid)
    assert record is not None
    event = eventstreams.execution_event(EXECUTION_ENDED, record, datetime.now(UTC))
    event["data"]["contact_channel_address"] = FORGED_CONTACT
    return event


def ended_events(gateway: Served, *outcomes: str) -> float:
    """How many execution-ended events the gateway counted with these outcomes."""
    text = gateway.gateway.metrics.render().decode()
    return sum(
        sample(text, f'studio_gateway_events_total{{outcome="{outcome}",type="{EXECUTION_ENDED}"}}')
        for outcome in outcomes
    )


async def test_a_delivery_signed_for_one_account_reaches_no_subscriber_of_another(
    emulator: Emulator,
) -> None:
    emulator.add_account(OTHER_ACCOUNT, OTHER_TOKEN)
    async with served(
        emulator,
        events=True,
        upstream_credentials="passthrough",
        events_auth_tokens=f"{OTHER_ACCOUNT}:{OTHER_TOKEN}",
    ) as gateway:
        own = LiveMode(emulator, LiveOptions(url=gateway.webhook))
        other = LiveMode(emulator, LiveOptions(url=gateway.webhook), account_sid=OTHER_ACCOUNT)
        mine, theirs = own.start_execution(), other.start_execution()
        flows = {
            sid: live.emitted[sid][0]["data"]["flow_sid"]
            for sid, live in ((mine, own), (theirs, other))
        }
        async with (
            connected(gateway.url, basic(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)) as client,
            connected(gateway.url, basic(OTHER_ACCOUNT, OTHER_TOKEN)) as other_client,
        ):
            updates = await client.subscribe(UPDATES, {"flow": flows[mine], "execution": mine})
            their_updates = await other_client.subscribe(
                UPDATES, {"flow": flows[theirs], "execution": theirs}
            )
            await until(lambda: gateway.subscribers == 2)

            # Signed with the gateway's own account's token, naming the other account.
            assert await own.deliver([forged_end(other, theirs)]) == 202
            await until(lambda: ended_events(gateway, "foreign_account", "published") >= 1)

            # Each account's own deliveries still flow, to the end.
            while own.live or other.live:
                await own.advance()
                await other.advance()
            await until(lambda: updates.done.is_set() and their_updates.done.is_set())
        await own.stop()
        await other.stop()
        dropped = ended_events(gateway, "foreign_account")

    for sid, live, operation in ((mine, own, updates), (theirs, other, their_updates)):
        assert operation.ended == "complete" and not operation.errors
        assert len(step_sids(operation)) == len(live.emitted[sid]) - 2  # started, ended
        end = operation.data[-1]
        assert end["sid"] == sid and end["status"] == "ENDED"
        assert (
            end["contactChannelAddress"] == live.emitted[sid][0]["data"]["contact_channel_address"]
        )
    assert all(FORGED_CONTACT not in str(result) for result in their_updates.results)
    assert dropped == 1


async def test_with_one_token_only_its_own_account_is_spoken_for(emulator: Emulator) -> None:
    emulator.add_account(OTHER_ACCOUNT, OTHER_TOKEN)
    async with served(emulator, events=True, upstream_credentials="passthrough") as gateway:
        heard: list[StudioEvent] = []
        gateway.gateway.broker.listen(OTHER_ACCOUNT, heard.append)
        own = LiveMode(emulator, LiveOptions(url=gateway.webhook))
        other = LiveMode(emulator, LiveOptions(url=gateway.webhook), account_sid=OTHER_ACCOUNT)
        theirs = other.start_execution()
        assert await own.deliver([forged_end(other, theirs)]) == 202
        await until(lambda: ended_events(gateway, "foreign_account", "published") >= 1)
        # The other account's own token verifies nothing here: it is not configured.
        assert await other.deliver(other.emitted[theirs]) == 403
        await own.stop()
        await other.stop()
    assert heard == []
