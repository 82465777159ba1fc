"""schema.graphql is exactly the schema the code builds."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLObjectType

from gateway.graphql import export_sdl, ids
from gateway.graphql.access import ScopeTable
from gateway.graphql.schema import build_schema

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == export_sdl(), (
        "schema.graphql is out of date: run `studio-gateway export-schema > schema.graphql`"
    )


def test_every_node_type_has_an_id_path_and_a_read_scope() -> None:
    # `ids.PATHS` names the node types; the schema's Node implementations, the
    # cost estimate's fallback and node(id:)'s scope check follow it.
    schema = build_schema()._schema
    nodes = {
        name
        for name, kind in schema.type_map.items()
        if isinstance(kind, GraphQLObjectType) and any(i.name == "Node" for i in kind.interfaces)
    }
    assert nodes == set(ids.PATHS) == set(ScopeTable.of(schema).types)
