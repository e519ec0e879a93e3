"""Ledger entries for the contract's events, made at the moment the generator or a mutation creates the thing.

Keys follow the tap's `event_id` shapes (docs/interfaces.md §1), so tests compare sets of keys exactly.
"""

from __future__ import annotations

from api_sandbox.intercom.model import (
    CONTACT_ROLES,
    Conversation,
    LedgerEntry,
    Part,
    Ticket,
    last_admin_reply_key,
)

# Ticket state category entered -> (metric, key suffix)
TICKET_STATE_METRICS = {
    "submitted": ("Submitted Ticket", "submitted"),
    "waiting_on_customer": ("Marked Ticket as Waiting", "waiting"),
    "resolved": ("Resolved Ticket", "resolved"),
}


def conversation_created(conversation: Conversation) -> LedgerEntry | None:
    """Created Conversation: contact-initiated conversations only, profile = source author."""
    if not conversation.contact_initiated:
        return None
    cid = str(conversation.id)
    return LedgerEntry(
        key=f"conversation:{cid}:created",
        metric="Created Conversation",
        contact_id=conversation.source_author_id,
        time=conversation.created_at,
    )


def conversation_replied(conversation: Conversation, part: Part) -> LedgerEntry | None:
    """Replied to Conversation: a comment part written by a contact."""
    if part.part_type != "comment" or part.author_type not in CONTACT_ROLES:
        return None
    cid = str(conversation.id)
    return LedgerEntry(
        key=f"conversation:{cid}:part:{part.id}:replied",
        metric="Replied to Conversation",
        contact_id=part.author_id,
        time=part.created_at,
    )


def conversation_rated(conversation: Conversation) -> LedgerEntry | None:
    """Rated Conversation: one per (conversation, rating request, rating value).

    The key uses the rating's `created_at` (when it was requested), which every API version
    2.11-2.16 returns; `updated_at` (2.14+) is the event's time (docs/interfaces.md section 1).
    """
    rating = conversation.rating
    if rating is None:
        return None
    cid = str(conversation.id)
    return LedgerEntry(
        key=f"conversation:{cid}:rated:{rating.created_at}:{rating.rating}",
        metric="Rated Conversation",
        contact_id=rating.contact_id,
        time=rating.updated_at,
    )


def conversation_read(conversation: Conversation) -> LedgerEntry | None:
    """Read Conversation: one per (conversation, last_admin_reply_at) while read, timed at updated_at."""
    if not conversation.read:
        return None
    cid = str(conversation.id)
    return LedgerEntry(
        key=f"conversation:{cid}:read:{last_admin_reply_key(conversation)}",
        metric="Read Conversation",
        contact_id=conversation.contact_ids[0] if conversation.contact_ids else None,
        time=conversation.updated_at,
    )


def ticket_created(ticket: Ticket) -> list[LedgerEntry]:
    """Created Ticket, and Submitted Ticket when it was created in `submitted`."""
    tid = str(ticket.id)
    contact = ticket.contact_ids[0] if ticket.contact_ids else None
    entries = [
        LedgerEntry(
            key=f"ticket:{tid}:created",
            metric="Created Ticket",
            contact_id=contact,
            time=ticket.created_at,
        )
    ]
    if ticket.initial_state == "submitted":
        entries.append(
            LedgerEntry(
                key=f"ticket:{tid}:submitted:created",
                metric="Submitted Ticket",
                contact_id=contact,
                time=ticket.created_at,
            )
        )
    return entries


def ticket_part_event(ticket: Ticket, part: Part) -> LedgerEntry | None:
    """Replied to Ticket (contact comment) or a state entry (state differs from the previous one)."""
    tid = str(ticket.id)
    if part.part_type == "comment" and part.author_type in CONTACT_ROLES:
        return LedgerEntry(
            key=f"ticket:{tid}:part:{part.id}:replied",
            metric="Replied to Ticket",
            contact_id=part.author_id,
            time=part.created_at,
        )
    if (
        part.part_type == "ticket_state_updated_by_admin"
        and part.state != part.previous_state
        and part.state in TICKET_STATE_METRICS
    ):
        metric, suffix = TICKET_STATE_METRICS[part.state]
        return LedgerEntry(
            key=f"ticket:{tid}:part:{part.id}:{suffix}",
            metric=metric,
            contact_id=ticket.contact_ids[0] if ticket.contact_ids else None,
            time=part.created_at,
        )
    return None
