"""Run-scoped lookups: admins, teams and tags (small, fetched whole once) and the run's contacts."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass

from tap_intercom_events.client import IntercomClient
from tap_intercom_events.json_types import Json
from tap_intercom_events.search import CursorGuard, contact_ids_body, next_cursor

LOGGER = logging.getLogger("tap-intercom-events.lookups")


# Ids per contact search `{"field": "id", "operator": "IN", "value": [...]}`. Intercom documents at
# most 15 filters per AND/OR group but no maximum length of an IN list: 50 is a conservative choice
# (one filter, well under the 150 a page returns, so one request per batch).
CONTACT_BATCH = 50

# A trimmed contact: `[role, email, phone, external_id]` as compact JSON, one string (the id is the
# key): far smaller than a tuple of four strings.
_Entry = str


class ContactCache:
    """The contacts events need, each fetched at most once per run, and never when a search of
    the run already returned it.

    Searches fill it (`add`: the contacts stream, as it emits). `resolve` returns the contacts of
    a set of ids: cached ones at once, the others looked up with contact search `id IN [...]`
    (`CONTACT_BATCH` ids a request), and `GET /contacts/{id}` for ids the search did not return
    (indexed late, or deleted/merged: then None). Concurrent callers of one id share its lookup.

    Entries are trimmed to what events use (id, role, email, phone, external_id), one compact
    string each: nothing is evicted (an evicted contact would be fetched again), and memory per
    contact stays a few hundred bytes (benchmarks/README.md).
    """

    KEPT_FIELDS = ("id", "role", "email", "phone", "external_id")

    def __init__(self, client: IntercomClient, batch_size: int = CONTACT_BATCH) -> None:
        self._client = client
        self._batch_size = max(1, batch_size)
        self._entries: dict[str, _Entry | None] = {}
        self._in_flight: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self.searched = 0  # ids looked up by search
        self.fetched = 0  # ids fetched one by one (not returned by the search)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, contact: Json) -> None:
        """A contact a search returned (its full object or a trimmed one)."""
        entry = _trim(contact)
        with self._lock:
            self._entries[str(contact["id"])] = entry

    def get(self, contact_id: str) -> Json | None:
        """The cached contact (trimmed), None when unknown or known to be gone."""
        entry = self._entries.get(contact_id)
        return None if entry is None else _as_contact(contact_id, entry)

    def resolve(self, contact_ids: Iterable[str]) -> dict[str, Json]:
        """The contacts of `contact_ids` that exist, trimmed, by id; looks up the uncached ones.

        Blocks; runs on a worker thread. Ids another caller is looking up are waited for only
        after this caller's own lookups are done, so two callers never wait on each other.
        """
        mine: list[str] = []
        theirs: list[Future[None]] = []
        owned: Future[None] = Future()
        with self._lock:
            for contact_id in sorted(set(contact_ids)):
                if contact_id in self._entries:
                    continue
                pending = self._in_flight.get(contact_id)
                if pending is not None:
                    theirs.append(pending)
                else:
                    self._in_flight[contact_id] = owned
                    mine.append(contact_id)
        if mine:
            try:
                found = self._lookup(mine)
            except BaseException as exc:
                with self._lock:
                    for contact_id in mine:
                        self._in_flight.pop(contact_id, None)
                owned.set_exception(exc)
                raise
            with self._lock:
                for contact_id in mine:
                    self._entries[contact_id] = found.get(contact_id)
                    self._in_flight.pop(contact_id, None)
            owned.set_result(None)
        for pending in theirs:
            pending.result()
        contacts = {}
        for contact_id in set(contact_ids):
            contact = self.get(contact_id)
            if contact is not None:
                contacts[contact_id] = contact
        return contacts

    def _lookup(self, contact_ids: list[str]) -> dict[str, _Entry]:
        found: dict[str, _Entry] = {}
        for start in range(0, len(contact_ids), self._batch_size):
            batch = contact_ids[start : start + self._batch_size]
            found.update(self._search(batch))
            with self._lock:
                self.searched += len(batch)
        for contact_id in contact_ids:
            if contact_id in found:
                continue
            with self._lock:
                self.fetched += 1
            contact = self._get(contact_id)
            if contact is None:
                LOGGER.warning(
                    "contact %s not found (404/410): its events carry no email or phone",
                    contact_id,
                )
            else:
                found[contact_id] = _trim(contact)
        return found

    def _search(self, batch: list[str]) -> dict[str, _Entry]:
        """One contact search by id (more pages only if Intercom pages a batch after all)."""
        wanted = set(batch)
        found: dict[str, _Entry] = {}
        cursor: str | None = None
        guard = CursorGuard()
        while True:
            page = self._client.post("/contacts/search", contact_ids_body(batch, cursor=cursor))
            for contact in page.get("data") or []:
                if str(contact.get("id")) in wanted:
                    found[str(contact["id"])] = _trim(contact)
            cursor = next_cursor(page)
            if not cursor or len(found) == len(wanted) or not guard.is_new(cursor):
                return found

    def _get(self, contact_id: str) -> Json | None:
        """GET /contacts/{id}; None when there is no such contact (404 deleted, 410 merged)."""
        return self._client.get(f"/contacts/{contact_id}", missing_ok=True)


def _trim(contact: Json) -> _Entry:
    kept = [contact.get(key) for key in ContactCache.KEPT_FIELDS[1:]]
    return json.dumps(kept, separators=(",", ":"))


def _as_contact(contact_id: str, entry: _Entry) -> Json:
    return dict(zip(ContactCache.KEPT_FIELDS, [contact_id, *json.loads(entry)], strict=True))


@dataclass(frozen=True)
class Directory:
    """Admins, teams and tags as Intercom lists them (each listed once per run), their names, and
    the workspace the token belongs to."""

    admins: list[Json]
    teams: list[Json]
    tags: list[Json]
    # The workspace's id_code (`GET /me` `app.id_code`): every event record carries it, so that
    # events of two workspaces sent to one Klaviyo account can be told apart (README, "Several
    # workspaces, one Klaviyo account").
    workspace_id: str | None = None

    def names(self) -> tuple[dict[str, Json], dict[str, str], dict[str, str]]:
        """Admins (id -> object), teams (id -> name), tags (id -> name)."""
        return (
            {str(a["id"]): a for a in self.admins},
            {str(t["id"]): str(t.get("name")) for t in self.teams},
            {str(t["id"]): str(t.get("name")) for t in self.tags},
        )


def fetch_directory(client: IntercomClient) -> Directory:
    app = (client.get("/me") or {}).get("app")
    workspace_id = app.get("id_code") if isinstance(app, dict) else None
    return Directory(
        workspace_id=str(workspace_id) if workspace_id else None,
        admins=list((client.get("/admins") or {}).get("admins") or []),
        teams=list((client.get("/teams") or {}).get("teams") or []),
        tags=list((client.get("/tags") or {}).get("data") or []),
    )
