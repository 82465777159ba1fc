"""Polling, where no Event Streams come: one execution's Steps list, read until it ends
(or, for `flowExecutions`, the newest page of a flow's executions).

One poller per watched execution in a process (`gateway.events.watch`), and one
across replicas: each round, the replica that would poll takes or renews a Redis
lease (`SET NX PX`, renewed only by its holder, in one Lua script); the others
wait and try again, and take over when the holder stops. Without Redis (none
configured, or it does not answer) each replica polls alone.

Each round fetches the execution, then its Steps list (in that order: once the
execution is seen ended, the list read after it holds every step), and publishes
a `StudioEvent` for each step not published before, oldest first, and the end.
While nothing changes the wait doubles, up to a cap; `poke` (an event was heard)
starts the next round at once. Credentials Twilio refuses (401/403) are never
tried again: `refused` gives other ones, or none, and then the poller gives its
lease up and stops. An execution that is gone (404: deleted, or past Twilio's 30
days) is told as `EXECUTION_GONE` (a flow, `FLOW_GONE`), and the poller stops.
Other failures (5xx, timeouts) are tried again each round; reads failing for
`PollPolicy.retry_for` seconds on end are told to `failing`, and the poller stops.

A watch also polls for a while where events normally come another way (see
`gateway.events.watch`): `alone_for` polls without the lease for some seconds,
`finish_after` polls until then and once more, then stops; a flow's poller given
`since` tells, in its first round, what started or ended since then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.events.model import (
    EXECUTION_ENDED,
    EXECUTION_GONE,
    EXECUTION_STARTED,
    FLOW_GONE,
    STEP_ENDED,
    StudioEvent,
)
from gateway.shared import SharedRedis
from gateway.shared.connection import RedisUnavailable
from gateway.studio import (
    MAX_PAGE_SIZE,
    Execution,
    ExecutionStatus,
    ExecutionStep,
    StudioClient,
    StudioError,
)

__all__ = ["Lease", "PollPolicy", "Poller"]

#: The newest executions of a flow a flow's poller reads each round.
_FLOW_PAGE = 50

logger = logging.getLogger("gateway.events")

#: Take the lease when free, renew it when ours; 1 when we hold it now.
_HOLD = """
local holder = redis.call('get', KEYS[1])
if not holder then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif holder == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often: `interval` at first and after a change, doubling to `max_interval`."""

    interval: float = 0.5
    max_interval: float = 8.0
    #: Seconds a lease lasts unrenewed (at least a few of the longest waits).
    lease: float = 10.0
    #: Seconds reads may keep failing (5xx, timeouts) before the poller gives up.
    retry_for: float = 60.0

    @property
    def lease_ms(self) -> int:
        return int(max(self.lease, 3 * self.max_interval) * 1000)


class Lease:
    """Who polls one execution across replicas."""

    def __init__(self, shared: SharedRedis, key: str, milliseconds: int) -> None:
        self.shared, self.key, self.milliseconds = shared, key, milliseconds
        self.token = uuid.uuid4().hex

    def __repr__(self) -> str:
        return f"Lease(key={self.key!r})"

    async def hold(self) -> bool:
        """Take or renew it; True when this replica should poll now."""
        try:
            held = await self.shared.run(
                lambda r: r.eval(_HOLD, 1, self.key, self.token, str(self.milliseconds))
            )
        except RedisUnavailable:
            return True  # alone, like every Redis-backed feature while Redis is away
        return bool(held)

    async def release(self) -> None:
        try:
            await self.shared.run(lambda r: r.eval(_RELEASE, 1, self.key, self.token))
        except RedisUnavailable:
            pass  # it expires


class Poller:
    """Polls one execution and publishes what changed, until it ends or is cancelled."""

    def __init__(
        self,
        client: StudioClient,
        flow_sid: str,
        execution_sid: str | None,
        *,
        publish: Callable[[StudioEvent], Awaitable[None]],
        policy: PollPolicy | None = None,
        shared: SharedRedis | None = None,
        refused: Callable[[StudioClient], StudioClient | None] = lambda client: None,
        failing: Callable[[StudioError], None] = lambda error: None,
        finishing: Callable[[], None] = lambda: None,
        since: datetime | None = None,
    ) -> None:
        self.client = client
        self.refused = refused
        #: Told the error when reads failed for `retry_for` seconds on end.
        self.failing = failing
        #: Called before the last round (`finish_after`).
        self.finishing = finishing
        #: A flow's first round tells what started or ended since then (None: nothing).
        self.since = since
        self.flow_sid, self.execution_sid = flow_sid, execution_sid
        self.publish = publish
        self.policy = policy or PollPolicy()
        account = client.credentials.account_sid
        self.lease = (
            Lease(
                shared,
                shared.key("poll", account, execution_sid or flow_sid),
                self.policy.lease_ms,
            )
            if shared is not None
            else None
        )
        #: Rounds this poller read the upstream in.
        self.polls = 0
        self._published: set[str] = set()
        #: The executions on the flow's newest page and their status (None before the
        #: first round).
        self._statuses: dict[str, ExecutionStatus] | None = None
        self._poked = asyncio.Event()
        #: The loop's clock: polling without the lease until, and the last round at.
        self._alone_until = 0.0
        self._finish_at: float | None = None

    def __repr__(self) -> str:
        watched = self.execution_sid or self.flow_sid
        return f"Poller(watched={watched!r}, polls={self.polls})"

    @property
    def remembered(self) -> int:
        """Executions whose status a flow's poller keeps (at most one page)."""
        return len(self._statuses or ())

    def poke(self) -> None:
        """Something changed (an event was heard): the next round starts now."""
        self._poked.set()

    def alone_for(self, seconds: float) -> None:
        """Poll for `seconds` whether or not this replica holds the lease, starting now."""
        self._alone_until = asyncio.get_running_loop().time() + seconds
        self.poke()

    def finish_after(self, seconds: float | None) -> None:
        """Poll on for `seconds`, then once more (after `finishing`), then stop; None
        polls on (even when the last round has begun)."""
        self._finish_at = None if seconds is None else asyncio.get_running_loop().time() + seconds

    async def run(self) -> None:
        clock = asyncio.get_running_loop().time
        wait = self.policy.interval
        ended = False
        #: When the reads began to fail (None while they succeed).
        failing_since: float | None = None
        try:
            while True:
                alone = clock() < self._alone_until
                if self.lease is not None and not alone and not await self.lease.hold():
                    await self._pause(self.policy.interval)  # another replica polls
                    continue
                last = self._finish_at is not None and clock() >= self._finish_at
                if last:
                    self.finishing()
                self._poked.clear()
                try:
                    changed, ended = await self.poll()
                    failing_since = None
                except StudioError as error:
                    watched = self.execution_sid or self.flow_sid
                    logger.warning("polling %s failed (%s)", watched, error.status)
                    if error.status in (401, 403):
                        replacement = self.refused(self.client)
                        if replacement is None:
                            return  # the lease is released: a replica with good ones polls
                        self.client = replacement
                        continue
                    changed, ended = False, await self._gone(error)
                    if not ended:
                        failing_since = clock() if failing_since is None else failing_since
                        if clock() - failing_since >= self.policy.retry_for:
                            self.failing(error)
                            return
                if ended or (last and self._finish_at is not None):
                    return
                wait = self.policy.interval if changed else min(wait * 2, self.policy.max_interval)
                await self._pause(wait)
        finally:
            # An ended execution's lease is left to expire: no replica polls it again.
            if self.lease is not None and not ended:
                await asyncio.shield(self.lease.release())

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, less when poked or when the last round is due."""
        if self._finish_at is not None:
            seconds = min(seconds, max(0.0, self._finish_at - asyncio.get_running_loop().time()))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._poked.wait()

    async def poll(self) -> tuple[bool, bool]:
        """One round: (whether anything new was published, whether the execution ended)."""
        self.polls += 1
        if self.execution_sid is None:
            return await self._poll_flow(), False
        return await self._poll_execution(self.execution_sid)

    async def _poll_execution(self, sid: str) -> tuple[bool, bool]:
        execution = await self.client.fetch_execution(self.flow_sid, sid)
        steps = [
            s
            async for s in self.client.iter_execution_steps(
                self.flow_sid, sid, page_size=MAX_PAGE_SIZE
            )
        ]
        steps.reverse()  # the list is most recent first
        fresh = [s for s in steps if s.sid not in self._published]
        for step in fresh:
            self._published.add(step.sid)
            await self.publish(
                self._event(STEP_ENDED, f"poll:{step.sid}", sid, step.date_created, step=step)
            )
        ended = execution.status is ExecutionStatus.ENDED
        if ended:
            when = execution.date_updated or execution.date_created
            await self.publish(
                self._event(EXECUTION_ENDED, f"poll:{sid}:ended", sid, when, execution=execution)
            )
        return bool(fresh), ended

    async def _gone(self, error: StudioError) -> bool:
        """Whether the watched execution (or flow) is gone; if so, its subscribers are told."""
        if error.status != 404:
            return False
        sid = self.execution_sid
        if sid is None:  # the flow's; no execution
            event = self._event(FLOW_GONE, f"poll:{self.flow_sid}:gone", "", None)
        else:
            event = self._event(EXECUTION_GONE, f"poll:{sid}:gone", sid, None)
        await self.publish(event)
        return True

    async def _poll_flow(self) -> bool:
        """The newest page of the flow's executions: those that started or ended since."""
        page = await self.client.list_executions(self.flow_sid, page_size=_FLOW_PAGE)
        known = self._statuses
        # Only the newest page's: what fell off it is never listed (nor told) again.
        self._statuses = {execution.sid: execution.status for execution in page.items}
        since = self.since
        if known is None and since is None:
            return False  # what was there when the watch began is no news
        changed = False
        for execution in reversed(page.items):  # oldest first
            if known is None:
                if since is None or not _changed_since(execution, since):
                    continue
            elif known.get(execution.sid) is execution.status:
                continue
            changed = True
            ended = execution.status is ExecutionStatus.ENDED
            kind = EXECUTION_ENDED if ended else EXECUTION_STARTED
            when = (execution.date_updated if ended else None) or execution.date_created
            event_id = f"poll:{execution.sid}:{'ended' if ended else 'started'}"
            await self.publish(
                self._event(kind, event_id, execution.sid, when, execution=execution)
            )
        return changed

    def _event(
        self,
        kind: str,
        event_id: str,
        execution_sid: str,
        when: datetime | None,
        *,
        step: ExecutionStep | None = None,
        execution: Execution | None = None,
    ) -> StudioEvent:
        return StudioEvent(
            id=event_id,
            type=kind,
            time=when or datetime.now(UTC),
            account_sid=self.client.credentials.account_sid,
            flow_sid=self.flow_sid,
            execution_sid=execution_sid,
            execution=execution,
            step=step,
        )


def _changed_since(execution: Execution, since: datetime) -> bool:
    """Whether `execution` started, or (ended) ended, at or after `since`."""
    if execution.status is ExecutionStatus.ENDED:
        when = execution.date_updated or execution.date_created
    else:
        when = execution.date_created
    return when is not None and when >= since
