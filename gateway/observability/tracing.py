"""OpenTelemetry tracing, when installed (`studio-gateway[otel]`) and configured.

On when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: one span per GraphQL operation,
with a child span per upstream attempt. Spans carry operation names, route
templates and statuses; never variables, contexts or addresses.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

from gateway.studio import Attempt


class Tracing:
    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Tracing | None:
        """Tracing that exports over OTLP/HTTP, or None when it is not configured."""
        if not environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            return None
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as error:
            raise RuntimeError(
                "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed: "
                "pip install 'studio-gateway[otel]'"
            ) from error
        name = environ.get("OTEL_SERVICE_NAME", "studio-gateway")
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return cls(provider.get_tracer("studio-gateway"))

    @contextlib.contextmanager
    def operation(self) -> Iterator[Any]:
        """The span of one GraphQL operation, current while it runs.

        The document is parsed inside the span, so `name` it once it is known.
        """
        with self.tracer.start_as_current_span("graphql") as span:
            yield span

    @staticmethod
    def name(span: Any, name: str | None, kind: str) -> None:
        span.update_name(f"graphql {kind} {name or 'anonymous'}")
        span.set_attribute("graphql.operation.type", kind)
        span.set_attribute("graphql.operation.name", name or "")

    def observe_attempt(self, attempt: Attempt) -> None:
        """A child span for an upstream attempt that just ended, under the current span."""
        from opentelemetry import trace

        parent = trace.get_current_span()
        if not parent.get_span_context().is_valid:
            return
        end = time.time_ns()
        span = self.tracer.start_span(
            attempt.operation,
            start_time=end - int(attempt.duration * 1e9),
            attributes={
                "http.request.method": attempt.operation.split(" ", 1)[0],
                "url.template": attempt.operation.split(" ", 1)[-1],
                "http.response.status_code": attempt.status or 0,
                "studio.attempt": attempt.attempt,
                "studio.outcome": attempt.outcome,
            },
        )
        span.end(end_time=end)
