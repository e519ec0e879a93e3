"""The data contract's event rules as pure functions: Intercom conversation/ticket -> event records.

Record shape and event_id formats: docs/interfaces.md section 1. Nothing here does I/O: lookups
(admins, teams, tags, contacts) are passed in, so every rule is unit-testable with plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tap_intercom_events.json_types import Json
from tap_intercom_events.window import SyncWindow

CONTACT_ROLES = frozenset({"user", "lead"})
# Intercom 2.16 reports a conversation's priority as a level; 2.11 to 2.15 as `priority` or
# `not_priority`. Priority keeps the two-value meaning under every version (a segment on it does
# not change meaning with api_version); 2.16's level goes to priority_level (docs/contract.md).
PRIORITY_LEVELS = frozenset({"low", "medium", "high", "urgent"})
NO_PRIORITY_LEVELS = frozenset({"none"})

CREATED_CONVERSATION = "Created Conversation"
RATED_CONVERSATION = "Rated Conversation"
READ_CONVERSATION = "Read Conversation"
REPLIED_TO_CONVERSATION = "Replied to Conversation"
CREATED_TICKET = "Created Ticket"
SUBMITTED_TICKET = "Submitted Ticket"
REPLIED_TO_TICKET = "Replied to Ticket"
MARKED_TICKET_AS_WAITING = "Marked Ticket as Waiting"
RESOLVED_TICKET = "Resolved Ticket"

# Ticket state categories whose *entry* is an event, with the event_id suffix of each.
STATE_ENTRY_METRICS = {
    "submitted": (SUBMITTED_TICKET, "submitted"),
    "waiting_on_customer": (MARKED_TICKET_AS_WAITING, "waiting"),
    "resolved": (RESOLVED_TICKET, "resolved"),
}


@dataclass(frozen=True)
class Lookups:
    """Names the event properties need, keyed by Intercom id (as strings)."""

    admins: Mapping[str, Json] = field(default_factory=dict)  # id -> {"name", "email", ...}
    teams: Mapping[str, str] = field(default_factory=dict)  # id -> name
    tags: Mapping[str, str] = field(default_factory=dict)  # id -> name
    contacts: Mapping[str, Json] = field(default_factory=dict)  # id -> contact object (or None)
    workspace_id: str | None = None  # the workspace's id_code (lookups.Directory.workspace_id)


def iso_time(epoch: int | float | None) -> str | None:
    """Epoch seconds -> `YYYY-MM-DDTHH:MM:SS+00:00` (the interfaces' occurred_at format)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).isoformat()


def as_epoch(value: Any) -> int | None:
    """Intercom times are epoch seconds, sometimes as numeric strings; None stays None."""
    if value is None or value == "":
        return None
    return int(value)


def assignee_id(value: Any) -> str | None:
    """Assignee ids come as int or string; 0, "0" and null all mean unassigned."""
    if value is None or str(value) in ("", "0"):
        return None
    return str(value)


def ref_id(value: Any) -> str | None:
    return None if value is None else str(value)


def ticket_state_category(state: Any) -> str | None:
    """API 2.11 returns ticket_state as a category string, 2.12+ as an object with `category`."""
    if isinstance(state, Mapping):
        category = state.get("category")
        return None if category is None else str(category)
    return None if state is None else str(state)


def _contact_fields(
    contact_id: str | None, lookups: Lookups, ref: Mapping[str, Any] | None
) -> Json:
    """The event's contact columns; the contact object wins over the reference it came from."""
    contact = lookups.contacts.get(contact_id) if contact_id else None
    ref = ref or {}
    if contact:
        return {
            "contact_id": contact_id,
            "contact_role": contact.get("role") or _role(ref),
            "contact_email": contact.get("email"),
            "contact_phone": contact.get("phone"),
            "contact_external_id": contact.get("external_id"),
        }
    # Unknown (deleted) contact: keep what the reference says; the target dead-letters it if needed.
    return {
        "contact_id": contact_id,
        "contact_role": _role(ref),
        "contact_email": ref.get("email"),
        "contact_phone": None,
        "contact_external_id": ref.get("external_id"),
    }


def _role(ref: Mapping[str, Any]) -> str | None:
    kind = ref.get("type")
    return kind if kind in CONTACT_ROLES else None


def _admin_fields(admin_value: Any, lookups: Lookups) -> Json:
    admin_key = assignee_id(admin_value)
    admin = lookups.admins.get(admin_key) if admin_key else None
    return {
        "assigned_admin_name": admin.get("name") if admin else None,
        "assigned_admin_email": admin.get("email") if admin else None,
    }


def _team_name(team_value: Any, lookups: Lookups) -> str | None:
    team_key = assignee_id(team_value)
    return lookups.teams.get(team_key) if team_key else None


def _nested(obj: Mapping[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def conversation_part_list(conversation: Mapping[str, Any]) -> list[Json]:
    parts = _nested(conversation, "conversation_parts", "conversation_parts")
    return list(parts) if isinstance(parts, list) else []


def ticket_part_list(ticket: Mapping[str, Any]) -> list[Json]:
    parts = _nested(ticket, "ticket_parts", "ticket_parts")
    return list(parts) if isinstance(parts, list) else []


def conversation_properties(conversation: Mapping[str, Any], lookups: Lookups) -> Json:
    """The contract's properties of the four conversation metrics, as snake_case fields."""
    statistics = conversation.get("statistics") or {}
    part_count = statistics.get("count_conversation_parts")
    if part_count is None:
        total = _nested(conversation, "conversation_parts", "total_count")
        part_count = None if total is None else int(total) + 1
    tag_names = []
    for tag in _nested(conversation, "tags", "tags") or []:
        name = tag.get("name") or lookups.tags.get(str(tag.get("id")))
        if name:
            tag_names.append(name)
    rating = _nested(conversation, "conversation_rating", "rating")
    return {
        "title": conversation.get("title"),
        "snoozed_until": iso_time(as_epoch(conversation.get("snoozed_until"))),
        "waiting_since": iso_time(as_epoch(conversation.get("waiting_since"))),
        **_priority_fields(conversation.get("priority")),
        "assigned_team": _team_name(conversation.get("team_assignee_id"), lookups),
        **_admin_fields(conversation.get("admin_assignee_id"), lookups),
        "tags": tag_names,
        "conversation_rating": None if rating is None else int(rating),
        "conversation_source": _nested(conversation, "source", "type"),
        "conversation_delivered_as": _nested(conversation, "source", "delivered_as"),
        "conversation_part_count": None if part_count is None else int(part_count),
        "sla_status": _nested(conversation, "sla_applied", "sla_status"),
        "reopen_count": statistics.get("count_reopens"),
        "assignment_count": statistics.get("count_assignments"),
        "custom_attributes": conversation.get("custom_attributes"),
    }


def _priority_fields(raw: Any) -> Json:
    """`priority` as `priority`/`not_priority` whatever the API version; the 2.16 level (or
    null before 2.16) as `priority_level`. A value of neither vocabulary is kept as it came."""
    if raw in PRIORITY_LEVELS:
        return {"priority": "priority", "priority_level": raw}
    if raw in NO_PRIORITY_LEVELS:
        return {"priority": "not_priority", "priority_level": raw}
    return {"priority": raw, "priority_level": None}


def ticket_properties(ticket: Mapping[str, Any], lookups: Lookups) -> Json:
    """The contract's properties of the ticket metrics, as snake_case fields."""
    attributes = ticket.get("ticket_attributes") or {}
    part_total = _nested(ticket, "ticket_parts", "total_count")
    is_shared = ticket.get("is_shared")
    return {
        "category": ticket.get("category"),
        "assigned_team": _team_name(ticket.get("team_assignee_id"), lookups),
        **_admin_fields(ticket.get("admin_assignee_id"), lookups),
        "snoozed_until": iso_time(as_epoch(ticket.get("snoozed_until"))),
        "ticket_part_count": None if part_total is None else int(part_total),
        "ticket_type": _nested(ticket, "ticket_type", "name"),
        "ticket_name": attributes.get("_default_title_"),
        "ticket_description": attributes.get("_default_description_"),
        "is_shared": None if is_shared is None else bool(is_shared),
    }


@dataclass(frozen=True)
class EventSeed:
    """What distinguishes one event of an object: the rest of the record is the object's."""

    event_id: str
    metric: str
    occurred_at: int
    contact_id: str | None
    contact_ref: Mapping[str, Any] | None
    part_id: str | None = None
    # The earliest time the event may have existed, when before `occurred_at` (a Read: its key's
    # time): a run whose floor was at or after it may have emitted it (the record's from_lookback).
    possible_since: int | None = None

    @property
    def earliest_possible(self) -> int:
        since = self.possible_since
        return self.occurred_at if since is None else min(since, self.occurred_at)


def _first_contact(obj: Mapping[str, Any]) -> Json | None:
    contacts = _nested(obj, "contacts", "contacts") or []
    return contacts[0] if contacts else None


def change_unexplained_after(conversation: Mapping[str, Any], after: int) -> bool:
    """Whether the conversation changed after `after` in a way no part or rating explains.

    A read (and, on API versions without `conversation_rating.updated_at`, a rating) touches
    `updated_at` and nothing else a sync can see, so an unexplained change is the only trace of it.
    """
    updated_at = as_epoch(conversation.get("updated_at"))
    if updated_at is None or updated_at <= after:
        return False
    rated_at = as_epoch(_nested(conversation, "conversation_rating", "updated_at"))
    if rated_at == updated_at:
        return False
    for part in conversation_part_list(conversation):
        if updated_at in (as_epoch(part.get("created_at")), as_epoch(part.get("updated_at"))):
            return False
    return True


def read_became_true_after(conversation: Mapping[str, Any], after: int) -> bool:
    """Whether the conversation's Read key can be new since `after` (a previous run's end).

    REST has no read time. The key (conversation, last_admin_reply_at) is new when the admin reply
    (or, without one, the conversation) is newer than `after`. With an older key the conversation
    may have been read before: it is taken as read now only when its last change is not explained
    by a part or a rating at the same second (a read touches updated_at and nothing else), so a
    rating or a note on an already-read conversation does not resend its Read event.
    """
    statistics = conversation.get("statistics") or {}
    key_time = as_epoch(statistics.get("last_admin_reply_at")) or as_epoch(
        conversation.get("created_at")
    )
    if key_time is None or key_time > after:
        return True
    return change_unexplained_after(conversation, after)


def conversation_event_seeds(
    conversation: Mapping[str, Any], window: SyncWindow | None = None
) -> Iterator[EventSeed]:
    """The contract events a conversation holds for `window` (every one when None), oldest rule
    first. Event ids use only fields every API version 2.11-2.16 returns (docs/interfaces.md)."""
    cid = str(conversation["id"])

    def held(epoch: int) -> bool:
        return window is None or window.holds_event(epoch)

    # Created Conversation: only when a contact started it (admin/outbound ones give none).
    author = _nested(conversation, "source", "author") or {}
    created_at = as_epoch(conversation.get("created_at"))
    if author.get("type") in CONTACT_ROLES and created_at is not None and held(created_at):
        yield EventSeed(
            event_id=f"conversation:{cid}:created",
            metric=CREATED_CONVERSATION,
            occurred_at=created_at,
            contact_id=ref_id(author.get("id")),
            contact_ref=author,
        )
    seed = _rated_seed(cid, conversation, window)
    if seed is not None:
        yield seed
    seed = _read_seed(cid, conversation, window)
    if seed is not None:
        yield seed
    # Replied to Conversation: each comment written by a contact (notes, admins, bots: nothing).
    for part in conversation_part_list(conversation):
        part_author = part.get("author") or {}
        if part.get("part_type") == "comment" and part_author.get("type") in CONTACT_ROLES:
            part_at = int(part["created_at"])
            if not held(part_at):
                continue
            pid = str(part["id"])
            yield EventSeed(
                event_id=f"conversation:{cid}:part:{pid}:replied",
                metric=REPLIED_TO_CONVERSATION,
                occurred_at=part_at,
                contact_id=ref_id(part_author.get("id")),
                contact_ref=part_author,
                part_id=pid,
            )


def _rated_seed(
    cid: str, conversation: Mapping[str, Any], window: SyncWindow | None
) -> EventSeed | None:
    """Rated Conversation: one per (rating request, rating value).

    The id uses `created_at` (when the rating was requested), which every version returns;
    `updated_at` (when it was given) exists from 2.14 only and times the event when present.
    Without it the rating's time is unknown: a rating is taken as possibly new when the
    conversation changed in the window in a way no part explains (resent at worst, same id).
    """
    rating = conversation.get("conversation_rating") or {}
    requested_at = as_epoch(rating.get("created_at"))
    given_at = as_epoch(rating.get("updated_at"))
    rated_at = given_at if given_at is not None else requested_at
    if rating.get("rating") is None or rated_at is None:
        return None
    if window is not None and not window.holds_event(rated_at):
        possibly_new = given_at is None and change_unexplained_after(
            conversation, window.events_after
        )
        if not possibly_new:
            return None
    contact = rating.get("contact") or {}
    key_time = requested_at if requested_at is not None else given_at
    return EventSeed(
        event_id=f"conversation:{cid}:rated:{key_time}:{int(rating['rating'])}",
        metric=RATED_CONVERSATION,
        occurred_at=rated_at,
        contact_id=ref_id(contact.get("id")),
        contact_ref=contact,
    )


def _read_seed(
    cid: str, conversation: Mapping[str, Any], window: SyncWindow | None
) -> EventSeed | None:
    """Read Conversation: one per (conversation, last_admin_reply_at), timed at updated_at.

    When the conversation changed again after the window's end (while the run read it), the read
    is emitted now if the next run could not tell it is new (a part or rating explains the later
    change); otherwise it is left to the next run, which sees it as new.
    """
    updated_at = as_epoch(conversation.get("updated_at"))
    if conversation.get("read") is not True or updated_at is None:
        return None
    if window is not None:
        if not read_became_true_after(conversation, window.events_after):
            return None
        if updated_at > window.end and read_became_true_after(conversation, window.end):
            return None
    statistics = conversation.get("statistics")
    last_reply = as_epoch(statistics.get("last_admin_reply_at")) if statistics else None
    first = _first_contact(conversation)
    return EventSeed(
        event_id=f"conversation:{cid}:read:{'none' if last_reply is None else last_reply}",
        metric=READ_CONVERSATION,
        occurred_at=updated_at,
        contact_id=ref_id(first.get("id")) if first else None,
        contact_ref=first,
        # REST has no read time: a key older than a run's floor may have been read, and its
        # event emitted, by that run (read_became_true_after emits it again, same id).
        possible_since=last_reply
        if last_reply is not None
        else as_epoch(conversation.get("created_at")),
    )


def search_item_proves_no_event(item: Mapping[str, Any], window: SyncWindow) -> bool:
    """Whether a conversation's SEARCH item (no parts) proves it holds no event of the window,
    so its detail is not needed when neither the conversation nor its parts are emitted.

    Mirrors the rules of conversation_event_seeds with the parts unknown; in doubt, False:
    - Created: `created_at` not after the event floor;
    - Replied: `statistics.last_contact_reply_at` (every contact reply moves it) present and not
      after the floor; null statistics or no such field: unknown;
    - Rated: no rating, or one whose `updated_at` (2.14+) is not after the floor; without
      `updated_at` (2.11-2.13) a rating may be new whenever a change is unexplained: unknown;
    - Read: `read` not true; or a Read key not newer than the floor and no change since it
      (`updated_at` not after the floor), as `read_became_true_after` needs the parts otherwise.
    Admin-only changes (notes, admin replies, assignments) of an unread conversation are skipped.
    """
    floor = window.events_after
    created_at = as_epoch(item.get("created_at"))
    if created_at is None or created_at > floor:
        return False
    statistics = item.get("statistics")
    if not isinstance(statistics, Mapping) or "last_contact_reply_at" not in statistics:
        return False
    last_contact_reply = as_epoch(statistics.get("last_contact_reply_at"))
    if last_contact_reply is not None and last_contact_reply > floor:
        return False
    rating = item.get("conversation_rating")
    if isinstance(rating, Mapping) and rating.get("rating") is not None:
        rated_at = as_epoch(rating.get("updated_at"))
        if rated_at is None or rated_at > floor:
            return False
    if item.get("read") is True:
        key_time = as_epoch(statistics.get("last_admin_reply_at")) or created_at
        updated_at = as_epoch(item.get("updated_at"))
        if key_time > floor or updated_at is None or updated_at > floor:
            return False
    return True


def _is_state_change(part: Mapping[str, Any]) -> bool:
    new, old = part.get("ticket_state"), part.get("previous_ticket_state")
    return new is not None and old is not None and str(new) != str(old)


def ticket_state_at_creation(ticket: Mapping[str, Any]) -> str | None:
    """previous_ticket_state of the first state-changing part, else the ticket's current state."""
    for part in ticket_part_list(ticket):
        if _is_state_change(part):
            return ticket_state_category(part.get("previous_ticket_state"))
    return ticket_state_category(ticket.get("ticket_state"))


def ticket_event_seeds(
    ticket: Mapping[str, Any], window: SyncWindow | None = None
) -> Iterator[EventSeed]:
    """The contract events a ticket holds for `window` (every one when None). A ticket without
    contacts still yields them (contact null)."""
    for seed in _ticket_seeds(ticket):
        if window is None or window.holds_event(seed.occurred_at):
            yield seed


def _ticket_seeds(ticket: Mapping[str, Any]) -> Iterator[EventSeed]:
    tid = str(ticket["id"])
    first = _first_contact(ticket)
    first_id = ref_id(first.get("id")) if first else None
    created_at = as_epoch(ticket.get("created_at"))
    if created_at is not None:
        yield EventSeed(f"ticket:{tid}:created", CREATED_TICKET, created_at, first_id, first)
        if ticket_state_at_creation(ticket) == "submitted":
            yield EventSeed(
                f"ticket:{tid}:submitted:created", SUBMITTED_TICKET, created_at, first_id, first
            )
    for part in ticket_part_list(ticket):
        pid = str(part["id"])
        part_at = int(part["created_at"])
        part_author = part.get("author") or {}
        if part.get("part_type") == "comment" and part_author.get("type") in CONTACT_ROLES:
            yield EventSeed(
                f"ticket:{tid}:part:{pid}:replied",
                REPLIED_TO_TICKET,
                part_at,
                ref_id(part_author.get("id")),
                part_author,
                pid,
            )
        if _is_state_change(part):
            entry = STATE_ENTRY_METRICS.get(str(part["ticket_state"]))
            if entry is not None:
                metric, suffix = entry
                yield EventSeed(
                    f"ticket:{tid}:part:{pid}:{suffix}", metric, part_at, first_id, first, pid
                )


def _record(
    seed: EventSeed,
    object_type: str,
    object_fields: Json,
    props: Json,
    lookups: Lookups,
    *,
    window: SyncWindow | None,
) -> Json:
    return {
        "event_id": seed.event_id,
        "metric": seed.metric,
        "occurred_at": iso_time(seed.occurred_at),
        "from_lookback": window is not None and window.reemits(seed.earliest_possible),
        "workspace_id": lookups.workspace_id,
        "object_type": object_type,
        **object_fields,
        "part_id": seed.part_id,
        **_contact_fields(seed.contact_id, lookups, seed.contact_ref),
        **props,
    }


def event_records(
    obj: Mapping[str, Any],
    object_type: str,
    seeds: list[EventSeed],
    lookups: Lookups,
    window: SyncWindow | None = None,
) -> list[Json]:
    """The event records of a conversation or ticket's seeds (`from_lookback` by `window`)."""
    if not seeds:
        return []
    if object_type == "conversation":
        props = conversation_properties(obj, lookups)
        ids = {"conversation_id": str(obj["id"]), "ticket_id": None}
    else:
        props = ticket_properties(obj, lookups)
        ids = {"conversation_id": None, "ticket_id": str(obj["id"])}
    return [_record(seed, object_type, ids, props, lookups, window=window) for seed in seeds]
