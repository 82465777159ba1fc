"""One account's data: its flows (with their revisions, executions and steps)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from gateway.emulator import sids
from gateway.emulator.definition import CompiledFlow
from gateway.emulator.handles import SeededHandles
from gateway.emulator.paging import PageTokens
from gateway.emulator.records import ExecutionRecord, FlowRecord


@dataclass(eq=False)
class AccountState:
    """Everything one account owns. Another account can see none of it.

    `flows` is in creation order. `rng` and `sid_factory` are seeded, so what
    an account does is reproducible from its seed and the requests it gets.
    """

    account_sid: str
    auth_token: str
    rng: random.Random
    sid_factory: sids.SidFactory
    flows: dict[str, FlowRecord] = field(default_factory=dict)
    tokens: PageTokens = field(default_factory=PageTokens)
    # One contact SID per (flow, contact address), as Studio keeps per-flow contacts.
    contacts: dict[tuple[str, str], str] = field(default_factory=dict)
    handles: SeededHandles | None = None
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def create(cls, account_sid: str, auth_token: str, seed: int) -> AccountState:
        return cls(
            account_sid=account_sid,
            auth_token=auth_token,
            rng=random.Random(seed),
            sid_factory=sids.SidFactory(random.Random(f"sids:{seed}")),
        )

    def next_seq(self) -> int:
        return next(self._seq)

    def execution(self, flow_sid: str, execution_sid: str) -> ExecutionRecord | None:
        flow = self.flows.get(flow_sid)
        return None if flow is None else flow.executions.get(execution_sid)

    def contact_sid(self, flow_sid: str, address: str) -> str:
        key = (flow_sid, address)
        if key not in self.contacts:
            self.contacts[key] = self.sid_factory.new(sids.CONTACT)
        return self.contacts[key]

    def resolve_subflow(self, flow_sid: str, revision: Any) -> CompiledFlow | None:
        """The definition a run-subflow widget names: "LatestPublished" or a number."""
        flow = self.flows.get(flow_sid)
        if flow is None:
            return None
        if isinstance(revision, int) or (isinstance(revision, str) and revision.isdigit()):
            record = flow.find_revision(int(revision))
        else:
            record = flow.latest_published()
        return None if record is None else record.compiled()
