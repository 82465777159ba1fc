"""The schema extension that measures, logs and traces each GraphQL operation."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from graphql.execution import SubsequentIncrementalExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.execution import StreamExecutionResult

from gateway.observability.logs import log
from gateway.observability.requests import current_request, operation_name


class Observe(SchemaExtension):
    """One metric sample, one log line and one span per operation.

    An operation answered in parts (`@defer`, `@stream`) is one operation: it
    is measured to its last part, counts the upstream calls of every part, and
    reports the error codes of every part; it is reported even when the client
    goes away before the last part. The log line names each error code once, with
    how many errors carried it (`{"FORBIDDEN": 3}`), in the order they came.
    """

    def __init__(self, *, execution_context: ExecutionContext | None = None) -> None:
        #: The parts after the first, as they went out (their errors masked by then).
        self._later_parts: list[SubsequentIncrementalExecutionResult] = []

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        metrics = getattr(context, "metrics", None)
        tracing = getattr(context, "tracing", None)
        started = time.perf_counter()
        try:
            with ExitStack() as stack:
                span = stack.enter_context(tracing.operation()) if tracing is not None else None
                try:
                    yield
                finally:
                    if tracing is not None and span is not None:
                        tracing.name(span, self.execution_context.operation_name, self._kind())
        except Exception:
            raise  # about the request itself (answered with a 400): nothing ran
        except BaseException:
            # The client went away mid-answer: what ran still counts.
            self._report(metrics, time.perf_counter() - started)
            raise
        self._report(metrics, time.perf_counter() - started)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        if isinstance(result, SubsequentIncrementalExecutionResult):
            self._later_parts.append(result)
        yield

    def _report(self, metrics: Any, seconds: float) -> None:
        kind = self._kind()
        name = self.execution_context.operation_name
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

    def _error_codes(self) -> dict[str, int]:
        errors = list(getattr(self.execution_context, "pre_execution_errors", None) or [])
        result = self._result()
        if result is not None and getattr(result, "errors", None):
            errors.extend(result.errors)
        for later in self._later_parts:
            for part in (*(later.incremental or ()), *(later.completed or ())):
                errors.extend(part.errors or ())
        codes: dict[str, int] = {}
        # Strawberry may hand the same error object in both places: count each once.
        for error in {id(error): error for error in errors}.values():
            extensions = getattr(error, "extensions", None) or {}
            code = str(extensions.get("code", "GRAPHQL_VALIDATION_FAILED"))
            codes[code] = codes.get(code, 0) + 1
        return codes

    def _has_data(self) -> bool:
        result = self._result()
        return bool(result is not None and getattr(result, "data", None))
