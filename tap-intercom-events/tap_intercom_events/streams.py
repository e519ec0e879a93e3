"""Full-table lookup streams (admins, teams, tags, ticket types) and the contacts stream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import ClassVar

from singer_sdk.helpers.types import Context

from tap_intercom_events import schemas
from tap_intercom_events.base import IncrementalStream, IntercomStream
from tap_intercom_events.client import IntercomClient
from tap_intercom_events.json_types import Json
from tap_intercom_events.paging import read_contact_pages
from tap_intercom_events.search import contact_search_body
from tap_intercom_events.window import SyncWindow


class AdminsStream(IntercomStream):
    name = "admins"
    primary_keys: ClassVar[list[str]] = ["id"]
    schema = schemas.ADMIN

    def get_records(self, context: Context | None) -> Iterable[Json]:
        return self.run.directory().admins


class TeamsStream(IntercomStream):
    name = "teams"
    primary_keys: ClassVar[list[str]] = ["id"]
    schema = schemas.TEAM

    def get_records(self, context: Context | None) -> Iterable[Json]:
        return self.run.directory().teams


class TagsStream(IntercomStream):
    name = "tags"
    primary_keys: ClassVar[list[str]] = ["id"]
    schema = schemas.TAG

    def get_records(self, context: Context | None) -> Iterable[Json]:
        return self.run.directory().tags


class TicketTypesStream(IntercomStream):
    name = "ticket_types"
    primary_keys: ClassVar[list[str]] = ["id"]
    schema = schemas.TICKET_TYPE

    def get_records(self, context: Context | None) -> Iterable[Json]:
        # Intercom's ticket type list is unpaged.
        return list((self.run.client.get("/ticket_types") or {}).get("data") or [])


def contact_tag_names(contact: Json, tags: Mapping[str, str], client: IntercomClient) -> list[str]:
    """All tag names of a contact: the embedded list holds ids only and at most 10 of them."""
    embedded = contact.get("tags") or {}
    if embedded.get("has_more"):
        full = client.get(f"/contacts/{contact['id']}/tags", missing_ok=True) or {}
        return [str(t.get("name")) for t in full.get("data") or [] if t.get("name") is not None]
    names = []
    for ref in embedded.get("data") or []:
        name = ref.get("name") or tags.get(str(ref.get("id")))
        if name:
            names.append(str(name))
    return names


class ContactsStream(IncrementalStream):
    """Contacts changed since the bookmark, with `tag_names` added.

    Contact search matches dates by day: the query starts at the bookmark's day and records that
    are not newer than the window's lower bound (or later than its end) are dropped here. Every
    contact the search returns goes into the run's contact cache (events need no GET for it).
    """

    name = "contacts"
    primary_keys: ClassVar[list[str]] = ["id"]
    schema = schemas.CONTACT

    def lookback_seconds(self) -> int:
        # Intercom: a recently created or edited contact "may not appear" in search for a few minutes.
        return self.run.settings.contact_lookback_seconds

    def get_records(self, context: Context | None) -> Iterable[Json]:
        client = self.run.client
        window = self.plan_window()
        tags = self.run.lookups().tags
        page_size = self.run.settings.page_size

        def body(lower: int, cursor: str | None) -> Json:
            return contact_search_body(lower=lower, page_size=page_size, cursor=cursor)

        pages = read_contact_pages(
            client,
            self.run.pool,
            path="/contacts/search",
            results_key="data",
            lower=window.lower,
            body=body,
            logger=self.logger,
        )
        cache = self.run.contacts
        complete = True
        # One page ahead: its tag lists are fetched on the pool while this one is emitted.
        ahead: _ContactPageWork | None = None
        for page in pages:
            complete = complete and not page.gave_up
            for contact in page.items:
                # Events of this run look these up without another request (trimmed entries).
                cache.add(contact)
            contacts = [c for c in page.items if window.lower < int(c["updated_at"]) <= window.end]
            tag_names = [
                self.run.pool.submit(contact_tag_names, c, tags, client)
                if (c.get("tags") or {}).get("has_more")
                else contact_tag_names(c, tags, client)
                for c in contacts
            ]
            work = _ContactPageWork(contacts, tag_names, page.ascending_so_far)
            if ahead is not None:
                yield from self._emit(ahead, window)
            ahead = work
        if ahead is not None:
            yield from self._emit(ahead, window)
        if complete:
            self.finish(window)

    def _emit(self, work: _ContactPageWork, window: SyncWindow) -> Iterator[Json]:
        for contact, tag_names in zip(work.contacts, work.tag_names, strict=True):
            names = tag_names.result() if isinstance(tag_names, Future) else tag_names
            yield {**contact, "tag_names": names}
        if work.ascending_so_far and work.contacts:
            # Everything up to the newest contact of this page, less its second, was read.
            newest = max(int(c["updated_at"]) for c in work.contacts)
            self.checkpoint(window, read_through=newest - 1)


@dataclass(frozen=True)
class _ContactPageWork:
    contacts: list[Json]  # the page's contacts in the window
    tag_names: list[list[str] | Future[list[str]]]  # a Future: a tag list request
    ascending_so_far: bool
