"""Incremental windows and Intercom search bodies (pure).

Bookmark meaning, for every incremental stream: every object with `updated_at <= bookmark` has been
emitted. A finished run sets it to the window end; an interrupted run leaves `last emitted - 1`,
so a resumed run repeats at most the objects sharing that one second (at-least-once at the seam).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

DAY = 86_400
MAX_PAGE_SIZE = 150


def parse_start_date(value: Any) -> int:
    """`start_date` as epoch seconds: accepts epoch ints/strings and ISO-8601 dates or date-times."""
    if isinstance(value, bool):
        msg = f"start_date must be a date or epoch seconds, got {value!r}"
        raise ValueError(msg)
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        msg = f"start_date {value!r} is not an ISO-8601 date/date-time or epoch seconds"
        raise ValueError(msg) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


@dataclass(frozen=True)
class SyncWindow:
    """One run's slice of an incremental stream, in epoch seconds.

    Objects are taken iff `lower < updated_at <= end`. `end` is the second before the run started:
    everything up to it had already happened, so the run sees all of it; later changes are the
    next run's. Events are emitted iff `events_after < time <= end`.
    """

    lower: int
    end: int
    events_after: int
    floor: int  # the stored event floor (events_after is floor - lookback)


def plan_window(
    *, bookmark: int | None, events_after: int | None, start_date: int, lookback: int, now: int
) -> SyncWindow:
    """The window of this run from the stored state.

    `events_after` is stored while a window is unfinished, so a resumed run keeps the floor of the
    interrupted one: conversations it had not reached yet may hold events older than its cursor.
    """
    cursor = start_date if bookmark is None else max(bookmark, start_date)
    floor = cursor if events_after is None else min(events_after, cursor)
    return SyncWindow(
        lower=cursor - lookback,
        end=max(now - 1, cursor),
        events_after=floor - lookback,
        floor=floor,
    )


def search_body(
    *, field: str, lower: int, upper: int, page_size: int, cursor: str | None
) -> dict[str, Any]:
    """Search body for conversations/tickets: `lower < field <= upper`, ascending.

    Intercom documents `>`/`<` as inclusive on these endpoints and the stand-in may treat them as
    strict, so the query is widened by a second each way and the caller filters exactly.
    """
    body: dict[str, Any] = {
        "query": {
            "operator": "AND",
            "value": [
                {"field": field, "operator": ">", "value": lower},
                {"field": field, "operator": "<", "value": upper + 1},
            ],
        },
        "pagination": {"per_page": min(page_size, MAX_PAGE_SIZE)},
        "sort": {"field": field, "order": "ascending"},
    }
    if cursor:
        body["pagination"]["starting_after"] = cursor
    return body


def contact_search_body(*, lower: int, page_size: int, cursor: str | None) -> dict[str, Any]:
    """Contacts search matches dates by calendar day in the workspace's time zone.

    `updated_at > X` matches from the start of the day after X's day, so asking for
    `> lower - 1 day` starts at the beginning of lower's own day, whatever the time zone: contacts
    edited earlier on the bookmark's day come back and the caller drops what is not newer.
    """
    body: dict[str, Any] = {
        "query": {"field": "updated_at", "operator": ">", "value": lower - DAY},
        "pagination": {"per_page": min(page_size, MAX_PAGE_SIZE)},
        "sort": {"field": "updated_at", "order": "ascending"},
    }
    if cursor:
        body["pagination"]["starting_after"] = cursor
    return body


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
