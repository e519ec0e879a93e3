"""A seeded, deterministic Intercom workspace with the variety real workspaces have.

The same (seed, sizes, now) always gives the same data. Every contract event is written to the ledger as the
thing behind it is made (`ledger.py`), never re-derived from the rendered JSON.
"""

from __future__ import annotations

import random
import time
from typing import Any

from api_sandbox.intercom import ledger
from api_sandbox.intercom.model import (
    DAY,
    SLA_STATUS_NULL,
    Admin,
    Contact,
    Conversation,
    Part,
    Rating,
    Tag,
    Team,
    Ticket,
    TicketStateDef,
    TicketType,
    Workspace,
)

HISTORY_SECONDS = 30 * DAY
BOT_ID = "991267999"
FIRST_CONVERSATION_ID = 100_000
FIRST_TICKET_ID = 600
FIRST_PART_ID = 1_000_000
FIRST_SOURCE_ID = 400_000_000

FIRST_NAMES = (
    "Ana", "Ben", "Chloé", "Dmitri", "Emeka", "Fatima", "Giulia", "Hiro", "Ines", "Jonas", "Kofi", "Lena",
    "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Yusuf",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Okafor", "Müller", "Nakamura", "O'Brien", "Kowalski", "Haddad", "Larsen", "Rossi", "Chen",
    "García", "Smith", "Vandenberg", "Dubois", "Ivanova", "Patel",
)  # fmt: skip
MIDDLE_NAMES = ("Maria", "Jean", "Lee", "Anne", "José")
EMAIL_DOMAINS = ("example.com", "example.org", "mail.example.net", "acme.test")
# (country, region, city, country_code, continent_code)
LOCATIONS: tuple[tuple[str | None, str | None, str | None, str | None, str | None], ...] = (
    ("United States", "California", "San Francisco", "USA", "NA"),
    ("United States", "New York", "New York", "USA", "NA"),
    ("United Kingdom", "England", "London", "GBR", "EU"),
    ("Germany", "Berlin", "Berlin", "DEU", "EU"),
    ("Australia", "New South Wales", "Sydney", "AUS", "OC"),
    ("France", "Ile-de-France", "Paris", "FRA", "EU"),
    ("Brazil", None, "São Paulo", "BRA", "SA"),
    (None, None, None, None, None),
)
INVALID_PHONES = ("12345", "call me", "n/a", "+1 555", "0000")
CUSTOM_ATTRIBUTE_VARIANTS: tuple[dict[str, Any], ...] = (
    {},
    {"Plan Tier": "pro", "Signup Source": "webinar"},
    {"Plan Tier": "free", "Lifetime Value": 129.5, "beta_user": True},
    {"Account Manager": "Sven Larsen", "Seats": 12, "Renewal Date": None},
    {"company size": "11-50", "NPS score": 9},
)
CONVERSATION_ATTRIBUTE_VARIANTS: tuple[dict[str, Any], ...] = (
    {},
    {"Order ID": "A-10442", "Refund requested": True},
    {"Issue type": "billing", "Escalated": False},
    {"Order ID": "B-2291", "Priority reason": "VIP customer"},
)
TITLES = (
    "Refund for order",
    "Login problem",
    "Question about pricing",
    "Shipping delay",
    "Bug report",
)
CONTACT_MESSAGES = (
    "<p>Hi, I can't log in to my account.</p>",
    "<p>Where is my order?</p>",
    "<p>Thanks, that worked!</p>",
    "<p>Can I get a refund?</p>",
    "<p>Still not working, sorry.</p>",
)
ADMIN_MESSAGES = (
    "<p>Thanks for reaching out, looking into it now.</p>",
    "<p>Could you send a screenshot?</p>",
    "<p>This is fixed now.</p>",
    "<p>We've issued the refund.</p>",
)
NOTES = ("<p>Customer is on the legacy plan.</p>", "<p>Escalated to billing.</p>")
OUTBOUND_MESSAGES = (
    "<p>Welcome aboard! Anything we can help with?</p>",
    "<p>Your trial ends soon.</p>",
)
TICKET_TITLES = (
    "Card declined twice",
    "Cannot export data",
    "App crashes on start",
    "Refund request",
)
TICKET_DESCRIPTIONS = (
    None,
    "Customer reports the problem since Monday.",
    "Steps: open app, tap sync.",
)
# "if there are any canceled sla_events … the sla_status will always be returned as null"
SLA_STATUSES = ("hit", "missed", "active", "cancelled", SLA_STATUS_NULL)
# state transitions a ticket makes; resolved may reopen to in_progress
TICKET_NEXT = {
    "submitted": ("in_progress", "in_progress", "in_progress", "resolved"),
    "in_progress": ("waiting_on_customer", "resolved", "resolved", "submitted"),
    "waiting_on_customer": ("in_progress", "resolved"),
    "resolved": ("in_progress",),
}


def reference_data(
    now: int,
) -> tuple[
    dict[str, Admin],
    dict[str, Team],
    dict[str, Tag],
    dict[str, TicketType],
    dict[str, TicketStateDef],
]:
    """The fixed lookups: admins, teams, tags, ticket types and the workspace's ticket states."""
    teams = {
        "5017691": Team("5017691", "Support", ["991267601", "991267602", "991267603"]),
        "5017692": Team("5017692", "Billing", ["991267604", "991267605"]),
        "5017693": Team("5017693", "Escalations", ["991267606"]),
    }
    admin_rows: tuple[tuple[str, str, str | None, list[str]], ...] = (
        ("991267601", "Ciaran Lee", "Support lead", ["5017691"]),
        ("991267602", "Mei Tanaka", None, ["5017691"]),
        ("991267603", "Jo Martins", "Support engineer", ["5017691"]),
        ("991267604", "Ravi Shah", "Billing specialist", ["5017692"]),
        ("991267605", "Elif Demir", None, ["5017692"]),
        ("991267606", "Sam Okoro", "Escalations manager", ["5017693"]),
        ("991267607", "Lucía Romero", None, []),
    )
    admins = {
        aid: Admin(aid, name, name.split()[0].lower() + "@support.example.com", job, list(tids))
        for aid, name, job, tids in admin_rows
    }
    admins["991267607"].away_mode_enabled = True
    tag_names = (
        "VIP", "churn-risk", "beta", "enterprise", "trial", "newsletter", "mobile", "android", "ios",
        "web", "billing", "refund", "bug", "feature request", "onboarding", "EU", "US", "APAC",
        "partner", "reseller", "do not contact", "high value", "nps-promoter", "nps-detractor",
    )  # fmt: skip
    tags = {str(7_000_000 + i): Tag(str(7_000_000 + i), name) for i, name in enumerate(tag_names)}
    # the workspace's ticket types date from the start of the history
    created = now - HISTORY_SECONDS
    ticket_types = {
        "95": TicketType("95", "Refund Request", "Customer asks for money back", "💸", "Customer", created, created),
        "96": TicketType("96", "Account Access", "Login and 2FA problems", "🔑", "Customer", created, created),
        "97": TicketType("97", "Data Export", "Internal export job", "📦", "Back-office", created, created),
        "98": TicketType("98", "Bug Report", "Tracked engineering issue", "🐞", "Tracker", created, created),
    }  # fmt: skip
    ticket_states = {
        "submitted": TicketStateDef("8537", "submitted", "Submitted", "Submitted"),
        "in_progress": TicketStateDef("8538", "in_progress", "With Dev Team", "In progress"),
        "waiting_on_customer": TicketStateDef(
            "8539", "waiting_on_customer", "Waiting on customer", "Awaiting your reply"
        ),
        "resolved": TicketStateDef("8540", "resolved", "Resolved", "Resolved"),
    }
    return admins, teams, tags, ticket_types, ticket_states


def generate(
    seed: int,
    contacts: int,
    conversations: int,
    tickets: int,
    now: int,
    *,
    workspace_id: str = "ecahpwf5",
) -> Workspace:
    started = time.perf_counter()
    rng = random.Random(seed)
    admins, teams, tags, ticket_types, ticket_states = reference_data(now)
    workspace = Workspace(
        now=now,
        admins=admins,
        teams=teams,
        tags=tags,
        ticket_types=ticket_types,
        ticket_states=ticket_states,
        contacts={},
        conversations={},
        tickets={},
        ledger={},
        next_part_id=FIRST_PART_ID,
        next_conversation_id=FIRST_CONVERSATION_ID,
        next_ticket_id=FIRST_TICKET_ID,
        next_source_id=FIRST_SOURCE_ID,
        workspace_id=workspace_id,
    )
    builder = _Builder(rng, workspace)
    for index in range(contacts):
        contact = builder.contact(index)
        workspace.contacts[contact.id] = contact
    contact_list = list(workspace.contacts.values())
    for created_at in sorted(now - rng.randrange(HISTORY_SECONDS) for _ in range(conversations)):
        builder.conversation(created_at, contact_list)
    for created_at in sorted(now - rng.randrange(HISTORY_SECONDS) for _ in range(tickets)):
        builder.ticket(created_at, contact_list)
    workspace.generation_seconds = time.perf_counter() - started
    return workspace


class _Builder:
    """Makes one object at a time from the shared random stream and records its ledger entries."""

    def __init__(self, rng: random.Random, workspace: Workspace) -> None:
        self.rng = rng
        self.ws = workspace
        self.now = workspace.now
        self.admin_ids = list(workspace.admins)
        self.team_ids = [int(t) for t in workspace.teams]
        self.tag_ids = list(workspace.tags)
        self.ticket_type_ids = list(workspace.ticket_types)

    # ---- contacts -------------------------------------------------------------------------------------

    def contact(self, index: int) -> Contact:
        rng = self.rng
        contact_id = f"{rng.getrandbits(96):024x}"
        role = "user" if rng.random() < 0.7 else "lead"
        name = self._name()
        location = rng.choice(LOCATIONS)
        # Which identifiers the contact has: realistic shares, including none at all.
        draw = rng.random()
        email = phone = None
        if draw < 0.40:
            email, phone = self._email(name, index), self._phone(location[3])
        elif draw < 0.72:
            email = self._email(name, index)
        elif draw < 0.82:
            phone = self._phone(location[3])
        elif draw < 0.87:
            phone = rng.choice(INVALID_PHONES)
        elif draw < 0.90:
            email, phone = self._email(name, index), rng.choice(INVALID_PHONES)
        # else: no email and no phone (some of them have an external_id only, some nothing)
        external_id = f"usr_{index:06d}" if role == "user" and rng.random() < 0.8 else None
        created_at = self.now - rng.randrange(HISTORY_SECONDS)
        updated_at = created_at + rng.randrange(self.now - created_at + 1)
        avatar_draw = rng.random()
        avatar: str | dict[str, str] | None = None
        url = f"https://static.intercomassets.com/avatars/{index}/square_128/photo.jpg"
        if avatar_draw < 0.3:
            avatar = {"type": "avatar", "image_url": url}
        elif avatar_draw < 0.45:
            avatar = url
        tag_draw = rng.random()
        tag_count = 0
        if tag_draw < 0.06:
            tag_count = rng.randint(11, 14)
        elif tag_draw < 0.45:
            tag_count = rng.randint(1, 3)
        tags = [
            (tag_id, created_at + rng.randrange(updated_at - created_at + 1))
            for tag_id in rng.sample(self.tag_ids, tag_count)
        ]
        opt_outs = rng.choice(([], [], [], ["101"], ["101", "102"]))
        return Contact(
            id=contact_id,
            role=role,
            external_id=external_id,
            email=email,
            phone=phone,
            name=name,
            avatar=avatar,
            owner_id=int(rng.choice(self.admin_ids)) if rng.random() < 0.3 else None,
            has_hard_bounced=rng.random() < 0.03,
            marked_email_as_spam=rng.random() < 0.02,
            unsubscribed_from_emails=rng.random() < 0.1,
            created_at=created_at,
            updated_at=updated_at,
            signed_up_at=created_at if role == "user" else None,
            last_seen_at=updated_at if rng.random() < 0.7 else None,
            location=location,
            custom_attributes=dict(rng.choice(CUSTOM_ATTRIBUTE_VARIANTS)),
            tags=tags,
            opted_out_subscription_ids=list(opt_outs),
        )

    def _name(self) -> str | None:
        rng = self.rng
        draw = rng.random()
        if draw < 0.08:
            return None
        first = rng.choice(FIRST_NAMES)
        if draw < 0.2:
            return first
        last = rng.choice(LAST_NAMES)
        if draw < 0.3:
            return f"{first} {rng.choice(MIDDLE_NAMES)} {last}"
        return f"{first} {last}"

    def _email(self, name: str | None, index: int) -> str:
        local = (name or "contact").split()[0].lower()
        return f"{local}.{index}@{self.rng.choice(EMAIL_DOMAINS)}"

    def _phone(self, country_code: str | None) -> str:
        """A valid number in one of the free-form ways people type them."""
        rng = self.rng
        n = rng.randrange(100)
        if country_code == "GBR":
            return rng.choice(
                (f"020 7946 09{n:02d}", f"+44 20 7946 09{n:02d}", f"0151 496 01{n:02d}")
            )
        if country_code == "DEU":
            return f"+49 30 901820{n:02d}"
        if country_code == "AUS":
            return f"+61 2 9374 40{n:02d}"
        if country_code == "FRA":
            return f"+33 1 42 68 53 {n:02d}"
        return rng.choice(
            (
                f"+1 (415) 555-01{n:02d}",
                f"415-555-01{n:02d}",
                f"(212) 555 01{n:02d}",
                f"+14155550{100 + n}",
                f"650.253.00{n:02d}",
            )
        )

    # ---- conversations --------------------------------------------------------------------------------

    def _part(
        self,
        part_type: str,
        author_type: str,
        author_id: str,
        at: int,
        body: str | None = None,
        *,
        assigned_to: str | None = None,
    ) -> Part:
        return Part(self.ws.new_part_id(), part_type, author_type, author_id, at, body, assigned_to)

    def _times(self, start: int, count: int, span: int) -> list[int]:
        """`count` ascending part times after `start`, never past now."""
        end = min(self.now, start + span)
        if end <= start:
            return [start] * count
        return sorted(self.rng.randint(start + 1, end) for _ in range(count))

    def conversation(self, created_at: int, contacts: list[Contact]) -> Conversation:
        rng = self.rng
        ws = self.ws
        conversation_id = ws.next_conversation_id
        ws.next_conversation_id += 1
        ws.next_source_id += 1
        group_size = rng.choice((2, 2, 3)) if rng.random() < 0.05 else 1
        members = rng.sample(contacts, group_size) if contacts else []
        contact_ids = [c.id for c in members]
        contact_initiated = bool(members) and rng.random() < 0.75
        if contact_initiated:
            author_type, author_id = members[0].role, members[0].id
            delivered_as = "customer_initiated"
            body = rng.choice(CONTACT_MESSAGES)
            source_type = rng.choice(("conversation", "conversation", "email", "whatsapp"))
        else:
            author_type, author_id = "admin", rng.choice(self.admin_ids)
            delivered_as = "admin_initiated" if rng.random() < 0.6 else "automated"
            body = rng.choice(OUTBOUND_MESSAGES)
            source_type = rng.choice(("conversation", "email", "push"))
        team = rng.choice(self.team_ids) if rng.random() < 0.6 else None
        conversation = Conversation(
            id=conversation_id,
            created_at=created_at,
            updated_at=created_at,
            title=rng.choice(TITLES) if rng.random() < 0.3 else None,
            source_id=ws.next_source_id,
            source_type=source_type,
            delivered_as=delivered_as,
            source_author_type=author_type,
            source_author_id=author_id,
            source_subject="" if source_type != "email" else "About my account",
            source_body=body,
            contact_ids=contact_ids,
            team_assignee_id=team,
            unassigned_as_zero=rng.random() < 0.5,
            priority=rng.choice((0, 0, 0, 0, 1, 2, 3, 4)),
            read=False,
            snoozed_until=None,
            tags=[],
            rating=None,
            custom_attributes=rng.choice(CONVERSATION_ATTRIBUTE_VARIANTS),
            sla_status=rng.choice(SLA_STATUSES) if rng.random() < 0.5 else None,
            has_statistics=True,
        )
        if contact_initiated:
            self._support_thread(conversation, members)
        else:
            self._outbound_thread(conversation, members)
        last = conversation.parts[-1].created_at if conversation.parts else created_at
        if rng.random() < 0.3:
            conversation.tags = [
                (tag_id, last, rng.choice(self.admin_ids))
                for tag_id in rng.sample(self.tag_ids, rng.randint(1, 3))
            ]
        rating_time = conversation.rating.updated_at if conversation.rating else 0
        conversation.updated_at = min(self.now, max(last, rating_time) + rng.randrange(120))
        conversation.read = rng.random() < 0.55
        ws.conversations[conversation_id] = conversation
        for entry in (
            ledger.conversation_created(conversation),
            ledger.conversation_rated(conversation),
            ledger.conversation_read(conversation),
        ):
            if entry is not None:
                ws.record(entry)
        for part in conversation.parts:
            entry = ledger.conversation_replied(conversation, part)
            if entry is not None:
                ws.record(entry)
        return conversation

    def _support_thread(self, conversation: Conversation, members: list[Contact]) -> None:
        """Contact-initiated: bot/admin assignment, replies both ways, notes, close, maybe reopen, rating."""
        rng = self.rng
        replies = rng.randint(3, 14)
        count = replies + 3
        times = self._times(conversation.created_at, count, rng.choice((3600, 6 * 3600, 3 * DAY)))
        parts = conversation.parts
        t = iter(times)
        admin = rng.choice(self.admin_ids)
        if rng.random() < 0.7:
            assigner = ("bot", BOT_ID) if rng.random() < 0.5 else ("admin", admin)
            parts.append(self._part("assignment", *assigner, next(t), assigned_to=admin))
        else:
            next(t)
        for i in range(replies):
            at = next(t)
            if i % 2 == 0:
                parts.append(self._part("comment", "admin", admin, at, rng.choice(ADMIN_MESSAGES)))
            else:
                member = rng.choice(members)
                parts.append(
                    self._part("comment", member.role, member.id, at, rng.choice(CONTACT_MESSAGES))
                )
        if rng.random() < 0.25:
            parts.append(self._part("note", "admin", admin, next(t), rng.choice(NOTES)))
        else:
            next(t)
        close_at = next(t)
        if rng.random() < 0.6:
            parts.append(self._part("close", "admin", admin, close_at))
            if rng.random() < 0.12:
                # reopened by the customer's reply or by an admin, then closed again
                reopen_at = min(self.now, close_at + rng.randint(60, 3600))
                member = members[0]
                if rng.random() < 0.5:
                    parts.append(
                        self._part(
                            "comment", member.role, member.id, reopen_at, CONTACT_MESSAGES[4]
                        )
                    )
                else:
                    parts.append(self._part("open", "admin", admin, reopen_at))
                parts.append(self._part("close", "admin", admin, min(self.now, reopen_at + 60)))
            if rng.random() < 0.35:
                requested = parts[-1].created_at
                conversation.rating = Rating(
                    rating=rng.randint(1, 5),
                    remark=rng.choice((None, "", "Great help!", "Slow answer")),
                    created_at=requested,
                    updated_at=min(self.now, requested + rng.randint(30, 6 * 3600)),
                    contact_id=members[0].id,
                    teammate_id=admin,
                )
        elif rng.random() < 0.1:
            parts.append(self._part("snoozed", "admin", admin, close_at))
            conversation.snoozed_until = self.now + rng.randint(3600, 3 * DAY)

    def _outbound_thread(self, conversation: Conversation, members: list[Contact]) -> None:
        """Admin-initiated or automated: often nothing back (statistics null), sometimes a reply."""
        rng = self.rng
        admin = conversation.source_author_id
        if not members or rng.random() < 0.65:
            conversation.has_statistics = False
            if rng.random() < 0.5:
                at = self._times(conversation.created_at, 1, DAY)[0]
                conversation.parts.append(self._part("close", "admin", admin, at))
            return
        times = self._times(conversation.created_at, 3, 2 * DAY)
        member = members[0]
        conversation.parts.append(
            self._part("comment", member.role, member.id, times[0], rng.choice(CONTACT_MESSAGES))
        )
        conversation.parts.append(
            self._part("comment", "admin", admin, times[1], rng.choice(ADMIN_MESSAGES))
        )
        if rng.random() < 0.5:
            conversation.parts.append(self._part("close", "admin", admin, times[2]))

    # ---- tickets --------------------------------------------------------------------------------------

    def ticket(self, created_at: int, contacts: list[Contact]) -> Ticket:
        rng = self.rng
        ws = self.ws
        ticket_type = ws.ticket_types[rng.choice(self.ticket_type_ids)]
        draw = rng.random()
        if ticket_type.category == "Tracker" or draw < 0.12 or not contacts:
            members: list[Contact] = []
        elif draw < 0.9:
            members = [rng.choice(contacts)]
        else:
            members = rng.sample(contacts, 2)
        ticket_id = ws.next_ticket_id
        ws.next_ticket_id += 1
        initial = "submitted" if rng.random() < 0.8 else "in_progress"
        ticket = Ticket(
            id=ticket_id,
            ticket_number=ticket_id - FIRST_TICKET_ID + 1,
            ticket_type_id=ticket_type.id,
            category=ticket_type.category,
            title=rng.choice(TICKET_TITLES),
            description=rng.choice(TICKET_DESCRIPTIONS),
            contact_ids=[c.id for c in members],
            admin_assignee_id=int(rng.choice(self.admin_ids)) if rng.random() < 0.7 else 0,
            team_assignee_id=rng.choice(self.team_ids) if rng.random() < 0.5 else 0,
            created_at=created_at,
            updated_at=created_at,
            initial_state=initial,
            is_shared=ticket_type.category == "Customer" and rng.random() < 0.8,
            snoozed_until=None,
        )
        self._ticket_history(ticket, members)
        last = ticket.parts[-1].created_at if ticket.parts else created_at
        ticket.updated_at = min(self.now, last + rng.randrange(60))
        ws.tickets[ticket_id] = ticket
        for entry in ledger.ticket_created(ticket):
            ws.record(entry)
        for part in ticket.parts:
            part_entry = ledger.ticket_part_event(ticket, part)
            if part_entry is not None:
                ws.record(part_entry)
        return ticket

    def _ticket_history(self, ticket: Ticket, members: list[Contact]) -> None:
        """A random walk through the states, with comments and notes in between."""
        rng = self.rng
        steps = rng.choice((0, 1, 2, 2, 3, 3, 4, 5, 6))
        times = iter(self._times(ticket.created_at, steps * 2 + 2, rng.choice((DAY, 5 * DAY))))
        admin = str(ticket.admin_assignee_id or rng.choice(self.admin_ids))
        state = ticket.initial_state
        if rng.random() < 0.15:
            # a state part that changes nothing (both states equal), as Intercom's own example shows
            ticket.parts.append(self._state_part(admin, next(times), state, state))
        for _ in range(steps):
            if members and rng.random() < 0.5:
                member = rng.choice(members)
                ticket.parts.append(
                    self._part(
                        "comment", member.role, member.id, next(times), rng.choice(CONTACT_MESSAGES)
                    )
                )
            elif rng.random() < 0.3:
                ticket.parts.append(
                    self._part("note", "admin", admin, next(times), rng.choice(NOTES))
                )
            else:
                ticket.parts.append(
                    self._part("comment", "admin", admin, next(times), rng.choice(ADMIN_MESSAGES))
                )
            if state == "resolved" and rng.random() < 0.6:
                break  # most resolved tickets stay resolved
            new_state = rng.choice(TICKET_NEXT[state])
            ticket.parts.append(self._state_part(admin, next(times), state, new_state))
            state = new_state

    def _state_part(self, admin: str, at: int, previous: str, state: str) -> Part:
        part = self._part("ticket_state_updated_by_admin", "admin", admin, at)
        part.previous_state = previous
        part.state = state
        return part
