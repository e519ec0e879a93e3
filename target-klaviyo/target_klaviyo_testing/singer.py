"""Singer messages shaped like tap-intercom-events' records (docs/interfaces.md sections 1 and 2)."""

from __future__ import annotations

import json
from typing import Any

_S = {"type": ["string", "null"]}
_DT = {"type": ["string", "null"], "format": "date-time"}
_I = {"type": ["integer", "null"]}
_B = {"type": ["boolean", "null"]}

EVENT_BASE = {
    "event_id": {"type": "string"},
    "metric": {"type": "string"},
    "occurred_at": {"type": "string", "format": "date-time"},
    "from_lookback": {"type": "boolean"},
    "object_type": {"type": "string"},
    "conversation_id": _S,
    "ticket_id": _S,
    "part_id": _S,
    "contact_id": _S,
    "contact_role": _S,
    "contact_email": _S,
    "contact_phone": _S,
    "contact_external_id": _S,
    "assigned_team": _S,
    "assigned_admin_name": _S,
    "assigned_admin_email": _S,
    "snoozed_until": _DT,
}
CONVERSATION_EVENTS_SCHEMA = {
    "type": "object",
    "properties": {
        **EVENT_BASE,
        "title": _S,
        "waiting_since": _DT,
        "priority": _S,
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "conversation_rating": _I,
        "conversation_source": _S,
        "conversation_delivered_as": _S,
        "conversation_part_count": _I,
        "sla_status": _S,
        "reopen_count": _I,
        "assignment_count": _I,
        "custom_attributes": {"type": ["object", "null"]},
    },
}
TICKET_EVENTS_SCHEMA = {
    "type": "object",
    "properties": {
        **EVENT_BASE,
        "category": _S,
        "ticket_part_count": _I,
        "ticket_type": _S,
        "ticket_name": _S,
        "ticket_description": _S,
        "is_shared": _B,
    },
}
CONTACTS_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "role": _S,
        "email": _S,
        "phone": _S,
        "external_id": _S,
        "name": _S,
        "avatar": {"type": ["object", "string", "null"]},
        "location": {"type": ["object", "null"]},
        "has_hard_bounced": _B,
        "marked_email_as_spam": _B,
        "unsubscribed_from_emails": _B,
        "opted_out_subscription_types": {"type": ["object", "null"]},
        "custom_attributes": {"type": ["object", "null"]},
        "tag_names": {"type": ["array", "null"], "items": {"type": "string"}},
        "updated_at": _I,
    },
}
SCHEMAS = {
    "conversation_events": (CONVERSATION_EVENTS_SCHEMA, ["event_id"]),
    "ticket_events": (TICKET_EVENTS_SCHEMA, ["event_id"]),
    "contacts": (CONTACTS_SCHEMA, ["id"]),
}


def schema_message(stream: str) -> dict[str, Any]:
    schema, keys = SCHEMAS[stream]
    return {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": keys}


def record_message(stream: str, record: dict[str, Any]) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": record}


def state_message(value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "STATE", "value": value}


def lines(messages: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(m) + "\n" for m in messages)


def contacts_and_events(
    events: list[dict[str, Any]] = (),  # type: ignore[assignment]
    contacts: list[dict[str, Any]] = (),  # type: ignore[assignment]
    state: dict[str, Any] | None = None,
) -> str:
    """Singer input: contacts, then conversation_events, then one STATE when given."""
    messages = [schema_message("contacts"), schema_message("conversation_events")]
    messages += [record_message("contacts", r) for r in contacts]
    messages += [record_message("conversation_events", r) for r in events]
    if state is not None:
        messages.append(state_message(state))
    return lines(messages)


def conversation_event(
    conversation: int,
    contact: int,
    *,
    metric: str = "Replied to Conversation",
    part: int | None = None,
    occurred_at: str = "2026-03-01T10:00:00+00:00",
    **fields: Any,
) -> dict[str, Any]:
    suffix = f"part:{part}:replied" if part is not None else "created"
    record: dict[str, Any] = {
        "event_id": f"conversation:{conversation}:{suffix}",
        "metric": metric,
        "occurred_at": occurred_at,
        "from_lookback": False,
        "object_type": "conversation",
        "conversation_id": str(conversation),
        "ticket_id": None,
        "part_id": str(part) if part is not None else None,
        "contact_id": f"c{contact}",
        "contact_role": "user",
        "contact_email": f"user{contact}@example.com",
        "contact_phone": None,
        "contact_external_id": f"ext-{contact}",
        "title": f"Conversation {conversation}",
        "snoozed_until": None,
        "waiting_since": None,
        "priority": "not_priority",
        "assigned_team": None,
        "assigned_admin_name": None,
        "assigned_admin_email": None,
        "tags": [],
        "conversation_rating": None,
        "conversation_source": "conversation",
        "conversation_delivered_as": "customer_initiated",
        "conversation_part_count": 3,
        "sla_status": None,
        "reopen_count": 0,
        "assignment_count": 1,
        "custom_attributes": {},
    }
    record.update(fields)
    return record


def ticket_event(
    ticket: int,
    contact: int,
    *,
    metric: str = "Created Ticket",
    event_id: str | None = None,
    occurred_at: str = "2026-03-02T09:30:00+00:00",
    **fields: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": event_id or f"ticket:{ticket}:created",
        "metric": metric,
        "occurred_at": occurred_at,
        "from_lookback": False,
        "object_type": "ticket",
        "conversation_id": None,
        "ticket_id": str(ticket),
        "part_id": None,
        "contact_id": f"c{contact}",
        "contact_role": "user",
        "contact_email": f"user{contact}@example.com",
        "contact_phone": None,
        "contact_external_id": None,
        "category": "Customer",
        "assigned_team": None,
        "assigned_admin_name": None,
        "assigned_admin_email": None,
        "snoozed_until": None,
        "ticket_part_count": 2,
        "ticket_type": "Bug",
        "ticket_name": f"Ticket {ticket}",
        "ticket_description": "It broke",
        "is_shared": True,
    }
    record.update(fields)
    return record


def contact(number: int, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"c{number}",
        "role": "user",
        "email": f"user{number}@example.com",
        "phone": None,
        "external_id": f"ext-{number}",
        "name": f"User Number{number}",
        "avatar": None,
        "location": None,
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": False,
        "opted_out_subscription_types": {"type": "list", "data": [], "total_count": 0},
        "custom_attributes": {},
        "tag_names": [],
        "updated_at": 1767225600,
    }
    record.update(fields)
    return record
