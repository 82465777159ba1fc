"""Persisted operations: Apollo's automatic persisted queries, and a safelist.

APQ: a client sends `extensions.persistedQuery.sha256Hash` without the text;
an unknown hash answers `PersistedQueryNotFound`, the client retries with the
text, and the gateway keeps it in its own store, bounded in bytes (see
`gateway.security.documents`); a document over `max_document_bytes` is refused
and never kept. Safelist: only the operations of a manifest loaded at start may
run, and nothing a client sends is ever kept.

Every document taken from a store, the safelist included, is checked against
the hash it was asked for before it runs (`matches`); one that does not match
is treated as not found.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.security.codes import Code
from gateway.security.documents import DocumentStore, matches, sha256

#: The default cap on one persisted document, in UTF-8 bytes.
MAX_DOCUMENT_BYTES = 32 * 1024


class PersistedError(Exception):
    def __init__(self, message: str, code: Code) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def load_safelist(path: str) -> dict[str, str]:
    """A manifest `{sha256: document}` (or a list of documents); hashes are checked."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    documents = data if isinstance(data, list) else list(data.values())
    manifest = {sha256(d): d for d in documents if isinstance(d, str)}
    if isinstance(data, dict):
        for digest, document in data.items():
            if sha256(document) != digest:
                raise ValueError(f"safelist entry {digest[:12]}… does not match its document")
    return manifest


class PersistedQueries:
    def __init__(
        self,
        store: DocumentStore | None,
        *,
        apq: bool = True,
        safelist: dict[str, str] | None = None,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        self.store, self.apq, self.safelist = store, apq, safelist
        self.max_document_bytes = max_document_bytes

    async def resolve(self, operation: dict[str, Any]) -> dict[str, Any]:
        """The operation with its full text, or a PersistedError saying what to do."""
        query = operation.get("query")
        extensions = operation.get("extensions") or {}
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is not None:
            if not isinstance(persisted, dict) or persisted.get("version") != 1:
                raise PersistedError("unsupported persistedQuery version", Code.BAD_USER_INPUT)
            digest = str(persisted.get("sha256Hash", "")).lower()
            if self.safelist is not None:
                # The manifest is the only store: a sent text is checked below, never kept.
                if not query:
                    query = self.safelist.get(digest)
                    if query is None or not matches(digest, query, where="the safelist"):
                        raise _not_allowed()
            elif not self.apq:
                raise PersistedError(
                    "PersistedQueryNotSupported", Code.PERSISTED_QUERY_NOT_SUPPORTED
                )
            elif query:
                await self._register(digest, query)
            else:
                stored = await self.store.get(digest) if self.store else None
                if stored is None or not matches(digest, stored, where="the store"):
                    raise PersistedError("PersistedQueryNotFound", Code.PERSISTED_QUERY_NOT_FOUND)
                query = stored
        if self.safelist is not None and (
            not isinstance(query, str) or sha256(query) not in self.safelist
        ):
            raise _not_allowed()
        return {**operation, "query": query}

    async def _register(self, digest: str, query: Any) -> None:
        if not isinstance(query, str):
            raise PersistedError("the query must be a string", Code.BAD_USER_INPUT)
        size = len(query.encode())
        if size > self.max_document_bytes:
            raise PersistedError(
                f"the query is {size} bytes; a persisted query may be at most "
                f"{self.max_document_bytes} bytes: send it without "
                "extensions.persistedQuery",
                Code.BAD_USER_INPUT,
            )
        if sha256(query) != digest:
            raise PersistedError(
                "provided sha256Hash does not match the query", Code.BAD_USER_INPUT
            )
        if self.store is not None:
            await self.store.put(digest, query)


def _not_allowed() -> PersistedError:
    return PersistedError(
        "only the operations registered for this gateway may run", Code.PERSISTED_QUERY_NOT_ALLOWED
    )
