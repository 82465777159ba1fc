"""Global object IDs (Relay `Node.id`) that carry their parent path.

`base64("Execution:FW…/FN…")`: a type name and the SIDs that address the
object upstream, so `node(id:)` can fetch anything without a lookup table.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from gateway.graphql.errors import bad_input
from gateway.studio import is_sid

#: Each type's path: the SID prefixes (or "#" for a revision number) in order.
PATHS: Final[dict[str, tuple[str, ...]]] = {
    "Flow": ("FW",),
    "FlowRevision": ("FW", "#"),
    "Execution": ("FW", "FN"),
    "ExecutionStep": ("FW", "FN", "FT"),
}
#: A revision number has at most as many digits as GraphQL's Int.
MAX_REVISION_DIGITS = 10
_NOT_OURS = "the id is not a Studio Gateway object id"


def encode(type_name: str, *path: str | int) -> str:
    raw = f"{type_name}:{'/'.join(str(p) for p in path)}"
    return base64.b64encode(raw.encode()).decode()


def decode(global_id: str) -> tuple[str, tuple[str, ...]]:
    """The type name and path of a global ID; BAD_USER_INPUT when it is not one of ours."""
    try:
        raw = base64.b64decode(global_id.encode(), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise bad_input(_NOT_OURS) from None
    type_name, _, rest = raw.partition(":")
    kinds = PATHS.get(type_name)
    path = tuple(rest.split("/")) if rest else ()
    if kinds is None or len(path) != len(kinds):
        raise bad_input(_NOT_OURS)
    for kind, part in zip(kinds, path, strict=True):
        if kind == "#":
            _check_number(part)
        elif not is_sid(kind, part):
            raise bad_input(_NOT_OURS)
    return type_name, path


def _check_number(text: str) -> None:
    # str.isdigit() is true for "²"; only ASCII digits make a revision number.
    if not (text.isascii() and text.isdigit()):
        raise bad_input(_NOT_OURS)
    # Checked before int(): Python refuses to convert text of over 4,300 digits.
    if len(text) > MAX_REVISION_DIGITS:
        raise bad_input("the revision number in the id is too long")
    if int(text) < 1:
        raise bad_input(_NOT_OURS)
