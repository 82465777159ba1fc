"""Request ids, metrics, logs and traces: what an operator sees, and what never shows."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import gateway
from gateway.app import create_app
from gateway.emulator import DEMO_AUTH_TOKEN, Emulator
from gateway.observability import Metrics, configure_logging
from gateway.observability.logs import log
from gateway.observability.tracing import Tracing
from gateway.security.auth import new_key
from tests.support import (
    MULTIPART_ACCEPT,
    asgi_client,
    asgi_transport,
    gateway_process,
    gateway_settings,
    read_multipart,
    strings_in,
)

PII_QUERY = """query Detail($f: ID!) { flow(sid: $f) { friendlyName
  executions(first: 5) { nodes { sid contactChannelAddress context
    steps(first: 3) { nodes { name context } } } } } }"""


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    yield stream
    logger = logging.getLogger("gateway")
    logger.handlers[:] = [h for h in logger.handlers if not getattr(h, "_studio_gateway", False)]


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(gateway_settings(), transport=asgi_transport(emulator), metrics=Metrics())
    async with asgi_client(app) as client:
        yield client


def seeded_pii(emulator: Emulator, *responses: dict) -> set[str]:
    """Every contact address the seeded account holds, and every context value served."""
    values: set[str] = set()
    for flow in emulator.account(emulator.account_sid).flows.values():
        for execution in flow.executions.values():
            values.add(execution.contact_channel_address)
            values.update(strings_in(execution.base_context))
    for response in responses:
        for flow in [response["data"]["flow"]]:
            for execution in flow["executions"]["nodes"]:
                values.update(strings_in(execution["context"]))
                for step in execution["steps"]["nodes"]:
                    values.update(strings_in(step["context"]))
    # Short strings ("sent", "yes") are widget words, not personal data.
    return {v for v in values if isinstance(v, str) and len(v) >= 8}


async def test_every_response_carries_a_request_id_and_keeps_the_clients(
    http: httpx.AsyncClient,
) -> None:
    mine = await http.get("/healthz", headers={"X-Request-ID": "trace-me-123"})
    assert mine.headers["x-request-id"] == "trace-me-123"
    generated = await http.post("/graphql", json={"query": "{ flows { nodes { sid } } }"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    hostile = await http.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert len(hostile.headers["x-request-id"]) == 32


async def test_metrics_count_operations_and_upstream_calls_with_bounded_labels(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    served = await http.post("/graphql", json={"query": PII_QUERY, "variables": {"f": flow_sid}})
    await http.post("/graphql", json={"query": "{ flows { nodes { sid } } }"})
    text = (await http.get("/metrics")).text

    assert (
        'studio_gateway_graphql_requests_total{operation="Detail",outcome="ok",type="query"} 1.0'
        in text
    )
    assert 'operation="anonymous"' in text
    assert (
        'studio_gateway_upstream_calls_total{operation="GET /v2/Flows/{Sid}",retry="false",status="200"} 1.0'
        in text
    )
    assert "studio_gateway_dataloader_batch_size_bucket" in text
    assert "studio_gateway_upstream_in_flight" in text
    assert not re.search(r"(FW|FN|FT)[0-9a-f]{32}", text), "no SID may become a label"
    pii = seeded_pii(emulator, served.json())
    assert pii
    for secret in pii:
        assert secret not in text


async def test_logs_are_json_lines_per_operation_without_pii_or_secrets(
    http: httpx.AsyncClient, emulator: Emulator, captured_logs: io.StringIO
) -> None:
    flow_sid = emulator.seeded_handles.survey_flow_sid
    served = await http.post("/graphql", json={"query": PII_QUERY, "variables": {"f": flow_sid}})
    emulator.faults.enqueue("500", route="/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps")
    response = await http.post(
        "/graphql",
        json={"query": PII_QUERY, "variables": {"f": flow_sid}},
        headers={"X-Request-ID": "req-42"},
    )
    assert response.status_code == 200

    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    operation = next(
        line
        for line in lines
        if line["msg"] == "graphql operation" and line.get("request_id") == "req-42"
    )
    assert operation["operation"] == "Detail" and operation["type"] == "query"
    assert operation["upstream_calls"] >= 3
    assert isinstance(operation["duration_ms"], float)
    text = captured_logs.getvalue()
    assert DEMO_AUTH_TOKEN not in text and "Authorization" not in text
    assert flow_sid not in json.dumps(operation), "variables are never logged"
    failure = next(line for line in lines if line["msg"] == "upstream call failed")
    assert failure["request_id"] == "req-42" and failure["status"] == 500
    assert failure["operation"] == "GET /v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"
    assert operation["error_codes"] == {"UPSTREAM_UNAVAILABLE": len(response.json()["errors"])}
    assert operation["outcome"] == "partial"
    pii = seeded_pii(emulator, served.json())
    assert pii
    for secret in pii:
        assert secret not in text


async def test_probes_never_call_upstream_and_readiness_reports_the_upstream(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    await http.post("/graphql", json={"query": "{ flows { nodes { sid } } }"})
    emulator.reset_counters()
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["version"] == gateway.__version__
    assert body["upstream"]["credentials"] == "accepted"
    assert body["upstream"]["last_status"] == 200
    assert emulator.total_requests == 0


async def test_a_twilio_outage_is_reported_but_keeps_the_replica_ready(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.enqueue("503", count=5, route="/v2/Flows")
    await http.post("/graphql", json={"query": "{ flows { nodes { sid } } }"})
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["upstream"]["last_status"] == 503


async def test_a_span_per_operation_with_a_child_per_upstream_call(emulator: Emulator) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(
        gateway_settings(),
        transport=asgi_transport(emulator),
        tracing=Tracing(provider.get_tracer("test")),
    )
    async with asgi_client(app) as http:
        await http.post(
            "/graphql", json={"query": "query Two { flows(first: 2) { nodes { definition } } }"}
        )
    spans = exporter.get_finished_spans()
    (operation,) = [s for s in spans if s.name.startswith("graphql")]
    assert operation.name == "graphql query Two"
    children = [
        s for s in spans if s.parent is not None and s.parent.span_id == operation.context.span_id
    ]
    assert sorted(s.name for s in children) == [
        "GET /v2/Flows",
        "GET /v2/Flows/{Sid}",
        "GET /v2/Flows/{Sid}",
    ]
    assert all(s.attributes["http.response.status_code"] == 200 for s in children)


def access_lines(text: str) -> list[dict]:
    return [
        line
        for line in (json.loads(row) for row in text.splitlines() if row.startswith("{"))
        if line["msg"] == "request"
    ]


LOOKUP = "query Lookup($id: ID!) { node(id: $id) { id } }"
START = 'mutation Start($to: String!) { createExecution(flowSid: "FW00000000000000000000000000000000", to: $to, from: "+15005550001") { sid } }'


async def test_the_access_line_has_no_query_string_variables_or_unplain_names(
    http: httpx.AsyncClient, emulator: Emulator, captured_logs: io.StringIO
) -> None:
    phone = emulator.seeded_handles.active_execution.to
    variables = json.dumps({"id": phone, "to": phone})
    served = await http.get(
        "/graphql",
        params={"query": LOOKUP, "variables": variables},
        headers={"X-Request-ID": "req-get"},
    )
    refused = await http.get("/graphql", params={"query": START, "variables": variables})
    # A client's operationName need not name anything; a phone number is not written.
    unknown = await http.post(
        "/graphql",
        json={"query": LOOKUP, "variables": {"id": phone}, "operationName": phone},
        headers={"Accept": "application/graphql-response+json"},
    )
    assert (served.status_code, refused.status_code, unknown.status_code) == (200, 405, 400)

    text = captured_logs.getvalue()
    lines = access_lines(text)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/graphql", 200),
        ("GET", "/graphql", 405),
        ("POST", "/graphql", 400),
    ]
    assert lines[0]["request_id"] == "req-get" and lines[0]["operation"] == "Lookup"
    assert lines[1]["operation"] is None and lines[2]["operation"] is None
    assert all(isinstance(line["duration_ms"], float) for line in lines)
    assert phone not in text and phone.lstrip("+") not in text
    assert "variables" not in text and "?" not in text


async def test_a_path_with_control_characters_stays_on_one_line(
    http: httpx.AsyncClient, captured_logs: io.StringIO
) -> None:
    await http.get("/nowhere%0Afake%20line")
    (line,) = access_lines(captured_logs.getvalue())
    assert line["path"] == "/nowhere\\nfake line" and line["status"] == 404


def test_serve_writes_its_own_access_line_and_never_the_query_string(
    upstream: str, emulator: Emulator
) -> None:
    phone = emulator.seeded_handles.active_execution.to
    variables = json.dumps({"id": phone, "to": phone})
    with gateway_process(upstream, STUDIO_GATEWAY_LOG_LEVEL="info") as gateway:
        served = httpx.get(
            f"{gateway.url}/graphql", params={"query": LOOKUP, "variables": variables}
        )
        refused = httpx.get(
            f"{gateway.url}/graphql", params={"query": START, "variables": variables}
        )
        assert gateway.stop() == 0
        text = gateway.log()
    assert (served.status_code, refused.status_code) == (200, 405)
    lines = [line for line in access_lines(text) if line["path"] == "/graphql"]
    assert [(line["method"], line["status"]) for line in lines] == [("GET", 200), ("GET", 405)]
    assert lines[0]["operation"] == "Lookup"
    # Neither the number nor the query string, raw or URL-encoded, from any logger.
    assert phone.lstrip("+") not in text
    assert "query=" not in text and "variables" not in text


async def test_the_operation_log_names_each_error_code_once_with_its_count(
    emulator: Emulator, captured_logs: io.StringIO
) -> None:
    key, digest = new_key()
    keys = json.dumps(
        [{"name": "reader", "sha256": digest, "scopes": ["flows:read", "executions:read"]}]
    )
    app = create_app(
        gateway_settings(auth="api_keys", api_keys=keys), transport=asgi_transport(emulator)
    )
    flow_sid = emulator.seeded_handles.survey_flow_sid
    async with asgi_client(app) as http:
        response = await http.post(
            "/graphql",
            json={"query": PII_QUERY, "variables": {"f": flow_sid}},
            headers={"X-API-Key": key, "X-Request-ID": "req-codes"},
        )
    errors = response.json()["errors"]
    # Without pii:read every context and contact address is FORBIDDEN: many errors, one code.
    assert len(errors) > 2 and {e["extensions"]["code"] for e in errors} == {"FORBIDDEN"}
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    (operation,) = [
        line
        for line in lines
        if line["msg"] == "graphql operation" and line.get("request_id") == "req-codes"
    ]
    assert operation["error_codes"] == {"FORBIDDEN": len(errors)}
    assert operation["outcome"] == "partial"


def test_a_text_log_line_names_each_error_code_once_with_its_count() -> None:
    stream = io.StringIO()
    configure_logging("info", "text", stream=stream)
    try:
        log(logging.INFO, "graphql operation", error_codes={"FORBIDDEN": 3, "NOT_FOUND": 1})
    finally:
        logger = logging.getLogger("gateway")
        logger.handlers[:] = [
            h for h in logger.handlers if not getattr(h, "_studio_gateway", False)
        ]
    assert stream.getvalue().strip().endswith("error_codes=FORBIDDEN:3,NOT_FOUND:1")


async def test_a_deferred_operation_is_one_operation_measured_to_its_last_part(
    http: httpx.AsyncClient, emulator: Emulator, captured_logs: io.StringIO
) -> None:
    flow, execution = emulator.seeded_handles.ended_execution
    emulator.faults.enqueue(
        "500", count=3, route="/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"
    )
    emulator.reset_counters()
    response = await http.post(
        "/graphql",
        json={
            "query": """query Deferred($f: ID!, $e: ID!) { execution(flowSid: $f, sid: $e) {
                sid ... @defer { steps(first: 3) { nodes { name } } } } }""",
            "variables": {"f": flow, "e": execution},
        },
        headers={"Accept": MULTIPART_ACCEPT, "X-Request-ID": "req-deferred"},
    )
    parts = await read_multipart(response)

    assert len(parts) == 2 and "errors" not in parts[0]
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    (operation,) = [
        line
        for line in lines
        if line["msg"] == "graphql operation" and line.get("request_id") == "req-deferred"
    ]
    assert operation["operation"] == "Deferred"
    # The execution, then the steps list the deferred part asked for.
    assert operation["upstream_calls"] == emulator.total_requests >= 2
    assert operation["error_codes"] == {"UPSTREAM_UNAVAILABLE": 1}, "the deferred part's error"
    assert operation["outcome"] == "partial"
    metrics = (await http.get("/metrics")).text
    assert 'operation="Deferred",outcome="partial"' in metrics
