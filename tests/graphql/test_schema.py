"""schema.graphql is exactly the schema the code builds."""

from __future__ import annotations

from pathlib import Path

from gateway.graphql import export_sdl

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == export_sdl(), (
        "schema.graphql is out of date: run `studio-gateway export-schema > schema.graphql`"
    )
