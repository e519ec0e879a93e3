"""The Intercom stand-in's data in a compact internal form: slotted records, rendered to JSON per request.

Derived values (conversation state, statistics, waiting_since, assignee, ticket state) are computed from the
parts on demand, so a mutation that appends a part can never leave them inconsistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Ticket state categories, in the order a ticket usually moves through them.
TICKET_STATES = ("submitted", "in_progress", "waiting_on_customer", "resolved")
CONTACT_ROLES = ("user", "lead")
# Conversation priority as 2.16 names it; older versions collapse it to priority / not_priority.
PRIORITIES = ("none", "low", "medium", "high", "urgent")
DAY = 86_400
SLA_STATUS_NULL = "<null>"


@dataclass(slots=True)
class Admin:
    id: str
    name: str
    email: str
    job_title: str | None
    team_ids: list[str]
    away_mode_enabled: bool = False
    avatar: str | None = None


@dataclass(slots=True)
class Team:
    id: str
    name: str
    admin_ids: list[str]


@dataclass(slots=True)
class Tag:
    id: str
    name: str


@dataclass(slots=True)
class TicketStateDef:
    """A workspace ticket state: its API id, category and the two labels."""

    id: str
    category: str
    internal_label: str
    external_label: str


@dataclass(slots=True)
class TicketType:
    id: str
    name: str
    description: str
    icon: str
    category: str  # Customer, Back-office, Tracker
    created_at: int
    updated_at: int


@dataclass(slots=True)
class Contact:
    id: str
    role: str
    external_id: str | None
    email: str | None
    phone: str | None
    name: str | None
    avatar: (
        str | dict[str, str] | None
    )  # the API sends an object, peers saw plain strings: both occur
    owner_id: int | None
    has_hard_bounced: bool
    marked_email_as_spam: bool
    unsubscribed_from_emails: bool
    created_at: int
    updated_at: int
    signed_up_at: int | None
    last_seen_at: int | None
    # (country, region, city, country_code, continent_code); all None when unknown
    location: tuple[str | None, str | None, str | None, str | None, str | None]
    custom_attributes: dict[str, Any]
    tags: list[tuple[str, int]]  # (tag id, applied_at)
    opted_out_subscription_ids: list[str]
    deleted: bool = False  # deleted or merged: gone from GET, list and search
    merged_into: str | None = None  # the contact it was merged into (merge_contact)
    # wall-clock time of the last edit: search sees it only `contact_search_delay_seconds` later
    edited_at_clock: float = 0.0


@dataclass(slots=True)
class Part:
    """A conversation or ticket part. Ticket state changes carry previous_state/state (categories)."""

    id: int
    part_type: str  # comment, note, assignment, open, close, ticket_state_updated_by_admin, ...
    author_type: str  # admin, bot, user, lead
    author_id: str
    created_at: int
    body: str | None = None
    assigned_to: str | None = None  # admin id of an assignment part
    previous_state: str | None = None
    state: str | None = None


@dataclass(slots=True)
class Rating:
    rating: int
    remark: str | None
    created_at: int  # when the rating was requested
    updated_at: int  # when the contact rated
    contact_id: str
    teammate_id: str


@dataclass(slots=True)
class Conversation:
    id: int
    created_at: int
    updated_at: int
    title: str | None
    source_id: int
    source_type: str
    delivered_as: str
    source_author_type: str  # admin, user, lead
    source_author_id: str
    source_subject: str
    source_body: str
    contact_ids: list[str]
    team_assignee_id: int | None
    unassigned_as_zero: (
        bool  # the API sends 0 for some unassigned conversations and null for others
    )
    priority: int  # index into PRIORITIES
    read: bool
    snoozed_until: int | None
    tags: list[tuple[str, int, str]]  # (tag id, applied_at, applied_by admin id)
    rating: Rating | None
    custom_attributes: dict[str, Any]
    # None: sla_applied is null; SLA_STATUS_NULL: an sla_applied whose sla_status is null (cancelled events)
    sla_status: str | None
    has_statistics: bool  # statistics is null on some (mostly outbound) conversations
    parts: list[Part] = field(default_factory=list)

    @property
    def contact_initiated(self) -> bool:
        return self.source_author_type in CONTACT_ROLES


@dataclass(slots=True)
class Ticket:
    id: int
    ticket_number: int  # the inbox `ticket_id`, not the API id
    ticket_type_id: str
    category: str
    title: str | None
    description: str | None
    contact_ids: list[str]
    admin_assignee_id: int  # 0: unassigned
    team_assignee_id: int  # 0: unassigned
    created_at: int
    updated_at: int
    initial_state: str
    is_shared: bool
    snoozed_until: int | None
    parts: list[Part] = field(default_factory=list)

    @property
    def state(self) -> str:
        """The current state category: that of the last state part, else the state at creation."""
        for part in reversed(self.parts):
            if part.part_type == "ticket_state_updated_by_admin" and part.state is not None:
                return part.state
        return self.initial_state

    @property
    def previous_state(self) -> str | None:
        """previous_ticket_state of the most recent state change, None when there was none."""
        for part in reversed(self.parts):
            if (
                part.part_type == "ticket_state_updated_by_admin"
                and part.state != part.previous_state
            ):
                return part.previous_state
        return None


@dataclass(slots=True)
class LedgerEntry:
    """One contract event the data set holds, recorded when the generator or a mutation made it.

    The object and part ids are read back from the key (`{type}:{id}:...`, `...:part:{part id}:...`):
    a 100,000-conversation data set holds ~400,000 entries, so each keeps only what it must.
    """

    key: str
    metric: str
    contact_id: str | None
    time: int

    @property
    def object_type(self) -> str:
        return self.key.split(":", 1)[0]

    @property
    def object_id(self) -> str:
        return self.key.split(":", 2)[1]

    @property
    def part_id(self) -> str | None:
        pieces = self.key.split(":")
        return pieces[3] if pieces[2] == "part" else None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "metric": self.metric,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "contact_id": self.contact_id,
            "part_id": self.part_id,
            "time": self.time,
        }


@dataclass(slots=True)
class ConversationFacts:
    """What Intercom derives from a conversation's parts: state and the statistics object."""

    state: str
    waiting_since: int | None
    admin_assignee_id: str | None
    first_contact_reply_at: int | None
    first_admin_reply_at: int | None
    last_admin_reply_at: int | None
    last_contact_reply_at: int | None
    first_assignment_at: int | None
    last_assignment_at: int | None
    first_close_at: int | None
    last_close_at: int | None
    last_closed_by_id: str | None
    count_reopens: int
    count_assignments: int
    admin_ids: list[str]
    part_states: list[str]  # the conversation's state as each part left it (the part's `state`)


def conversation_facts(conversation: Conversation) -> ConversationFacts:
    """Replay the parts once: state machine, reply times and counts."""
    state = "open"
    contact_initiated = conversation.contact_initiated
    first_contact = conversation.created_at if contact_initiated else None
    last_contact = first_contact
    first_admin = last_admin = None
    first_assign = last_assign = None
    first_close = last_close = None
    closed_by: str | None = None
    reopens = assignments = 0
    assignee: str | None = None
    # waiting_since: the first contact message since the last admin reply
    waiting = conversation.created_at if contact_initiated else None
    admin_ids: list[str] = []
    part_states: list[str] = []
    if conversation.source_author_type == "admin":
        admin_ids.append(conversation.source_author_id)
    for part in conversation.parts:
        kind = part.part_type
        by_contact = part.author_type in CONTACT_ROLES
        if part.author_type == "admin" and part.author_id not in admin_ids:
            admin_ids.append(part.author_id)
        if kind == "comment":
            if by_contact:
                if first_contact is None:
                    first_contact = part.created_at
                last_contact = part.created_at
                if waiting is None:
                    waiting = part.created_at
                if state == "closed":  # a contact reply reopens a closed conversation
                    state = "open"
                    reopens += 1
            elif part.author_type == "admin":
                if first_admin is None:
                    first_admin = part.created_at
                last_admin = part.created_at
                waiting = None
        elif kind == "assignment":
            assignments += 1
            assignee = part.assigned_to
            if first_assign is None:
                first_assign = part.created_at
            last_assign = part.created_at
        elif kind == "close":
            if state != "closed":
                state = "closed"
                if first_close is None:
                    first_close = part.created_at
                last_close = part.created_at
                closed_by = part.author_id
        elif kind == "open":
            if state == "closed":
                reopens += 1
            state = "open"
        elif kind == "snoozed":
            state = "snoozed"
        elif kind == "unsnoozed":
            state = "open"
        part_states.append(state)
    if state == "closed":
        waiting = None
    return ConversationFacts(
        state=state,
        waiting_since=waiting,
        admin_assignee_id=assignee,
        first_contact_reply_at=first_contact,
        first_admin_reply_at=first_admin,
        last_admin_reply_at=last_admin,
        last_contact_reply_at=last_contact,
        first_assignment_at=first_assign,
        last_assignment_at=last_assign,
        first_close_at=first_close,
        last_close_at=last_close,
        last_closed_by_id=closed_by,
        count_reopens=reopens,
        count_assignments=assignments,
        admin_ids=admin_ids,
        part_states=part_states,
    )


def last_admin_reply_key(conversation: Conversation) -> str:
    """The Read Conversation key part: statistics.last_admin_reply_at, or "none" (null statistics too)."""
    if not conversation.has_statistics:
        return "none"
    last = conversation_facts(conversation).last_admin_reply_at
    return "none" if last is None else str(last)


@dataclass
class Workspace:
    """Everything the stand-in serves, plus the ledger of contract events it holds."""

    now: int
    admins: dict[str, Admin]
    teams: dict[str, Team]
    tags: dict[str, Tag]
    ticket_types: dict[str, TicketType]
    ticket_states: dict[str, TicketStateDef]  # by category
    contacts: dict[str, Contact]
    conversations: dict[int, Conversation]
    tickets: dict[int, Ticket]
    ledger: dict[str, LedgerEntry]
    next_part_id: int
    next_conversation_id: int
    next_ticket_id: int
    next_source_id: int
    generation_seconds: float = 0.0
    workspace_id: str = "ecahpwf5"  # the workspace's id_code (IntercomSettings.workspace_id)
    version: int = 0  # bumped on every change, so cached search results are dropped
    last_contact_edit_clock: float = 0.0  # wall-clock time of the latest edit_contact

    def new_part_id(self) -> int:
        self.next_part_id += 1
        return self.next_part_id

    def record(self, entry: LedgerEntry) -> bool:
        """Add a ledger entry unless its key is there already (the contract keeps one per key)."""
        if entry.key in self.ledger:
            return False
        self.ledger[entry.key] = entry
        return True
