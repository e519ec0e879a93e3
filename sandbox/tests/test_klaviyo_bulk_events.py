"""POST /api/event-bulk-create-jobs over HTTP: all-or-nothing validation, unique_id rules, 409, backfill."""

from __future__ import annotations

from typing import Any

from api_sandbox.klaviyo import examples as ex
from api_sandbox.testing import control

BULK = "/api/event-bulk-create-jobs"
ENTRIES = "/data/attributes/events-bulk-create/data"


def good_entries(profiles: int = 3, events_each: int = 4) -> list[dict[str, Any]]:
    return [
        ex.bulk_entry(
            {"email": f"user{p}@example.com"},
            [
                ex.event_attributes(
                    "Replied to Conversation",
                    unique_id=f"conversation:{p}:part:{e}:replied",
                    time=f"2025-05-01T12:{e // 60:02d}:{e % 60:02d}Z",
                )
                for e in range(events_each)
            ],
        )
        for p in range(profiles)
    ]


def pointers(response: Any, status: int = 400) -> list[tuple[str, str]]:
    assert response.status_code == status, response.text
    return [(error["code"], error["source"]["pointer"]) for error in response.json()["errors"]]


def assert_nothing_stored(url: str) -> None:
    assert control(url, "events")["events"] == []
    assert control(url, "profiles")["profiles"] == []
    assert control(url, "report")["metrics"] == {}


def test_good_bulk_request_is_accepted_and_stored(url: str) -> None:
    response = ex.call(url, "POST", BULK, ex.bulk_events(good_entries()))
    assert response.status_code == 202
    assert response.content == b""
    events = control(url, "events")["events"]
    assert len(events) == 12
    assert {event["profile"]["email"] for event in events} == {
        "user0@example.com",
        "user1@example.com",
        "user2@example.com",
    }
    assert control(url, "report")["profiles"] == 3


def test_reference_example_of_bulk_create_events_is_accepted(url: str) -> None:
    # reference §3, placeholders filled in; backfill needs revision 2026-04-15 or later.
    body = {
        "data": {
            "type": "event-bulk-create-job",
            "attributes": {
                "events-bulk-create": {
                    "data": [
                        {
                            "type": "event-bulk-create",
                            "attributes": {
                                "backfill": False,
                                "profile": {
                                    "data": {
                                        "type": "profile",
                                        "id": None,
                                        "attributes": {
                                            "email": "a@b.com",
                                            "external_id": "ext-1",
                                            "properties": {"Intercom Contact ID": "c1"},
                                        },
                                        "meta": {"patch_properties": {"unset": ["old"]}},
                                    }
                                },
                                "events": {
                                    "data": [
                                        {
                                            "type": "event",
                                            "attributes": {
                                                "properties": {"Title": "Refund"},
                                                "time": "2024-05-01T12:34:56Z",
                                                "value": 1.0,
                                                "value_currency": "USD",
                                                "unique_id": "conversation:1:part:2:replied",
                                                "backfill": False,
                                                "metric": {
                                                    "data": {
                                                        "type": "metric",
                                                        "attributes": {
                                                            "name": "Replied to Conversation"
                                                        },
                                                    }
                                                },
                                            },
                                        }
                                    ]
                                },
                            },
                        }
                    ]
                }
            },
        }
    }
    response = ex.call(url, "POST", BULK, body, revision="2026-04-15")
    assert response.status_code == 202, response.text
    [event] = control(url, "events")["events"]
    assert event["profile"]["external_id"] == "ext-1"


def test_every_bad_item_is_reported_and_nothing_is_stored(url: str) -> None:
    entries = good_entries(profiles=4, events_each=5)
    entries[0]["attributes"]["events"]["data"][3]["attributes"]["time"] = "yesterday"
    entries[1]["attributes"]["events"]["data"][0]["attributes"]["colour"] = "red"
    entries[2]["attributes"]["profile"]["data"]["attributes"]["email"] = "not-an-email"
    entries[3]["attributes"]["events"]["data"][4]["attributes"]["metric"]["data"]["attributes"][
        "name"
    ] = "x" * 200
    response = ex.call(url, "POST", BULK, ex.bulk_events(entries))
    assert pointers(response) == [
        ("invalid", f"{ENTRIES}/0/attributes/events/data/3/attributes/time"),
        ("invalid", f"{ENTRIES}/1/attributes/events/data/0/attributes/colour"),
        ("invalid", f"{ENTRIES}/2/attributes/profile/data/attributes/email"),
        ("invalid", f"{ENTRIES}/3/attributes/events/data/4/attributes/metric/data/attributes/name"),
    ]
    assert_nothing_stored(url)
    [rejected] = control(url, "report")["rejected_requests"]
    assert (rejected["endpoint"], rejected["status"], len(rejected["errors"])) == (
        "POST /api/event-bulk-create-jobs",
        400,
        4,
    )


def test_one_error_per_bad_item(url: str) -> None:
    entries = good_entries(profiles=1, events_each=2)
    bad = entries[0]["attributes"]["events"]["data"][1]["attributes"]
    bad["value"] = "12"
    bad["extra"] = 1
    response = ex.call(url, "POST", BULK, ex.bulk_events(entries))
    assert pointers(response) == [
        ("invalid", f"{ENTRIES}/0/attributes/events/data/1/attributes/extra")
    ]


def test_missing_identifier_on_an_entry_is_rejected(url: str) -> None:
    entries = good_entries(profiles=2, events_each=1)
    entries[1]["attributes"]["profile"]["data"]["attributes"] = {"first_name": "Ana"}
    response = ex.call(url, "POST", BULK, ex.bulk_events(entries))
    assert pointers(response) == [("invalid", f"{ENTRIES}/1/attributes/profile/data/attributes")]
    assert_nothing_stored(url)


def test_more_than_1000_events_is_rejected(url: str) -> None:
    entries = good_entries(profiles=7, events_each=143)  # 1001 events
    response = ex.call(url, "POST", BULK, ex.bulk_events(entries))
    assert pointers(response) == [("invalid", ENTRIES)]
    assert_nothing_stored(url)
    exactly = good_entries(profiles=8, events_each=125)
    assert ex.call(url, "POST", BULK, ex.bulk_events(exactly)).status_code == 202
    assert control(url, "report")["metrics"]["Replied to Conversation"]["events"] == 1000


def test_repeated_unique_id_for_same_profile_and_metric_fails_the_request(url: str) -> None:
    entries = good_entries(profiles=2, events_each=2)
    # A second entry for user0 (same email) repeats user0's first unique_id.
    repeat = ex.bulk_entry(
        {"email": "user0@example.com"},
        [ex.event_attributes("Replied to Conversation", unique_id="conversation:0:part:0:replied")],
    )
    response = ex.call(url, "POST", BULK, ex.bulk_events([*entries, repeat]))
    assert pointers(response) == [
        ("invalid", f"{ENTRIES}/2/attributes/events/data/0/attributes/unique_id")
    ]
    assert_nothing_stored(url)


def test_repeated_unique_id_for_one_existing_profile_under_two_identifiers_fails(url: str) -> None:
    seed = ex.bulk_events(
        [
            ex.bulk_entry(
                {"email": "ana@example.com", "external_id": "crm-1"}, [ex.event_attributes()]
            )
        ]
    )
    assert ex.call(url, "POST", BULK, seed).status_code == 202
    # Entries 0 and 1 name the same existing profile by different identifiers.
    body = ex.bulk_events(
        [
            ex.bulk_entry({"email": "ana@example.com"}, [ex.event_attributes(unique_id="r-1")]),
            ex.bulk_entry({"external_id": "crm-1"}, [ex.event_attributes(unique_id="r-1")]),
        ]
    )
    response = ex.call(url, "POST", BULK, body)
    assert pointers(response) == [
        ("invalid", f"{ENTRIES}/1/attributes/events/data/0/attributes/unique_id")
    ]
    assert [e["unique_id"] for e in control(url, "events")["events"]] == ["conversation:1:created"]


def test_same_unique_id_for_other_metric_or_profile_is_fine(url: str) -> None:
    entries = [
        ex.bulk_entry(
            {"email": "ana@example.com"},
            [
                ex.event_attributes("Created Ticket", unique_id="u-1"),
                ex.event_attributes("Resolved Ticket", unique_id="u-1"),
            ],
        ),
        ex.bulk_entry(
            {"email": "bo@example.com"}, [ex.event_attributes("Created Ticket", unique_id="u-1")]
        ),
    ]
    assert ex.call(url, "POST", BULK, ex.bulk_events(entries)).status_code == 202
    assert len(control(url, "events")["events"]) == 3


def test_resending_a_bulk_request_stores_no_duplicates(url: str) -> None:
    body = ex.bulk_events(good_entries(profiles=2, events_each=3))
    assert ex.call(url, "POST", BULK, body).status_code == 202
    assert ex.call(url, "POST", BULK, body).status_code == 202
    assert len(control(url, "events")["events"]) == 6
    assert control(url, "report")["metrics"] == {
        "Replied to Conversation": {
            "events": 6,
            "arrivals": 12,
            "duplicates": 6,
            "backfilled": 0,
        }
    }


def test_profile_conflict_fails_the_whole_request_with_409(url: str) -> None:
    seed = ex.bulk_events(
        [
            ex.bulk_entry({"email": "ana@example.com"}, [ex.event_attributes(unique_id="s-1")]),
            ex.bulk_entry({"external_id": "crm-9"}, [ex.event_attributes(unique_id="s-2")]),
        ]
    )
    assert ex.call(url, "POST", BULK, seed).status_code == 202
    owner = {p["external_id"]: p["id"] for p in control(url, "profiles")["profiles"]}["crm-9"]
    body = ex.bulk_events(
        [
            ex.bulk_entry({"email": "new@example.com"}, [ex.event_attributes(unique_id="n-1")]),
            ex.bulk_entry(
                {"email": "ana@example.com", "external_id": "crm-9"},
                [ex.event_attributes(unique_id="n-2")],
            ),
        ]
    )
    response = ex.call(url, "POST", BULK, body)
    assert pointers(response, 409) == [("duplicate_profile", f"{ENTRIES}/1/attributes/profile")]
    assert response.json()["errors"][0]["meta"] == {"duplicate_profile_id": owner}
    # Entry 0 was valid, but the request is rejected whole: its profile and event are not kept.
    assert [e["unique_id"] for e in control(url, "events")["events"]] == ["s-1", "s-2"]
    assert control(url, "report")["profiles"] == 2


def test_backfill_on_bulk_entries_needs_revision_2026_04_15(url: str) -> None:
    entries = good_entries(profiles=1, events_each=2)
    entries[0]["attributes"]["backfill"] = True
    body = ex.bulk_events(entries)
    response = ex.call(url, "POST", BULK, body, revision="2026-01-15")
    assert pointers(response) == [("invalid", f"{ENTRIES}/0/attributes/backfill")]
    assert ex.call(url, "POST", BULK, body, revision="2026-04-15").status_code == 202
    assert [e["backfill"] for e in control(url, "events")["events"]] == [True, True]
    assert control(url, "report")["metrics"]["Replied to Conversation"]["backfilled"] == 2


def test_backfill_on_one_bulk_event_needs_revision_2026_04_15(url: str) -> None:
    entries = good_entries(profiles=1, events_each=2)
    entries[0]["attributes"]["events"]["data"][1]["attributes"]["backfill"] = True
    body = ex.bulk_events(entries)
    response = ex.call(url, "POST", BULK, body, revision="2025-10-15")
    assert pointers(response) == [
        ("invalid", f"{ENTRIES}/0/attributes/events/data/1/attributes/backfill")
    ]
    assert ex.call(url, "POST", BULK, body, revision="2026-10-15").status_code == 202
    assert [e["backfill"] for e in control(url, "events")["events"]] == [False, True]


def test_body_that_is_not_a_bulk_job_is_rejected(url: str) -> None:
    response = ex.call(url, "POST", BULK, [1, 2])
    assert pointers(response) == [("invalid", "/data")]
    wrong_type = ex.bulk_events(good_entries(profiles=1, events_each=1))
    wrong_type["data"]["type"] = "event-bulk-create"
    assert pointers(ex.call(url, "POST", BULK, wrong_type)) == [("invalid", "/data/type")]


def test_empty_bulk_request_and_entry_without_events_are_rejected(url: str) -> None:
    assert pointers(ex.call(url, "POST", BULK, ex.bulk_events([]))) == [("invalid", ENTRIES)]
    entries = good_entries(profiles=2, events_each=1)
    entries[1]["attributes"]["events"]["data"] = []
    response = ex.call(url, "POST", BULK, ex.bulk_events(entries))
    assert pointers(response) == [("invalid", f"{ENTRIES}/1/attributes/events/data")]
    assert_nothing_stored(url)
