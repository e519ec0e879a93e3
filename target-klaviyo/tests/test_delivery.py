"""The contract, as the Klaviyo stand-in receives it over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from target_klaviyo_testing.harness import KEY, Klaviyo, run_target
from target_klaviyo_testing.singer import (
    contact,
    conversation_event,
    lines,
    record_message,
    schema_message,
    state_message,
    ticket_event,
)

from target_klaviyo.errors import KlaviyoError, MappingConfigError


def singer(
    events: list[dict[str, Any]] = (),  # type: ignore[assignment]
    tickets: list[dict[str, Any]] = (),  # type: ignore[assignment]
    contacts: list[dict[str, Any]] = (),  # type: ignore[assignment]
    state: dict[str, Any] | None = None,
) -> str:
    messages = [schema_message("conversation_events"), schema_message("ticket_events")]
    messages.append(schema_message("contacts"))
    messages += [record_message("conversation_events", r) for r in events]
    messages += [record_message("ticket_events", r) for r in tickets]
    messages += [record_message("contacts", r) for r in contacts]
    if state is not None:
        messages.append(state_message(state))
    return lines(messages)


def by_unique_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["unique_id"]: e for e in events}


def test_events_arrive_as_the_contract_says(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    events = [
        conversation_event(
            10,
            1,
            metric="Created Conversation",
            occurred_at="2026-02-01T08:00:00Z",
            tags=["vip"],
            conversation_rating=None,
            assigned_team="Support",
        ),
        conversation_event(10, 1, part=501, occurred_at="2026-02-01T08:05:00+00:00"),
        conversation_event(11, 2, part=502, contact_email=None, contact_phone="(415) 555-2671"),
    ]
    tickets = [
        ticket_event(
            20,
            3,
            metric="Resolved Ticket",
            event_id="ticket:20:part:9:resolved",
            contact_phone="+44 20 7946 0958",
            assigned_admin_name="Bo",
            is_shared=False,
        ),
    ]
    run = run_target(
        klaviyo.config(), singer(events, tickets, state={"bookmarks": {"a": 1}}), caplog
    )
    assert run.error is None
    assert run.state_lines == [{"bookmarks": {"a": 1}}]

    stored = by_unique_id(klaviyo.events())
    assert sorted(stored) == [
        "conversation:10:created",
        "conversation:10:part:501:replied",
        "conversation:11:part:502:replied",
        "ticket:20:part:9:resolved",
    ]
    created = stored["conversation:10:created"]
    assert created["metric"] == "Created Conversation"
    assert created["time"] == "2026-02-01T08:00:00+00:00"
    assert created["backfill"] is False
    assert created["properties"] == {
        "email": "user1@example.com",
        "Title": "Conversation 10",
        "Priority": "not_priority",
        "Assigned Team": "Support",
        "Tags": ["vip"],
        "Conversation Source": "conversation",
        "Conversation Delivered As": "customer_initiated",
        "Conversation Part Count": 3,
        "Reopen Count": 0,
        "Assignment Count": 1,
        "Unique ID": "conversation:10:created",
    }
    assert created["profile"]["email"] == "user1@example.com"
    assert created["profile"]["external_id"] == "ext-1"
    phone_only = stored["conversation:11:part:502:replied"]
    assert phone_only["profile"]["phone_number"] == "+14155552671"
    assert phone_only["profile"]["email"] is None
    assert phone_only["properties"]["phone_number"] == "+14155552671"
    resolved = stored["ticket:20:part:9:resolved"]
    assert resolved["metric"] == "Resolved Ticket"
    assert resolved["properties"] == {
        "Contact Email": "user3@example.com",
        "Contact Phone": "+442079460958",
        "Category": "Customer",
        "Admin Name": "Bo",
        "Ticket ID": "20",
        "Ticket Name": "Ticket 20",
        "Ticket Description": "It broke",
        "Is Shared": False,
        "Unique ID": "ticket:20:part:9:resolved",
    }
    assert "summary: 4 events sent" in run.log
    assert "events 'Resolved Ticket': 1" in run.log


def test_profiles_arrive_as_the_contract_says(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    contacts = [
        contact(
            1,
            name="Ana Maria Silva",
            phone="+1 415 555 2671",
            avatar={"type": "avatar", "image_url": "https://img.example/1.png"},
            location={
                "type": "location",
                "city": "Austin",
                "country": "United States",
                "region": None,
            },
            tag_names=[f"t{i}" for i in range(11)],
            custom_attributes={"plan": "pro"},
        ),
        contact(2, name="Bo", avatar="https://img.example/2.png", external_id=None),
    ]
    # Few profiles: one /api/profile-import call each.
    run = run_target(klaviyo.config(), singer(contacts=contacts), caplog)
    assert run.error is None
    profiles = {p["email"]: p for p in klaviyo.profiles()}
    ana = profiles["user1@example.com"]
    assert ana["phone_number"] == "+14155552671"
    assert ana["external_id"] == "ext-1"
    assert (ana["first_name"], ana["last_name"]) == ("Ana", "Maria Silva")
    assert ana["image"] == "https://img.example/1.png"
    assert ana["location"] == {"city": "Austin", "country": "United States"}
    assert ana["properties"] == {
        "Intercom Contact ID": "c1",
        "Intercom Contact Role": "user",
        "Intercom_has_hard_bounced": False,
        "Intercom_marked_email_as_spam": False,
        "Intercom_unsubscribed_from_emails": False,
        "Intercom_opted_out_subscription_types_count": 0,
        "Intercom_custom_attributes": {"plan": "pro"},
        "Intercom_tags": [f"t{i}" for i in range(11)],
    }
    bo = profiles["user2@example.com"]
    assert (bo["first_name"], bo["last_name"], bo["external_id"]) == ("Bo", None, None)
    assert bo["image"] == "https://img.example/2.png"
    assert klaviyo.report()["requests"].get("POST /api/profile-import") == 2


def test_many_profiles_go_through_a_bulk_import_job(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    contacts = [contact(i) for i in range(120)]
    run = run_target(klaviyo.config(profiles_per_job=100), singer(contacts=contacts), caplog)
    assert run.error is None
    assert len(klaviyo.profiles()) == 120
    requests = klaviyo.report()["requests"]
    assert requests["POST /api/profile-bulk-import-jobs"] == 2
    assert requests["GET /api/profile-bulk-import-jobs/{job_id}"] >= 2
    assert "profiles upserted: 120" in run.log


def test_bulk_import_conflict_is_retried_without_the_phone(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    # Contact 1 owns the phone; contact 60 exists and then claims it too: duplicate_profile.
    existing = [contact(1, phone="+14155552671"), contact(60)]
    assert run_target(klaviyo.config(), singer(contacts=existing), caplog).error is None
    contacts = [contact(i) for i in range(2, 60)] + [contact(60, phone="+1 415 555 2671")]
    run = run_target(klaviyo.config(), singer(contacts=contacts), caplog)
    assert run.error is None
    profiles = {p["email"]: p for p in klaviyo.profiles()}
    assert len(profiles) == 60
    assert profiles["user60@example.com"]["phone_number"] is None
    assert profiles["user1@example.com"]["phone_number"] == "+14155552671"
    assert run.dead_letters == []


def test_a_resend_makes_no_duplicate(klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture) -> None:
    events = [conversation_event(i, i % 3, part=100 + i) for i in range(20)]
    assert run_target(klaviyo.config(), singer(events), caplog).error is None
    changed = [conversation_event(i, i % 3, part=100 + i, title="Changed") for i in range(20)]
    assert run_target(klaviyo.config(), singer(changed), caplog).error is None
    report = klaviyo.report()["metrics"]["Replied to Conversation"]
    assert report["events"] == 20
    assert report["arrivals"] == 40
    assert {e["properties"]["Title"] for e in klaviyo.events()} == {
        f"Conversation {i}" for i in range(20)
    }


def test_events_older_than_backfill_before_do_not_fire_flows(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    events = [
        conversation_event(1, 1, part=1, occurred_at="2025-06-01T00:00:00+00:00"),
        conversation_event(2, 1, part=2, occurred_at="2026-06-01T00:00:00+00:00"),
    ]
    config = klaviyo.config(backfill_before="2026-01-01T00:00:00Z")
    assert run_target(config, singer(events), caplog).error is None
    stored = by_unique_id(klaviyo.events())
    assert stored["conversation:1:part:1:replied"]["backfill"] is True
    assert stored["conversation:2:part:2:replied"]["backfill"] is False


def test_backfill_needs_a_revision_that_has_it(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    config = klaviyo.config(backfill_before="2026-01-01T00:00:00Z", revision="2026-01-15")
    run = run_target(config, singer([conversation_event(1, 1)]), caplog)
    assert isinstance(run.error, KlaviyoError)
    assert str(run.error) == (
        "'backfill_before' needs revision 2026-04-15 or newer; 'revision' is 2026-01-15"
    )
    assert klaviyo.events() == []


def test_records_without_identifier_are_dead_lettered(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    nobody = conversation_event(
        5, 5, part=9, contact_email=None, contact_external_id=None, contact_phone="123"
    )
    run = run_target(
        klaviyo.config(), singer([nobody, conversation_event(6, 6)], state={"s": 1}), caplog
    )
    assert run.error is None
    assert run.state_lines == [{"s": 1}]
    assert [e["unique_id"] for e in klaviyo.events()] == ["conversation:6:created"]
    [letter] = run.dead_letters
    assert letter["stream"] == "conversation_events"
    assert letter["reason"] == "no usable identifier"
    assert (
        letter["detail"]
        == "no email, valid phone number or external_id (the phone number is not valid)"
    )
    assert letter["record"]["event_id"] == "conversation:5:part:9:replied"
    assert "no usable identifier: 1" in run.log


def test_a_rejected_item_is_dead_lettered_and_the_rest_resent(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The target leaves out emails it finds invalid; let this one through to Klaviyo's check.
    monkeypatch.setattr("target_klaviyo.records.is_email", lambda text: True)
    events = [conversation_event(i, i, part=i) for i in range(1, 6)]
    events[2]["contact_email"] = "not-an-email"
    run = run_target(klaviyo.config(), singer(events, state={"s": 2}), caplog)
    assert run.error is None
    assert run.state_lines == [{"s": 2}]
    assert sorted(e["unique_id"] for e in klaviyo.events()) == [
        f"conversation:{i}:part:{i}:replied" for i in (1, 2, 4, 5)
    ]
    [letter] = run.dead_letters
    assert letter["reason"] == "rejected by Klaviyo"
    assert letter["record"]["event_id"] == "conversation:3:part:3:replied"
    assert "Invalid email address 'not-an-email'" in letter["detail"]
    assert (
        "/data/attributes/events-bulk-create/data/2/attributes/profile/data/attributes/email"
        in letter["detail"]
    )


def test_event_profile_conflict_is_retried_without_the_phone(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    owner = [contact(1, phone="+14155552671"), contact(2)]
    assert run_target(klaviyo.config(), singer(contacts=owner), caplog).error is None
    claimant = conversation_event(2, 2, part=7, contact_phone="+1 415 555 2671")
    run = run_target(klaviyo.config(), singer([claimant]), caplog)
    assert run.error is None
    [stored] = klaviyo.events()
    assert stored["profile"]["email"] == "user2@example.com"
    assert stored["profile"]["phone_number"] is None
    assert run.dead_letters == []


def test_unmapped_stream_is_a_clear_error(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    text = lines(
        [
            {
                "type": "SCHEMA",
                "stream": "orders",
                "schema": {"properties": {"id": {"type": "integer"}}},
                "key_properties": ["id"],
            }
        ]
    )
    run = run_target(klaviyo.config(), text, caplog)
    assert isinstance(run.error, MappingConfigError)
    assert str(run.error) == (
        "stream 'orders' has no mapping: add it to 'event_streams' or 'profile_streams', list it in "
        "'skip_streams', or set 'unmapped_streams' to 'skip'"
    )


def test_skipped_streams_are_read_and_dropped(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    text = lines(
        [
            {
                "type": "SCHEMA",
                "stream": "admins",
                "schema": {"properties": {"id": {"type": "string"}}},
                "key_properties": ["id"],
            },
            {"type": "RECORD", "stream": "admins", "record": {"id": "a1"}},
            {
                "type": "SCHEMA",
                "stream": "orders",
                "schema": {"properties": {"id": {"type": "integer"}}},
                "key_properties": ["id"],
            },
            {"type": "RECORD", "stream": "orders", "record": {"id": 1}},
        ]
    )
    run = run_target(klaviyo.config(unmapped_streams="skip"), text, caplog)
    assert run.error is None
    assert "stream 'orders' has no mapping; skipping it" in run.log
    assert "skipped streams (records): admins: 1, orders: 1" in run.log
    assert klaviyo.report()["requests"] == {}


def test_other_taps_streams_can_be_mapped(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    text = lines(
        [
            {
                "type": "SCHEMA",
                "stream": "orders",
                "key_properties": ["id"],
                "schema": {
                    "properties": {
                        "id": {"type": "integer"},
                        "email": {"type": "string"},
                        "placed": {"type": "integer"},
                        "total": {"type": "number"},
                    }
                },
            },
            {
                "type": "RECORD",
                "stream": "orders",
                "record": {"id": 1, "email": "o@x.example", "placed": 1772359200, "total": 12.5},
            },
        ]
    )
    config = klaviyo.config(
        event_streams={
            "orders": {
                "metric": "Placed Order",
                "email_field": "email",
                "time_field": "placed",
                "value_field": "total",
            }
        }
    )
    assert run_target(config, text, caplog).error is None
    [stored] = klaviyo.events()
    assert stored["metric"] == "Placed Order"
    assert stored["unique_id"] == "orders:1"
    assert stored["time"] == "2026-03-01T10:00:00+00:00"
    assert stored["value"] == 12.5
    assert stored["properties"] == {"email": "o@x.example", "id": 1, "Unique ID": "orders:1"}


def test_dry_run_writes_requests_and_sends_nothing(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    path = klaviyo.workdir / "dry.jsonl"
    config = klaviyo.config(dry_run=True, dry_run_path=str(path), api_key=None)
    run = run_target(
        config, singer([conversation_event(1, 1)], contacts=[contact(1)], state={"s": 3}), caplog
    )
    assert run.error is None
    assert run.state_lines == []
    assert klaviyo.report()["requests"] == {}
    written = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted((w["method"], w["path"]) for w in written) == [
        ("POST", "/api/event-bulk-create-jobs"),
        ("POST", "/api/profile-import"),
    ]
    assert KEY not in path.read_text()
    assert "summary: 1 events written to the dry-run file (nothing sent)" in run.log


def test_values_over_klaviyos_limits_are_cut_and_counted(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    long_title = "x" * 150_000
    events = [
        conversation_event(1, 1, part=1, title=long_title, tags=[f"t{i}" for i in range(4100)])
    ]
    run = run_target(klaviyo.config(), singer(events), caplog)
    assert run.error is None
    [stored] = klaviyo.events()
    assert len(stored["properties"]["Title"]) == 100 * 1024
    assert len(stored["properties"]["Tags"]) == 4000
    assert "values cut to Klaviyo's limits: 2" in run.log


def test_invalid_phone_is_dropped_with_a_warning(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    run = run_target(
        klaviyo.config(), singer([conversation_event(1, 1, contact_phone="555-01")]), caplog
    )
    assert run.error is None
    [stored] = klaviyo.events()
    assert stored["profile"]["phone_number"] is None
    assert "phone_number" not in stored["properties"]
    # The number is personal data: the warning gives its length only.
    assert (
        "a phone number (6 characters) is not valid (default region US); sent without it" in run.log
    )
    assert "555-01" not in run.log
    assert "invalid phones dropped: 1" in run.log


def test_long_runs_log_progress(klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture) -> None:
    klaviyo.control("faults", {"latency_ms": 150})
    events = [conversation_event(i, i, part=i) for i in range(6)]
    run = run_target(
        klaviyo.config(progress_interval=0.1, events_per_request=2, max_concurrency=1),
        singer(events),
        caplog,
    )
    assert run.error is None
    assert "progress: " in run.log
    assert " events (" in run.log


def test_import_errors_are_read_page_by_page(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    phones = [f"+1415555{2600 + i:04d}" for i in range(120)]
    setup = [contact(1000 + i, phone=phone) for i, phone in enumerate(phones)]
    assert run_target(klaviyo.config(), singer(contacts=setup), caplog).error is None
    # Lookups that do not see them yet (holders.py), so the conflicts reach the import job.
    klaviyo.control("behaviour", {"profile_lookups": "stale"})
    # Each of 120 others claims one owner's phone (one claimant a phone, so the run itself sees
    # no conflict): 120 duplicate_profile import errors.
    claims = [contact(i, phone=phones[i - 1], name=f"New Name{i}") for i in range(1, 121)]
    run = run_target(klaviyo.config(), singer(contacts=claims), caplog)
    assert run.error is None
    assert run.dead_letters == []
    requests = klaviyo.report()["requests"]
    # One job; its 120 import errors come in pages of 100 and 20.
    assert requests["GET /api/profile-bulk-import-jobs/{job_id}/import-errors"] == 2
    profiles = {p["email"]: p for p in klaviyo.profiles()}
    assert all(
        profiles[f"user{1000 + i}@example.com"]["phone_number"] == p for i, p in enumerate(phones)
    )
    assert all(profiles[f"user{i}@example.com"]["phone_number"] is None for i in range(1, 121))
    assert all(profiles[f"user{i}@example.com"]["last_name"] == f"Name{i}" for i in range(1, 121))
    assert "profiles upserted: 120" in run.log
    assert (
        "identifiers left out (they belong to another profile): phone 120, external_id 0" in run.log
    )
