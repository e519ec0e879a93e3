"""Internal records -> the JSON objects of an Intercom API version (reference §1.1, §4).

`version` is the minor number of the 2.x API version (11-16). Fields change at 2.12 (ticket_state becomes an
object), 2.14 (conversation_rating.updated_at) and 2.16 (priority levels, integer ticket assignees).
"""

from __future__ import annotations

from typing import Any

from api_sandbox.intercom.generator import BOT_ID
from api_sandbox.intercom.model import (
    CONTACT_ROLES,
    PRIORITIES,
    SLA_STATUS_NULL,
    Admin,
    Contact,
    Conversation,
    Part,
    Team,
    Ticket,
    TicketStateDef,
    TicketType,
    Workspace,
    conversation_facts,
)

PART_CAP = 500  # "we will return the 500 most recent conversation parts"
CONTACT_TAG_REFS = 10  # a contact object lists at most 10 tag refs, with has_more
BOT = {"type": "bot", "id": BOT_ID, "name": "Fin", "email": "operator+ecahpwf5@intercom.io"}


def _admin_ref(ws: Workspace, admin_id: str) -> dict[str, Any]:
    admin = ws.admins.get(admin_id)
    return {
        "type": "admin",
        "id": admin_id,
        "name": admin.name if admin else None,
        "email": admin.email if admin else None,
    }


def _author(ws: Workspace, author_type: str, author_id: str) -> dict[str, Any]:
    if author_type == "bot":
        return dict(BOT)
    if author_type == "admin":
        return _admin_ref(ws, author_id)
    contact = ws.contacts.get(author_id)
    return {
        "type": author_type,
        "id": author_id,
        "name": contact.name if contact else None,
        "email": contact.email if contact else None,
    }


def _contact_refs(ws: Workspace, contact_ids: list[str]) -> dict[str, Any]:
    refs = []
    for contact_id in contact_ids:
        contact = ws.contacts.get(contact_id)
        refs.append(
            {
                "type": "contact",
                "id": contact_id,
                "external_id": contact.external_id if contact else None,
            }
        )
    return {"type": "contact.list", "contacts": refs}


def admin(admin: Admin) -> dict[str, Any]:
    return {
        "type": "admin",
        "id": admin.id,
        "name": admin.name,
        "email": admin.email,
        "email_verified": True,
        "job_title": admin.job_title,
        "away_mode_enabled": admin.away_mode_enabled,
        "away_mode_reassign": False,
        "away_status_reason_id": None,
        "has_inbox_seat": True,
        "team_ids": [int(t) for t in admin.team_ids],
        "avatar": admin.avatar,
        "team_priority_level": {"primary_team_ids": [int(t) for t in admin.team_ids]},
    }


def me(ws: Workspace, admin_record: Admin) -> dict[str, Any]:
    data = admin(admin_record)
    data["app"] = {
        "type": "app",
        "id_code": ws.workspace_id,
        "name": "Sandbox Workspace",
        "created_at": ws.now - 30 * 86_400,
        "secure": False,
        "identity_verification": False,
        "timezone": "UTC",
        "region": "US",
    }
    return data


def team(team: Team) -> dict[str, Any]:
    return {
        "type": "team",
        "id": team.id,
        "name": team.name,
        "admin_ids": [int(a) for a in team.admin_ids],
        "admin_priority_level": {"primary_admin_ids": [int(a) for a in team.admin_ids]},
        "assignment_limit": None,
        "distribution_method": "round_robin",
    }


def ticket_state(state: TicketStateDef) -> dict[str, Any]:
    return {
        "type": "ticket_state",
        "id": state.id,
        "category": state.category,
        "internal_label": state.internal_label,
        "external_label": state.external_label,
    }


def ticket_type(
    ws: Workspace, ticket_type: TicketType, *, with_states: bool = True
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "ticket_type",
        "id": ticket_type.id,
        "category": ticket_type.category,
        "name": ticket_type.name,
        "description": ticket_type.description,
        "icon": ticket_type.icon,
        "workspace_id": ws.workspace_id,
        "archived": False,
        "created_at": ticket_type.created_at,
        "updated_at": ticket_type.updated_at,
        "is_internal": ticket_type.category != "Customer",
        "ticket_type_attributes": {
            "type": "list",
            "data": [
                {
                    "type": "ticket_type_attribute",
                    "id": "210",
                    "name": "_default_title_",
                    "data_type": "string",
                },
                {
                    "type": "ticket_type_attribute",
                    "id": "211",
                    "name": "_default_description_",
                    "data_type": "string",
                },
            ],
        },
    }
    if with_states:
        data["ticket_states"] = {
            "type": "list",
            "data": [ticket_state(s) for s in ws.ticket_states.values()],
        }
    return data


# ---- contacts ------------------------------------------------------------------------------------------


def contact(ws: Workspace, c: Contact, version: int) -> dict[str, Any]:
    contact_url = f"/contacts/{c.id}"
    tag_refs = [
        {"type": "tag", "id": tag_id, "url": f"/tags/{tag_id}"}
        for tag_id, _applied in c.tags[:CONTACT_TAG_REFS]
    ]
    opted_out = [
        {"type": "subscription", "id": sid, "url": f"/subscriptions/{sid}"}
        for sid in c.opted_out_subscription_ids
    ]
    country, region, city, country_code, continent_code = c.location
    email_domain = c.email.split("@", 1)[1] if c.email else None
    data: dict[str, Any] = {
        "type": "contact",
        "id": c.id,
        "workspace_id": ws.workspace_id,
        "external_id": c.external_id,
        "role": c.role,
        "email": c.email,
        "email_domain": email_domain,
        "phone": c.phone,
        "name": c.name,
        "avatar": c.avatar,
        "owner_id": (str(c.owner_id) if c.owner_id is not None else None)
        if version >= 16
        else c.owner_id,
        "social_profiles": {"type": "list", "data": []},
        "has_hard_bounced": c.has_hard_bounced,
        "marked_email_as_spam": c.marked_email_as_spam,
        "unsubscribed_from_emails": c.unsubscribed_from_emails,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "signed_up_at": c.signed_up_at,
        "last_seen_at": c.last_seen_at,
        "last_replied_at": None,
        "last_contacted_at": None,
        "last_email_opened_at": None,
        "last_email_clicked_at": None,
        "language_override": None,
        "browser": None,
        "browser_version": None,
        "browser_language": None,
        "os": None,
        "location": {
            "type": "location",
            "country": country,
            "region": region,
            "city": city,
            "country_code": country_code,
            "continent_code": continent_code,
        },
        "custom_attributes": c.custom_attributes,
        "tags": {
            "type": "list",
            "data": tag_refs,
            "url": f"{contact_url}/tags",
            "total_count": len(c.tags),
            "has_more": len(c.tags) > CONTACT_TAG_REFS,
        },
        "notes": _empty_list(f"{contact_url}/notes"),
        "companies": _empty_list(f"{contact_url}/companies"),
        "opted_out_subscription_types": {
            "type": "list",
            "data": opted_out,
            "url": f"{contact_url}/subscriptions",
            "total_count": len(opted_out),
            "has_more": False,
        },
        "opted_in_subscription_types": _empty_list(f"{contact_url}/subscriptions"),
        "utm_campaign": None,
        "utm_content": None,
        "utm_medium": None,
        "utm_source": None,
        "utm_term": None,
        "referrer": None,
        "enabled_push_messaging": None,
    }
    if version < 12:
        data["formatted_phone"] = c.phone
    return data


def _empty_list(url: str) -> dict[str, Any]:
    return {"type": "list", "data": [], "url": url, "total_count": 0, "has_more": False}


def contact_tags(ws: Workspace, c: Contact) -> dict[str, Any]:
    return {
        "type": "list",
        "data": [
            {
                "type": "tag",
                "id": tag_id,
                "name": ws.tags[tag_id].name,
                "applied_at": applied_at,
                "applied_by": {"type": "admin", "id": next(iter(ws.admins))},
            }
            for tag_id, applied_at in c.tags
        ],
    }


# ---- conversations -------------------------------------------------------------------------------------


def _unassigned(zero: bool) -> int | None:
    return 0 if zero else None


def conversation(
    ws: Workspace, conv: Conversation, version: int, *, with_parts: bool, cap: int | None = PART_CAP
) -> dict[str, Any]:
    facts = conversation_facts(conv)
    unassigned = 0 if version >= 16 else _unassigned(conv.unassigned_as_zero)
    admin_assignee: int | None = (
        int(facts.admin_assignee_id) if facts.admin_assignee_id is not None else unassigned
    )
    team_assignee = conv.team_assignee_id if conv.team_assignee_id is not None else unassigned
    priority = PRIORITIES[conv.priority]
    if version < 16:
        priority = "not_priority" if conv.priority == 0 else "priority"
    data: dict[str, Any] = {
        "type": "conversation",
        "id": str(conv.id),
        "title": conv.title,
        "created_at": conv.created_at,
        "updated_at": conv.updated_at,
        "waiting_since": facts.waiting_since,
        "snoozed_until": conv.snoozed_until if facts.state == "snoozed" else None,
        "open": facts.state != "closed",
        "state": facts.state,
        "read": conv.read,
        "priority": priority,
        "admin_assignee_id": admin_assignee,
        "team_assignee_id": team_assignee,
        "tags": {
            "type": "tag.list",
            "tags": [
                {
                    "type": "tag",
                    "id": tag_id,
                    "name": ws.tags[tag_id].name,
                    "applied_at": applied_at,
                    "applied_by": {"type": "admin", "id": admin_id},
                }
                for tag_id, applied_at, admin_id in conv.tags
            ],
        },
        "conversation_rating": _rating(conv, version),
        "source": {
            "type": conv.source_type,
            "id": str(conv.source_id),
            "delivered_as": conv.delivered_as,
            "subject": conv.source_subject,
            "body": conv.source_body,
            "author": _author(ws, conv.source_author_type, conv.source_author_id),
            "attachments": [],
            "url": None,
            "redacted": False,
        },
        "contacts": _contact_refs(ws, conv.contact_ids),
        "teammates": {
            "type": "admin.list",
            "teammates": [{"type": "admin", "id": a} for a in facts.admin_ids],
        },
        "custom_attributes": conv.custom_attributes,
        "first_contact_reply": (
            {"created_at": facts.first_contact_reply_at, "type": "conversation", "url": None}
            if facts.first_contact_reply_at is not None
            else None
        ),
        "sla_applied": (
            {
                "type": "conversation_sla_summary",
                "sla_name": "Standard",
                "sla_status": None if conv.sla_status == SLA_STATUS_NULL else conv.sla_status,
            }
            if conv.sla_status is not None
            else None
        ),
        "statistics": _statistics(conv, facts) if conv.has_statistics else None,
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
        "ai_agent_participated": False,
        "ai_agent": None,
    }
    if with_parts:
        skip = 0 if cap is None else max(0, len(conv.parts) - cap)
        states = facts.part_states
        data["conversation_parts"] = {
            "type": "conversation_part.list",
            "conversation_parts": [
                _conversation_part(ws, conv.parts[i], states[i])
                for i in range(skip, len(conv.parts))
            ],
            "total_count": len(conv.parts),
        }
    return data


def _rating(conv: Conversation, version: int) -> dict[str, Any] | None:
    rating = conv.rating
    if rating is None:
        return None
    data: dict[str, Any] = {
        "rating": rating.rating,
        "remark": rating.remark,
        "created_at": rating.created_at,
        "contact": {"type": "contact", "id": rating.contact_id},
        "teammate": {"type": "admin", "id": rating.teammate_id},
    }
    if version >= 14:
        data["updated_at"] = rating.updated_at
    return data


def _statistics(conv: Conversation, facts: Any) -> dict[str, Any]:
    first_contact = facts.first_contact_reply_at

    def since_first_contact(at: int | None) -> int | None:
        return at - first_contact if at is not None and first_contact is not None else None

    return {
        "type": "conversation_statistics",
        "time_to_assignment": since_first_contact(facts.first_assignment_at),
        "time_to_admin_reply": since_first_contact(facts.first_admin_reply_at),
        "time_to_first_close": since_first_contact(facts.first_close_at),
        "time_to_last_close": since_first_contact(facts.last_close_at),
        "median_time_to_reply": since_first_contact(facts.first_admin_reply_at),
        "first_contact_reply_at": first_contact,
        "first_assignment_at": facts.first_assignment_at,
        "first_admin_reply_at": facts.first_admin_reply_at,
        "first_close_at": facts.first_close_at,
        "last_assignment_at": facts.last_assignment_at,
        "last_assignment_admin_reply_at": facts.last_admin_reply_at
        if facts.last_assignment_at is not None
        else None,
        "last_contact_reply_at": facts.last_contact_reply_at,
        "last_admin_reply_at": facts.last_admin_reply_at,
        "last_close_at": facts.last_close_at,
        # documented as a string, returned as a number (Intercom-OpenAPI #115)
        "last_closed_by_id": int(facts.last_closed_by_id)
        if facts.last_closed_by_id is not None
        else None,
        "count_reopens": facts.count_reopens,
        "count_assignments": facts.count_assignments,
        "count_conversation_parts": len(conv.parts) + 1,  # the source message counts too
        "assigned_team_first_response_time": [],
        "assigned_team_first_response_time_in_office_hours": [],
        "handling_time": None,
        "adjusted_handling_time": None,
    }


def _conversation_part(ws: Workspace, part: Part, state: str) -> dict[str, Any]:
    return {
        "type": "conversation_part",
        "id": str(part.id),
        "part_type": part.part_type,
        "body": part.body,
        "created_at": part.created_at,
        "updated_at": part.created_at,
        "notified_at": part.created_at,
        "assigned_to": {"type": "admin", "id": part.assigned_to} if part.assigned_to else None,
        "author": {
            **_author(ws, part.author_type, part.author_id),
            "from_ai_agent": part.author_type == "bot",
            "is_ai_answer": False,
        },
        "attachments": [],
        "external_id": None,
        "redacted": False,
        "email_message_metadata": None,
        "state": state,
        "tags": [],
        "event_details": None,
        "app_package_code": None,
    }


# ---- tickets -------------------------------------------------------------------------------------------


def ticket(
    ws: Workspace, t: Ticket, version: int, *, with_parts: bool, cap: int | None = PART_CAP
) -> dict[str, Any]:
    state_def = ws.ticket_states[t.state]
    ticket_type_record = ws.ticket_types[t.ticket_type_id]
    data: dict[str, Any] = {
        "type": "ticket",
        "id": str(t.id),
        "ticket_id": str(t.ticket_number),
        "category": t.category,
        "ticket_attributes": {
            "_default_title_": t.title,
            "_default_description_": t.description,
        },
    }
    if version < 12:
        data["ticket_state"] = state_def.category
        data["ticket_state_internal_label"] = state_def.internal_label
        data["ticket_state_external_label"] = state_def.external_label
    else:
        data["ticket_state"] = ticket_state(state_def)
    if version >= 16:
        previous = t.previous_state
        data["previous_ticket_state_id"] = ws.ticket_states[previous].id if previous else None
        data["admin_assignee_id"] = t.admin_assignee_id
        data["team_assignee_id"] = t.team_assignee_id
    else:
        data["admin_assignee_id"] = str(t.admin_assignee_id)
        data["team_assignee_id"] = str(t.team_assignee_id)
    data.update(
        {
            "ticket_type": ticket_type(ws, ticket_type_record, with_states=False),
            "contacts": _contact_refs(ws, t.contact_ids),
            "created_at": t.created_at,
            "updated_at": t.updated_at,
            "open": t.state != "resolved",
            "snoozed_until": t.snoozed_until,
            "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
            "is_shared": t.is_shared,
        }
    )
    if with_parts:
        data["ticket_parts"] = {
            "type": "ticket_part.list",
            "ticket_parts": _ticket_parts(ws, t)[-cap:] if cap else _ticket_parts(ws, t),
            "total_count": len(t.parts),
        }
    return data


def _ticket_parts(ws: Workspace, t: Ticket) -> list[dict[str, Any]]:
    """Non-state parts carry the ticket's state at their time in both fields (so they are no entry)."""
    state = t.initial_state
    rendered: list[dict[str, Any]] = []
    for part in t.parts:
        if part.part_type == "ticket_state_updated_by_admin":
            previous, current = part.previous_state, part.state
            state = current or state
        else:
            previous = current = state
        author = _author(ws, part.author_type, part.author_id)
        if author["type"] in CONTACT_ROLES:
            author["type"] = "user"  # ticket part authors are admin|bot|team|user
        rendered.append(
            {
                "type": "ticket_part",
                "id": str(part.id),
                "part_type": part.part_type,
                "body": part.body,
                "previous_ticket_state": previous,
                "ticket_state": current,
                "created_at": part.created_at,
                "updated_at": part.created_at,
                "assigned_to": None,
                "author": author,
                "attachments": [],
                "external_id": None,
                "redacted": False,
                "app_package_code": None,
            }
        )
    return rendered
