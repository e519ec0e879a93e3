"""Profiles over HTTP: POST /api/profile-import and bulk import jobs (lifecycle, import errors, paging)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from api_sandbox.klaviyo import examples as ex
from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import KlaviyoSettings
from api_sandbox.testing import control

IMPORT = "/api/profile-import"
JOBS = "/api/profile-bulk-import-jobs"
PROFILES = "/data/attributes/profiles/data"
JOB_SECONDS = 0.4


KLAVIYO_SETTINGS = KlaviyoSettings(rate_limit_scale=0, job_seconds=JOB_SECONDS)


def errors_of(response: Any, status: int) -> list[tuple[str, str | None]]:
    assert response.status_code == status, response.text
    return [(e["code"], e["source"].get("pointer")) for e in response.json()["errors"]]


def stored_profiles(url: str) -> list[dict[str, Any]]:
    return control(url, "profiles")["profiles"]


def wait_for_job(url: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = ex.call(url, "GET", f"{JOBS}/{job_id}").json()["data"]
        if job["attributes"]["status"] == "complete":
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not complete")


# -- POST /api/profile-import ---------------------------------------------------------------------


def test_profile_import_creates_with_201_then_updates_with_200(url: str) -> None:
    created = ex.call(url, "POST", IMPORT, ex.profile_import({"email": "ana@example.com"}))
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["type"] == "profile"
    assert len(data["id"]) == 26
    assert data["attributes"]["email"] == "ana@example.com"
    assert data["links"]["self"] == f"{url}/api/profiles/{data['id']}/"
    updated = ex.call(
        url, "POST", IMPORT, ex.profile_import({"email": "ana@example.com", "first_name": "Ana"})
    )
    assert updated.status_code == 200
    assert updated.json()["data"]["id"] == data["id"]
    assert updated.json()["data"]["attributes"]["first_name"] == "Ana"


def test_null_clears_absent_leaves_and_properties_merge(url: str) -> None:
    first = {
        "email": "ana@example.com",
        "first_name": "Ana",
        "last_name": "Silva",
        "location": {"city": "Boston", "country": "US"},
        "properties": {"plan": "pro", "seats": 3},
    }
    second = {
        "email": "ana@example.com",
        "first_name": None,
        "location": {"city": "Lisbon"},
        "properties": {"seats": 5, "tier": "gold"},
    }
    assert ex.call(url, "POST", IMPORT, ex.profile_import(first)).status_code == 201
    assert ex.call(url, "POST", IMPORT, ex.profile_import(second)).status_code == 200
    [profile] = stored_profiles(url)
    assert profile["first_name"] is None
    assert profile["last_name"] == "Silva"
    assert profile["location"] == {"city": "Lisbon", "country": "US"}
    assert profile["properties"] == {"plan": "pro", "seats": 5, "tier": "gold"}


def test_patch_properties_append_unappend_and_unset(url: str) -> None:
    start = {"email": "ana@example.com", "properties": {"skus": ["1", "2"], "old": 1, "keep": 2}}
    assert ex.call(url, "POST", IMPORT, ex.profile_import(start)).status_code == 201
    patch = ex.profile_import(
        {"email": "ana@example.com"},
        meta={
            "patch_properties": {
                "append": {"skus": "3"},
                "unappend": {"skus": "1"},
                "unset": ["old"],
            }
        },
    )
    assert ex.call(url, "POST", IMPORT, patch).status_code == 200
    assert stored_profiles(url)[0]["properties"] == {"skus": ["2", "3"], "keep": 2}


def test_unset_must_name_properties(url: str) -> None:
    body = ex.profile_import({"email": "ana@example.com"}, meta={"patch_properties": {"unset": 5}})
    response = ex.call(url, "POST", IMPORT, body)
    assert errors_of(response, 400) == [("invalid", "/data/meta/patch_properties/unset")]


def test_reference_example_of_profile_import_is_accepted(url: str) -> None:
    existing = ex.call(url, "POST", IMPORT, ex.profile_import({"email": "ana@example.com"}))
    profile_id = existing.json()["data"]["id"]
    # reference §4.1, placeholders filled in; the id is that of an existing profile.
    body = {
        "data": {
            "type": "profile",
            "id": profile_id,
            "attributes": {
                "email": "ana@example.com",
                "phone_number": "+15005550006",
                "external_id": "ext-1",
                "_kx": "kx-1",
                "first_name": "Ana",
                "last_name": "Silva",
                "organization": "Acme",
                "locale": "en-US",
                "title": "CTO",
                "image": "https://example.com/a.png",
                "location": {
                    "address1": None,
                    "address2": None,
                    "city": "Boston",
                    "country": "US",
                    "region": "MA",
                    "zip": "02110",
                    "timezone": "America/New_York",
                    "ip": "127.0.0.1",
                    "latitude": 1.0,
                    "longitude": 2.0,
                },
                "properties": {"Intercom Contact ID": "123"},
            },
            "meta": {
                "patch_properties": {
                    "append": {"skus": "92538"},
                    "unappend": {"skus": "40571"},
                    "unset": ["old_prop"],
                }
            },
        }
    }
    response = ex.call(url, "POST", IMPORT, body)
    assert response.status_code == 200, response.text
    attributes = response.json()["data"]["attributes"]
    assert attributes["properties"] == {"Intercom Contact ID": "123", "skus": ["92538"]}
    assert attributes["phone_number"] == "+15005550006"


def test_anonymous_id_is_not_a_profile_import_field(url: str) -> None:
    body = ex.profile_import({"email": "ana@example.com", "anonymous_id": "a1"})
    response = ex.call(url, "POST", IMPORT, body)
    assert errors_of(response, 400) == [("invalid", "/data/attributes/anonymous_id")]


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"email": "ana@"}, "/data/attributes/email"),
        ({"email": "ana@example.com", "phone_number": "555-0100"}, "/data/attributes/phone_number"),
        ({"first_name": "Ana"}, "/data/attributes"),
        ({"email": 42}, "/data/attributes/email"),
    ],
)
def test_bad_profiles_are_rejected(url: str, attributes: dict[str, Any], pointer: str) -> None:
    response = ex.call(url, "POST", IMPORT, ex.profile_import(attributes))
    assert errors_of(response, 400) == [("invalid", pointer)]
    assert stored_profiles(url) == []


def test_unknown_profile_id_is_rejected(url: str) -> None:
    body = ex.profile_import({"email": "ana@example.com"}, id="01GDDKASAP8TKDDA2GRZDSVP4H")
    assert errors_of(ex.call(url, "POST", IMPORT, body), 400) == [("invalid", "/data/id")]


def test_profile_import_payload_over_100_kb_is_rejected(url: str) -> None:
    body = ex.profile_import({"email": "ana@example.com", "properties": {"bio": "x" * 102_400}})
    assert errors_of(ex.call(url, "POST", IMPORT, body), 413) == [("request_too_large", "/data")]


def test_profile_import_conflict_is_409_duplicate_profile(url: str) -> None:
    ana = ex.call(url, "POST", IMPORT, ex.profile_import({"email": "ana@example.com"}))
    crm = ex.call(url, "POST", IMPORT, ex.profile_import({"external_id": "crm-1"}))
    assert (ana.status_code, crm.status_code) == (201, 201)
    both = ex.profile_import({"email": "ana@example.com", "external_id": "crm-1", "title": "X"})
    response = ex.call(url, "POST", IMPORT, both)
    assert errors_of(response, 409) == [("duplicate_profile", "/data/attributes")]
    error = response.json()["errors"][0]
    assert error["meta"] == {"duplicate_profile_id": crm.json()["data"]["id"]}
    assert error["title"] == "Conflict."
    assert all(profile["title"] is None for profile in stored_profiles(url))


# -- bulk import jobs ----------------------------------------------------------------------------


def test_reference_example_of_bulk_import_is_accepted_and_imported(url: str) -> None:
    # reference §4.3, placeholders filled in.
    body = {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {"email": "ana@example.com", "properties": {}},
                            "meta": {"patch_properties": {"unset": "x"}},
                        }
                    ]
                }
            },
            "relationships": {"lists": {"data": [{"type": "list", "id": "VRgFBd"}]}},
        }
    }
    response = ex.call(url, "POST", JOBS, body)
    assert response.status_code == 202, response.text
    job = response.json()["data"]
    assert job["type"] == "profile-bulk-import-job"
    assert job["attributes"]["status"] == "queued"
    assert job["attributes"]["total_count"] == 1
    assert job["relationships"]["lists"]["data"] == [{"type": "list", "id": "VRgFBd"}]
    done = wait_for_job(url, job["id"])
    assert (done["attributes"]["completed_count"], done["attributes"]["failed_count"]) == (1, 0)
    assert [p["email"] for p in stored_profiles(url)] == ["ana@example.com"]


def test_job_moves_from_queued_through_processing_to_complete() -> None:
    # Its own stand-in with a longer job, so a busy machine cannot make the poll miss a state.
    settings = KlaviyoSettings(rate_limit_scale=0, job_seconds=1.2)
    with BackgroundSandbox(klaviyo=settings) as slow:
        seen = job_states(slow.urls["klaviyo"])
    assert seen == ["queued", "processing", "complete"]


def job_states(url: str) -> list[str]:
    body = ex.bulk_profiles([{"email": f"u{i}@example.com"} for i in range(3)])
    job = ex.call(url, "POST", JOBS, body).json()["data"]
    seen = [job["attributes"]["status"]]
    deadline = time.monotonic() + 10
    while seen[-1] != "complete" and time.monotonic() < deadline:
        status = ex.call(url, "GET", f"{JOBS}/{job['id']}/").json()["data"]["attributes"]["status"]
        if status != seen[-1]:
            seen.append(status)
        time.sleep(0.02)
    final = ex.call(url, "GET", f"{JOBS}/{job['id']}").json()["data"]["attributes"]
    assert final["completed_count"] == 3
    assert final["started_at"] is not None
    assert final["completed_at"] is not None
    return seen


def test_bulk_import_with_bad_profiles_is_rejected_whole(url: str) -> None:
    profiles: list[dict[str, Any]] = [{"email": f"u{i}@example.com"} for i in range(10)]
    profiles[7]["email"] = "u7-at-example.com"
    profiles[2] = {"first_name": "No identifier"}
    profiles[4]["anonymous_id"] = "a4"
    response = ex.call(url, "POST", JOBS, ex.bulk_profiles(profiles))
    assert errors_of(response, 400) == [
        ("invalid", f"{PROFILES}/2/attributes"),
        ("invalid", f"{PROFILES}/4/attributes/anonymous_id"),
        ("invalid", f"{PROFILES}/7/attributes/email"),
    ]
    time.sleep(JOB_SECONDS)
    assert stored_profiles(url) == []


def test_bulk_import_of_more_than_10000_profiles_is_rejected(url: str) -> None:
    body = ex.bulk_profiles([{"external_id": str(i)} for i in range(10_001)])
    assert errors_of(ex.call(url, "POST", JOBS, body), 400) == [("invalid", PROFILES)]


def test_bulk_import_without_profiles_is_rejected(url: str) -> None:
    assert errors_of(ex.call(url, "POST", JOBS, ex.bulk_profiles([])), 400) == [
        ("invalid", PROFILES)
    ]


def test_object_where_an_array_belongs_is_rejected(url: str) -> None:
    # The SDK's from_dict iterates `{}` as an empty list; Klaviyo wants an array.
    body = ex.bulk_profiles([{"email": "a@example.com"}], relationships={"lists": {"data": {}}})
    response = ex.call(url, "POST", JOBS, body)
    assert errors_of(response, 400) == [("invalid", "/data/relationships/lists/data")]


def test_bulk_import_profile_over_100_kb_is_rejected(url: str) -> None:
    big = {"email": "big@example.com", "properties": {"a": "x" * 60_000, "b": "y" * 60_000}}
    body = ex.bulk_profiles([{"email": "ok@example.com"}, big])
    assert errors_of(ex.call(url, "POST", JOBS, body), 400) == [("invalid", f"{PROFILES}/1")]


def test_conflicting_profile_is_an_import_error_and_the_rest_import(url: str) -> None:
    ana = ex.call(url, "POST", IMPORT, ex.profile_import({"email": "ana@example.com"}))
    crm = ex.call(url, "POST", IMPORT, ex.profile_import({"external_id": "crm-1"}))
    assert (ana.status_code, crm.status_code) == (201, 201)
    conflicting = {"email": "ana@example.com", "external_id": "crm-1"}
    body = ex.bulk_profiles([{"email": "new@example.com"}, conflicting, {"external_id": "crm-2"}])
    job = ex.call(url, "POST", JOBS, body).json()["data"]
    done = wait_for_job(url, job["id"])
    assert (done["attributes"]["completed_count"], done["attributes"]["failed_count"]) == (2, 1)
    errors = ex.call(url, "GET", f"{JOBS}/{job['id']}/import-errors").json()
    [error] = errors["data"]
    assert error["type"] == "import-error"
    assert error["attributes"]["code"] == "duplicate_profile"
    assert error["attributes"]["source"] == {"pointer": f"{PROFILES}/1"}
    assert error["attributes"]["original_payload"] == {"type": "profile", "attributes": conflicting}
    assert errors["links"]["next"] is None
    emails = sorted(p["email"] or p["external_id"] for p in stored_profiles(url))
    assert emails == ["ana@example.com", "crm-1", "crm-2", "new@example.com"]


def test_import_errors_are_paged_with_a_cursor(url: str) -> None:
    owners = [
        ex.call(url, "POST", IMPORT, ex.profile_import(p)).status_code
        for p in ({"email": "ana@example.com"}, {"external_id": "crm-1"})
    ]
    assert owners == [201, 201]
    conflicting = [{"email": "ana@example.com", "external_id": "crm-1"} for _ in range(5)]
    job = ex.call(url, "POST", JOBS, ex.bulk_profiles(conflicting)).json()["data"]
    wait_for_job(url, job["id"])
    pages: list[list[str]] = []
    next_url: str | None = f"{url}{JOBS}/{job['id']}/import-errors?page[size]=2"
    while next_url is not None:
        page = ex.call(next_url, "GET", "").json()
        pages.append([e["attributes"]["source"]["pointer"] for e in page["data"]])
        next_url = page["links"]["next"]
    assert pages == [
        [f"{PROFILES}/0", f"{PROFILES}/1"],
        [f"{PROFILES}/2", f"{PROFILES}/3"],
        [f"{PROFILES}/4"],
    ]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page[size]=101", "page[size]"),
        ("page[size]=0", "page[size]"),
        ("page[cursor]=zz", "page[cursor]"),
    ],
)
def test_bad_paging_parameters_are_400(url: str, query: str, parameter: str) -> None:
    job = ex.call(url, "POST", JOBS, ex.bulk_profiles([{"email": "a@example.com"}])).json()["data"]
    response = ex.call(url, "GET", f"{JOBS}/{job['id']}/import-errors?{query}")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["code"], error["source"]) == ("invalid", {"parameter": parameter})


def test_unknown_job_is_404(url: str) -> None:
    for path in (f"{JOBS}/nope", f"{JOBS}/nope/import-errors"):
        response = ex.call(url, "GET", path)
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not_found"
