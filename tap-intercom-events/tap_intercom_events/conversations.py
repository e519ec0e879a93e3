"""Conversations and tickets (search, then details fetched concurrently) and their child streams.

Search pages are read in order (cursor); each page's details are fetched on the client's thread
pool while earlier pages are being emitted, and records go out in page order. Children (parts,
events) read the fetched detail from a per-parent cache on the tap, so their context holds ids only.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, ClassVar

from singer_sdk import metrics
from singer_sdk.helpers.types import Context
from singer_sdk.streams import Stream

from tap_intercom_events import events, schemas
from tap_intercom_events.base import IncrementalMixin, IntercomStream
from tap_intercom_events.paging import search_pages
from tap_intercom_events.search import SyncWindow, search_body

LOOKAHEAD_PAGES = 2  # pages whose details are being fetched while the oldest one is emitted
QUIET_METRICS = logging.getLogger("tap-intercom-events.child-metrics")
QUIET_METRICS.setLevel(logging.WARNING)

Json = dict[str, Any]


@dataclass
class Fetched:
    """A conversation or ticket with its parts, and the contacts its events in the window need."""

    detail: Json
    contacts: dict[str, Json] = field(default_factory=dict)


class DetailedSearchStream(IncrementalMixin, IntercomStream):
    """Incremental search over `updated_at`, one GET per object for its parts."""

    http_method = "POST"
    replication_key = "updated_at"
    primary_keys: ClassVar[list[str]] = ["id"]
    # State is written per page by checkpoint(); the SDK's record-count cadence is not used.
    STATE_MSG_FREQUENCY = 10**12

    object_type: ClassVar[str]  # "conversation" | "ticket"
    results_key: ClassVar[str]  # list key of the search response
    parts_key: ClassVar[str]  # "conversation_parts" | "ticket_parts"
    events_stream: ClassVar[str]

    window: SyncWindow | None = None

    def event_seeds(self, detail: Json, events_after: int) -> Iterator[events.EventSeed]:
        raise NotImplementedError

    def detail_path(self, object_id: str) -> str:
        return f"/{self.object_type}s/{object_id}"

    def get_child_context(self, record: Json, context: Context | None) -> Context:
        return {f"{self.object_type}_id": str(record["id"])}

    def _events_selected(self) -> bool:
        stream = self.intercom_tap.streams.get(self.events_stream)
        return bool(stream and stream.selected)

    def get_records(self, context: Context | None) -> Iterable[Json]:
        window = self.window = self.plan_window()
        with_events = self._events_selected()
        if with_events:
            self.tap_lookups()  # admins, teams, tags: once per run, before the pool needs them
        pending: deque[tuple[list[Json], list[Future[Fetched | None]]]] = deque()
        for items in self._search_pages(window):
            futures = [
                self.client.submit(self._fetch, str(item["id"]), window, with_events)
                for item in items
            ]
            pending.append((items, futures))
            if len(pending) > LOOKAHEAD_PAGES:
                yield from self._emit(*pending.popleft(), window)
        while pending:
            yield from self._emit(*pending.popleft(), window)
        self.finish(window)

    def _search_pages(self, window: SyncWindow) -> Iterator[list[Json]]:
        def body(lower: int, cursor: str | None) -> Json:
            return search_body(
                field="updated_at",
                lower=lower,
                upper=window.end,
                page_size=self.page_size,
                cursor=cursor,
            )

        return search_pages(
            self.client,
            path=self.path,
            results_key=self.results_key,
            body=body,
            window=window,
            logger=self.logger,
        )

    def _fetch(self, object_id: str, window: SyncWindow, with_events: bool) -> Fetched | None:
        """Runs on the pool: the detail, then the contacts its in-window events are about."""
        detail = self.client.get(self.detail_path(object_id), missing_ok=True)
        if detail is None:
            return None
        fetched = Fetched(detail)
        if with_events:
            needed = {
                seed.contact_id
                for seed in self.event_seeds(detail, window.events_after)
                if seed.contact_id
                and seed.occurred_at in events.EventWindow(window.events_after, window.end)
            }
            for contact_id in sorted(needed):
                contact = self.intercom_tap.contacts.get(contact_id)
                if contact is not None:
                    fetched.contacts[contact_id] = contact
        return fetched

    def _emit(
        self, items: list[Json], futures: list[Future[Fetched | None]], window: SyncWindow
    ) -> Iterator[Json]:
        cache = self.intercom_tap.parent_cache
        for item, future in zip(items, futures, strict=True):
            fetched = future.result()
            object_id = str(item["id"])
            if fetched is None:
                self.logger.warning(
                    "%s %s disappeared (404) after it was listed: skipped",
                    self.object_type,
                    object_id,
                )
                continue
            key = f"{self.object_type}:{object_id}"
            cache[key] = fetched
            try:
                yield self._record(fetched.detail)
            finally:
                # The children ran before the SDK asked for the next record.
                cache.pop(key, None)
        self.checkpoint(window, last_updated_at=max(int(item["updated_at"]) for item in items))

    def _record(self, detail: Json) -> Json:
        parts = detail.get(self.parts_key) or {}
        return {
            **detail,
            "id": str(detail["id"]),
            # Parts are their own stream; the object keeps the count only.
            self.parts_key: {"type": parts.get("type"), "total_count": parts.get("total_count")},
        }


class ConversationsStream(DetailedSearchStream):
    name = "conversations"
    path = "/conversations/search"
    schema = schemas.CONVERSATION
    object_type = "conversation"
    results_key = "conversations"
    parts_key = "conversation_parts"
    events_stream = "conversation_events"

    def event_seeds(self, detail: Json, events_after: int) -> Iterator[events.EventSeed]:
        return events.conversation_event_seeds(detail, events_after)


class TicketsStream(DetailedSearchStream):
    name = "tickets"
    path = "/tickets/search"
    schema = schemas.TICKET
    object_type = "ticket"
    results_key = "tickets"
    parts_key = "ticket_parts"
    events_stream = "ticket_events"

    def event_seeds(self, detail: Json, events_after: int) -> Iterator[events.EventSeed]:
        return events.ticket_event_seeds(detail)


class _ChildStream(Stream):
    """Reads its parent's fetched object from the tap's per-parent cache; never refetches."""

    state_partitioning_keys: ClassVar[list[str]] = []
    object_type: ClassVar[str]  # the parent's: "conversation" | "ticket"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Children sync once per parent: their per-sync INFO lines ("Beginning sync", record_count,
        # sync_duration) would be 3 lines per conversation. The tap's progress and summary lines
        # count their records instead.
        self.logger.setLevel(logging.WARNING)

    def get_record_counter(self, **kwargs: Any) -> metrics.Counter:
        counter = super().get_record_counter(**kwargs)
        counter.logger = QUIET_METRICS
        return counter

    def get_sync_timer(self) -> metrics.Timer:
        timer = super().get_sync_timer()
        timer.logger = QUIET_METRICS
        return timer

    @property
    def id_key(self) -> str:
        return f"{self.object_type}_id"

    def _parent(self, context: Context | None) -> tuple[Fetched | None, SyncWindow | None]:
        if not context:
            return None, None
        parent = self._tap.streams[f"{self.object_type}s"]
        key = f"{self.object_type}:{context[self.id_key]}"
        fetched = self._tap.parent_cache.get(key)  # type: ignore[attr-defined]
        return fetched, getattr(parent, "window", None)

    def post_process(self, row: Json, context: Context | None = None) -> Json | None:
        self._tap.client.count_records(self.name)  # type: ignore[attr-defined]
        return row


class _PartsStream(_ChildStream):
    def get_records(self, context: Context | None) -> Iterable[Json]:
        fetched, window = self._parent(context)
        if fetched is None or window is None or context is None:
            return
        object_id = str(context[self.id_key])
        part_list = (
            events.conversation_part_list(fetched.detail)
            if self.id_key == "conversation_id"
            else events.ticket_part_list(fetched.detail)
        )
        for part in part_list:
            # New or changed in this window only: a re-fetched conversation does not resend old parts.
            changed_at = events.as_epoch(part.get("updated_at")) or events.as_epoch(
                part.get("created_at")
            )
            if changed_at is not None and window.events_after < changed_at <= window.end:
                yield {**part, "id": str(part["id"]), self.id_key: object_id}


class ConversationPartsStream(_PartsStream):
    name = "conversation_parts"
    parent_stream_type = ConversationsStream
    object_type = "conversation"
    primary_keys = ("id",)
    schema = schemas.CONVERSATION_PART


class TicketPartsStream(_PartsStream):
    name = "ticket_parts"
    parent_stream_type = TicketsStream
    object_type = "ticket"
    primary_keys = ("id",)
    schema = schemas.TICKET_PART


class _EventsStream(_ChildStream):
    """One record per contract event of the parent object, inside the run's window."""

    # The contract's rules for this object type (a pure function in events.py).
    derive_events: ClassVar[Callable[[Json, events.Lookups, events.EventWindow], Iterable[Json]]]

    def get_records(self, context: Context | None) -> Iterable[Json]:
        fetched, window = self._parent(context)
        if fetched is None or window is None:
            return []
        lookups = self._tap.lookups(contacts=fetched.contacts)  # type: ignore[attr-defined]
        return type(self).derive_events(
            fetched.detail, lookups, events.EventWindow(window.events_after, window.end)
        )


class ConversationEventsStream(_EventsStream):
    name = "conversation_events"
    parent_stream_type = ConversationsStream
    object_type = "conversation"
    primary_keys = ("event_id",)
    schema = schemas.CONVERSATION_EVENT
    derive_events = events.conversation_events


class TicketEventsStream(_EventsStream):
    name = "ticket_events"
    parent_stream_type = TicketsStream
    object_type = "ticket"
    primary_keys = ("event_id",)
    schema = schemas.TICKET_EVENT
    derive_events = events.ticket_events
