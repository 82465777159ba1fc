"""The HTTP face of `/graphql`: media types and statuses, compression, HTTP caching.

Below the app (`gateway/app.py`, `gateway/endpoint.py`) in the layers: it may use
the GraphQL layer and below.
"""

from gateway.http.caching import HttpCaching
from gateway.http.compression import Compression
from gateway.http.view import GraphQLView

__all__ = ["Compression", "GraphQLView", "HttpCaching"]
