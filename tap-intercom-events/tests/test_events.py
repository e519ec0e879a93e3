"""The contract's event rules, as unit tests of the pure functions with hand-written fixtures."""

from __future__ import annotations

from typing import Any

from tap_intercom_events_testing.events import conversation_events, ticket_events

from tap_intercom_events.events import Lookups, ticket_state_at_creation
from tap_intercom_events.window import SyncWindow

LOOKUPS = Lookups(
    admins={"11": {"id": "11", "name": "Ana Admin", "email": "ana@support.test"}},
    teams={"21": "Billing"},
    tags={"31": "vip", "32": "churn-risk"},
    workspace_id="abc123de",
    contacts={
        "c1": {
            "id": "c1",
            "role": "user",
            "email": "joe@example.com",
            "phone": "+1 415 555 0100",
            "external_id": "ext-1",
        },
        "c2": {
            "id": "c2",
            "role": "lead",
            "email": None,
            "phone": "0612345678",
            "external_id": None,
        },
    },
)


def event_window(after: int, until: int) -> SyncWindow:
    """A window emitting the events with after < time <= until."""
    return SyncWindow(lower=after, end=until, events_after=after, floor=after)


def conversation(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "conversation",
        "id": "100",
        "title": "Refund please",
        "created_at": 1_700_000_000,
        "updated_at": 1_700_000_500,
        "waiting_since": 1_700_000_100,
        "snoozed_until": None,
        "read": False,
        "priority": "not_priority",
        "admin_assignee_id": 11,
        "team_assignee_id": "21",
        "source": {
            "type": "conversation",
            "delivered_as": "customer_initiated",
            "author": {"type": "user", "id": "c1", "email": "joe@example.com"},
        },
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": "c1"}]},
        "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": "31", "name": "vip"}]},
        "conversation_rating": None,
        "custom_attributes": {"Plan Name": "pro"},
        "sla_applied": {"sla_status": "hit"},
        "statistics": {
            "last_admin_reply_at": 1_700_000_200,
            "count_reopens": 1,
            "count_assignments": 2,
            "count_conversation_parts": 4,
        },
        "conversation_parts": {
            "type": "conversation_part.list",
            "total_count": 3,
            "conversation_parts": [
                part(1, "comment", "admin", "11", 1_700_000_200),
                part(2, "comment", "user", "c1", 1_700_000_300),
                part(3, "note", "admin", "11", 1_700_000_400),
            ],
        },
    }
    base.update(overrides)
    return base


def part(pid: int, part_type: str, author_type: str, author_id: str, at: int) -> dict[str, Any]:
    return {
        "type": "conversation_part",
        "id": pid,
        "part_type": part_type,
        "created_at": at,
        "updated_at": at,
        "author": {"type": author_type, "id": author_id},
    }


def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["event_id"]: r for r in records}


def test_contact_started_conversation_gives_created_and_replied_with_properties() -> None:
    records = by_id(conversation_events(conversation(), LOOKUPS))
    assert sorted(records) == ["conversation:100:created", "conversation:100:part:2:replied"]
    created = records["conversation:100:created"]
    assert created == {
        "event_id": "conversation:100:created",
        "metric": "Created Conversation",
        "occurred_at": "2023-11-14T22:13:20+00:00",
        "from_lookback": False,
        "workspace_id": "abc123de",
        "object_type": "conversation",
        "conversation_id": "100",
        "ticket_id": None,
        "part_id": None,
        "contact_id": "c1",
        "contact_role": "user",
        "contact_email": "joe@example.com",
        "contact_phone": "+1 415 555 0100",
        "contact_external_id": "ext-1",
        "title": "Refund please",
        "snoozed_until": None,
        "waiting_since": "2023-11-14T22:15:00+00:00",
        "priority": "not_priority",
        "priority_level": None,
        "assigned_team": "Billing",
        "assigned_admin_name": "Ana Admin",
        "assigned_admin_email": "ana@support.test",
        "tags": ["vip"],
        "conversation_rating": None,
        "conversation_source": "conversation",
        "conversation_delivered_as": "customer_initiated",
        "conversation_part_count": 4,
        "sla_status": "hit",
        "reopen_count": 1,
        "assignment_count": 2,
        "custom_attributes": {"Plan Name": "pro"},
    }
    replied = records["conversation:100:part:2:replied"]
    assert replied["metric"] == "Replied to Conversation"
    assert replied["part_id"] == "2"
    assert replied["occurred_at"] == "2023-11-14T22:18:20+00:00"


def test_admin_initiated_conversation_gives_no_created_event() -> None:
    admin_started = conversation(
        source={
            "type": "email",
            "delivered_as": "admin_initiated",
            "author": {"type": "admin", "id": "11"},
        }
    )
    ids = [r["event_id"] for r in conversation_events(admin_started, LOOKUPS)]
    assert ids == ["conversation:100:part:2:replied"]


def test_notes_admin_and_bot_parts_give_nothing() -> None:
    quiet = conversation(
        conversation_parts={
            "total_count": 3,
            "conversation_parts": [
                part(1, "note", "admin", "11", 1_700_000_200),
                part(2, "comment", "bot", "b1", 1_700_000_300),
                part(3, "note", "user", "c1", 1_700_000_350),
                part(4, "assignment", "admin", "11", 1_700_000_400),
            ],
        }
    )
    ids = [r["event_id"] for r in conversation_events(quiet, LOOKUPS)]
    assert ids == ["conversation:100:created"]


def test_group_conversation_gives_one_created_event_for_its_author() -> None:
    group = conversation(
        contacts={"contacts": [{"type": "contact", "id": "c2"}, {"type": "contact", "id": "c1"}]}
    )
    created = [
        r for r in conversation_events(group, LOOKUPS) if r["metric"] == "Created Conversation"
    ]
    assert [(r["event_id"], r["contact_id"]) for r in created] == [
        ("conversation:100:created", "c1")
    ]


def test_rating_and_changed_rating_are_distinct_events() -> None:
    rating = {
        "rating": 4,
        "created_at": 1_700_000_600,
        "updated_at": 1_700_000_700,
        "contact": {"type": "contact", "id": "c2"},
    }
    first = by_id(conversation_events(conversation(conversation_rating=rating), LOOKUPS))
    # The id uses the rating's created_at (every API version returns it), the time its updated_at.
    rated = first["conversation:100:rated:1700000600:4"]
    assert rated["metric"] == "Rated Conversation"
    assert rated["occurred_at"] == "2023-11-14T22:25:00+00:00"
    assert rated["contact_id"] == "c2"
    assert rated["contact_role"] == "lead"
    assert rated["contact_phone"] == "0612345678"
    assert rated["conversation_rating"] == 4
    changed = {**rating, "rating": 2, "updated_at": 1_700_000_900}
    second = by_id(conversation_events(conversation(conversation_rating=changed), LOOKUPS))
    assert "conversation:100:rated:1700000600:2" in second
    assert "conversation:100:rated:1700000600:4" not in second


def test_rating_without_updated_at_uses_created_at() -> None:
    rating = {"rating": 5, "created_at": 1_700_000_600, "contact": {"id": "c1"}}
    ids = [
        r["event_id"]
        for r in conversation_events(conversation(conversation_rating=rating), LOOKUPS)
    ]
    assert "conversation:100:rated:1700000600:5" in ids


def test_read_conversation_keyed_by_last_admin_reply_and_timed_at_updated_at() -> None:
    records = by_id(conversation_events(conversation(read=True), LOOKUPS))
    read = records["conversation:100:read:1700000200"]
    assert read["metric"] == "Read Conversation"
    assert read["occurred_at"] == "2023-11-14T22:21:40+00:00"
    assert read["contact_id"] == "c1"
    no_stats = by_id(conversation_events(conversation(read=True, statistics=None), LOOKUPS))
    assert "conversation:100:read:none" in no_stats
    # Without statistics the part count falls back to total_count + 1.
    assert no_stats["conversation:100:read:none"]["conversation_part_count"] == 4


def test_unassigned_as_zero_and_as_null_give_no_names() -> None:
    for unassigned in (0, "0", None):
        record = conversation_events(
            conversation(admin_assignee_id=unassigned, team_assignee_id=unassigned), LOOKUPS
        )[0]
        assert record["assigned_admin_name"] is None
        assert record["assigned_admin_email"] is None
        assert record["assigned_team"] is None


def test_window_keeps_only_events_after_floor_up_to_end() -> None:
    window = event_window(1_700_000_000, 1_700_000_300)
    ids = [r["event_id"] for r in conversation_events(conversation(), LOOKUPS, window)]
    # created_at == after is excluded (emitted by an earlier run); the reply at `until` is in.
    assert ids == ["conversation:100:part:2:replied"]
    assert (
        conversation_events(conversation(), LOOKUPS, event_window(1_700_000_300, 1_800_000_000))
        == []
    )


def test_events_at_or_before_the_stored_floor_are_marked_from_the_lookback() -> None:
    """The lookback re-reads (floor - K, floor]: an earlier run may have emitted those events."""
    floor = 1_700_000_200
    window = SyncWindow(
        lower=floor - 300, end=1_800_000_000, events_after=floor - 300, floor=floor,
        stored_floor=floor,
    )  # fmt: skip
    marks = {
        r["event_id"]: r["from_lookback"]
        for r in conversation_events(conversation(), LOOKUPS, window)
    }
    # Created at floor - 200 (in the lookback), the reply at floor + 100 (new).
    assert marks == {"conversation:100:created": True, "conversation:100:part:2:replied": False}
    # The ticket's creation (floor - 200, submitted) is in the lookback; its resolution is new.
    resolved = state_part(1, "submitted", "resolved", floor + 1)
    ticket_marks = {
        r["event_id"]: r["from_lookback"]
        for r in ticket_events(ticket([resolved]), LOOKUPS, window)
    }
    assert ticket_marks == {
        "ticket:631:created": True,
        "ticket:631:submitted:created": True,
        "ticket:631:part:1:resolved": False,
    }
    # Without a window (every event) and on a first run nothing is marked.
    assert not any(r["from_lookback"] for r in conversation_events(conversation(), LOOKUPS))
    first = event_window(floor - 300, 1_800_000_000)
    assert not any(r["from_lookback"] for r in conversation_events(conversation(), LOOKUPS, first))


def test_unknown_contact_keeps_id_and_reference_fields() -> None:
    convo = conversation(
        source={
            "type": "conversation",
            "author": {"type": "lead", "id": "gone", "email": "x@y.test"},
        },
        conversation_parts={"total_count": 0, "conversation_parts": []},
    )
    record = conversation_events(convo, LOOKUPS)[0]
    assert record["contact_id"] == "gone"
    assert record["contact_role"] == "lead"
    assert record["contact_email"] == "x@y.test"
    assert record["contact_phone"] is None


def ticket(
    parts: list[dict[str, Any]], state: Any = "submitted", **overrides: Any
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "ticket",
        "id": "631",
        "ticket_id": "38",
        "category": "Customer",
        "ticket_attributes": {
            "_default_title_": "Broken invoice",
            "_default_description_": "Wrong VAT",
        },
        "ticket_state": state,
        "ticket_type": {"name": "Bug"},
        "contacts": {"contacts": [{"type": "contact", "id": "c1"}]},
        "admin_assignee_id": "0",
        "team_assignee_id": "21",
        "created_at": 1_700_000_000,
        "updated_at": 1_700_001_000,
        "snoozed_until": 1_700_100_000,
        "is_shared": True,
        "ticket_parts": {
            "type": "ticket_part.list",
            "total_count": len(parts),
            "ticket_parts": parts,
        },
    }
    base.update(overrides)
    return base


def state_part(pid: int, previous: str, new: str, at: int) -> dict[str, Any]:
    return {
        "type": "ticket_part",
        "id": str(pid),
        "part_type": "ticket_state_updated_by_admin",
        "previous_ticket_state": previous,
        "ticket_state": new,
        "created_at": at,
        "author": {"type": "admin", "id": "11"},
    }


def test_ticket_reopened_and_resolved_twice() -> None:
    parts = [
        state_part(1, "submitted", "in_progress", 1_700_000_100),
        {
            "id": "2",
            "part_type": "comment",
            "created_at": 1_700_000_150,
            "author": {"type": "user", "id": "c1"},
        },
        {
            "id": "3",
            "part_type": "note",
            "created_at": 1_700_000_160,
            "author": {"type": "admin", "id": "11"},
        },
        state_part(4, "in_progress", "waiting_on_customer", 1_700_000_200),
        state_part(5, "waiting_on_customer", "resolved", 1_700_000_300),
        state_part(6, "resolved", "submitted", 1_700_000_400),
        state_part(7, "submitted", "submitted", 1_700_000_450),  # no entry: state unchanged
        state_part(8, "submitted", "resolved", 1_700_000_500),
    ]
    records = ticket_events(
        ticket(parts, state={"type": "ticket_state", "category": "resolved"}), LOOKUPS
    )
    assert [(r["event_id"], r["metric"], r["occurred_at"]) for r in records] == [
        ("ticket:631:created", "Created Ticket", "2023-11-14T22:13:20+00:00"),
        ("ticket:631:submitted:created", "Submitted Ticket", "2023-11-14T22:13:20+00:00"),
        ("ticket:631:part:2:replied", "Replied to Ticket", "2023-11-14T22:15:50+00:00"),
        ("ticket:631:part:4:waiting", "Marked Ticket as Waiting", "2023-11-14T22:16:40+00:00"),
        ("ticket:631:part:5:resolved", "Resolved Ticket", "2023-11-14T22:18:20+00:00"),
        ("ticket:631:part:6:submitted", "Submitted Ticket", "2023-11-14T22:20:00+00:00"),
        ("ticket:631:part:8:resolved", "Resolved Ticket", "2023-11-14T22:21:40+00:00"),
    ]
    first = records[0]
    assert first["ticket_id"] == "631"
    assert first["conversation_id"] is None
    assert first["contact_email"] == "joe@example.com"
    assert {
        k: first[k]
        for k in (
            "category",
            "assigned_team",
            "assigned_admin_name",
            "assigned_admin_email",
            "snoozed_until",
            "ticket_part_count",
            "ticket_type",
            "ticket_name",
            "ticket_description",
            "is_shared",
        )
    } == {
        "category": "Customer",
        "assigned_team": "Billing",
        "assigned_admin_name": None,
        "assigned_admin_email": None,
        "snoozed_until": "2023-11-16T02:00:00+00:00",  # +100,000 s
        "ticket_part_count": 8,
        "ticket_type": "Bug",
        "ticket_name": "Broken invoice",
        "ticket_description": "Wrong VAT",
        "is_shared": True,
    }


def test_ticket_created_in_progress_is_not_submitted() -> None:
    parts = [state_part(1, "in_progress", "resolved", 1_700_000_100)]
    ids = [r["event_id"] for r in ticket_events(ticket(parts, state="resolved"), LOOKUPS)]
    assert ids == ["ticket:631:created", "ticket:631:part:1:resolved"]


def test_ticket_state_at_creation_reads_string_and_object_states() -> None:
    assert (
        ticket_state_at_creation(ticket([], state="waiting_on_customer")) == "waiting_on_customer"
    )
    assert (
        ticket_state_at_creation(ticket([], state={"category": "submitted", "id": "9"}))
        == "submitted"
    )
    assert (
        ticket_state_at_creation(ticket([state_part(1, "in_progress", "resolved", 5)]))
        == "in_progress"
    )


def test_ticket_without_contact_still_yields_events_with_null_contact() -> None:
    records = ticket_events(ticket([], contacts={"contacts": []}), LOOKUPS)
    assert [(r["event_id"], r["contact_id"]) for r in records] == [
        ("ticket:631:created", None),
        ("ticket:631:submitted:created", None),
    ]


def test_integer_assignee_ids_of_216_resolve() -> None:
    record = ticket_events(ticket([], admin_assignee_id=11, team_assignee_id=0), LOOKUPS)[0]
    assert record["assigned_admin_name"] == "Ana Admin"
    assert record["assigned_team"] is None


def read_ids(convo: dict[str, Any], after: int) -> list[str]:
    window = event_window(after, 1_800_000_000)
    return [
        r["event_id"]
        for r in conversation_events(convo, LOOKUPS, window)
        if r["metric"] == "Read Conversation"
    ]


def test_read_after_an_admin_reply_in_the_window_is_new() -> None:
    # last_admin_reply_at 1_700_000_200 is newer than the previous run's end: the key is new.
    assert read_ids(conversation(read=True), after=1_700_000_100) == [
        "conversation:100:read:1700000200"
    ]


def test_marked_read_later_with_an_old_key_is_emitted() -> None:
    # Nothing but the read explains updated_at (no part or rating at 1_700_000_500).
    assert read_ids(conversation(read=True), after=1_700_000_450) == [
        "conversation:100:read:1700000200"
    ]


def test_a_read_whose_key_is_older_than_the_stored_floor_is_marked_possibly_resent() -> None:
    """REST has no read time: a run whose floor followed the read's key may have emitted it, so
    the same Read found again is marked from_lookback, however late the conversation changed;
    a key after the floor is certainly new."""

    def read_marks(floor: int) -> dict[str, bool]:
        window = SyncWindow(
            lower=floor, end=1_800_000_000, events_after=floor, floor=floor, stored_floor=floor
        )
        return {
            r["event_id"]: r["from_lookback"]
            for r in conversation_events(conversation(read=True), LOOKUPS, window)
            if r["metric"] == "Read Conversation"
        }

    # Key 1_700_000_200, updated_at 1_700_000_500 (nothing but the read explains it).
    assert read_marks(1_700_000_450) == {"conversation:100:read:1700000200": True}
    assert read_marks(1_700_000_100) == {"conversation:100:read:1700000200": False}


def test_rating_an_already_read_conversation_does_not_resend_read() -> None:
    rated = conversation(
        read=True,
        updated_at=1_700_000_900,
        conversation_rating={
            "rating": 3,
            "created_at": 1_700_000_800,
            "updated_at": 1_700_000_900,
            "contact": {"id": "c1"},
        },
    )
    window = event_window(1_700_000_600, 1_800_000_000)
    ids = [r["event_id"] for r in conversation_events(rated, LOOKUPS, window)]
    assert ids == ["conversation:100:rated:1700000800:3"]


def test_a_note_on_an_already_read_conversation_does_not_resend_read() -> None:
    noted = conversation(read=True, updated_at=1_700_000_400)  # part 3 (a note) is at 1_700_000_400
    assert read_ids(noted, after=1_700_000_350) == []
