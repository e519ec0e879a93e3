"""Intercom search bodies and cursors (pure)."""

from __future__ import annotations

from typing import Any

from tap_intercom_events.json_types import Json

DAY = 86_400
MAX_PAGE_SIZE = 150


def _body(query: Json, *, page_size: int, cursor: str | None, sort_by: str | None) -> Json:
    """A search body: the query, one page of `page_size` (at most 150), the cursor to continue
    from, and the ascending sort on `sort_by` (asked for, never trusted)."""
    body: Json = {"query": query, "pagination": {"per_page": min(page_size, MAX_PAGE_SIZE)}}
    if sort_by is not None:
        body["sort"] = {"field": sort_by, "order": "ascending"}
    if cursor:
        body["pagination"]["starting_after"] = cursor
    return body


def search_body(
    *, field: str, lower: int, upper: int | None, page_size: int, cursor: str | None
) -> dict[str, Any]:
    """Search body for conversations/tickets: `lower < field <= upper` (no upper: unbounded).

    Intercom documents `>`/`<` as inclusive on these endpoints and the stand-in may treat them as
    strict, so the query is widened by a second each way and the caller filters exactly. The
    ascending sort is asked for but never trusted (docs/api-assumptions.md).
    """
    after = {"field": field, "operator": ">", "value": lower}
    query: dict[str, Any] = after
    if upper is not None:
        before = {"field": field, "operator": "<", "value": upper + 1}
        query = {"operator": "AND", "value": [after, before]}
    return _body(query, page_size=page_size, cursor=cursor, sort_by=field)


def one_second_body(*, field: str, second: int, page_size: int, cursor: str | None) -> Json:
    """Every object whose `field` is exactly `second` (a second too busy for one page)."""
    query = {"field": field, "operator": "=", "value": second}
    return _body(query, page_size=page_size, cursor=cursor, sort_by=field)


def has_more(page: Json, returned: int) -> bool:
    """Whether a search page left matches out: a next cursor, or a total above what came back."""
    total = page.get("total_count")
    return next_cursor(page) is not None or (isinstance(total, int) and total > returned)


def contact_search_body(*, lower: int, page_size: int, cursor: str | None) -> dict[str, Any]:
    """Contacts search matches dates by calendar day in the workspace's time zone.

    `updated_at > X` matches from the start of the day after X's day, so asking for
    `> lower - 1 day` starts at the beginning of lower's own day, whatever the time zone: contacts
    edited earlier on the bookmark's day come back and the caller drops what is not newer.
    """
    query = {"field": "updated_at", "operator": ">", "value": lower - DAY}
    return _body(query, page_size=page_size, cursor=cursor, sort_by="updated_at")


def contact_ids_body(contact_ids: list[str], *, cursor: str | None) -> Json:
    """Contacts by id: one `IN` filter (lookups.CONTACT_BATCH ids at most), one page of 150."""
    query = {"field": "id", "operator": "IN", "value": list(contact_ids)}
    return _body(query, page_size=MAX_PAGE_SIZE, cursor=cursor, sort_by=None)


def next_cursor(page: dict[str, Any]) -> str | None:
    """`pages.next.starting_after` of a list/search response, or None on the last page."""
    pages = page.get("pages") or {}
    following = pages.get("next") if isinstance(pages, dict) else None
    if isinstance(following, dict):
        token = following.get("starting_after")
        return str(token) if token else None
    return None


class CursorGuard:
    """Stops paging when Intercom hands back a cursor it already gave (A->B->A loops)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def is_new(self, cursor: str) -> bool:
        if cursor in self._seen:
            return False
        self._seen.add(cursor)
        return True
