"""Cursor paging for list and search endpoints, and the looping-cursor quirk (reference §3.1).

Intercom does not document what its cursors hold, so there are two modes (quirk `cursor_mode`):
- keyset (default): a cursor is base64 JSON of the last item's sort value and id (plus the page number and
  the sort it belongs to), so a page is "everything after this key": an item that moves (its updated_at
  changes) while a client pages is neither skipped nor repeated because of the move, only seen in its new
  place if that place is still ahead.
- offset: a cursor is the position of the next item in the result list as it is when the next page is
  asked for, so when items move between pages, others shift past the position (skipped) or back over it
  (repeated), as with an offset-based API.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from api_sandbox.intercom.search import SearchError

MAX_PER_PAGE = 150
SortKey = tuple[Any, ...]


def sort_key(value: Any, obj_id: Any) -> SortKey:
    """Nulls first, then by value, then by id: a total order."""
    return (value is not None, value if value is not None else 0, obj_id)


def encode_cursor(key: SortKey, page: int, signature: str) -> str:
    has_value, value, obj_id = key
    raw = json.dumps([value if has_value else None, obj_id, page, signature], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def encode_offset_cursor(offset: int, page: int, signature: str) -> str:
    raw = json.dumps(["offset", offset, page, signature], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class Position:
    """Where a cursor points: after a sort key (keyset) or at an index of the ordered results (offset)."""

    page: int
    key: SortKey | None = None
    offset: int | None = None


def decode_cursor(cursor: Any, signature: str, mode: str = "keyset") -> Position:
    """The position and page number in a cursor; 400 when it is not one of ours or belongs elsewhere."""
    if not isinstance(cursor, str) or not cursor:
        raise SearchError(
            "parameter_invalid", f"starting_after must be a cursor string, got {cursor!r}"
        )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, obj_id, page, cursor_signature = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise SearchError(
            "parameter_invalid", f"starting_after {cursor!r} is not a valid cursor"
        ) from exc
    if cursor_signature != signature or not isinstance(page, int):
        raise SearchError(
            "parameter_invalid",
            f"starting_after {cursor!r} belongs to a different sort or list; "
            "send the same sort with every page",
        )
    is_offset = value == "offset" and isinstance(obj_id, int)
    if is_offset != (mode == "offset"):
        raise SearchError(
            "parameter_invalid",
            f"starting_after {cursor!r} was made in another cursor mode (now {mode})",
        )
    if is_offset:
        return Position(page=page, offset=obj_id)
    return Position(page=page, key=sort_key(value, obj_id))


def per_page_value(raw: Any, default: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise SearchError("parameter_invalid", f"per_page must be a positive integer, got {raw!r}")
    if raw > MAX_PER_PAGE:
        raise SearchError(
            "parameter_invalid", f"per_page must be {MAX_PER_PAGE} or less, got {raw}"
        )
    return raw


@dataclass(slots=True)
class Page:
    items: list[Any]
    total_count: int
    page: int
    per_page: int
    total_pages: int
    next_cursor: str | None

    def pages_object(self) -> dict[str, Any]:
        pages: dict[str, Any] = {
            "type": "pages",
            "page": self.page,
            "per_page": self.per_page,
            "total_pages": self.total_pages,
        }
        if self.next_cursor is not None:
            pages["next"] = {"per_page": self.per_page, "starting_after": self.next_cursor}
        return pages


class SortedResults:
    """Matching records sorted ascending by key, cached per (search, data version)."""

    def __init__(self, capacity: int = 32) -> None:
        self._cache: OrderedDict[tuple[Any, ...], tuple[list[Any], list[SortKey]]] = OrderedDict()
        self._capacity = capacity

    def get(
        self,
        cache_key: tuple[Any, ...],
        build: Callable[[], list[tuple[SortKey, Any]]],
    ) -> tuple[list[Any], list[SortKey]]:
        cached = self._cache.get(cache_key)
        if cached is not None:
            self._cache.move_to_end(cache_key)
            return cached
        pairs = build()
        pairs.sort(key=lambda pair: pair[0])
        result = ([obj for _, obj in pairs], [key for key, _ in pairs])
        self._cache[cache_key] = result
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return result

    def clear(self) -> None:
        self._cache.clear()


def page_of(
    items: Sequence[Any],
    keys: Sequence[SortKey],
    *,
    descending: bool,
    per_page: int,
    after: Position | None,
    signature: str,
    mode: str = "keyset",
) -> Page:
    """One page of `items` (ascending by `keys`) from the cursor position, in the requested order."""
    page_number = 1 if after is None else after.page + 1
    total = len(items)
    if mode == "offset":
        # position in the requested order, over the results as they are now
        start = 0 if after is None or after.offset is None else max(0, after.offset)
        end = min(total, start + per_page)
        if descending:
            chosen = list(reversed(items[max(0, total - end) : max(0, total - start)]))
        else:
            chosen = list(items[start:end])
        more = end < total
        next_cursor = encode_offset_cursor(end, page_number, signature) if more else None
    else:
        after_key = None if after is None else after.key
        if descending:
            end = total if after_key is None else bisect_left(keys, after_key)
            start = max(0, end - per_page)
            chosen = list(reversed(items[start:end]))
            last_key = keys[start] if chosen else None
            more = start > 0
        else:
            start = 0 if after_key is None else bisect_right(keys, after_key)
            end = min(total, start + per_page)
            chosen = list(items[start:end])
            last_key = keys[end - 1] if chosen else None
            more = end < total
        next_cursor = (
            encode_cursor(last_key, page_number, signature)
            if more and last_key is not None
            else None
        )
    return Page(
        items=chosen,
        total_count=total,
        page=page_number,
        per_page=per_page,
        total_pages=max(1, math.ceil(total / per_page)) if total else 0,
        next_cursor=next_cursor,
    )


class CursorRepeater:
    """The looping-cursor bug: a search page's next cursor is, some share of the time, an earlier one."""

    def __init__(self, seed: int) -> None:
        self.rate = 0.0
        self._random = random.Random(seed)
        self._issued: OrderedDict[str, list[str]] = OrderedDict()

    def configure(self, rate: float, seed: int) -> None:
        self.rate = rate
        self._random = random.Random(seed)

    def next_cursor(self, search: str, true_next: str | None) -> str | None:
        if true_next is None:
            return None
        history = self._issued.setdefault(search, [])
        self._issued.move_to_end(search)
        if len(self._issued) > 256:
            self._issued.popitem(last=False)
        earlier = [c for c in history if c != true_next]
        if true_next not in history:
            history.append(true_next)
        if self.rate > 0 and earlier and self._random.random() < self.rate:
            return earlier[-1]
        return true_next

    def clear(self) -> None:
        self._issued.clear()
