"""Conversations and tickets (searched by slices, details fetched concurrently) and their children.

One conversation's path: `paging.SliceSearch.read_slices` returns it in a slice ->
`DetailedSearchStream._fetch_into` (on the client's pool) GETs its detail once and derives its parts
and event seeds once (`Fetched`); the last detail of the slice to arrive looks up the contacts the
slice's events need (`ContactCache.resolve`: cached ones free, the others in one or a few contact
searches) and builds the event records (`_SliceWork`) -> `_emit` yields the conversation record,
and while the SDK syncs the children for it, they read that `Fetched` from their parent stream
through `DetailedSearchStream.fetched_for`.

Incremental runs that select events but neither conversations nor their parts skip the detail of a
conversation whose search item proves it holds no event of the window
(`events.search_item_proves_no_event`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from singer_sdk import Tap, metrics
from singer_sdk import typing as th
from singer_sdk.helpers.types import Context

from tap_intercom_events import events, schemas
from tap_intercom_events.base import IncrementalStream, IntercomStream
from tap_intercom_events.json_types import Json
from tap_intercom_events.paging import Slice, SliceSearch
from tap_intercom_events.runtime import Runtime, Truncation
from tap_intercom_events.window import SyncWindow

LOOKAHEAD_SLICES = 2  # slices whose details are being fetched while the oldest one is emitted
QUIET_METRICS = logging.getLogger("tap-intercom-events.child-metrics")
QUIET_METRICS.setLevel(logging.WARNING)


@dataclass(frozen=True)
class Fetched:
    """A conversation or ticket as fetched once, with what its children emit for this window."""

    object_id: str
    detail: Json
    parts: list[Json]  # parts new or changed in the window
    seeds: list[events.EventSeed]  # contract events in the window, before contact lookups
    truncation: Truncation | None
    events: list[Json] = field(default_factory=list)  # the seeds' records (`_SliceWork.finish`)


class _SliceWork:
    """One slice's details, fetched on the pool; the last one to arrive finishes the slice."""

    def __init__(
        self, found: Slice, count: int, window: SyncWindow, *, with_events: bool, with_parts: bool
    ) -> None:
        self.found = found
        self.window = window
        self.with_events = with_events
        self.with_parts = with_parts
        self.results: list[Fetched | None] = [None] * count
        self.futures: list[Future[None]] = []
        self.done: Future[None] = Future()  # set once the slice's events are built
        self._left = count
        self._lock = threading.Lock()
        if count == 0:
            self.done.set_result(None)

    def arrived(self) -> bool:
        """One detail is in (or failed); True for the last one."""
        with self._lock:
            self._left -= 1
            return self._left == 0


class DetailedSearchStream(IncrementalStream):
    """Incremental search over `updated_at`, one GET per object for its parts."""

    primary_keys: ClassVar[list[str]] = ["id"]

    object_type: ClassVar[str]  # "conversation" | "ticket"
    search_path: ClassVar[str]
    results_key: ClassVar[str]  # list key of the search response
    parts_key: ClassVar[str]  # "conversation_parts" | "ticket_parts"

    def part_list(self, detail: Json) -> list[Json]:
        raise NotImplementedError

    def event_seeds(self, detail: Json, window: SyncWindow) -> Iterator[events.EventSeed]:
        """The contract's rules for this object type (events.py)."""
        raise NotImplementedError

    def __init__(self, tap: Tap, run: Runtime) -> None:
        super().__init__(tap, run)
        self._current: Fetched | None = None
        self.children: list[ChildStream] = []
        self.skipped_details = 0  # search items that proved no event: no detail GET

    @property
    def id_key(self) -> str:
        return f"{self.object_type}_id"

    def fetched_for(self, context: Context) -> Fetched | None:
        """The object whose record is being emitted, for its children (the SDK syncs them
        before asking for the next record)."""
        current = self._current
        return (
            current if current is not None and current.object_id == context[self.id_key] else None
        )

    def get_child_context(self, record: Json, context: Context | None) -> Context:
        return {self.id_key: str(record["id"])}

    def _wanted(self, stream_type: type[ChildStream]) -> bool:
        return any(isinstance(c, stream_type) and c.selected for c in self.children)

    def get_records(self, context: Context | None) -> Iterable[Json]:
        window = self.plan_window()
        with_events = self._wanted(EventsStream)
        with_parts = self._wanted(PartsStream)
        if with_events:
            self.run.directory()  # admins, teams, tags: once per run, before the pool needs them
        search = SliceSearch(
            self.run.client,
            path=self.search_path,
            results_key=self.results_key,
            page_size=self.run.settings.page_size,
            logger=self.logger,
        )
        # Ids read this run: an object read again after it moved was already read after
        # `window.end`, so every event of this window was in that read.
        taken: set[str] = set()
        # A search item read after `window.end` is such a read too: when it proves the object
        # has no event in the window and nothing else is emitted from the detail, no GET.
        skip_quiet = (
            self.object_type == "conversation" and with_events and not with_parts
        ) and not self.selected
        pending: deque[_SliceWork] = deque()
        for found in search.read_slices(window.lower):
            items = [i for i in found.items if str(i["id"]) not in taken]
            taken.update(str(i["id"]) for i in items)
            self.run.report.count_read(self.object_type, len(items))
            if skip_quiet:
                unskipped = [i for i in items if not events.search_item_proves_no_event(i, window)]
                self.skipped_details += len(items) - len(unskipped)
                items = unskipped
            work = _SliceWork(
                found, len(items), window, with_events=with_events, with_parts=with_parts
            )
            work.futures = [
                self.run.pool.submit(self._fetch_into, work, n, str(i["id"]))
                for n, i in enumerate(items)
            ]
            pending.append(work)
            if len(pending) > LOOKAHEAD_SLICES:
                yield from self._emit(pending.popleft(), window)
        while pending:
            yield from self._emit(pending.popleft(), window)
        if self.skipped_details:
            self.logger.info(
                "%d %ss unchanged for events since %s: no detail fetched",
                self.skipped_details,
                self.object_type,
                events.iso_time(window.events_after),
            )
        self.finish(window)

    def _fetch_into(self, work: _SliceWork, index: int, object_id: str) -> None:
        """Runs on the pool: one object of the slice; the slice's last one finishes it."""
        try:
            work.results[index] = self._fetch(
                object_id, work.window, work.with_events, work.with_parts
            )
        finally:
            if work.arrived():
                self._finish(work)

    def _finish(self, work: _SliceWork) -> None:
        """The slice's contacts, looked up together (cached ones cost nothing), then its events."""
        try:
            if work.with_events:
                fetched = [f for f in work.results if f is not None and f.seeds]
                wanted = {s.contact_id for f in fetched for s in f.seeds if s.contact_id}
                lookups = self.run.lookups(self.run.contacts.resolve(wanted))
                records = {
                    f.object_id: events.event_records(
                        f.detail, self.object_type, f.seeds, lookups, work.window
                    )
                    for f in fetched
                }
                self.run.report.count_lookback_events(
                    sum(r["from_lookback"] for rs in records.values() for r in rs)
                )
                work.results = [
                    f
                    if f is None or f.object_id not in records
                    else replace(f, events=records[f.object_id])
                    for f in work.results
                ]
            work.done.set_result(None)
        except Exception as exc:  # noqa: BLE001 - raised where the slice is emitted
            work.done.set_exception(exc)

    def _fetch(
        self, object_id: str, window: SyncWindow, with_events: bool, with_parts: bool
    ) -> Fetched | None:
        """The detail, its truncation, its parts and event seeds for the window."""
        detail = self.run.client.get(f"/{self.object_type}s/{object_id}", missing_ok=True)
        if detail is None:
            return None
        part_list = self.part_list(detail)
        truncation = self._truncation(object_id, detail, part_list, window)
        parts = []
        if with_parts:
            for part in part_list:
                changed_at = events.as_epoch(part.get("updated_at")) or events.as_epoch(
                    part.get("created_at")
                )
                if window.holds_change(changed_at):
                    parts.append({**part, self.id_key: object_id})
        seeds = list(self.event_seeds(detail, window)) if with_events else []
        return Fetched(object_id, detail, parts, seeds, truncation)

    def _truncation(
        self, object_id: str, detail: Json, part_list: list[Json], window: SyncWindow
    ) -> Truncation | None:
        """Intercom returns the newest 500 parts and the real `total_count`: a bigger total means
        parts out of reach; events are at risk when even the oldest part returned is newer than
        the event floor."""
        total = events.as_epoch((detail.get(self.parts_key) or {}).get("total_count"))
        if total is None or total <= len(part_list):
            return None
        times = [events.as_epoch(p.get("created_at")) for p in part_list]
        oldest = min((t for t in times if t is not None), default=None)
        missing = None
        if oldest is None or oldest > window.events_after:
            created_at = events.as_epoch(detail.get("created_at"))
            certain = created_at is not None and created_at > window.events_after
            missing = "certain" if certain else "possible"
        return Truncation(
            object_type=self.object_type,
            object_id=object_id,
            parts_total=total,
            parts_returned=len(part_list),
            oldest_returned_part_at=oldest,
            events_after=window.events_after,
            events_missing=missing,
        )

    def _emit(self, work: _SliceWork, window: SyncWindow) -> Iterator[Json]:
        for future in work.futures:
            future.result()  # a detail's error (or cancellation) stops the run here
        work.done.result()
        for fetched in work.results:
            if fetched is None:
                continue
            if fetched.truncation is not None:
                self._report(fetched.truncation)
            self._current = fetched
            try:
                yield self._record(fetched.detail)
            finally:
                self._current = None
        gone = sum(1 for f in work.results if f is None)
        if gone:
            self.logger.warning(
                "%d %s(s) disappeared (404) after they were listed: skipped", gone, self.object_type
            )
        if work.found.upper is not None:
            self.checkpoint(window, read_through=work.found.upper)

    def _report(self, truncation: Truncation) -> None:
        self.run.report.add_truncation(truncation)
        self.logger.warning(
            "%s %s has %d parts; Intercom returns the newest %d: %d out of reach%s",
            self.object_type,
            truncation.object_id,
            truncation.parts_total,
            truncation.parts_returned,
            truncation.parts_out_of_reach,
            f" (events {truncation.events_missing}ly missing since the bookmark)"
            if truncation.events_missing
            else " (all older than the bookmark)",
        )

    def _record(self, detail: Json) -> Json:
        parts = detail.get(self.parts_key) or {}
        return {
            **detail,
            # Parts are their own stream; the object keeps the count only.
            self.parts_key: {"type": parts.get("type"), "total_count": parts.get("total_count")},
        }


class ConversationsStream(DetailedSearchStream):
    name = "conversations"
    schema = schemas.CONVERSATION
    object_type = "conversation"
    search_path = "/conversations/search"
    results_key = "conversations"
    parts_key = "conversation_parts"

    def part_list(self, detail: Json) -> list[Json]:
        return events.conversation_part_list(detail)

    def event_seeds(self, detail: Json, window: SyncWindow) -> Iterator[events.EventSeed]:
        return events.conversation_event_seeds(detail, window)


class TicketsStream(DetailedSearchStream):
    name = "tickets"
    schema = schemas.TICKET
    object_type = "ticket"
    search_path = "/tickets/search"
    results_key = "tickets"
    parts_key = "ticket_parts"

    def part_list(self, detail: Json) -> list[Json]:
        return events.ticket_part_list(detail)

    def event_seeds(self, detail: Json, window: SyncWindow) -> Iterator[events.EventSeed]:
        return events.ticket_event_seeds(detail, window)


class ChildStream(IntercomStream):
    """Emits what its parent stream fetched for the parent record being emitted; never fetches."""

    state_partitioning_keys: ClassVar[list[str]] = []

    def __init__(self, tap: Tap, run: Runtime, parent: DetailedSearchStream) -> None:
        super().__init__(tap, run)
        self.parent = parent
        parent.children.append(self)
        self._schema_sent = False
        # Children sync once per parent: their per-sync INFO lines ("Beginning sync", record_count,
        # sync_duration) would be 3 lines per conversation. The run's progress and summary lines
        # count their records instead.
        self.logger.setLevel(logging.WARNING)

    def _write_schema_message(self) -> None:
        # The SDK writes a child's SCHEMA at every parent record; targets flush on each one.
        if not self._schema_sent:
            self._schema_sent = True
            super()._write_schema_message()

    def get_record_counter(self, **kwargs: Any) -> metrics.Counter:
        counter = super().get_record_counter(**kwargs)
        counter.logger = QUIET_METRICS
        return counter

    def get_sync_timer(self) -> metrics.Timer:
        timer = super().get_sync_timer()
        timer.logger = QUIET_METRICS
        return timer

    def records_of(self, fetched: Fetched) -> list[Json]:
        raise NotImplementedError

    def get_records(self, context: Context | None) -> Iterable[Json]:
        fetched = self.parent.fetched_for(context) if context else None
        return [] if fetched is None else self.records_of(fetched)


class PartsStream(ChildStream):
    primary_keys: ClassVar[list[str]] = ["id"]

    def records_of(self, fetched: Fetched) -> list[Json]:
        return fetched.parts


class EventsStream(ChildStream):
    """One record per contract event of the parent object, inside the run's window."""

    primary_keys: ClassVar[list[str]] = ["event_id"]

    def records_of(self, fetched: Fetched) -> list[Json]:
        return fetched.events


class ConversationPartsStream(PartsStream):
    name = "conversation_parts"
    parent_stream_type = ConversationsStream
    schema = schemas.CONVERSATION_PART


class TicketPartsStream(PartsStream):
    name = "ticket_parts"
    parent_stream_type = TicketsStream
    schema = schemas.TICKET_PART


class ConversationEventsStream(EventsStream):
    name = "conversation_events"
    parent_stream_type = ConversationsStream
    schema = schemas.CONVERSATION_EVENT


class TicketEventsStream(EventsStream):
    name = "ticket_events"
    parent_stream_type = TicketsStream
    schema = schemas.TICKET_EVENT


class TruncatedPartsStream(IntercomStream):
    """Conversations and tickets of this run whose cut part lists may hide events (runs after
    the conversations and tickets streams, from what they reported)."""

    name = "truncated_parts"
    primary_keys: ClassVar[list[str]] = ["object_type", "object_id"]
    schema = th.PropertiesList(
        th.Property("object_type", th.StringType, required=True),  # conversation | ticket
        th.Property("object_id", th.StringType, required=True),
        th.Property("parts_total", th.IntegerType),
        th.Property("parts_returned", th.IntegerType),
        th.Property("parts_out_of_reach", th.IntegerType),
        th.Property("oldest_returned_part_at", th.DateTimeType),
        th.Property("events_after", th.DateTimeType),
        th.Property("events_missing", th.StringType),  # certain | possible
        th.Property("detected_in_window_ending", th.DateTimeType),
    ).to_dict()

    def get_records(self, context: Context | None) -> Iterable[Json]:
        for t in self.run.report.truncations:
            if t.events_missing is None:
                continue
            yield {
                "object_type": t.object_type,
                "object_id": t.object_id,
                "parts_total": t.parts_total,
                "parts_returned": t.parts_returned,
                "parts_out_of_reach": t.parts_out_of_reach,
                "oldest_returned_part_at": events.iso_time(t.oldest_returned_part_at),
                "events_after": events.iso_time(t.events_after),
                "events_missing": t.events_missing,
                "detected_in_window_ending": events.iso_time(self.run.window_end()),
            }
