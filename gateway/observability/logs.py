"""Structured logs: one JSON object per line.

Callers pass only what is safe to keep: ids, names, codes, durations. The
formatter adds nothing from the request (no headers, no variables).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Literal

from gateway.observability.requests import current_request

LOGGER = "gateway"

#: What each field of a log line means: those every JSON line has, then those the
#: structured lines (`log(...)`) add. The docs' log reference is generated from this,
#: and a test fails when a line writes a field not described here.
FIELDS: dict[str, str] = {
    "ts": "When, in UTC, to the millisecond (ISO 8601).",
    "level": "`debug`, `info`, `warning` or `error`.",
    "logger": "Which part of the gateway wrote it (`gateway.requests`, `gateway.events`, …).",
    "msg": "What happened.",
    "request_id": "The request's id: the client's `X-Request-ID`, or a new one (echoed back).",
    "exception": "The exception's class, on a line about a failure.",
    "traceback": "The frames of that exception (never its message, which may hold data).",
    "method": "The HTTP method.",
    "path": "The path, without the query string (which may hold variables), at most 200 "
    "characters.",
    "status": "The HTTP status answered (`request`), or Twilio's (`upstream call failed`); "
    "null when the client left first.",
    "duration_ms": "How long it took, in milliseconds.",
    "operation": "The GraphQL operation's name when it is a plain name (`request`, "
    "`graphql operation`), or the upstream call's route template (`upstream call failed`).",
    "type": "`query`, `mutation` or `subscription`.",
    "outcome": "`ok`, `partial` (data and errors) or `error`; for an upstream call, why it failed.",
    "upstream_calls": "Calls made to Twilio for this request.",
    "error_codes": "Each error code the operation answered, once, with how many errors "
    'carried it: `{"FORBIDDEN": 2}`.',
    "attempt": "Which attempt of the upstream call this was (1 is the first).",
    "will_retry": "Whether the transport will try the call again.",
    "drain_seconds": "How long the replica keeps serving, with /readyz at 503, after SIGTERM.",
    "timeout_s": "The header timeout that passed, in seconds.",
    "host": "The address a listener of the process (the admin port) is bound to.",
    "port": "The port that listener is bound to.",
    "min_body_rate": "The body rate, in bytes a second, the client fell below.",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        info = current_request()
        if info is not None:
            entry["request_id"] = info.request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`level logger message key=value …`, for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None) or {}
        info = current_request()
        pairs = ([("request_id", info.request_id)] if info is not None else []) + [
            (k, v) for k, v in fields.items() if v not in (None, [], "")
        ]
        tail = " ".join(f"{k}={_text(v)}" for k, v in pairs)
        return f"{record.levelname} {record.name} {record.getMessage()} {tail}".rstrip()


def _text(value: Any) -> str:
    """A field's value on a text line: a mapping as `key:value,…` (error codes' counts)."""
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    return str(value)


def configure_logging(
    level: str = "info", fmt: Literal["json", "text"] = "json", stream: Any = None
) -> None:
    """Send the gateway's logs to stderr, as JSON lines or plain text."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler._studio_gateway = True  # type: ignore[attr-defined]  # ours, to replace next time
    logger = logging.getLogger(LOGGER)
    # Replace only the handler this function installed; leave anyone else's.
    logger.handlers[:] = [h for h in logger.handlers if not getattr(h, "_studio_gateway", False)]
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def log(level: int, message: str, **fields: Any) -> None:
    """Log `message` with structured `fields` (which must be safe to keep)."""
    logging.getLogger(f"{LOGGER}.requests").log(level, message, extra={"fields": fields})
