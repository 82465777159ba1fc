"""The Liquid-like `{{...}}` templates and split conditions that flows use.

Only what runs seeded and posted flows plausibly: variable lookup (filters are
ignored) and the condition types of the split-based-on widget.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*(?:\|[^}]*)?\}\}")


def lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path such as `widgets.ask.inbound.Body`, or None."""
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render(template: str, context: Mapping[str, Any]) -> str:
    return _TEMPLATE.sub(lambda match: as_text(lookup(context, match.group(1))), template)


def condition_holds(condition: Mapping[str, Any], subject: str) -> bool:
    """Whether a split condition holds; like Studio, text comparisons ignore case."""
    kind = condition.get("type")
    target = str(condition.get("value", ""))
    left, right = subject.strip().lower(), target.strip().lower()
    options = {part.strip().lower() for part in target.split(",")}
    if kind == "equal_to":
        return left == right
    if kind == "not_equal_to":
        return left != right
    if kind == "matches_any_of":
        return left in options
    if kind == "does_not_match_any_of":
        return left not in options
    if kind == "contains":
        return right in left
    if kind == "does_not_contain":
        return right not in left
    if kind == "starts_with":
        return left.startswith(right)
    if kind == "does_not_start_with":
        return not left.startswith(right)
    if kind == "regex":
        try:
            return re.search(target, subject) is not None
        except re.error:
            return False
    if kind == "is_blank":
        return not left
    if kind == "is_not_blank":
        return bool(left)
    if kind in ("is_greater_than", "is_less_than"):
        try:
            number, bound = float(left), float(right)
        except ValueError:
            return False
        return number > bound if kind == "is_greater_than" else number < bound
    return False
