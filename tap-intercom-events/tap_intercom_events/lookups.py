"""Run-scoped lookups: admins, teams and tags (small, fetched whole once) and a bounded contact cache."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tap_intercom_events.client import IntercomClient

LOGGER = logging.getLogger("tap-intercom-events.lookups")

Json = dict[str, Any]


class ContactCache:
    """GET /contacts/{id} through a bounded LRU; concurrent callers of one id share one request.

    Events need only a contact's email, phone, external_id and role, so entries are trimmed to
    those; memory stays flat however large the workspace is.
    """

    KEPT_FIELDS = ("id", "role", "email", "phone", "external_id")

    def __init__(self, client: IntercomClient, max_size: int = 20_000) -> None:
        self._client = client
        self._max_size = max_size
        self._entries: OrderedDict[str, Future[Json | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.misses = 0

    def get(self, contact_id: str) -> Json | None:
        """The contact (trimmed), or None when Intercom has no such contact (deleted, merged)."""
        with self._lock:
            entry = self._entries.get(contact_id)
            if entry is not None:
                self._entries.move_to_end(contact_id)
                owner = False
            else:
                entry = Future()
                self._entries[contact_id] = entry
                owner = True
                self.misses += 1
                while len(self._entries) > self._max_size:
                    self._entries.popitem(last=False)
        if not owner:
            return entry.result()
        try:
            contact = self._client.get(f"/contacts/{contact_id}", missing_ok=True)
        except BaseException as exc:
            with self._lock:
                self._entries.pop(contact_id, None)
            entry.set_exception(exc)
            raise
        trimmed = None if contact is None else {k: contact.get(k) for k in self.KEPT_FIELDS}
        if trimmed is None:
            LOGGER.warning(
                "contact %s not found (404): its events carry no email or phone", contact_id
            )
        entry.set_result(trimmed)
        return trimmed


@dataclass(frozen=True)
class Directory:
    """Admins, teams and tags as Intercom lists them (each listed once per run), and their names."""

    admins: list[Json]
    teams: list[Json]
    tags: list[Json]

    def names(self) -> tuple[dict[str, Json], dict[str, str], dict[str, str]]:
        """Admins (id -> object), teams (id -> name), tags (id -> name)."""
        return (
            {str(a["id"]): a for a in self.admins},
            {str(t["id"]): str(t.get("name")) for t in self.teams},
            {str(t["id"]): str(t.get("name")) for t in self.tags},
        )


def fetch_directory(client: IntercomClient) -> Directory:
    return Directory(
        admins=list((client.get("/admins") or {}).get("admins") or []),
        teams=list((client.get("/teams") or {}).get("teams") or []),
        tags=list((client.get("/tags") or {}).get("data") or []),
    )
