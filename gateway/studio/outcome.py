"""What became of a create that got no answer saying: look, once, instead of guessing.

A create of an execution that timed out (or whose connection broke after it
was sent, or that Twilio answered 5xx) may have run. Answering it as a plain
timeout invites the client to send it again and start a second execution;
sending it again ourselves would do the same. The gateway can find out
instead: Studio allows one active execution per contact and flow, and the
flow's executions list, newest first and filtered by `DateCreatedFrom`, shows
what was created since the send. One page of it, read once within its own
bound, decides:

- exactly one execution for the contact since the send: that is the one the
  create started, and the create answers with it;
- none, and nothing else that could be it: Twilio had not carried the create
  out when the gateway looked (`NotCreated`: failed, safe to try again);
- anything else (several for the contact, list entries without an address,
  more than a page since the send, or the list read failed): the outcome is
  unknown (`CreateOutcomeUnknown`), naming the execution to check (the
  newest that may be it) when there is one.

The POST itself is never sent again. Addresses are compared as Twilio may
write them back (spaces, dashes, dots, brackets and case ignored), and never
logged or put in a message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Final

from gateway.studio.errors import CreateOutcomeUnknown, NotCreated, StudioError
from gateway.studio.records import Execution, Page
from gateway.studio.scope import call_scope, current_scope

#: How far before our clock's send time an execution may be dated and still be
#: the create's: Studio dates carry whole seconds, and its clock and ours differ.
CLOCK_SKEW: Final = timedelta(seconds=2)
#: The most executions one look reads: Twilio's largest page.
LOOKUP_PAGE_SIZE: Final = 1000

ListSince = Callable[[datetime], Awaitable[Page[Execution]]]

_IGNORED = str.maketrans("", "", " -().\t")


async def find_created(
    list_since: ListSince, to: str, sent_at: datetime, error: StudioError, *, within: float
) -> Execution:
    """The execution a create without an answer started, or the error that says what is
    known (`NotCreated`, `CreateOutcomeUnknown`); `error` is the create's own failure.

    `list_since(when)` reads one page of the flow's executions created since
    `when`. It runs in a scope of its own, bounded by `within` seconds: the
    request's deadline may be what cut the create off. A request whose client
    has gone (its scope cancelled) gets `error` itself: nobody is waiting.
    """
    scope = current_scope()
    if scope is not None and scope.cancelled:
        raise error
    since = sent_at - CLOCK_SKEW
    try:
        with call_scope(within, detached=True):
            page = await list_since(since)
    except StudioError:
        raise _unknown(error, None) from None
    recent = [e for e in page.items if e.date_created is None or e.date_created >= since]
    contact = _address(to)
    mine = [e for e in recent if e.contact_channel_address is not None]
    mine = [e for e in mine if _address(e.contact_channel_address) == contact]
    if len(mine) == 1:
        return mine[0]
    unaddressed = [e for e in recent if e.contact_channel_address is None]
    candidates = mine or unaddressed
    if candidates or page.meta.next_page_url:
        # Newest first: the newest is the likeliest to be the create's.
        raise _unknown(error, candidates[0].sid if candidates else None) from None
    raise NotCreated(
        "no execution for this contact started since the request, so Twilio did not "
        "create it; it is safe to try again",
        cause=error,
    ) from None


def _unknown(error: StudioError, execution_sid: str | None) -> CreateOutcomeUnknown:
    if execution_sid is not None:
        message = (
            f"Twilio did not say whether the execution was created; execution "
            f"{execution_sid} may be it: check it before trying again"
        )
    else:
        message = (
            "Twilio did not say whether the execution was created, and the gateway could "
            "not tell from the flow's executions: check them before trying again"
        )
    return CreateOutcomeUnknown(message, cause=error, execution_sid=execution_sid)


def _address(value: str | None) -> str:
    return (value or "").translate(_IGNORED).lower()
