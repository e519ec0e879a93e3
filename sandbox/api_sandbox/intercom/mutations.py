"""POST /_sandbox/mutations: change the data between runs the way Intercom would, and log the new events.

Every mutation stamps `updated_at` with `at` (default: the current time). Derived values (statistics,
waiting_since, state, part counts) follow from the parts, so they stay consistent by construction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from api_sandbox.intercom import ledger
from api_sandbox.intercom.generator import ADMIN_MESSAGES, CONTACT_MESSAGES, NOTES
from api_sandbox.intercom.model import (
    CONTACT_ROLES,
    TICKET_STATES,
    Contact,
    Conversation,
    LedgerEntry,
    Part,
    Rating,
    Ticket,
    Workspace,
    conversation_facts,
)
from api_sandbox.intercom.state import IntercomState

MAX_BULK_PARTS = 10_000
EDITABLE_CONTACT_FIELDS = {
    "email": (str, type(None)),
    "phone": (str, type(None)),
    "name": (str, type(None)),
    "external_id": (str, type(None)),
    "role": (str,),
    "avatar": (str, dict, type(None)),
    "custom_attributes": (dict,),
    "has_hard_bounced": (bool,),
    "marked_email_as_spam": (bool,),
    "unsubscribed_from_emails": (bool,),
    "location": (dict,),
}
LOCATION_KEYS = ("country", "region", "city", "country_code", "continent_code")


class MutationError(Exception):
    """A mutation that cannot be applied; the message names what is wrong."""


def apply_mutations(state: IntercomState, mutations: list[Any]) -> list[dict[str, Any]]:
    """Apply in order; the first failure stops the list (the ones before it stay applied)."""
    results = []
    for index, mutation in enumerate(mutations):
        try:
            results.append(apply_mutation(state, mutation))
        except MutationError as exc:
            action = mutation.get("action") if isinstance(mutation, dict) else None
            applied = f"; mutations before #{index} were applied" if index else ""
            msg = f"#{index} ({action}): {exc}{applied}"
            raise MutationError(msg) from None
    return results


def check_mutation(mutation: Any) -> None:
    """What can be checked before the data is known (for scheduled mutations): shape, action, `at`."""
    if not isinstance(mutation, dict):
        raise MutationError("a mutation must be an object with an 'action'")
    action = mutation.get("action")
    if action not in ACTIONS:
        known = ", ".join(sorted(ACTIONS))
        raise MutationError(f"unknown action {action!r}; known: {known}")
    if mutation.get("at") is not None:
        _at(mutation)


def apply_mutation(state: IntercomState, mutation: Any) -> dict[str, Any]:
    """One mutation: {action, at, ids, ledger}; MutationError when it cannot be applied."""
    check_mutation(mutation)
    action = mutation["action"]
    at = _at(mutation, state.now())
    added: list[LedgerEntry] = []
    try:
        ids = ACTIONS[action](state.workspace, mutation, at, added)
    finally:
        state.changed()
    return {"action": action, "at": at, "ids": ids, "ledger": [e.to_json() for e in added]}


def _at(mutation: dict[str, Any], now: float | None = None) -> int:
    at = mutation.get("at")
    if at is None:
        return int(time.time() if now is None else now)
    if isinstance(at, bool) or not isinstance(at, int) or at < 0:
        msg = f"at must be epoch seconds (a non-negative integer), got {at!r}"
        raise MutationError(msg)
    return at


def _require(mutation: dict[str, Any], name: str) -> Any:
    if name not in mutation:
        msg = f"missing field {name!r}"
        raise MutationError(msg)
    return mutation[name]


def _conversation(ws: Workspace, mutation: dict[str, Any]) -> Conversation:
    raw = _require(mutation, "conversation_id")
    conversation = ws.conversations.get(int(raw)) if str(raw).isdigit() else None
    if conversation is None:
        msg = f"no conversation with id {raw!r}"
        raise MutationError(msg)
    return conversation


def _ticket(ws: Workspace, mutation: dict[str, Any]) -> Ticket:
    raw = _require(mutation, "ticket_id")
    ticket = ws.tickets.get(int(raw)) if str(raw).isdigit() else None
    if ticket is None:
        msg = f"no ticket with id {raw!r}"
        raise MutationError(msg)
    return ticket


def _contact(ws: Workspace, contact_id: Any) -> Contact:
    contact = ws.contacts.get(contact_id) if isinstance(contact_id, str) else None
    if contact is None or contact.deleted:
        msg = f"no contact with id {contact_id!r}"
        raise MutationError(msg)
    return contact


def _not_before(at: int, obj: Conversation | Ticket, what: str) -> None:
    """Parts stay in time order and updated_at never goes back."""
    if at < obj.updated_at:
        msg = (
            f"at {at} is before {what} {obj.id}'s updated_at {obj.updated_at}; "
            "pass a later 'at' (or omit it for the current time)"
        )
        raise MutationError(msg)


def _record(ws: Workspace, added: list[LedgerEntry], entry: LedgerEntry | None) -> None:
    if entry is not None and ws.record(entry):
        added.append(entry)


def _first_contact(ws: Workspace, obj: Conversation | Ticket, what: str) -> Contact:
    if not obj.contact_ids:
        msg = f"{what} {obj.id} has no contact"
        raise MutationError(msg)
    contact = ws.contacts.get(obj.contact_ids[0])
    if contact is None:
        msg = f"{what} {obj.id}'s contact {obj.contact_ids[0]} does not exist"
        raise MutationError(msg)
    return contact


def _admin_of(ws: Workspace, conversation: Conversation) -> str:
    return conversation_facts(conversation).admin_assignee_id or next(iter(ws.admins))


# ---- conversations --------------------------------------------------------------------------------------


def contact_reply(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    conversation = _conversation(ws, m)
    _not_before(at, conversation, "conversation")
    contact = _first_contact(ws, conversation, "conversation")
    part = Part(ws.new_part_id(), "comment", contact.role, contact.id, at, CONTACT_MESSAGES[4])
    conversation.parts.append(part)
    conversation.has_statistics = True
    conversation.read = False  # the conversation now has unread content
    conversation.updated_at = at
    _record(ws, added, ledger.conversation_replied(conversation, part))
    return {"conversation_id": str(conversation.id), "part_id": str(part.id)}


def admin_reply(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    conversation = _conversation(ws, m)
    _not_before(at, conversation, "conversation")
    part = Part(
        ws.new_part_id(), "comment", "admin", _admin_of(ws, conversation), at, ADMIN_MESSAGES[0]
    )
    conversation.parts.append(part)
    conversation.updated_at = at
    # still read, but with a new last_admin_reply_at: a new Read Conversation event
    _record(ws, added, ledger.conversation_read(conversation))
    return {"conversation_id": str(conversation.id), "part_id": str(part.id)}


def mark_read(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    conversation = _conversation(ws, m)
    _not_before(at, conversation, "conversation")
    conversation.read = True
    conversation.updated_at = at
    _record(ws, added, ledger.conversation_read(conversation))
    return {"conversation_id": str(conversation.id)}


def rate(ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]) -> dict[str, Any]:
    conversation = _conversation(ws, m)
    value = _require(m, "rating")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        msg = f"rating must be an integer from 1 to 5, got {value!r}"
        raise MutationError(msg)
    _not_before(at, conversation, "conversation")
    contact = _first_contact(ws, conversation, "conversation")
    previous = conversation.rating
    conversation.rating = Rating(
        rating=value,
        remark=m.get("remark"),
        created_at=previous.created_at if previous else at,
        updated_at=at,
        contact_id=contact.id,
        teammate_id=_admin_of(ws, conversation),
    )
    conversation.updated_at = at
    _record(ws, added, ledger.conversation_rated(conversation))
    _record(ws, added, ledger.conversation_read(conversation))
    return {"conversation_id": str(conversation.id)}


def new_conversation(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    contact = _contact(ws, _require(m, "contact_id"))
    conversation_id = ws.next_conversation_id
    ws.next_conversation_id += 1
    ws.next_source_id += 1
    conversation = Conversation(
        id=conversation_id,
        created_at=at,
        updated_at=at,
        title=m.get("title"),
        source_id=ws.next_source_id,
        source_type="conversation",
        delivered_as="customer_initiated",
        source_author_type=contact.role,
        source_author_id=contact.id,
        source_subject="",
        source_body=CONTACT_MESSAGES[0],
        contact_ids=[contact.id],
        team_assignee_id=None,
        unassigned_as_zero=True,
        priority=0,
        read=False,
        snoozed_until=None,
        tags=[],
        rating=None,
        custom_attributes={},
        sla_status=None,
        has_statistics=True,
    )
    ws.conversations[conversation_id] = conversation
    _record(ws, added, ledger.conversation_created(conversation))
    return {"conversation_id": str(conversation_id)}


def delete_conversation(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    conversation = _conversation(ws, m)
    del ws.conversations[conversation.id]
    # the data set no longer holds its events
    prefix = f"conversation:{conversation.id}:"
    for key in [k for k in ws.ledger if k.startswith(prefix)]:
        del ws.ledger[key]
    return {"conversation_id": str(conversation.id)}


def note(ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]) -> dict[str, Any]:
    """An admin note (a teammate's internal comment): bumps updated_at, is no contract event.

    It is no admin reply either (statistics.last_admin_reply_at and `read` stay), so a read
    conversation's Read Conversation key does not change.
    """
    obj, what = _conversation_or_ticket(ws, m)
    _not_before(at, obj, what)
    if isinstance(obj, Conversation):
        author = _admin_of(ws, obj)
    else:
        author = str(obj.admin_assignee_id or next(iter(ws.admins)))
    body = m.get("body", NOTES[0])
    if not isinstance(body, str):
        msg = f"body must be a string, got {body!r}"
        raise MutationError(msg)
    part = Part(ws.new_part_id(), "note", "admin", author, at, body)
    obj.parts.append(part)
    obj.updated_at = at
    return {f"{what}_id": str(obj.id), "part_id": str(part.id)}


def _conversation_or_ticket(ws: Workspace, m: dict[str, Any]) -> tuple[Conversation | Ticket, str]:
    if "ticket_id" in m and "conversation_id" not in m:
        return _ticket(ws, m), "ticket"
    return _conversation(ws, m), "conversation"


def bulk_parts(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    """Many parts at once (e.g. past the 500-part cap): admin notes, or contact comments.

    On a conversation (`conversation_id`) or a ticket (`ticket_id`); every contact comment is a
    ledger entry (Replied to Conversation / Replied to Ticket), all timed `at`.
    """
    obj, what = _conversation_or_ticket(ws, m)
    count = _require(m, "count")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BULK_PARTS:
        msg = f"count must be an integer from 1 to {MAX_BULK_PARTS}, got {count!r}"
        raise MutationError(msg)
    author = m.get("author", "admin")
    if author not in ("admin", "contact"):
        msg = f"author must be 'admin' or 'contact', got {author!r}"
        raise MutationError(msg)
    _not_before(at, obj, what)
    if author == "contact":
        contact = _first_contact(ws, obj, what)
        make: Callable[[], Part] = lambda: Part(  # noqa: E731
            ws.new_part_id(), "comment", contact.role, contact.id, at, CONTACT_MESSAGES[1]
        )
        if isinstance(obj, Conversation):
            obj.has_statistics = True
            obj.read = False
    else:
        admin = (
            _admin_of(ws, obj)
            if isinstance(obj, Conversation)
            else str(obj.admin_assignee_id or next(iter(ws.admins)))
        )
        make = lambda: Part(ws.new_part_id(), "note", "admin", admin, at, NOTES[0])  # noqa: E731
    first_id = last_id = None
    for _ in range(count):
        part = make()
        first_id = first_id or part.id
        last_id = part.id
        obj.parts.append(part)
        if isinstance(obj, Conversation):
            _record(ws, added, ledger.conversation_replied(obj, part))
        else:
            _record(ws, added, ledger.ticket_part_event(obj, part))
    obj.updated_at = at
    return {
        f"{what}_id": str(obj.id),
        "first_part_id": str(first_id),
        "last_part_id": str(last_id),
        "total_parts": len(obj.parts),
    }


# ---- tickets --------------------------------------------------------------------------------------------


def ticket_state(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    ticket = _ticket(ws, m)
    state = _require(m, "state")
    if state not in TICKET_STATES:
        msg = f"state must be one of {', '.join(TICKET_STATES)}, got {state!r}"
        raise MutationError(msg)
    _not_before(at, ticket, "ticket")
    admin = str(ticket.admin_assignee_id or next(iter(ws.admins)))
    part = Part(ws.new_part_id(), "ticket_state_updated_by_admin", "admin", admin, at)
    part.previous_state = ticket.state
    part.state = state
    ticket.parts.append(part)
    ticket.updated_at = at
    _record(ws, added, ledger.ticket_part_event(ticket, part))
    return {"ticket_id": str(ticket.id), "part_id": str(part.id)}


def ticket_reply(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    ticket = _ticket(ws, m)
    _not_before(at, ticket, "ticket")
    contact = _first_contact(ws, ticket, "ticket")
    part = Part(ws.new_part_id(), "comment", contact.role, contact.id, at, CONTACT_MESSAGES[2])
    ticket.parts.append(part)
    ticket.updated_at = at
    _record(ws, added, ledger.ticket_part_event(ticket, part))
    return {"ticket_id": str(ticket.id), "part_id": str(part.id)}


def new_ticket(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    contact_id = m.get("contact_id")
    contacts = [] if contact_id is None else [_contact(ws, contact_id).id]
    state = m.get("state", "submitted")
    if state not in TICKET_STATES:
        msg = f"state must be one of {', '.join(TICKET_STATES)}, got {state!r}"
        raise MutationError(msg)
    type_id = str(m.get("ticket_type_id", next(iter(ws.ticket_types))))
    ticket_type = ws.ticket_types.get(type_id)
    if ticket_type is None:
        msg = f"no ticket type {type_id!r}; known: {', '.join(ws.ticket_types)}"
        raise MutationError(msg)
    ticket_id = ws.next_ticket_id
    ws.next_ticket_id += 1
    ticket = Ticket(
        id=ticket_id,
        ticket_number=max((t.ticket_number for t in ws.tickets.values()), default=0) + 1,
        ticket_type_id=type_id,
        category=ticket_type.category,
        title=m.get("title", "New ticket"),
        description=m.get("description"),
        contact_ids=contacts,
        admin_assignee_id=0,
        team_assignee_id=0,
        created_at=at,
        updated_at=at,
        initial_state=state,
        is_shared=ticket_type.category == "Customer",
        snoozed_until=None,
    )
    ws.tickets[ticket_id] = ticket
    for entry in ledger.ticket_created(ticket):
        _record(ws, added, entry)
    return {"ticket_id": str(ticket_id)}


# ---- contacts -------------------------------------------------------------------------------------------


def edit_contact(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    """Change contact fields; `at` may be earlier than now (an edit made earlier on a bookmark's day)."""
    contact = _contact(ws, _require(m, "contact_id"))
    changes = _require(m, "changes")
    if not isinstance(changes, dict) or not changes:
        msg = "changes must be a non-empty object of contact fields"
        raise MutationError(msg)
    for name, value in changes.items():
        allowed = EDITABLE_CONTACT_FIELDS.get(name)
        if allowed is None:
            msg = f"cannot edit contact field {name!r}; editable: {', '.join(EDITABLE_CONTACT_FIELDS)}"
            raise MutationError(msg)
        if not isinstance(value, allowed):
            msg = f"contact field {name!r} cannot be {value!r}"
            raise MutationError(msg)
        if name == "role" and value not in CONTACT_ROLES:
            msg = f"role must be user or lead, got {value!r}"
            raise MutationError(msg)
    for name, value in changes.items():
        if name == "location":
            country, region, city, code, continent = (value.get(k) for k in LOCATION_KEYS)
            contact.location = (country, region, city, code, continent)
        else:
            setattr(contact, name, value)
    contact.updated_at = at
    contact.edited_at_clock = ws.last_contact_edit_clock = time.time()
    return {"contact_id": contact.id}


def delete_contact(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    contact = _contact(ws, _require(m, "contact_id"))
    contact.deleted = True  # gone from GET, list and search; conversations still name it
    return {"contact_id": contact.id}


def merge_contact(
    ws: Workspace, m: dict[str, Any], at: int, added: list[LedgerEntry]
) -> dict[str, Any]:
    """Merge a contact into another (as a lead merges into a user). The merged one is gone from list
    and search ("Contacts that have been merged … are excluded from search results"); GET of its id is
    404 up to 2.15 and 410 `contact_merged` with a Link to the contact it went into from 2.16. Its
    conversations, tickets and parts keep naming it, and its ledger entries stay as they are (the
    events happened, to that contact id). The contact merged into is updated at `at`."""
    contact = _contact(ws, _require(m, "contact_id"))
    into = _contact(ws, _require(m, "into_contact_id"))
    if into is contact:
        msg = "a contact cannot be merged into itself"
        raise MutationError(msg)
    contact.deleted = True
    contact.merged_into = into.id
    into.updated_at = max(into.updated_at, at)
    into.edited_at_clock = ws.last_contact_edit_clock = time.time()
    return {"contact_id": contact.id, "into_contact_id": into.id}


Action = Callable[[Workspace, dict[str, Any], int, list[LedgerEntry]], dict[str, Any]]
ACTIONS: dict[str, Action] = {
    "contact_reply": contact_reply,
    "admin_reply": admin_reply,
    "mark_read": mark_read,
    "rate": rate,
    "new_conversation": new_conversation,
    "delete_conversation": delete_conversation,
    "bulk_parts": bulk_parts,
    "note": note,
    "ticket_state": ticket_state,
    "ticket_reply": ticket_reply,
    "new_ticket": new_ticket,
    "edit_contact": edit_contact,
    "delete_contact": delete_contact,
    "merge_contact": merge_contact,
}
