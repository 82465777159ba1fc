"""JSON a client sent, read so that no input can reach a RecursionError or a 500.

`json.loads` alone accepts what the rest of the stack cannot carry: nesting
that runs out of recursion later (in strawberry's own parse, or in
`json.dumps` on the way upstream), `NaN` and `Infinity` (not JSON), `1e400`
(infinity), integers past Python's 4,300-digit conversion limit, and lone
UTF-16 surrogates (`"\\ud800"`), which are not text and cannot be encoded to
UTF-8 for Twilio or for the response. `loads` refuses each with a message that
says what was wrong.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Deepest nesting of arrays and objects a client's JSON may have.
MAX_DEPTH = 64
#: Python's default bound on int() of text, whatever this interpreter was told.
MAX_INT_DIGITS = 4300
_SURROGATE = re.compile("[\ud800-\udfff]")


class ClientJSONError(ValueError):
    """The client's JSON cannot be used; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"ClientJSONError({self.message!r})"


class _Refused(Exception):
    """A reason from inside `json.loads`; `loads` names what held it."""


def loads(data: str | bytes, *, what: str = "the body", max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of `data`, or a ClientJSONError naming `what` and the problem."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ClientJSONError(f"{what} is not UTF-8 text") from None
    try:
        value = json.loads(data, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except _Refused as refused:
        raise ClientJSONError(f"{what} {refused}") from None
    except RecursionError:
        raise ClientJSONError(_too_deep(what, max_depth)) from None
    except ValueError:
        raise ClientJSONError(f"{what} is not valid JSON") from None
    problem = _problem(value, max_depth)
    if problem == "depth":
        raise ClientJSONError(_too_deep(what, max_depth))
    if problem == "surrogate":
        raise ClientJSONError(
            f"{what} holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), "
            "which is not text"
        )
    return value


def _too_deep(what: str, max_depth: int) -> str:
    return f"{what} nests deeper than {max_depth} levels"


def _constant(name: str) -> Any:
    raise _Refused(f"holds {name}, which is not a JSON number")


def _float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise _Refused("holds a number too large to represent")
    return number


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"holds an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _problem(value: Any, max_depth: int) -> str | None:
    """ "depth", "surrogate" or None; iterative, so depth cannot exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                return "surrogate"
        elif isinstance(item, dict | list):
            if depth > max_depth:
                return "depth"
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
    return None
