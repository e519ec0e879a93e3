"""POST /api/events over HTTP: acceptance, every validation rule, dedupe, 409, backfill by revision."""

from __future__ import annotations

from typing import Any

import pytest

from api_sandbox.klaviyo import examples as ex
from api_sandbox.testing import control

EVENTS = "/api/events"


def rejected(response: Any, status: int, code: str, pointer: str | None) -> dict[str, Any]:
    """Assert a single-error JSON:API rejection and return the error."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/vnd.api+json")
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    error = errors[0]
    assert (error["status"], error["code"], error["source"].get("pointer")) == (
        status,
        code,
        pointer,
    )
    assert set(error) == {"id", "status", "code", "title", "detail", "source", "links", "meta"}
    return error


def stored_events(url: str) -> list[dict[str, Any]]:
    return control(url, "events")["events"]


def test_accepted_event_is_stored_as_klaviyo_keeps_it(url: str) -> None:
    body = ex.create_event(
        {"email": "ana@example.com", "first_name": "Ana"},
        name="Replied to Conversation",
        unique_id="conversation:7:part:70:replied",
        time="2025-05-01T14:34:56.710+02:00",
        properties={"Title": "Refund", "Tags": ["vip"]},
    )
    response = ex.call(url, "POST", EVENTS, body)
    assert response.status_code == 202
    assert response.content == b""
    [event] = stored_events(url)
    assert event["metric"] == "Replied to Conversation"
    assert event["unique_id"] == "conversation:7:part:70:replied"
    assert event["time"] == "2025-05-01T12:34:56+00:00"  # UTC, truncated to the second
    assert event["properties"] == {"Title": "Refund", "Tags": ["vip"]}
    assert event["backfill"] is False
    assert event["profile"]["email"] == "ana@example.com"
    [profile] = control(url, "profiles")["profiles"]
    assert profile["first_name"] == "Ana"
    assert len(profile["id"]) == 26


def test_reference_example_of_create_event_is_accepted(url: str) -> None:
    # reference §2, placeholders filled in; revision 2026-07-15 keeps `meta` inside `attributes`.
    body = {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"Title": "Refund", "Priority": "priority"},
                "time": "2024-05-01T12:34:56+00:00",
                "value": 9.99,
                "value_currency": "USD",
                "unique_id": "intercom:conv_123:part_456",
                "backfill": False,
                "metric": {
                    "data": {
                        "type": "metric",
                        "attributes": {"name": "Created Conversation", "service": None},
                    }
                },
                "profile": {
                    "data": {
                        "type": "profile",
                        "id": None,
                        "attributes": {
                            "email": "a@b.com",
                            "phone_number": "+15005550006",
                            "external_id": "ext-1",
                            "anonymous_id": "anon-1",
                            "_kx": "kx-1",
                            "first_name": "Ana",
                            "last_name": "Silva",
                            "organization": "Acme",
                            "locale": "en-US",
                            "title": "CTO",
                            "image": "https://example.com/a.png",
                            "location": {
                                "address1": "1 Main St",
                                "address2": "Suite 2",
                                "city": "Boston",
                                "country": "US",
                                "region": "MA",
                                "zip": "02110",
                                "timezone": "America/New_York",
                                "ip": "127.0.0.1",
                                "latitude": "40.7128",
                                "longitude": "74.0060",
                            },
                            "properties": {"Intercom Contact ID": "c1"},
                            "meta": {
                                "patch_properties": {
                                    "append": {},
                                    "unappend": {},
                                    "unset": "old",
                                }
                            },
                        },
                    }
                },
            },
        }
    }
    response = ex.call(url, "POST", EVENTS, body, revision="2026-07-15")
    assert response.status_code == 202, response.text
    [profile] = control(url, "profiles")["profiles"]
    assert profile["properties"] == {"Intercom Contact ID": "c1"}
    assert profile["location"]["city"] == "Boston"
    assert profile["phone_number"] == "+15005550006"


def test_application_json_is_accepted_as_well(url: str) -> None:
    response = ex.call(url, "POST", EVENTS, ex.create_event(), content_type="application/json")
    assert response.status_code == 202


def test_unknown_key_is_rejected_with_a_pointer_naming_it(url: str) -> None:
    body = ex.create_event()
    body["data"]["attributes"]["fromEmail"] = "x"
    error = rejected(
        ex.call(url, "POST", EVENTS, body), 400, "invalid", "/data/attributes/fromEmail"
    )
    assert error["detail"] == "'fromEmail' is not a valid field for the resource 'event'."
    assert stored_events(url) == []


def test_unknown_profile_attribute_is_rejected(url: str) -> None:
    body = ex.create_event({"email": "ana@example.com", "nickname": "A"})
    rejected(
        ex.call(url, "POST", EVENTS, body),
        400,
        "invalid",
        "/data/attributes/profile/data/attributes/nickname",
    )


def test_missing_properties_is_rejected(url: str) -> None:
    body = ex.create_event()
    del body["data"]["attributes"]["properties"]
    rejected(ex.call(url, "POST", EVENTS, body), 400, "invalid", "/data/attributes/properties")


def test_wrong_resource_type_is_rejected(url: str) -> None:
    body = ex.create_event()
    body["data"]["type"] = "events"
    rejected(ex.call(url, "POST", EVENTS, body), 400, "invalid", "/data/type")


def test_value_as_a_string_is_rejected(url: str) -> None:
    body = ex.create_event()
    body["data"]["attributes"]["value"] = "9.99"
    rejected(ex.call(url, "POST", EVENTS, body), 400, "invalid", "/data/attributes/value")


def test_missing_metric_name_is_rejected(url: str) -> None:
    body = ex.create_event()
    body["data"]["attributes"]["metric"]["data"]["attributes"] = {}
    rejected(
        ex.call(url, "POST", EVENTS, body),
        400,
        "invalid",
        "/data/attributes/metric/data/attributes/name",
    )


@pytest.mark.parametrize("phone", ["4155552671", "+1415555", "+1 415 555 26711", "call me"])
def test_phone_not_in_e164_is_rejected(url: str, phone: str) -> None:
    body = ex.create_event({"email": "ana@example.com", "phone_number": phone})
    rejected(
        ex.call(url, "POST", EVENTS, body),
        400,
        "invalid",
        "/data/attributes/profile/data/attributes/phone_number",
    )


@pytest.mark.parametrize("email", ["ana", "ana@", "@example.com", "ana@example", "a b@example.com"])
def test_malformed_email_is_rejected(url: str, email: str) -> None:
    body = ex.create_event({"email": email})
    rejected(
        ex.call(url, "POST", EVENTS, body),
        400,
        "invalid",
        "/data/attributes/profile/data/attributes/email",
    )


def test_profile_without_identifier_is_rejected(url: str) -> None:
    body = ex.create_event({"first_name": "Ana", "email": None})
    rejected(
        ex.call(url, "POST", EVENTS, body),
        400,
        "invalid",
        "/data/attributes/profile/data/attributes",
    )


@pytest.mark.parametrize(
    "identifier", [{"phone_number": "+14155552671"}, {"external_id": "e1"}, {"anonymous_id": "a1"}]
)
def test_any_one_identifier_is_enough_on_events(url: str, identifier: dict[str, str]) -> None:
    assert ex.call(url, "POST", EVENTS, ex.create_event(identifier)).status_code == 202


@pytest.mark.parametrize(
    "time",
    [
        1714566896,  # Unix timestamps are not accepted by the new APIs
        "1714566896",
        "01/05/2025 12:00",
        "2025-13-01T00:00:00Z",
        "2024-07-22T20:08:49.89191341Z",  # nanoseconds: Segment's delivery failure
    ],
)
def test_time_not_in_iso_8601_is_rejected(url: str, time: Any) -> None:
    body = ex.create_event()
    body["data"]["attributes"]["time"] = time
    rejected(ex.call(url, "POST", EVENTS, body), 400, "invalid", "/data/attributes/time")


def test_time_before_2000_is_rejected_until_revision_2026_07_15(url: str) -> None:
    body = ex.create_event(time="1995-06-01T00:00:00Z")
    response = ex.call(url, "POST", EVENTS, body, revision="2026-04-15")
    rejected(response, 400, "invalid", "/data/attributes/time")
    assert ex.call(url, "POST", EVENTS, body, revision="2026-07-15").status_code == 202
    too_early = ex.create_event(time="1989-12-31T23:59:59Z")
    rejected(
        ex.call(url, "POST", EVENTS, too_early, revision="2026-07-15"),
        400,
        "invalid",
        "/data/attributes/time",
    )


def test_time_more_than_a_year_ahead_is_rejected(url: str) -> None:
    body = ex.create_event(time="2099-01-01T00:00:00Z")
    rejected(ex.call(url, "POST", EVENTS, body), 400, "invalid", "/data/attributes/time")


def test_date_only_time_is_taken_as_midnight_utc(url: str) -> None:
    assert ex.call(url, "POST", EVENTS, ex.create_event(time="2025-02-03")).status_code == 202
    assert stored_events(url)[0]["time"] == "2025-02-03T00:00:00+00:00"


def test_metric_name_must_be_less_than_128_characters(url: str) -> None:
    rejected(
        ex.call(url, "POST", EVENTS, ex.create_event(name="m" * 128)),
        400,
        "invalid",
        "/data/attributes/metric/data/attributes/name",
    )
    assert ex.call(url, "POST", EVENTS, ex.create_event(name="m" * 127)).status_code == 202


def test_at_most_400_properties(url: str) -> None:
    too_many = {f"p{i}": i for i in range(401)}
    rejected(
        ex.call(url, "POST", EVENTS, ex.create_event(properties=too_many)),
        400,
        "invalid",
        "/data/attributes/properties",
    )
    enough = {f"p{i}": i for i in range(400)}
    assert ex.call(url, "POST", EVENTS, ex.create_event(properties=enough)).status_code == 202


def test_at_most_300_properties_before_revision_2025_04_15(url: str) -> None:
    body = ex.create_event(properties={f"p{i}": i for i in range(301)})
    rejected(
        ex.call(url, "POST", EVENTS, body, revision="2025-01-15"),
        400,
        "invalid",
        "/data/attributes/properties",
    )
    assert ex.call(url, "POST", EVENTS, body, revision="2025-04-15").status_code == 202


def test_string_over_100_kb_is_rejected(url: str) -> None:
    body = ex.create_event(properties={"Title": "ok", "Body": "x" * (100 * 1024 + 1)})
    rejected(ex.call(url, "POST", EVENTS, body), 400, "invalid", "/data/attributes/properties/Body")


def test_array_over_4000_items_is_rejected(url: str) -> None:
    body = ex.create_event(properties={"Tags": list(range(4001))})
    rejected(ex.call(url, "POST", EVENTS, body), 400, "invalid", "/data/attributes/properties/Tags")


def test_nesting_over_10_levels_is_rejected(url: str) -> None:
    nested: dict[str, Any] = {"leaf": 1}
    for _ in range(10):  # properties itself is level 1: this makes 11 levels
        nested = {"n": nested}
    response = ex.call(url, "POST", EVENTS, ex.create_event(properties=nested))
    error = rejected(response, 400, "invalid", "/data/attributes/properties" + "/n" * 10)
    assert "10 levels" in error["detail"]
    assert ex.call(url, "POST", EVENTS, ex.create_event(properties=nested["n"])).status_code == 202


def test_payload_over_5_mb_is_rejected(url: str) -> None:
    properties = {f"p{i}": "x" * 60_000 for i in range(90)}  # ~5.4 MB of strings under 100 KB each
    response = ex.call(url, "POST", EVENTS, ex.create_event(properties=properties))
    rejected(response, 413, "request_too_large", "/data")


def test_malformed_json_is_a_parse_error(url: str) -> None:
    response = ex.call(url, "POST", EVENTS, b'{"data": ')
    rejected(response, 400, "parse_error", "/data")


def test_unsupported_content_type_is_415(url: str) -> None:
    response = ex.call(url, "POST", EVENTS, b"{}", content_type="text/plain")
    rejected(response, 415, "unsupported_media_type", None)


def test_backfill_is_an_unknown_key_before_revision_2026_04_15(url: str) -> None:
    body = ex.create_event()
    body["data"]["attributes"]["backfill"] = True
    error = rejected(
        ex.call(url, "POST", EVENTS, body, revision="2026-01-15"),
        400,
        "invalid",
        "/data/attributes/backfill",
    )
    assert "'backfill' is not a valid field" in error["detail"]
    assert ex.call(url, "POST", EVENTS, body, revision="2026-04-15").status_code == 202
    [event] = stored_events(url)
    assert event["backfill"] is True


def test_meta_placement_follows_the_revision(url: str) -> None:
    inside = ex.create_event({"email": "ana@example.com", "meta": {"patch_properties": {}}})
    rejected(
        ex.call(url, "POST", EVENTS, inside, revision="2026-10-15"),
        400,
        "invalid",
        "/data/attributes/profile/data/attributes/meta",
    )
    beside = ex.create_event()
    beside["data"]["attributes"]["profile"]["data"]["meta"] = {"patch_properties": {}}
    rejected(
        ex.call(url, "POST", EVENTS, beside, revision="2026-07-15"),
        400,
        "invalid",
        "/data/attributes/profile/data/meta",
    )
    assert ex.call(url, "POST", EVENTS, beside, revision="2026-10-15").status_code == 202
    assert ex.call(url, "POST", EVENTS, inside, revision="2026-07-15").status_code == 202


def test_meta_inside_attributes_is_checked_by_the_official_model(url: str) -> None:
    body = ex.create_event(
        {"email": "ana@example.com", "meta": {"patch_properties": {"append": 1}}}
    )
    rejected(
        ex.call(url, "POST", EVENTS, body, revision="2026-07-15"),
        400,
        "invalid",
        "/data/attributes/profile/data/attributes/meta/patch_properties/append",
    )


def test_repeated_unique_id_keeps_the_first_event(url: str) -> None:
    first = ex.create_event(unique_id="u-1", properties={"n": 1})
    second = ex.create_event(unique_id="u-1", properties={"n": 2}, time="2025-06-01T00:00:00Z")
    assert ex.call(url, "POST", EVENTS, first).status_code == 202
    assert ex.call(url, "POST", EVENTS, second).status_code == 202
    [event] = stored_events(url)
    assert event["properties"] == {"n": 1}
    assert control(url, "report")["metrics"]["Created Conversation"] == {
        "events": 1,
        "arrivals": 2,
        "duplicates": 1,
        "backfilled": 0,
    }


def test_unique_id_is_scoped_to_profile_and_metric(url: str) -> None:
    bodies = [
        ex.create_event({"email": "ana@example.com"}, unique_id="u-1"),
        ex.create_event({"email": "bo@example.com"}, unique_id="u-1"),
        ex.create_event({"email": "ana@example.com"}, unique_id="u-1", name="Rated Conversation"),
    ]
    for body in bodies:
        assert ex.call(url, "POST", EVENTS, body).status_code == 202
    assert len(stored_events(url)) == 3


def test_without_unique_id_one_event_per_profile_metric_and_second(url: str) -> None:
    for time in ("2025-05-01T12:00:00.100Z", "2025-05-01T12:00:00.900Z", "2025-05-01T12:00:01Z"):
        body = ex.create_event(unique_id=None, time=time)
        assert ex.call(url, "POST", EVENTS, body).status_code == 202
    times = [event["time"] for event in stored_events(url)]
    assert times == ["2025-05-01T12:00:00+00:00", "2025-05-01T12:00:01+00:00"]


def test_identifiers_of_two_profiles_are_a_409_and_nothing_is_stored(url: str) -> None:
    assert (
        ex.call(url, "POST", EVENTS, ex.create_event({"email": "ana@example.com"})).status_code
        == 202
    )
    phone_owner = ex.create_event({"phone_number": "+14155552671"}, unique_id="u-2")
    assert ex.call(url, "POST", EVENTS, phone_owner).status_code == 202
    profiles = {
        p["phone_number"] or p["email"]: p["id"] for p in control(url, "profiles")["profiles"]
    }
    both = ex.create_event(
        {"email": "ana@example.com", "phone_number": "+14155552671"}, unique_id="u-3"
    )
    error = rejected(
        ex.call(url, "POST", EVENTS, both), 409, "duplicate_profile", "/data/attributes/profile"
    )
    assert error["meta"] == {"duplicate_profile_id": profiles["+14155552671"]}
    assert [event["unique_id"] for event in stored_events(url)] == ["conversation:1:created", "u-2"]


def test_event_profile_attributes_upsert_the_profile(url: str) -> None:
    first = ex.create_event(
        {"email": "ana@example.com", "first_name": "Ana", "properties": {"plan": "pro"}}
    )
    second = ex.create_event(
        {"email": "ana@example.com", "last_name": "Silva", "properties": {"seats": 3}},
        unique_id="u-2",
    )
    assert ex.call(url, "POST", EVENTS, first).status_code == 202
    assert ex.call(url, "POST", EVENTS, second).status_code == 202
    [profile] = control(url, "profiles")["profiles"]
    assert (profile["first_name"], profile["last_name"]) == ("Ana", "Silva")
    assert profile["properties"] == {"plan": "pro", "seats": 3}
    assert len({event["profile"]["id"] for event in stored_events(url)}) == 1
