"""Seeding an account with realistic, reproducible history.

Flows come from the catalog in order (survey, IVR, reminder, the verification
subflow, the Spanish survey, the order bot, then again with numbered names).
Each gets several revisions spread over the last month, and executions spread
over the last ~25 days, each run on the revision published at the time, by the
same runner the REST API uses, with simulated contacts answering. Recent
executions may still be waiting for an answer (active); older ones have ended.
Everything is drawn from one seeded generator, against a fixed `now`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from gateway.emulator import sids
from gateway.emulator.catalog import CATALOG, HANDLED_FLOWS, FlowTemplate, Refs
from gateway.emulator.catalog.care import VERIFY
from gateway.emulator.catalog.people import Channel, channel_for
from gateway.emulator.context import base_context
from gateway.emulator.handles import (
    ActiveExecutionHandle,
    ExecutionHandle,
    SeededHandles,
    StepHandle,
)
from gateway.emulator.records import ExecutionRecord, FlowRecord, Json, RevisionRecord
from gateway.emulator.runner import FlowRun, RunOutcome, RunSettings
from gateway.emulator.state import AccountState

_DAY: Final = 86400
_HISTORY_DAYS: Final = 25
_INITIATOR_PREFIX: Final = {
    "incomingRequest": sids.REQUEST,
    "incomingMessage": sids.MESSAGE,
    "incomingCall": sids.CALL,
}
_FIRST_WORDS: Final = ("Hi", "ORDER", "Hello", "help", "hola", "status")


@dataclass(frozen=True, slots=True)
class SeedSizes:
    flows: int
    executions_per_flow: int
    steps_per_execution: int

    @property
    def has_handles(self) -> bool:
        """Whether the account is big enough to hold every seeded handle."""
        return (
            self.flows >= HANDLED_FLOWS
            and self.executions_per_flow >= 3
            and self.steps_per_execution >= 3
        )


def seed_account(account: AccountState, *, seed: int, sizes: SeedSizes, now: datetime) -> None:
    """Fill `account` with seeded history and, when it is big enough, name its handles."""
    if sizes.flows <= 0:
        return
    rng = random.Random(seed)
    seeder = _Seeder(account, rng, sizes, now)
    seeder.create_flows()
    seeder.create_executions()
    if sizes.has_handles:
        account.handles = seeder.handles()


class _Seeder:
    def __init__(
        self, account: AccountState, rng: random.Random, sizes: SeedSizes, now: datetime
    ) -> None:
        self.account = account
        self.rng = rng
        self.sizes = sizes
        self.now = now
        self.users = [account.sid_factory.new(sids.USER) for _ in range(4)]
        self.templates = [CATALOG[i % len(CATALOG)] for i in range(sizes.flows)]
        self.flow_sids = [account.sid_factory.new(sids.FLOW) for _ in self.templates]

    def create_flows(self) -> None:
        days_ago = sorted(
            (self.rng.randint(40, 400) * _DAY + self.rng.randint(0, _DAY) for _ in self.templates),
            reverse=True,
        )
        for index, template in enumerate(self.templates):
            created = self.now - timedelta(seconds=days_ago[index])
            self._create_flow(index, template, created)

    def _create_flow(self, index: int, template: FlowTemplate, created: datetime) -> None:
        cycle = index // len(CATALOG)
        name = template.friendly_name if cycle == 0 else f"{template.friendly_name} #{cycle + 1}"
        count = template.revisions if cycle == 0 else self.rng.randint(2, 4)
        refs = Refs(subflow_sid=self._subflow_for(index))
        window_start = max(created, self.now - timedelta(days=_HISTORY_DAYS + 5))
        span = max(1, int((self.now - window_start).total_seconds()) - 3600)
        later = sorted(
            window_start + timedelta(seconds=self.rng.randint(0, span)) for _ in range(count - 1)
        )
        revisions = []
        for number, date_created in enumerate([created, *later], start=1):
            status = "draft" if number % 3 == 0 else "published"
            if number == 1 or (number == count and not template.latest_is_draft):
                status = "published"
            elif number == count:
                status = "draft"
            messages = template.commit_messages
            revisions.append(
                RevisionRecord(
                    revision=number,
                    friendly_name=name,
                    definition=template.build(number, refs),
                    status=status,
                    commit_message=(
                        None if self.rng.random() < 0.15 else messages[(number - 1) % len(messages)]
                    ),
                    author_sid=self.rng.choice(self.users),
                    date_created=date_created,
                )
            )
        flow = FlowRecord(
            sid=self.flow_sids[index],
            account_sid=self.account.account_sid,
            date_created=created,
            seq=self.account.next_seq(),
            revisions=revisions,
            date_updated=revisions[-1].date_created if count > 1 else None,
            test_users=["+14155550100", "client:qa_ana"] if template.key == "survey" else [],
        )
        self.account.flows[flow.sid] = flow

    def _subflow_for(self, index: int) -> str:
        """The verification subflow nearest to flow `index`, or a SID that resolves to none."""
        positions = [i for i, t in enumerate(self.templates) if t is VERIFY]
        if not positions:
            return sids.fixed_sid(sids.FLOW, "no-such-subflow")
        cycle_start = index - index % len(CATALOG)
        same_cycle = [i for i in positions if i >= cycle_start]
        return self.flow_sids[(same_cycle or positions)[0]]

    def create_executions(self) -> None:
        for index, template in enumerate(self.templates):
            flow = self.account.flows[self.flow_sids[index]]
            channel = channel_for(template.channel, self.rng, self.sizes.executions_per_flow)
            starts = sorted(
                self.now - timedelta(seconds=self.rng.randint(120, _HISTORY_DAYS * _DAY))
                for _ in range(self.sizes.executions_per_flow)
            )
            # The survey's newest execution waits for an answer: the handle for 409 tests.
            force_active = index == 0 and self.sizes.has_handles
            if force_active:
                starts[-1] = self.now - timedelta(seconds=self.rng.randint(120, 3600))
            active_pairs: set[tuple[str, str]] = set()
            for position, started in enumerate(starts):
                last = position == len(starts) - 1
                self._create_execution(
                    flow, template, channel, started, active_pairs, force_active and last
                )

    def _create_execution(
        self,
        flow: FlowRecord,
        template: FlowTemplate,
        channel: Channel,
        started: datetime,
        active_pairs: set[tuple[str, str]],
        force_active: bool,
    ) -> None:
        rng = self.rng
        revision = _published_at(flow, started)
        entry = "incomingRequest"
        if not force_active:
            events, weights = zip(*template.entry_events, strict=True)
            entry = rng.choices(events, weights=weights)[0]
        recent = (self.now - started).total_seconds() < 2 * _DAY
        share = 0.25 if template.key == "order_bot" else 0.0
        to, from_ = channel.pick(rng, whatsapp_share=share)
        while recent and (to, from_) in active_pairs:
            to = channel.fresh(rng)
        initiated_by = self.account.sid_factory.new(_INITIATOR_PREFIX.get(entry, sids.REQUEST))
        parameters = template.parameters(rng) if entry == "incomingRequest" else {}
        context = base_context(
            trigger=self._trigger(entry, initiated_by, parameters, to, from_),
            parameters=parameters,
            contact_address=to,
            channel_address=from_,
        )
        execution = ExecutionRecord(
            sid=self.account.sid_factory.new(sids.EXECUTION),
            account_sid=self.account.account_sid,
            flow_sid=flow.sid,
            contact_channel_address=to,
            channel_address=from_,
            contact_sid=self.account.contact_sid(flow.sid, to),
            flow_version=revision.revision,
            status="ended",
            initiated_by=initiated_by,
            date_created=started,
            seq=self.account.next_seq(),
            base_context=context,
        )
        pending = 1.0 if force_active else (0.5 if recent else 0.0)
        result = FlowRun(
            revision.compiled(),
            base_context=context,
            entry_event=entry,
            started_at=started,
            rng=rng,
            sid_factory=self.account.sid_factory,
            next_seq=self.account.next_seq,
            subflows=self.account.resolve_subflow,
            settings=RunSettings(
                max_steps=self.sizes.steps_per_execution,
                resolve_waits=True,
                pending_wait_chance=pending,
                replies=template.replies,
                paced=True,
                latest=self.now,
            ),
        ).run()
        execution.steps = result.steps
        active = result.outcome is RunOutcome.WAITING or (
            result.outcome is RunOutcome.CAPPED and pending > 0 and rng.random() < 0.5
        )
        if active:
            execution.status = "active"
            active_pairs.add((to, from_))
            execution.date_updated = None if rng.random() < 0.3 else result.finished_at
        else:
            execution.date_updated = None if rng.random() < 0.1 else result.finished_at
        flow.executions[execution.sid] = execution

    def _trigger(
        self, entry: str, initiated_by: str, parameters: Json, to: str, from_: str
    ) -> Json:
        if entry == "incomingMessage":
            return {
                "message": {
                    "Body": self.rng.choice(_FIRST_WORDS),
                    "From": to,
                    "To": from_,
                    "MessageSid": initiated_by,
                    "AccountSid": self.account.account_sid,
                    "ChannelPrefix": "whatsapp" if to.startswith("whatsapp:") else "SMS",
                    "NumMedia": "0",
                    "ApiVersion": "2010-04-01",
                }
            }
        if entry == "incomingCall":
            return {
                "call": {
                    "CallSid": initiated_by,
                    "From": to,
                    "To": from_,
                    "Caller": to,
                    "Called": from_,
                    "CallStatus": "ringing",
                    "Direction": "inbound",
                    "AccountSid": self.account.account_sid,
                    "ApiVersion": "2010-04-01",
                }
            }
        return {"request": {"parameters": parameters}}

    def handles(self) -> SeededHandles | None:
        flows = [self.account.flows[sid] for sid in self.flow_sids]
        survey, ivr, reminder, verify, spanish = flows[:HANDLED_FLOWS]
        survey_runs = list(survey.executions.values())
        active = survey_runs[-1]
        missing = _step_with_missing_widget(survey, survey_runs[0])
        without_steps = next(iter(ivr.executions.values()))
        without_steps.steps = []
        without_steps.status = "ended"
        without_steps.date_updated = None
        ended = next(
            (e for e in reminder.executions.values() if e.status == "ended"),
            next(e for f in flows for e in f.executions.values() if e.status == "ended"),
        )
        subflow_step = _subflow_step([reminder, *flows])
        if missing is None or subflow_step is None or active.status != "active":
            return None
        return SeededHandles(
            survey_flow_sid=survey.sid,
            ivr_flow_sid=ivr.sid,
            reminder_flow_sid=reminder.sid,
            subflow_flow_sid=verify.sid,
            non_ascii_flow_sid=spanish.sid,
            flow_with_many_revisions_sid=ivr.sid,
            draft_pending_flow_sid=ivr.sid,
            execution_without_steps=ExecutionHandle(ivr.sid, without_steps.sid),
            subflow_step=subflow_step,
            step_with_missing_widget=missing,
            active_execution=ActiveExecutionHandle(
                survey.sid, active.sid, active.contact_channel_address, active.channel_address
            ),
            ended_execution=ExecutionHandle(reminder.sid, ended.sid),
        )


def _published_at(flow: FlowRecord, moment: datetime) -> RevisionRecord:
    """The revision an execution started at `moment` ran on."""
    published = [rev for rev in flow.revisions if rev.status == "published"]
    current = [rev for rev in published if rev.date_created <= moment]
    return (current or published)[-1]


def _step_with_missing_widget(flow: FlowRecord, execution: ExecutionRecord) -> StepHandle | None:
    """Point the execution's last step at a widget its revision lacks (a log gap)."""
    if not execution.steps:
        return None
    ran_on = flow.revisions[execution.flow_version - 1].compiled().widgets
    newer = sorted(set(flow.latest.compiled().widgets) - set(ran_on))
    step = execution.steps[-1]
    step.transitioned_to = newer[0] if newer else "legacy_opt_out"
    return StepHandle(flow.sid, execution.sid, step.sid)


def _subflow_step(flows: list[FlowRecord]) -> StepHandle | None:
    for flow in flows:
        for execution in reversed(flow.executions.values()):
            for step in execution.steps:
                if step.parent_step_sid is not None:
                    return StepHandle(flow.sid, execution.sid, step.sid)
    return None
