"""What a seeded flow is made from."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gateway.emulator.records import Json


@dataclass(frozen=True, slots=True)
class Refs:
    """SIDs a definition points at that exist only once the account is seeded."""

    subflow_sid: str


@dataclass(frozen=True, slots=True)
class FlowTemplate:
    """A realistic flow: its definition at each revision, and how people use it.

    Attributes:
        build: the definition at a revision number; later revisions rename,
            add or reword widgets, as people editing a flow do.
        revisions: how many revisions the first copy of the flow gets.
        entry_events: trigger events that start its seeded executions, weighted.
        replies: what seeded contacts answer at each waiting widget.
        parameters: the `Parameters` a seeded REST-triggered execution was given.
        channel: "sms", "voice" or "es-sms": which numbers it sends from and to.
    """

    key: str
    friendly_name: str
    build: Callable[[int, Refs], Json]
    revisions: int
    entry_events: Sequence[tuple[str, float]]
    parameters: Callable[[random.Random], Json]
    channel: str
    commit_messages: Sequence[str]
    replies: Mapping[str, Sequence[str]] = field(default_factory=dict)
    latest_is_draft: bool = False
