"""Twilio-shaped errors.

Every failure the emulator reports is a `TwilioError`, rendered as Twilio renders
one: `{"code", "message", "more_info", "status"}` plus `details` where Twilio adds
them. The spec documents none of these; the codes come from Twilio's error pages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import JSONResponse


class TwilioError(Exception):
    """A request Twilio would refuse, with the code and status it would answer."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"TwilioError(status={self.status}, code={self.code}, message={self.message!r})"

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "more_info": more_info(self.code),
            "status": self.status,
        }
        if self.details is not None:
            body["details"] = dict(self.details)
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def more_info(code: int) -> str:
    return f"https://www.twilio.com/docs/errors/{code}"


def not_found(path: str) -> TwilioError:
    return TwilioError(404, 20404, f"The requested resource {path} was not found")


def authentication_required() -> TwilioError:
    return TwilioError(
        401, 20003, "Authenticate", headers={"WWW-Authenticate": 'Basic realm="Twilio API"'}
    )


def method_not_allowed(method: str, path: str) -> TwilioError:
    return TwilioError(405, 20004, f"Method {method} not allowed on {path}")


def missing_parameter(name: str) -> TwilioError:
    return TwilioError(400, 20001, f"Missing required parameter {name} in the post body")


def invalid_parameter(name: str, reason: str) -> TwilioError:
    return TwilioError(400, 20001, f"Invalid parameter {name}: {reason}")


def invalid_page_token() -> TwilioError:
    return TwilioError(
        400, 21481, "Invalid PageToken: follow the next_page_url or previous_page_url returned"
    )


def execution_already_active(conflicting_sid: str) -> TwilioError:
    return TwilioError(
        409,
        20409,
        f"Execution {conflicting_sid} is already active for this contact. "
        "End the active Execution before creating a new one",
        details={"conflicting_execution_sid": conflicting_sid},
    )


def execution_already_ended(sid: str) -> TwilioError:
    return TwilioError(409, 20409, f"Execution {sid} has already ended")


def invalid_definition(errors: Sequence[Mapping[str, str]]) -> TwilioError:
    return TwilioError(
        400,
        81022,
        "Invalid Flow Definition",
        details={"errors": [dict(error) for error in errors], "warnings": []},
    )
