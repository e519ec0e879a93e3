"""The data contract's event rules as pure functions: Intercom conversation/ticket -> event records.

Record shape and event_id formats: docs/interfaces.md section 1. Nothing here does I/O: lookups
(admins, teams, tags, contacts) are passed in, so every rule is unit-testable with plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

CONTACT_ROLES = frozenset({"user", "lead"})

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

Json = dict[str, Any]


@dataclass(frozen=True)
class Lookups:
    """Names the event properties need, keyed by Intercom id (as strings)."""

    admins: Mapping[str, Json] = field(default_factory=dict)  # id -> {"name", "email", ...}
    teams: Mapping[str, str] = field(default_factory=dict)  # id -> name
    tags: Mapping[str, str] = field(default_factory=dict)  # id -> name
    contacts: Mapping[str, Json] = field(default_factory=dict)  # id -> contact object (or None)


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
        "priority": conversation.get("priority"),
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


def _first_contact(obj: Mapping[str, Any]) -> Json | None:
    contacts = _nested(obj, "contacts", "contacts") or []
    return contacts[0] if contacts else None


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
    updated_at = as_epoch(conversation.get("updated_at"))
    rated_at = as_epoch(_nested(conversation, "conversation_rating", "updated_at"))
    if updated_at is None or rated_at == updated_at:
        return False
    for part in conversation_part_list(conversation):
        if updated_at in (as_epoch(part.get("created_at")), as_epoch(part.get("updated_at"))):
            return False
    return True


def conversation_event_seeds(
    conversation: Mapping[str, Any], events_after: int | None = None
) -> Iterator[EventSeed]:
    """Every contract event a conversation holds, oldest rule first (no time filtering here).

    `events_after` (the previous run's end) only matters to Read Conversation, whose time is not
    in the data: see read_became_true_after.
    """
    cid = str(conversation["id"])
    # Created Conversation: only when a contact started it (admin/outbound ones give none).
    author = _nested(conversation, "source", "author") or {}
    if author.get("type") in CONTACT_ROLES and conversation.get("created_at") is not None:
        yield EventSeed(
            event_id=f"conversation:{cid}:created",
            metric=CREATED_CONVERSATION,
            occurred_at=int(conversation["created_at"]),
            contact_id=ref_id(author.get("id")),
            contact_ref=author,
        )
    # Rated Conversation: one per (rating time, rating value).
    rating = conversation.get("conversation_rating") or {}
    if rating.get("rating") is not None:
        rated_at = as_epoch(rating.get("updated_at")) or as_epoch(rating.get("created_at"))
        if rated_at is not None:
            contact = rating.get("contact") or {}
            yield EventSeed(
                event_id=f"conversation:{cid}:rated:{rated_at}:{int(rating['rating'])}",
                metric=RATED_CONVERSATION,
                occurred_at=rated_at,
                contact_id=ref_id(contact.get("id")),
                contact_ref=contact,
            )
    # Read Conversation: one per (conversation, last_admin_reply_at), timed at updated_at.
    if (
        conversation.get("read") is True
        and conversation.get("updated_at") is not None
        and (events_after is None or read_became_true_after(conversation, events_after))
    ):
        statistics = conversation.get("statistics")
        last_reply = as_epoch(statistics.get("last_admin_reply_at")) if statistics else None
        first = _first_contact(conversation)
        yield EventSeed(
            event_id=f"conversation:{cid}:read:{'none' if last_reply is None else last_reply}",
            metric=READ_CONVERSATION,
            occurred_at=int(conversation["updated_at"]),
            contact_id=ref_id(first.get("id")) if first else None,
            contact_ref=first,
        )
    # Replied to Conversation: each comment written by a contact (notes, admins, bots: nothing).
    for part in conversation_part_list(conversation):
        part_author = part.get("author") or {}
        if part.get("part_type") == "comment" and part_author.get("type") in CONTACT_ROLES:
            pid = str(part["id"])
            yield EventSeed(
                event_id=f"conversation:{cid}:part:{pid}:replied",
                metric=REPLIED_TO_CONVERSATION,
                occurred_at=int(part["created_at"]),
                contact_id=ref_id(part_author.get("id")),
                contact_ref=part_author,
                part_id=pid,
            )


def _is_state_change(part: Mapping[str, Any]) -> bool:
    new, old = part.get("ticket_state"), part.get("previous_ticket_state")
    return new is not None and old is not None and str(new) != str(old)


def ticket_state_at_creation(ticket: Mapping[str, Any]) -> str | None:
    """previous_ticket_state of the first state-changing part, else the ticket's current state."""
    for part in ticket_part_list(ticket):
        if _is_state_change(part):
            return ticket_state_category(part.get("previous_ticket_state"))
    return ticket_state_category(ticket.get("ticket_state"))


def ticket_event_seeds(ticket: Mapping[str, Any]) -> Iterator[EventSeed]:
    """Every contract event a ticket holds. A ticket without contacts still yields them (contact null)."""
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
    seed: EventSeed, object_type: str, object_fields: Json, props: Json, lookups: Lookups
) -> Json:
    return {
        "event_id": seed.event_id,
        "metric": seed.metric,
        "occurred_at": iso_time(seed.occurred_at),
        "object_type": object_type,
        **object_fields,
        "part_id": seed.part_id,
        **_contact_fields(seed.contact_id, lookups, seed.contact_ref),
        **props,
    }


@dataclass(frozen=True)
class EventWindow:
    """Events are emitted iff after < occurred_at <= until (epoch seconds)."""

    after: int
    until: int

    def __contains__(self, epoch: int) -> bool:
        return self.after < epoch <= self.until


def conversation_events(
    conversation: Mapping[str, Any], lookups: Lookups, window: EventWindow | None = None
) -> list[Json]:
    """The conversation's event records (those inside `window` when one is given)."""
    seeds = [
        s
        for s in conversation_event_seeds(conversation, None if window is None else window.after)
        if window is None or s.occurred_at in window
    ]
    if not seeds:
        return []
    props = conversation_properties(conversation, lookups)
    ids = {"conversation_id": str(conversation["id"]), "ticket_id": None}
    return [_record(seed, "conversation", ids, props, lookups) for seed in seeds]


def ticket_events(
    ticket: Mapping[str, Any], lookups: Lookups, window: EventWindow | None = None
) -> list[Json]:
    """The ticket's event records (those inside `window` when one is given)."""
    seeds = [s for s in ticket_event_seeds(ticket) if window is None or s.occurred_at in window]
    if not seeds:
        return []
    props = ticket_properties(ticket, lookups)
    ids = {"conversation_id": None, "ticket_id": str(ticket["id"])}
    return [_record(seed, "ticket", ids, props, lookups) for seed in seeds]


def event_contact_ids(seeds: list[EventSeed]) -> set[str]:
    """Contacts the events need looked up (for email, phone and external_id)."""
    return {s.contact_id for s in seeds if s.contact_id}
