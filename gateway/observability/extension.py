"""The schema extension that measures, logs and traces each GraphQL operation."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from strawberry.extensions import SchemaExtension

from gateway.observability.logs import log
from gateway.observability.requests import current_request, operation_name


class Observe(SchemaExtension):
    """One metric sample, one log line and one span per operation."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        metrics = getattr(context, "metrics", None)
        tracing = getattr(context, "tracing", None)
        started = time.perf_counter()
        with ExitStack() as stack:
            span = stack.enter_context(tracing.operation()) if tracing is not None else None
            yield
            kind = self._kind()
            name = self.execution_context.operation_name
            if span is not None and tracing is not None:
                tracing.name(span, name, kind)
        seconds = time.perf_counter() - started
        codes = self._error_codes()
        outcome = "ok" if not codes else ("partial" if self._has_data() else "error")
        if metrics is not None:
            metrics.observe_operation(name, kind, outcome, seconds)
        info = current_request()
        if info is not None:
            info.operations.append(operation_name(name))
        log(
            logging.INFO,
            "graphql operation",
            operation=operation_name(name),
            type=kind,
            outcome=outcome,
            duration_ms=round(seconds * 1000, 1),
            upstream_calls=info.upstream_calls if info is not None else None,
            error_codes=codes,
        )

    def _kind(self) -> str:
        try:
            kind = self.execution_context.operation_type
        except Exception:  # an unparsable document has no type
            return "unknown"
        value = getattr(kind, "value", kind)
        return str(value).lower() if value else "unknown"

    def _result(self) -> Any:
        return getattr(self.execution_context, "result", None)

    def _error_codes(self) -> list[str]:
        errors = list(getattr(self.execution_context, "pre_execution_errors", None) or [])
        result = self._result()
        if result is not None and getattr(result, "errors", None):
            errors.extend(result.errors)
        codes = []
        for error in errors:
            extensions = getattr(error, "extensions", None) or {}
            codes.append(str(extensions.get("code", "GRAPHQL_VALIDATION_FAILED")))
        return codes

    def _has_data(self) -> bool:
        result = self._result()
        return bool(result is not None and getattr(result, "data", None))
