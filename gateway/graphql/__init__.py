"""The GraphQL face of the gateway: types, queries, mutations, errors."""

from gateway.graphql.context import Context
from gateway.graphql.schema import build_schema, export_sdl

__all__ = ["Context", "build_schema", "export_sdl"]
