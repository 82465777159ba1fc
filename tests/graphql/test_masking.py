"""What is not meant for clients is masked, with the request id; the detail is logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from graphql import GraphQLError
from graphql.execution import (
    InitialIncrementalExecutionResult,
    SubsequentIncrementalExecutionResult,
)
from strawberry.extensions import SchemaExtension

from gateway.emulator import Emulator
from gateway.graphql import Context
from gateway.graphql.schema import MASKED_MESSAGE, _client_error, build_schema
from gateway.loaders import Loaders
from gateway.observability import RequestInfo
from gateway.security.principal import EVERYONE
from gateway.studio import StudioClient


def test_an_unexpected_exception_is_masked_with_the_request_id_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    RequestInfo.begin("req-mask-1")
    crash = GraphQLError(
        "boom: +15005550006 said something private",
        path=["flows", "nodes", 0, "friendlyName"],
        original_error=RuntimeError("boom: +15005550006 said something private"),
    )
    with caplog.at_level(logging.ERROR, logger="gateway.graphql"):
        masked = _client_error(crash)
    assert masked.message == f"{MASKED_MESSAGE} (request id req-mask-1)"
    assert masked.extensions == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-mask-1"}
    assert masked.path == ["flows", "nodes", 0, "friendlyName"]
    logged = caplog.records[-1]
    assert (
        "RuntimeError" in logged.getMessage()
        and "flows.nodes.0.friendlyName" in logged.getMessage()
    )
    assert "+15005550006" not in caplog.text


def test_a_validation_error_keeps_its_message_and_gets_a_code() -> None:
    error = _client_error(GraphQLError("Cannot query field 'nope' on type 'Query'."))
    assert error.message == "Cannot query field 'nope' on type 'Query'."
    assert error.extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}


PHONE = "+1500" + "5550006"  # not spelled out: the logged frames show this file's lines


class _BrokenStatus(SchemaExtension):
    """A bug in the `status` resolver: it raises with a phone number in its message."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        if info.field_name == "status":
            raise RuntimeError(f"boom: {PHONE} said something private")
        return _next(root, info, *args, **kwargs)


async def test_an_unexpected_exception_in_a_deferred_part_is_masked_there_too(
    studio: StudioClient, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    schema = build_schema(extensions=[_BrokenStatus])
    flow, execution = emulator.seeded_handles.ended_execution
    context = Context(
        new_loaders=lambda: Loaders(studio), principal=EVERYONE, incremental_delivery=True
    )
    RequestInfo.begin("req-mask-2")

    with caplog.at_level(logging.ERROR, logger="gateway.graphql"):
        frames = await schema.stream(
            "query($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) { sid ... @defer { status } } }",
            {"f": flow, "e": execution},
            context_value=context,
        )
        first, *later = [frame async for frame in frames]

    assert isinstance(first, InitialIncrementalExecutionResult)
    assert first.data == {"execution": {"sid": execution}} and not first.errors
    # `status` is non-null: its error fails the deferred part whole (`completed` with errors).
    errors: list[GraphQLError] = []
    for frame in later:
        assert isinstance(frame, SubsequentIncrementalExecutionResult)
        for part in (*(frame.incremental or ()), *(frame.completed or ())):
            errors.extend(part.errors or ())
    (error,) = errors
    assert error.message == f"{MASKED_MESSAGE} (request id req-mask-2)"
    assert error.extensions == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-mask-2"}
    assert error.path == ["execution", "status"]
    assert "RuntimeError" in caplog.text and PHONE not in caplog.text
