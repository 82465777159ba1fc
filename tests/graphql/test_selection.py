"""One expanded view per operation: every check reads what the operation selects
by the same rule, and the view is built once per document.

Fragments apply where their type condition overlaps; `@skip`/`@include` drop a
selection by a literal at once and by a variable per request (counted when the
variables are not known); `@defer` marks what comes later.
"""

from __future__ import annotations

from typing import Any

from graphql import parse
from graphql.utilities import get_operation_ast

from gateway.emulator import Emulator
from gateway.graphql import build_schema
from gateway.graphql.access import analyse
from gateway.graphql.documents import DocumentCache
from gateway.graphql.selection import Field, OperationView, fields
from gateway.security.principal import EXECUTIONS_READ, FLOWS_READ
from tests.support import Gateway

SCHEMA = build_schema()._schema
FLOWS = "query($skip: Boolean!) { flows(first: 3) @skip(if: $skip) { nodes { sid } } }"


def view(text: str) -> OperationView:
    document = parse(text)
    operation = get_operation_ast(document)
    assert operation is not None
    built = OperationView.build(SCHEMA, document, operation)
    assert built is not None
    return built


def names(found: Any) -> list[str]:
    return [field.name for field in found]


async def test_a_field_skipped_by_a_variable_is_neither_charged_nor_called(
    gateway: Gateway, emulator: Emulator
) -> None:
    skipped = await gateway.query(FLOWS, {"skip": True})
    assert skipped["data"] == {}
    assert skipped["extensions"]["cost"]["estimatedUpstreamCalls"] == 0
    assert gateway.total_calls == 0
    kept = await gateway.query(FLOWS, {"skip": False})
    assert len(kept["data"]["flows"]["nodes"]) == 3
    assert kept["extensions"]["cost"]["estimatedUpstreamCalls"] == 1 == gateway.total_calls


def test_the_scope_check_counts_a_field_a_variable_may_skip_and_not_one_a_literal_drops() -> None:
    document = parse(
        """query($skip: Boolean!) { updateLater: flows @skip(if: $skip) { nodes { sid } }
             executionStep(flowSid: "F", executionSid: "E", sid: "S") @include(if: false) {
               sid } }"""
    )
    access = analyse(SCHEMA, document, None)
    assert access is not None
    assert [need.path[0] for need in access.fields] == ["updateLater"]
    assert access.fields[0].scopes == {FLOWS_READ}
    assert EXECUTIONS_READ not in {s for need in access.fields for s in need.scopes}


def test_fragments_apply_where_their_type_condition_overlaps() -> None:
    expanded = view(
        """query($id: ID!) { node(id: $id) { id ... on Execution { status }
             ...S ... on Node { ... on Flow { friendlyName } } } }
           fragment S on ExecutionStep { name }"""
    )
    (node,) = names_fields(expanded)
    execution = SCHEMA.get_type("Execution")
    on_execution = fields(node.selection, execution, None, schema=SCHEMA)
    assert names(on_execution) == ["id", "status"]
    anywhere = fields(node.selection, None, None, schema=SCHEMA)
    assert names(anywhere) == ["id", "status", "name", "friendlyName"]


def names_fields(expanded: OperationView) -> list[Field]:
    return list(fields(expanded.root, None, None, schema=SCHEMA))


def test_what_defer_puts_off_is_marked_and_can_be_left_out() -> None:
    expanded = view(
        """{ flow(sid: "F") { sid ... @defer { executions { nodes { sid } } }
             ... @defer(if: false) { testUsers } } }"""
    )
    (flow,) = names_fields(expanded)
    assert names(fields(flow.selection, None, None, schema=SCHEMA)) == [
        "sid",
        "executions",
        "testUsers",
    ]
    now = fields(flow.selection, None, None, schema=SCHEMA, deferred=False)
    assert names(now) == ["sid", "testUsers"]


def test_arguments_are_coerced_as_execution_coerces_them() -> None:
    expanded = view(
        """query($n: Int = 2) { flows(first: 5) { nodes { executions(first: $n, status: ENDED) {
             nodes { sid } } } } }"""
    )
    (flows,) = names_fields(expanded)
    assert flows.arguments() == {"first": 5, "after": None}
    assert flows.arguments() is flows.arguments(), "a literal's arguments, coerced once"
    (nodes,) = fields(flows.selection, None, None, schema=SCHEMA)
    (executions,) = fields(nodes.selection, None, None, schema=SCHEMA)
    assert executions.arguments({"n": 60})["first"] == 60
    assert executions.arguments({"n": 60})["status"].name == "ENDED"


def test_a_fragment_bomb_expands_once_per_fragment() -> None:
    levels = 40  # 2**40 fields once expanded
    fragments = [f"fragment F{i} on Flow {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Flow {{ sid friendlyName }}")
    expanded = view('{ flow(sid: "F") { ...F0 } } ' + " ".join(fragments))
    assert len(expanded.by_node) == 3  # flow, sid, friendlyName


def test_the_view_is_built_once_per_document_and_kept_with_it() -> None:
    cache = DocumentCache(size=2)
    text = '{ flow(sid: "F") { sid } }'

    def cached() -> OperationView | None:
        entry = cache.entry(text, {})
        assert entry is not None
        operation = get_operation_ast(entry.document)
        assert operation is not None
        found = cache.view(SCHEMA, entry.document, operation)
        assert found is None or cache.operation(operation) is found
        return found

    first = cached()
    assert first is not None and cached() is first
    for other in ("{ flows { nodes { sid } } }", '{ flow(sid: "G") { sid } }'):
        cache.entry(other, {})
    assert cached() is not first
