"""The default mapping produces the contract's events and profiles (pure, no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from target_klaviyo_testing.singer import contact, conversation_event, ticket_event

from target_klaviyo.defaults import DEFAULT_EVENT_STREAMS, DEFAULT_PROFILE_STREAMS
from target_klaviyo.errors import MappingConfigError
from target_klaviyo.items import INVALID_RECORD, NO_IDENTIFIER, EventItem, ProfileItem, Rejection
from target_klaviyo.records import EventRules, ProfileRules, translate_event, translate_profile
from target_klaviyo.stream_config import (
    EventMapping,
    ProfileMapping,
    Renames,
    default_metric_property_names,
)


def rules(stream: str = "conversation_events", **changes: Any) -> EventRules:
    spec = {**DEFAULT_EVENT_STREAMS[stream], **changes.pop("spec", {})}
    options: dict[str, Any] = {
        "mapping": EventMapping.from_config(stream, spec, ["event_id"]),
        "renames": Renames(metric_property_names=default_metric_property_names(None)),
        "default_region": "US",
        "earliest_year": 1990,
        "backfill_before": None,
        "max_properties": 400,
    }
    options.update(changes)
    return EventRules(**options)


def event(record: dict[str, Any], event_rules: EventRules | None = None) -> EventItem:
    result = translate_event(record, event_rules or rules())
    assert isinstance(result, EventItem), result
    return result


def test_conversation_event_carries_the_contract_properties() -> None:
    record = conversation_event(
        12,
        3,
        metric="Replied to Conversation",
        part=77,
        contact_phone="(415) 555-2671",
        snoozed_until="2026-03-04T00:00:00Z",
        waiting_since="2026-03-01T09:00:00+00:00",
        assigned_team="Support",
        assigned_admin_name="Ada Admin",
        assigned_admin_email="ada@corp.example",
        tags=["vip", "billing"],
        conversation_rating=4,
        sla_status="hit",
        custom_attributes={"Plan": "Pro"},
    )
    item = event(record)
    attributes = item.resource["attributes"]
    assert item.resource["type"] == "event"
    assert attributes["unique_id"] == "conversation:12:part:77:replied"
    assert attributes["time"] == "2026-03-01T10:00:00+00:00"
    assert attributes["metric"] == {
        "data": {"type": "metric", "attributes": {"name": "Replied to Conversation"}}
    }
    assert "backfill" not in attributes
    assert attributes["properties"] == {
        "email": "user3@example.com",
        "phone_number": "+14155552671",
        "Title": "Conversation 12",
        "Snoozed Until": "2026-03-04T00:00:00Z",
        "Waiting Since": "2026-03-01T09:00:00+00:00",
        "Priority": "not_priority",
        "Assigned Team": "Support",
        "Assigned Admin Name": "Ada Admin",
        "Assigned Admin Email": "ada@corp.example",
        "Tags": ["vip", "billing"],
        "Conversation Rating": 4,
        "Conversation Source": "conversation",
        "Conversation Delivered As": "customer_initiated",
        "Conversation Part Count": 3,
        "SLA Status": "hit",
        "Reopen Count": 0,
        "Assignment Count": 1,
        "Custom Attributes": {"Plan": "Pro"},
    }
    assert item.identity.attributes() == {
        "email": "user3@example.com",
        "phone_number": "+14155552671",
        "external_id": "ext-3",
    }


def test_ticket_event_properties_and_types() -> None:
    record = ticket_event(
        5, 8, metric="Created Ticket", assigned_team="Billing", snoozed_until=None
    )
    properties = event(record, rules("ticket_events")).resource["attributes"]["properties"]
    assert properties == {
        "email": "user8@example.com",
        "Category": "Customer",
        "Assigned Team": "Billing",
        "Ticket Part Count": 2,
        "Ticket ID": "5",
        "Ticket Type": "Bug",
        "Ticket Name": "Ticket 5",
        "Ticket Description": "It broke",
        "Is Shared": True,
    }


def test_resolved_ticket_uses_klaviyos_own_property_names() -> None:
    record = ticket_event(
        6,
        9,
        metric="Resolved Ticket",
        event_id="ticket:6:part:41:resolved",
        contact_phone="+44 20 7946 0958",
        assigned_team="Tier 2",
        assigned_admin_name="Bo Admin",
        assigned_admin_email="bo@corp.example",
        snoozed_until="2026-03-05T00:00:00+00:00",
        is_shared=False,
    )
    properties = event(record, rules("ticket_events")).resource["attributes"]["properties"]
    assert properties == {
        "Contact Email": "user9@example.com",
        "Contact Phone": "+442079460958",
        "Category": "Customer",
        "Team Name": "Tier 2",
        "Admin Name": "Bo Admin",
        "Admin Email": "bo@corp.example",
        "Ticket ID": "6",
        "Ticket Name": "Ticket 6",
        "Ticket Description": "It broke",
        "Is Shared": False,
    }


def test_nulls_and_empty_collections_are_left_out() -> None:
    record = conversation_event(1, 1, title=None, tags=[], custom_attributes={}, priority=None)
    properties = event(record).resource["attributes"]["properties"]
    assert "Title" not in properties
    assert "Tags" not in properties
    assert "Custom Attributes" not in properties
    assert "Priority" not in properties


def test_invalid_phone_is_dropped_and_reported() -> None:
    item = event(conversation_event(1, 1, contact_phone="12"))
    assert item.identity.phone_number is None
    assert item.identity.invalid_phone == "12"
    assert "phone_number" not in item.resource["attributes"]["properties"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"contact_email": None, "contact_phone": None, "contact_external_id": None},
            NO_IDENTIFIER,
        ),
        (
            {"contact_email": None, "contact_phone": "555", "contact_external_id": None},
            NO_IDENTIFIER,
        ),
        ({"occurred_at": "1985-01-01T00:00:00+00:00"}, INVALID_RECORD),
        ({"occurred_at": "2099-01-01T00:00:00+00:00"}, INVALID_RECORD),
        ({"occurred_at": "soon"}, INVALID_RECORD),
        ({"event_id": None}, INVALID_RECORD),
    ],
)
def test_records_that_cannot_be_sent_are_rejected(fields: dict[str, Any], reason: str) -> None:
    result = translate_event(conversation_event(1, 1, **fields), rules())
    assert isinstance(result, Rejection)
    assert result.reason == reason


def test_phone_or_external_id_alone_identify_a_profile() -> None:
    by_phone = event(
        conversation_event(
            1, 1, contact_email=None, contact_phone="+14155552671", contact_external_id=None
        )
    )
    assert by_phone.identity.attributes() == {"phone_number": "+14155552671"}
    by_external = event(conversation_event(1, 1, contact_email=None, contact_external_id="u-1"))
    assert by_external.identity.attributes() == {"external_id": "u-1"}


def test_backfill_flag_for_events_older_than_backfill_before() -> None:
    backfilling = rules(backfill_before="2026-03-01T10:00:01+00:00")
    old = event(conversation_event(1, 1, occurred_at="2026-03-01T10:00:00+00:00"), backfilling)
    new = event(conversation_event(2, 1, occurred_at="2026-03-01T10:00:01+00:00"), backfilling)
    assert old.resource["attributes"]["backfill"] is True
    assert "backfill" not in new.resource["attributes"]


def test_metric_and_property_renames() -> None:
    renamed = rules(
        renames=Renames(
            metric_names={"Replied to Conversation": "Intercom Reply"},
            property_names={"Title": "Subject", "email": "Email"},
            metric_property_names={"Replied to Conversation": {"Priority": None}},
        )
    )
    item = event(conversation_event(1, 1), renamed)
    attributes = item.resource["attributes"]
    assert attributes["metric"]["data"]["attributes"]["name"] == "Intercom Reply"
    assert attributes["properties"]["Subject"] == "Conversation 1"
    assert attributes["properties"]["Email"] == "user1@example.com"
    assert "Priority" not in attributes["properties"]
    assert "Title" not in attributes["properties"]


def test_more_properties_than_klaviyo_takes_are_cut() -> None:
    wide = rules(spec={"properties": None}, max_properties=5)
    record = {**conversation_event(1, 1), **{f"extra_{i}": i for i in range(10)}}
    properties = event(record, wide).resource["attributes"]["properties"]
    assert len(properties) == 5
    assert wide.cuts.cut == 1


def test_generic_stream_mapping_with_a_fixed_metric_and_key_properties() -> None:
    mapping = EventMapping.from_config(
        "orders",
        {"metric": "Placed Order", "email_field": "buyer.email", "time_field": "at"},
        ["id"],
    )
    generic = rules(mapping=mapping)
    item = event(
        {"id": 7, "buyer": {"email": "b@x.example"}, "at": 1772359200, "total": 9.5}, generic
    )
    attributes = item.resource["attributes"]
    assert attributes["unique_id"] == "orders:7"
    assert attributes["time"] == "2026-03-01T10:00:00+00:00"
    assert attributes["properties"] == {
        "email": "b@x.example",
        "id": 7,
        "buyer": {"email": "b@x.example"},
        "total": 9.5,
    }


def test_the_lookback_field_marks_a_resend_that_is_sent_the_same_and_never_a_property() -> None:
    again = event(conversation_event(1, 1, part=1, from_lookback=True))
    first = event(conversation_event(1, 1, part=1))
    assert (again.resent, first.resent) == (True, False)
    assert again.resource == first.resource
    assert "from_lookback" not in json.dumps(again.resource)
    # Map any tap: every other field is sent, but not the lookback field.
    spec = {"metric": "Placed Order", "email_field": "email", "lookback_field": "replayed"}
    generic = rules(mapping=EventMapping.from_config("orders", spec, ["id"]))
    order = {"id": 7, "email": "b@x.example", "replayed": True, "total": 9.5}
    item = event(order, generic)
    assert item.resent is True
    assert item.resource["attributes"]["properties"] == {
        "email": "b@x.example",
        "id": 7,
        "total": 9.5,
    }
    # Only true marks a resend; without a lookback_field a stream has none.
    assert event({**order, "replayed": "yes"}, generic).resent is False
    del spec["lookback_field"]
    plain = event(order, rules(mapping=EventMapping.from_config("orders", spec, ["id"])))
    assert plain.resent is False
    assert plain.resource["attributes"]["properties"]["replayed"] is True


@pytest.mark.parametrize(
    ("spec", "keys", "message"),
    [
        ({"time_field": "at"}, ["id"], "event_streams.orders: set exactly one of 'metric'"),
        ({"metric": "X"}, [], "event_streams.orders: set 'unique_id_field'"),
        ({"metric": "X", "colour": 1}, ["id"], "event_streams.orders: unknown key(s) 'colour'"),
        ({"metric": "X", "email_field": 3}, ["id"], "event_streams.orders.email_field must be"),
    ],
)
def test_bad_event_mapping_is_a_clear_error(
    spec: dict[str, Any], keys: list[str], message: str
) -> None:
    with pytest.raises(MappingConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EventMapping.from_config("orders", spec, keys)


def test_contact_becomes_the_contract_profile() -> None:
    record = contact(
        4,
        name="Ana Maria Silva",
        phone="+1 (415) 555-2671",
        avatar={"type": "avatar", "image_url": "https://img.example/4.png"},
        location={"type": "location", "city": "Porto", "country": "Portugal", "region": None},
        has_hard_bounced=True,
        opted_out_subscription_types={"type": "list", "data": [], "total_count": 2},
        custom_attributes={"plan": "pro"},
        tag_names=[f"tag{i}" for i in range(12)],
        role="lead",
    )
    mapping = ProfileMapping.from_config("contacts", DEFAULT_PROFILE_STREAMS["contacts"])
    result = translate_profile(record, ProfileRules(mapping, Renames(), "US"))
    assert isinstance(result, ProfileItem)
    assert result.resource == {
        "type": "profile",
        "attributes": {
            "email": "user4@example.com",
            "phone_number": "+14155552671",
            "external_id": "ext-4",
            "first_name": "Ana",
            "last_name": "Maria Silva",
            "image": "https://img.example/4.png",
            "location": {"city": "Porto", "country": "Portugal"},
            "properties": {
                "Intercom Contact ID": "c4",
                "Intercom Contact Role": "lead",
                "Intercom_has_hard_bounced": True,
                "Intercom_marked_email_as_spam": False,
                "Intercom_unsubscribed_from_emails": False,
                "Intercom_opted_out_subscription_types_count": 2,
                "Intercom_custom_attributes": {"plan": "pro"},
                "Intercom_tags": [f"tag{i}" for i in range(12)],
            },
        },
    }


def test_one_word_name_and_plain_avatar_string() -> None:
    record = contact(5, name="Ana", avatar="https://img.example/5.png", phone="bogus")
    mapping = ProfileMapping.from_config("contacts", DEFAULT_PROFILE_STREAMS["contacts"])
    result = translate_profile(record, ProfileRules(mapping, Renames(), "US"))
    assert isinstance(result, ProfileItem)
    attributes = result.resource["attributes"]
    assert attributes["first_name"] == "Ana"
    assert "last_name" not in attributes
    assert attributes["image"] == "https://img.example/5.png"
    assert "phone_number" not in attributes
    assert result.identity.invalid_phone == "bogus"


def test_contact_without_identifier_is_rejected() -> None:
    record = contact(6, email=None, external_id=None, phone=None)
    mapping = ProfileMapping.from_config("contacts", DEFAULT_PROFILE_STREAMS["contacts"])
    result = translate_profile(record, ProfileRules(mapping, Renames(), "US"))
    assert result == Rejection(NO_IDENTIFIER, "no email, valid phone number or external_id")


def test_a_number_in_a_string_field_is_sent_as_a_string() -> None:
    typed = rules("ticket_events", string_fields=frozenset({"ticket_id"}))
    record = ticket_event(5, 8, ticket_id=5, ticket_part_count=2)
    properties = event(record, typed).resource["attributes"]["properties"]
    assert properties["Ticket ID"] == "5"
    assert properties["Ticket Part Count"] == 2
