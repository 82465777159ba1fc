"""`paginate` over pages the emulator never serves: what another upstream might send."""

from __future__ import annotations

from gateway.graphql.connections import paginate
from gateway.loaders import PageKey
from gateway.studio import Page, PageMeta


def page(items: list[str], next_page_url: str | None) -> Page[str]:
    meta = PageMeta("flows", 0, len(items), None, None, None, next_page_url)
    return Page(items, meta)


async def test_a_next_page_with_a_blank_page_number_is_asked_for_as_it_came() -> None:
    # A short first page, then a next_page_url whose Page is blank and has no token:
    # where that page starts is the upstream's to say, so its size is kept.
    pages = {
        (("PageSize", "3"),): page(["a", "b"], "https://studio.test/v2/Flows?PageSize=2&Page="),
        (("Page", ""), ("PageSize", "2")): page(["c", "d"], None),
    }
    asked: list[dict[str, str]] = []

    class Pages:
        async def load(self, key: PageKey) -> Page[str]:
            asked.append(dict(key.paging))
            return pages[key.paging]

    connection = await paginate(
        Pages(), (), "flows", str.upper, list_id="flows", first=3, after=None
    )
    assert [edge.node for edge in connection.edges] == ["A", "B", "C"]
    assert asked == [{"PageSize": "3"}, {"PageSize": "2", "Page": ""}]
