"""What is not meant for clients is masked, with the request id; the detail is logged."""

from __future__ import annotations

import logging

import pytest
from graphql import GraphQLError

from gateway.graphql.schema import MASKED_MESSAGE, _client_error
from gateway.observability import RequestInfo


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
