"""The HTTP face of `/graphql`: media types and statuses, compression, HTTP caching.

Beside `gateway/app.py` in the layers: it may use the GraphQL layer and below.
"""
