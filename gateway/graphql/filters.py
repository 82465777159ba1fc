"""The arguments of `Flow.executions` as the loaders' `ExecutionFilters`.

Only what GraphQL knows is checked here (which argument is wrong); how Twilio
spells the filters (the lowercase `status`, the date format) is the client's.
"""

from __future__ import annotations

from datetime import datetime

from gateway import studio
from gateway.graphql.errors import bad_input
from gateway.graphql.scalars import ExecutionStatus
from gateway.loaders import ExecutionFilters


def execution_filters(
    status: ExecutionStatus | None, date_from: datetime | None, date_to: datetime | None
) -> ExecutionFilters:
    """The filters for `Flow.executions`' arguments; BAD_USER_INPUT naming a date without a zone."""
    for argument, value in (("dateCreatedFrom", date_from), ("dateCreatedTo", date_to)):
        if value is not None and value.tzinfo is None:
            # A date alone ("2024-05-01") parses as a naive midnight: the same fix.
            raise bad_input(
                f"{argument} needs a date, a time and a timezone, e.g. 2024-05-01T00:00:00Z",
                argument=argument,
            )
    return ExecutionFilters(
        status=None if status is None else studio.ExecutionStatus(status.value),
        date_created_from=date_from,
        date_created_to=date_to,
    )


def executions_list_id(flow_sid: str, filters: ExecutionFilters) -> str:
    """What a cursor of this flow's executions, so filtered, names its list by."""
    query = sorted(filters.query.items())
    return "executions:" + ":".join([flow_sid, *(f"{k}={v}" for k, v in query)])
