"""output.conform: API objects -> what the stream schemas promise. Expected values are written by hand."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from tap_intercom_events import schemas
from tap_intercom_events.output import conform, conformer, epoch_to_iso

# 1_700_000_000 is 2023-11-14T22:13:20Z; 1_734_537_424 is 2024-12-18T15:57:04Z.


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "1970-01-01T00:00:00+00:00"),
        (1_700_000_000, "2023-11-14T22:13:20+00:00"),
        (1_700_000_000.75, "2023-11-14T22:13:20+00:00"),  # fractions are dropped
        (1_734_537_424, "2024-12-18T15:57:04+00:00"),
        (-86_400, "1969-12-31T00:00:00+00:00"),
        (1_700_000_000_123, "2023-11-14T22:13:20+00:00"),  # milliseconds
    ],
)
def test_epoch_to_iso(value: float, expected: str) -> None:
    assert epoch_to_iso(value) == expected


def test_contact_timestamps_ids_and_avatar_string() -> None:
    contact = {
        "type": "contact",
        "id": "6762f0d01bb69f9f2193bb7d",
        "owner_id": 991267604,
        "avatar": "https://static.example/avatars/1.png",
        "created_at": 1_734_537_424,
        "updated_at": "1734537424",
        "signed_up_at": None,
        "last_seen_at": 1_700_000_000,
        "tags": {
            "type": "list",
            "data": [{"type": "tag", "id": 7000017, "url": "/tags/7000017"}],
            "total_count": 1,
            "has_more": False,
        },
        "custom_attributes": {"Seats": 12, "Renewal Date": 1_700_000_000},
        "tag_names": ["VIP"],
    }
    assert conform(schemas.CONTACT, contact) == {
        "type": "contact",
        "id": "6762f0d01bb69f9f2193bb7d",
        "owner_id": "991267604",
        "avatar": {"type": "avatar", "image_url": "https://static.example/avatars/1.png"},
        "created_at": "2024-12-18T15:57:04+00:00",
        "updated_at": "2024-12-18T15:57:04+00:00",
        "signed_up_at": None,
        "last_seen_at": "2023-11-14T22:13:20+00:00",
        "tags": {
            "type": "list",
            "data": [{"type": "tag", "id": "7000017", "url": "/tags/7000017"}],
            "total_count": 1,
            "has_more": False,
        },
        # free-form: the workspace's own values are not touched
        "custom_attributes": {"Seats": 12, "Renewal Date": 1_700_000_000},
        "tag_names": ["VIP"],
    }


def test_avatar_object_and_null_are_kept() -> None:
    as_object = {"type": "avatar", "image_url": "https://static.example/a.png"}
    assert conform(schemas.CONTACT, {"id": "c", "avatar": as_object})["avatar"] == {
        "type": "avatar",
        "image_url": "https://static.example/a.png",
    }
    assert conform(schemas.CONTACT, {"id": "c", "avatar": None})["avatar"] is None
    # Admins: a URL string in 2.14+, an object in 2.11; both come out as the object.
    assert conform(schemas.ADMIN, {"id": "1", "avatar": "https://a/x.png"})["avatar"] == {
        "type": "avatar",
        "image_url": "https://a/x.png",
    }


def test_conversation_nested_times_and_integer_ids() -> None:
    conversation = {
        "id": "503",
        "updated_at": 1_700_000_500,
        "waiting_since": None,
        "snoozed_until": 1_700_003_600,
        "admin_assignee_id": 991267715,
        "team_assignee_id": 0,
        "priority": "high",
        "conversation_rating": {
            "rating": 5,
            "remark": None,
            "created_at": 1_700_000_000,
            "updated_at": 1_700_000_060,
            "contact": {"type": "contact", "id": "c1"},
            "teammate": {"type": "admin", "id": 814860},
        },
        "tags": {
            "type": "tag.list",
            "tags": [
                {
                    "type": "tag",
                    "id": "123456",
                    "name": "VIP",
                    "applied_at": 1_663_597_223,
                    "applied_by": {"type": "admin", "id": 456},
                }
            ],
        },
        "statistics": {
            "type": "conversation_statistics",
            "time_to_assignment": 2310,
            "first_contact_reply_at": 1_663_597_233,
            "last_close_at": None,
            "last_closed_by_id": 991267604,
            "assigned_team_first_response_time": [
                {"team_id": 100, "team_name": "Team One", "response_time": 2310}
            ],
        },
        "first_contact_reply": {"created_at": 1_663_597_223, "type": "conversation", "url": None},
        "source": {
            "type": "email",
            "id": 403918334,
            "author": {"type": "admin", "id": 991267645, "name": "Ciaran"},
            "attachments": [
                {
                    "type": "upload",
                    "name": "a.png",
                    "width": "421",
                    "height": 300,
                    "filesize": "1024",
                }
            ],
        },
        "conversation_parts": {"type": "conversation_part.list", "total_count": 4},
    }
    assert conform(schemas.CONVERSATION, conversation) == {
        "id": "503",
        "updated_at": "2023-11-14T22:21:40+00:00",
        "waiting_since": None,
        "snoozed_until": "2023-11-14T23:13:20+00:00",
        "admin_assignee_id": "991267715",
        "team_assignee_id": "0",  # the API's "unassigned" value, as a string
        "priority": "high",
        "conversation_rating": {
            "rating": 5,
            "remark": None,
            "created_at": "2023-11-14T22:13:20+00:00",
            "updated_at": "2023-11-14T22:14:20+00:00",
            "contact": {"type": "contact", "id": "c1"},
            "teammate": {"type": "admin", "id": "814860"},
        },
        "tags": {
            "type": "tag.list",
            "tags": [
                {
                    "type": "tag",
                    "id": "123456",
                    "name": "VIP",
                    "applied_at": "2022-09-19T14:20:23+00:00",
                    "applied_by": {"type": "admin", "id": "456"},
                }
            ],
        },
        "statistics": {
            "type": "conversation_statistics",
            "time_to_assignment": 2310,  # a duration, not a time
            "first_contact_reply_at": "2022-09-19T14:20:33+00:00",
            "last_close_at": None,
            "last_closed_by_id": "991267604",
            "assigned_team_first_response_time": [
                {"team_id": "100", "team_name": "Team One", "response_time": 2310}
            ],
        },
        "first_contact_reply": {
            "created_at": "2022-09-19T14:20:23+00:00",
            "type": "conversation",
            "url": None,
        },
        "source": {
            "type": "email",
            "id": "403918334",
            "author": {"type": "admin", "id": "991267645", "name": "Ciaran"},
            "attachments": [
                {"type": "upload", "name": "a.png", "width": 421, "height": 300, "filesize": 1024}
            ],
        },
        "conversation_parts": {"type": "conversation_part.list", "total_count": 4},
    }


def test_part_times_and_numeric_id() -> None:
    part = {
        "type": "conversation_part",
        "id": 185,
        "conversation_id": "503",
        "part_type": "comment",
        "created_at": 1_700_000_000,
        "updated_at": 1_700_000_000,
        "notified_at": "1700000001",
        "assigned_to": {"type": "team", "id": 5017691},
        "author": {"type": "user", "id": "c1", "from_ai_agent": False},
        "event_details": {"workflow": {"name": "Triage"}, "at": 1_700_000_000},
    }
    assert conform(schemas.CONVERSATION_PART, part) == {
        "type": "conversation_part",
        "id": "185",
        "conversation_id": "503",
        "part_type": "comment",
        "created_at": "2023-11-14T22:13:20+00:00",
        "updated_at": "2023-11-14T22:13:20+00:00",
        "notified_at": "2023-11-14T22:13:21+00:00",
        "assigned_to": {"type": "team", "id": "5017691"},
        "author": {"type": "user", "id": "c1", "from_ai_agent": False},
        "event_details": {"workflow": {"name": "Triage"}, "at": 1_700_000_000},  # free-form
    }


def test_ticket_2_11_state_string_and_2_16_integer_assignees() -> None:
    ticket_2_11 = {
        "id": "631",
        "ticket_id": 38,
        "ticket_state": "in_progress",
        "ticket_state_internal_label": "With Dev Team",
        "admin_assignee_id": "0",
        "updated_at": 1_700_000_000,
        "ticket_type": {"id": "95", "created_at": 1_734_537_973, "updated_at": 1_734_537_973},
        "ticket_attributes": {"_default_title_": "Refund", "Amount": 12},
    }
    assert conform(schemas.TICKET, ticket_2_11) == {
        "id": "631",
        "ticket_id": "38",
        "ticket_state": {"type": "ticket_state", "category": "in_progress"},
        "ticket_state_internal_label": "With Dev Team",
        "admin_assignee_id": "0",
        "updated_at": "2023-11-14T22:13:20+00:00",
        "ticket_type": {
            "id": "95",
            "created_at": "2024-12-18T16:06:13+00:00",
            "updated_at": "2024-12-18T16:06:13+00:00",
        },
        "ticket_attributes": {"_default_title_": "Refund", "Amount": 12},
    }
    state = {
        "type": "ticket_state",
        "id": "8538",
        "category": "in_progress",
        "internal_label": "With Dev Team",
        "external_label": "In progress",
    }
    ticket_2_16 = {
        "id": "631",
        "ticket_state": state,
        "admin_assignee_id": 991267604,
        "team_assignee_id": 0,
        "snoozed_until": None,
    }
    assert conform(schemas.TICKET, ticket_2_16) == {
        "id": "631",
        "ticket_state": {
            "type": "ticket_state",
            "id": "8538",
            "category": "in_progress",
            "internal_label": "With Dev Team",
            "external_label": "In progress",
        },
        "admin_assignee_id": "991267604",
        "team_assignee_id": "0",
        "snoozed_until": None,
    }


def test_ticket_part_attribute_value_is_always_an_array() -> None:
    single = {
        "id": "7",
        "ticket_id": "631",
        "updated_attribute_data": {
            "attribute": {"type": "attribute", "id": 21, "label": "Product"},
            "value": {"type": "value", "id": 9, "label": "Mobile app"},
        },
    }
    assert conform(schemas.TICKET_PART, single)["updated_attribute_data"] == {
        "attribute": {"type": "attribute", "id": "21", "label": "Product"},
        "value": {"type": "value", "id": ["9"], "label": ["Mobile app"]},
    }
    multi = {
        "id": "8",
        "ticket_id": "631",
        "updated_attribute_data": {"value": {"id": [9, 10], "label": ["A", "B"]}},
    }
    assert conform(schemas.TICKET_PART, multi)["updated_attribute_data"] == {
        "value": {"id": ["9", "10"], "label": ["A", "B"]}
    }


def test_lookup_id_arrays_become_strings() -> None:
    admin = {
        "id": 991267601,
        "team_ids": [5017691, 5017692],
        "team_priority_level": {"primary_team_ids": [5017691], "secondary_team_ids": None},
        "away_status_reason_id": None,
    }
    assert conform(schemas.ADMIN, admin) == {
        "id": "991267601",
        "team_ids": ["5017691", "5017692"],
        "team_priority_level": {"primary_team_ids": ["5017691"], "secondary_team_ids": None},
        "away_status_reason_id": None,
    }
    team = {"id": "5017691", "admin_ids": [1, 2], "assignment_limit": "3"}
    assert conform(schemas.TEAM, team) == {
        "id": "5017691",
        "admin_ids": ["1", "2"],
        "assignment_limit": 3,
    }


def test_event_records_are_unchanged() -> None:
    event = {
        "event_id": "conversation:100000:created",
        "metric": "Created Conversation",
        "occurred_at": "2026-11-02T05:09:39+00:00",
        "object_type": "conversation",
        "conversation_id": "100000",
        "snoozed_until": None,
        "waiting_since": "2026-11-02T05:10:00+00:00",
        "tags": ["high value"],
        "conversation_rating": 5,
        "custom_attributes": {"Order ID": "B-2291"},
    }
    assert conform(schemas.CONVERSATION_EVENT, event) == copy.deepcopy(event)


def test_values_it_cannot_convert_are_left_for_validation() -> None:
    record = {
        "id": "c",
        "created_at": "2024-12-18T15:57:04+00:00",  # already ISO
        "last_seen_at": "yesterday",
        "has_hard_bounced": "no",
        "location": "London",  # not an object with a scalar key: left alone
        "tags": None,
        "unknown_field": 1_700_000_000,  # not declared: not touched (the SDK drops it)
    }
    assert conform(schemas.CONTACT, record) == {
        "id": "c",
        "created_at": "2024-12-18T15:57:04+00:00",
        "last_seen_at": "yesterday",
        "has_hard_bounced": "no",
        "location": "London",
        "tags": None,
        "unknown_field": 1_700_000_000,
    }


def test_input_is_not_changed_and_conform_is_idempotent() -> None:
    record: dict[str, Any] = {
        "id": 5,
        "updated_at": 1_700_000_000,
        "avatar": "https://a/x.png",
        "location": {"city": "London"},
        "tag_names": [],
    }
    before = copy.deepcopy(record)
    once = conform(schemas.CONTACT, record)
    assert record == before
    assert conform(schemas.CONTACT, once) == once
    assert once == {
        "id": "5",
        "updated_at": "2023-11-14T22:13:20+00:00",
        "avatar": {"type": "avatar", "image_url": "https://a/x.png"},
        "location": {"city": "London"},
        "tag_names": [],
    }


def test_a_schema_without_convertible_fields_returns_the_record_as_is() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "boolean"}}}
    record = {"name": True}
    assert conformer(schema)(record) is record


def test_a_changed_schema_object_is_compiled_again() -> None:
    first = {"type": "object", "properties": {"n": {"type": ["string", "null"]}}}
    assert conform(first, {"n": 1}) == {"n": "1"}
    second = {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}}
    assert conform(second, {"n": "1"}) == {"n": 1}


def test_fast_enough_for_100k_records() -> None:
    """About 40 us per conversation-sized record (the SDK's own conform_record_data_types takes
    about 115 us on the same record), so 100,000 records cost about 4 s. The bound (150 us a
    record, on 20,000 records) leaves room for a loaded machine."""
    conversation = {
        "type": "conversation",
        "id": "100000",
        "title": None,
        "created_at": 1_700_000_000,
        "updated_at": 1_700_000_500,
        "waiting_since": 1_700_000_100,
        "snoozed_until": None,
        "open": True,
        "state": "open",
        "read": True,
        "priority": "not_priority",
        "admin_assignee_id": 991267604,
        "team_assignee_id": 5017691,
        "tags": {
            "type": "tag.list",
            "tags": [
                {
                    "type": "tag",
                    "id": "1",
                    "name": "a",
                    "applied_at": 1_700_000_000,
                    "applied_by": {"type": "admin", "id": "2"},
                }
            ],
        },
        "conversation_rating": None,
        "source": {
            "type": "email",
            "id": "400000001",
            "author": {"type": "user", "id": "c1", "name": "Tara", "email": "t@example.org"},
            "attachments": [],
        },
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": "c1"}]},
        "teammates": {"type": "admin.list", "teammates": [{"type": "admin", "id": "2"}]},
        "custom_attributes": {"Issue type": "billing"},
        "statistics": {
            "type": "conversation_statistics",
            "first_contact_reply_at": 1_700_000_000,
            "first_admin_reply_at": 1_700_000_200,
            "last_contact_reply_at": 1_700_000_300,
            "last_admin_reply_at": 1_700_000_400,
            "count_reopens": 0,
            "count_conversation_parts": 5,
        },
        "conversation_parts": {"type": "conversation_part.list", "total_count": 4},
    }
    started = time.process_time()
    for _ in range(20_000):
        conform(schemas.CONVERSATION, conversation)
    assert time.process_time() - started < 3
