"""Paging an Intercom search over one window, ascending by updated_at, each object once per run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tap_intercom_events.search import CursorGuard, SyncWindow, next_cursor

if TYPE_CHECKING:
    from tap_intercom_events.client import IntercomClient

Json = dict[str, Any]
SEEN_PRUNE_AT = 10_000


class SeenIds:
    """Ids already taken this run. Results are ascending by updated_at and a restart only goes back
    one second, so ids older than that can be forgotten: memory stays flat on large windows."""

    def __init__(self) -> None:
        self._updated_at: dict[str, int] = {}
        self.newest = -(2**62)

    def add(self, object_id: str, updated_at: int) -> bool:
        """False when the id was seen already."""
        if object_id in self._updated_at:
            return False
        self._updated_at[object_id] = updated_at
        self.newest = max(self.newest, updated_at)
        if len(self._updated_at) > SEEN_PRUNE_AT:
            keep_from = self.newest - 1
            self._updated_at = {k: v for k, v in self._updated_at.items() if v >= keep_from}
        return True


def search_pages(
    client: IntercomClient,
    *,
    path: str,
    results_key: str,
    body: Callable[[int, str | None], Json],
    window: SyncWindow,
    logger: logging.Logger,
) -> Iterator[list[Json]]:
    """Pages of search items with `window.lower < updated_at <= window.end`, each id once.

    A cursor Intercom already gave (A->B->A loops) ends that chain of pages; the search then
    restarts just before the newest item taken, so the rest of the window is still read.
    """
    seen = SeenIds()
    lower = window.lower
    cursor: str | None = None
    guard = CursorGuard()
    progressed = False
    while True:
        page = client.post(path, body(lower, cursor))
        raw = page.get(results_key) or []
        items = []
        for item in raw:
            updated_at = int(item["updated_at"])
            if window.lower < updated_at <= window.end and seen.add(str(item["id"]), updated_at):
                items.append(item)
        if items:
            progressed = True
            yield items
        cursor = next_cursor(page)
        if not cursor or any(int(item["updated_at"]) > window.end for item in raw):
            return  # last page, or past the window (results are ascending)
        if guard.is_new(cursor):
            continue
        if not progressed:
            logger.warning("%s repeated a cursor without progress: paging stopped", path)
            return
        logger.warning("%s repeated a cursor: restarting the search after the last item", path)
        lower, cursor, guard, progressed = seen.newest - 1, None, CursorGuard(), False
