"""Scalars and enums of the schema."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.scalars import JSON

__all__ = ["JSON", "ExecutionStatus", "FlowStatus", "RevisionAlias"]


@strawberry.enum(description="Whether a flow (or revision) is a draft or published.")
class FlowStatus(Enum):
    DRAFT = "draft"
    PUBLISHED = "published"


@strawberry.enum(description="Whether an execution is still running.")
class ExecutionStatus(Enum):
    ACTIVE = "active"
    ENDED = "ended"


@strawberry.enum(description="The revisions Studio names rather than numbers.")
class RevisionAlias(Enum):
    LATEST_PUBLISHED = "LatestPublished"
    LATEST_REVISION = "LatestRevision"
