"""Identity conflicts over HTTP: an identifier (phone_number, external_id) held by another profile than
the one the request's first identifier means, on profile import, bulk import jobs and bulk event
create, under each `identity_conflicts` / `bulk_event_conflicts` reading. Two people are never merged
by default."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from api_sandbox.klaviyo import examples as ex
from api_sandbox.settings import KlaviyoSettings
from api_sandbox.testing import control

IMPORT = "/api/profile-import"
JOBS = "/api/profile-bulk-import-jobs"
BULK = "/api/event-bulk-create-jobs"
ENTRIES = "/data/attributes/events-bulk-create/data"
PHONE = "+14155550142"
OTHER_PHONE = "+14155550143"

KLAVIYO_SETTINGS = KlaviyoSettings(rate_limit_scale=0, job_seconds=0.05)

ANA = {"email": "ana@example.com", "phone_number": PHONE, "external_id": "crm-ana"}
BO = {"email": "bo@example.com", "phone_number": PHONE, "external_id": "crm-bo"}


def behave(url: str, **changes: str) -> dict[str, str]:
    return control(url, "behaviour", changes)


def import_profile(url: str, attributes: dict[str, Any], **data: Any) -> requests.Response:
    return ex.call(url, "POST", IMPORT, ex.profile_import(attributes, **data))


def created_id(response: requests.Response) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def identities(url: str) -> list[tuple[str | None, str | None, str | None]]:
    return [
        (p["email"], p["phone_number"], p["external_id"])
        for p in control(url, "profiles")["profiles"]
    ]


def only_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    return dict(error)


def assert_conflict(response: requests.Response, pointer: str, holder: str | None) -> None:
    error = only_error(response, 409)
    assert (error["code"], error["title"], error["source"]) == (
        "duplicate_profile",
        "Conflict.",
        {"pointer": pointer},
    )
    assert error["meta"] == ({} if holder is None else {"duplicate_profile_id": holder})


@pytest.fixture
def url(url: str) -> str:
    behave(url, identity_conflicts="reject", bulk_event_conflicts="request")
    return url


# -- the control endpoint -------------------------------------------------------------------------


def test_behaviour_defaults_and_validation(url: str) -> None:
    assert control(url, "behaviour") == {
        "stored_duplicates": "keep_first",
        "identity_conflicts": "reject",
        "bulk_event_conflicts": "request",
        "profile_lookups": "current",
        "unexplained_rejections": "off",
    }
    for bad in (
        {"identity_conflicts": "merge"},
        {"bulk_event_conflicts": "entry"},
        {"stored_duplicates": True},
        {"unexplained_rejections": "some"},
        {"unknown": "x"},
        {"identity_conflicts": "attach", "stored_duplicates": "nope"},  # nothing changes
        [1],
    ):
        response = requests.post(f"{url}/_sandbox/behaviour", json=bad, timeout=10)
        assert response.status_code == 400, bad
        assert response.json()["error"]
    assert control(url, "behaviour")["identity_conflicts"] == "reject"
    control(url, "reset", {})  # readings survive a reset
    assert behave(url, identity_conflicts="ignore")["identity_conflicts"] == "ignore"
    control(url, "reset", {})
    assert control(url, "behaviour")["identity_conflicts"] == "ignore"


# -- POST /api/profile-import ---------------------------------------------------------------------


def test_new_email_with_another_profiles_phone_is_409_and_merges_nothing(url: str) -> None:
    ana = created_id(import_profile(url, ANA))
    response = import_profile(url, BO)
    assert_conflict(response, "/data/attributes", ana)
    assert identities(url) == [("ana@example.com", PHONE, "crm-ana")]  # not overwritten
    # Left out, the phone no longer stands in the way: Bo gets a profile of her own.
    bo = created_id(import_profile(url, {**BO, "phone_number": None}))
    assert bo != ana
    assert identities(url) == [
        ("ana@example.com", PHONE, "crm-ana"),
        ("bo@example.com", None, "crm-bo"),
    ]


def test_new_email_with_another_profiles_external_id_is_409(url: str) -> None:
    ana = created_id(import_profile(url, ANA))
    response = import_profile(url, {"email": "bo@example.com", "external_id": "crm-ana"})
    assert_conflict(response, "/data/attributes", ana)
    assert identities(url) == [("ana@example.com", PHONE, "crm-ana")]


def test_first_identifier_is_the_external_id_without_an_email(url: str) -> None:
    ana = created_id(import_profile(url, ANA))
    response = import_profile(url, {"external_id": "crm-new", "phone_number": PHONE})
    assert_conflict(response, "/data/attributes", ana)
    # The phone alone means Ana's profile: an update, documented.
    updated = import_profile(url, {"phone_number": PHONE, "first_name": "Ana"})
    assert updated.status_code == 200
    assert updated.json()["data"]["id"] == ana


def test_a_phone_only_profile_does_not_take_a_new_email(url: str) -> None:
    # The strict reading: a new email is another person, even when the phone's holder has none.
    holder = created_id(import_profile(url, {"phone_number": PHONE}))
    response = import_profile(url, {"email": "bo@example.com", "phone_number": PHONE})
    assert_conflict(response, "/data/attributes", holder)
    assert identities(url) == [(None, PHONE, None)]


def test_known_email_with_a_new_phone_updates_the_phone(url: str) -> None:
    # Documented: "If you provide an existing profile's email address and a new phone number in your
    # request payload, the matching profile's phone number will be updated."
    ana = created_id(import_profile(url, ANA))
    for mode in ("reject", "attach", "ignore"):
        behave(url, identity_conflicts=mode)
        phone = OTHER_PHONE if mode != "attach" else PHONE
        updated = import_profile(url, {"email": "ana@example.com", "phone_number": phone})
        assert updated.status_code == 200, (mode, updated.text)
        assert updated.json()["data"]["id"] == ana
        assert updated.json()["data"]["attributes"]["phone_number"] == phone


def test_identifiers_of_two_existing_profiles_are_409_naming_the_later_ones_holder(
    url: str,
) -> None:
    created_id(import_profile(url, {"email": "ana@example.com"}))
    bo = created_id(import_profile(url, {"email": "bo@example.com", "phone_number": PHONE}))
    for mode in ("reject", "attach"):
        behave(url, identity_conflicts=mode)
        response = import_profile(url, {"email": "ana@example.com", "phone_number": PHONE})
        assert_conflict(response, "/data/attributes", bo)


def test_the_same_identifiers_of_one_profile_resent_are_200(url: str) -> None:
    ana = created_id(import_profile(url, ANA))
    again = import_profile(url, ANA)
    assert again.status_code == 200
    assert again.json()["data"]["id"] == ana


def test_profile_id_with_another_profiles_email_is_409(url: str) -> None:
    ana = created_id(import_profile(url, {"email": "ana@example.com"}))
    bo = created_id(import_profile(url, {"email": "bo@example.com"}))
    response = import_profile(url, {"email": "bo@example.com"}, id=ana)
    assert_conflict(response, "/data/attributes", bo)
    behave(url, identity_conflicts="ignore")
    kept = import_profile(url, {"email": "bo@example.com", "first_name": "Ana"}, id=ana)
    assert kept.status_code == 200, kept.text
    assert kept.json()["data"]["attributes"]["email"] == "ana@example.com"
    assert kept.json()["data"]["attributes"]["first_name"] == "Ana"


def test_attach_reading_gives_the_phones_holder_the_new_email(url: str) -> None:
    behave(url, identity_conflicts="attach")
    ana = created_id(import_profile(url, ANA))
    attached = import_profile(url, BO)
    assert attached.status_code == 200, attached.text
    assert attached.json()["data"]["id"] == ana
    # One profile for two people: Ana's email and external id are overwritten by Bo's.
    assert identities(url) == [("bo@example.com", PHONE, "crm-bo")]


def test_ignore_reading_leaves_the_identifier_with_its_holder(url: str) -> None:
    behave(url, identity_conflicts="ignore")
    ana = created_id(import_profile(url, ANA))
    bo = created_id(import_profile(url, BO))
    assert bo != ana
    assert identities(url) == [
        ("ana@example.com", PHONE, "crm-ana"),
        ("bo@example.com", None, "crm-bo"),
    ]


# -- profile bulk import jobs ---------------------------------------------------------------------


def run_job(url: str, profiles: list[dict[str, Any]]) -> tuple[dict[str, Any], list[Any]]:
    job = ex.call(url, "POST", JOBS, ex.bulk_profiles(profiles))
    assert job.status_code == 202, job.text
    job_id = job.json()["data"]["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        data = ex.call(url, "GET", f"{JOBS}/{job_id}").json()["data"]
        if data["attributes"]["status"] == "complete":
            errors = ex.call(url, "GET", f"{JOBS}/{job_id}/import-errors").json()["data"]
            return data["attributes"], errors
        time.sleep(0.02)
    raise AssertionError("job did not complete")


def test_bulk_import_conflict_is_a_per_profile_import_error(url: str) -> None:
    attributes, errors = run_job(url, [ANA, BO, {"email": "cy@example.com"}])
    assert (attributes["completed_count"], attributes["failed_count"]) == (2, 1)
    [error] = errors
    ana = {p["email"]: p["id"] for p in control(url, "profiles")["profiles"]}["ana@example.com"]
    assert error["attributes"] == {
        "code": "duplicate_profile",
        "title": "Conflict.",
        "detail": f"The phone_number of this profile belongs to another profile ({ana}).",
        "source": {"pointer": "/data/attributes/profiles/data/1"},
        "original_payload": {"type": "profile", "attributes": BO},
    }
    assert identities(url) == [
        ("ana@example.com", PHONE, "crm-ana"),
        ("cy@example.com", None, None),
    ]
    # Across jobs alike: the holder is stored now.
    attributes, errors = run_job(url, [{**BO, "external_id": "crm-bo2"}])
    assert attributes["failed_count"] == 1
    assert errors[0]["attributes"]["source"] == {"pointer": "/data/attributes/profiles/data/0"}


def test_bulk_import_under_attach_and_ignore(url: str) -> None:
    behave(url, identity_conflicts="ignore")
    attributes, errors = run_job(url, [ANA, BO])
    assert (attributes["failed_count"], errors) == (0, [])
    assert identities(url) == [
        ("ana@example.com", PHONE, "crm-ana"),
        ("bo@example.com", None, "crm-bo"),
    ]
    control(url, "reset", {})
    behave(url, identity_conflicts="attach")
    attributes, errors = run_job(url, [ANA, BO])
    assert (attributes["failed_count"], errors) == (0, [])
    assert identities(url) == [("bo@example.com", PHONE, "crm-bo")]


# -- POST /api/event-bulk-create-jobs -------------------------------------------------------------


def entry(profile: dict[str, Any], unique_id: str) -> dict[str, Any]:
    return ex.bulk_entry(profile, [ex.event_attributes(unique_id=unique_id)])


def stored_events(url: str) -> list[tuple[str, str | None]]:
    return [(e["unique_id"], e["profile"]["email"]) for e in control(url, "events")["events"]]


def test_bulk_events_conflict_with_a_stored_profile_fails_the_request(url: str) -> None:
    ana = created_id(import_profile(url, ANA))
    body = ex.bulk_events([entry({"email": "cy@example.com"}, "c-1"), entry(BO, "b-1")])
    response = ex.call(url, "POST", BULK, body)
    assert_conflict(response, f"{ENTRIES}/1/attributes/profile", ana)
    assert stored_events(url) == []
    assert identities(url) == [("ana@example.com", PHONE, "crm-ana")]
    # The same request without Bo's phone is accepted: Bo gets her own profile.
    body = ex.bulk_events(
        [entry({"email": "cy@example.com"}, "c-1"), entry({**BO, "phone_number": None}, "b-1")]
    )
    assert ex.call(url, "POST", BULK, body).status_code == 202
    assert stored_events(url) == [("c-1", "cy@example.com"), ("b-1", "bo@example.com")]


def test_bulk_events_conflict_within_one_request_names_no_holder(url: str) -> None:
    body = ex.bulk_events([entry(ANA, "a-1"), entry(BO, "b-1")])
    response = ex.call(url, "POST", BULK, body)
    # Ana's profile would be made by entry 0 of the same request, which is rejected whole.
    assert_conflict(response, f"{ENTRIES}/1/attributes/profile", None)
    assert only_error(response, 409)["detail"] == (
        "An earlier profile of this request has one of these identifiers."
    )
    assert identities(url) == []


def test_bulk_events_item_reading_leaves_out_only_the_conflicting_entries(url: str) -> None:
    behave(url, bulk_event_conflicts="item")
    body = ex.bulk_events(
        [entry(ANA, "a-1"), entry(BO, "b-1"), entry({"email": "cy@example.com"}, "c-1")]
    )
    assert ex.call(url, "POST", BULK, body).status_code == 202
    assert stored_events(url) == [("a-1", "ana@example.com"), ("c-1", "cy@example.com")]
    report = control(url, "report")
    assert report["skipped_for_identity_conflicts"] == {"Created Conversation": 1}
    assert report["metrics"]["Created Conversation"]["arrivals"] == 2
    assert identities(url) == [
        ("ana@example.com", PHONE, "crm-ana"),
        ("cy@example.com", None, None),
    ]


def test_bulk_events_under_attach_and_ignore(url: str) -> None:
    behave(url, identity_conflicts="attach")
    assert ex.call(url, "POST", BULK, ex.bulk_events([entry(ANA, "a-1")])).status_code == 202
    assert ex.call(url, "POST", BULK, ex.bulk_events([entry(BO, "b-1")])).status_code == 202
    # Both people's events on one profile, which now carries Bo's email.
    assert stored_events(url) == [("a-1", "bo@example.com"), ("b-1", "bo@example.com")]
    control(url, "reset", {})
    behave(url, identity_conflicts="ignore")
    body = ex.bulk_events([entry(ANA, "a-1"), entry(BO, "b-1")])
    assert ex.call(url, "POST", BULK, body).status_code == 202
    assert stored_events(url) == [("a-1", "ana@example.com"), ("b-1", "bo@example.com")]
    assert identities(url) == [
        ("ana@example.com", PHONE, "crm-ana"),
        ("bo@example.com", None, "crm-bo"),
    ]


def test_single_event_create_conflict_is_409(url: str) -> None:
    ana = created_id(import_profile(url, ANA))
    response = ex.call(url, "POST", "/api/events", ex.create_event(BO))
    assert_conflict(response, "/data/attributes/profile", ana)
    assert stored_events(url) == []
