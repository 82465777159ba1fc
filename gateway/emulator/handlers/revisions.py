"""Flow revisions: newest first in the list; fetch by number or by name."""

from __future__ import annotations

from gateway.emulator import paths, render
from gateway.emulator.errors import not_found
from gateway.emulator.handlers.common import Call, Reply, find_flow
from gateway.emulator.paging import page_meta, paginate, parse_page_query
from gateway.emulator.records import RevisionRecord


def list_revisions(call: Call) -> Reply:
    flow = find_flow(call)
    query = parse_page_query(call.query)
    page = paginate(
        list(reversed(flow.revisions)),
        key=lambda rev: (-rev.revision,),
        row_id=lambda rev: f"{flow.sid}{rev.revision:08x}",
        query=query,
        tokens=call.account.tokens,
        scope=f"revisions:{flow.sid}",
    )
    return Reply(
        200,
        {
            "revisions": [
                render.revision(flow, rev, call.base_url, full=False) for rev in page.rows
            ],
            "meta": page_meta(
                page,
                list_key="revisions",
                list_url=call.base_url + paths.REVISIONS.format(Sid=flow.sid),
                filters=(),
                query=query,
            ),
        },
    )


def fetch_revision(call: Call) -> Reply:
    """`Revision` is a number, or LatestPublished, or LatestRevision."""
    flow = find_flow(call)
    wanted = call.params["Revision"]
    revision: RevisionRecord | None = None
    if wanted == "LatestPublished":
        revision = flow.latest_published()
    elif wanted == "LatestRevision":
        revision = flow.latest
    elif wanted.isascii() and wanted.isdigit():
        revision = flow.find_revision(int(wanted))
    if revision is None:
        raise not_found(call.path)
    return Reply(200, render.revision(flow, revision, call.base_url))
