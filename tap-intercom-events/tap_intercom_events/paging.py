"""Reading Intercom searches completely while the workspace changes, whatever order they return.

Conversations and tickets (`read_slices`): the time axis `updated_at > lower` is cut into
consecutive slices, oldest first, each small enough to come back as ONE page (no next cursor), so
neither the sort order nor the cursors' behaviour under change matters. The last slice has no upper
bound. An object's `updated_at` only grows, so an object that moves while the run reads moves into
a slice not read yet: every object with `updated_at > lower` when the run starts is returned by at
least one slice (docs/interfaces.md section 4 has the argument). A second with more objects than
a page holds is paged by cursor and re-read until a pass brings nothing new.

Contacts (`read_contact_pages`): contact search matches dates by day, so it cannot be sliced by the
second; its pages are read by cursor, and a page is a checkpoint only while every page so far came
back in ascending order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tap_intercom_events.json_types import Json
from tap_intercom_events.search import (
    CursorGuard,
    has_more,
    next_cursor,
    one_second_body,
    search_body,
)

if TYPE_CHECKING:
    from tap_intercom_events.client import IntercomClient
    from tap_intercom_events.pool import Pool

# A slice is sized to come back about this full: fuller slices overflow into a second page more
# often, emptier ones need more slices; this share made the fewest search requests.
TARGET_FILL = 0.8
ONE_SECOND_PASSES = 3
MAX_RESTARTS = 50


@dataclass(frozen=True)
class Slice:
    """Every object with `lower < updated_at <= upper` (upper None: no bound) at one moment."""

    lower: int
    upper: int | None
    items: list[Json]


@dataclass(frozen=True)
class SliceSearch:
    """One search endpoint read by slices."""

    client: IntercomClient
    path: str
    results_key: str
    page_size: int
    logger: logging.Logger
    field: str = "updated_at"
    clock: Callable[[], float] = time.time

    def _post(self, body: Json) -> tuple[Json, list[Json]]:
        page = self.client.post(self.path, body)
        return page, list(page.get(self.results_key) or [])

    def _updated(self, item: Json) -> int:
        return int(item[self.field])

    def read_slices(self, lower: int) -> Iterator[Slice]:
        """Consecutive slices from `lower` up, the last one unbounded."""
        width: int | None = None  # None: try everything left in one page
        sampled = False  # the previous try of this slice already used its sample
        while True:
            now = int(self.clock())
            upper = None if width is None or lower + width >= now else lower + width
            page, raw = self._post(
                search_body(
                    field=self.field,
                    lower=lower,
                    upper=upper,
                    page_size=self.page_size,
                    cursor=None,
                )
            )
            if not has_more(page, len(raw)):
                items = [
                    i
                    for i in raw
                    if lower < self._updated(i) and (upper is None or self._updated(i) <= upper)
                ]
                yield Slice(lower, upper, items)
                if upper is None:
                    return
                lower, width, sampled = upper, self._next_width(upper - lower, len(items)), False
                continue
            top = upper if upper is not None else max([now, *map(self._updated, raw)])
            if top - lower <= 1:
                yield Slice(lower, lower + 1, self._one_second(lower + 1))
                lower, width, sampled = lower + 1, 1, False
                continue
            split = None if sampled else self._split_from_sample(raw, lower, top)
            sampled = split is not None
            width = (split if split is not None else lower + (top - lower) // 2) - lower

    def _split_from_sample(self, raw: list[Json], lower: int, top: int) -> int | None:
        """An upper bound that the page's own items suggest (right at once if Intercom kept the
        ascending sort; if not, the next try bisects instead)."""
        times = sorted(t for t in map(self._updated, raw) if lower < t < top)
        if not times:
            return None
        split = times[max(0, int(len(times) * TARGET_FILL) - 1)]
        return split if lower < split < top else None

    def _next_width(self, width: int, count: int) -> int:
        """The next slice's width from this one's fill (density changes slowly)."""
        target = self.page_size * TARGET_FILL
        if count == 0:
            return width * 4
        return max(1, int(width * min(4.0, target / count)))

    def _one_second(self, second: int) -> list[Json]:
        """All objects updated in one second, paged by cursor; passes repeat until one adds
        nothing (objects can only leave a past second, and a pass with no move misses none)."""
        found: dict[str, Json] = {}
        for _ in range(ONE_SECOND_PASSES):
            added = 0
            cursor: str | None = None
            guard = CursorGuard()
            while True:
                body = one_second_body(
                    field=self.field, second=second, page_size=self.page_size, cursor=cursor
                )
                page, raw = self._post(body)
                for item in raw:
                    if self._updated(item) == second and str(item["id"]) not in found:
                        found[str(item["id"])] = item
                        added += 1
                cursor = next_cursor(page)
                if not cursor or not guard.is_new(cursor):
                    break
            if not added:
                break
        else:
            self.logger.warning(
                "%s: second %s still changing after %d passes; the next run rereads it",
                self.path,
                second,
                ONE_SECOND_PASSES,
            )
        return list(found.values())


@dataclass(frozen=True)
class ContactPage:
    items: list[Json]
    # Safe to checkpoint after: every page so far came back in ascending updated_at order.
    ascending_so_far: bool
    # Paging gave up (cursors kept looping): the window must not be marked finished.
    gave_up: bool = False


def read_contact_pages(
    client: IntercomClient,
    pool: Pool,
    *,
    path: str,
    results_key: str,
    lower: int,
    body: Callable[[int, str | None], Json],
    logger: logging.Logger,
) -> Iterator[ContactPage]:
    """Every page of one search from `lower`, each id once.

    A cursor Intercom already gave (A->B->A loops) ends that chain of pages; the search then
    restarts from the newest item taken (from `lower` again if the order was not ascending).
    The next page is requested (on `pool`) as soon as its cursor is known, so it
    travels while the caller handles this one.
    """
    seen: set[str] = set()
    newest = -(2**62)
    ascending = True
    for _restart in range(MAX_RESTARTS):
        guard = CursorGuard()
        progressed = False
        upcoming = pool.submit(client.post, path, body(lower, None))
        while True:
            page = upcoming.result()
            cursor = next_cursor(page)
            repeated = cursor is not None and not guard.is_new(cursor)
            if cursor and not repeated:
                upcoming = pool.submit(client.post, path, body(lower, cursor))
            items = []
            for item in page.get(results_key) or []:
                updated_at = int(item["updated_at"])
                if updated_at < newest and ascending and str(item["id"]) not in seen:
                    ascending = False
                    logger.warning(
                        "%s came back out of updated_at order: checkpoints wait for the end", path
                    )
                if str(item["id"]) not in seen:
                    seen.add(str(item["id"]))
                    newest = max(newest, updated_at)
                    items.append(item)
            if items:
                progressed = True
                yield ContactPage(items, ascending)
            if not cursor:
                return
            if repeated:
                break
        if not progressed:
            break
        logger.warning("%s repeated a cursor: restarting the search", path)
        if ascending:
            lower = max(lower, newest - 1)
    logger.warning("%s kept repeating cursors: paging stopped; the next run rereads", path)
    yield ContactPage([], ascending_so_far=False, gave_up=True)
