"""Auth, revision header, scopes, routes and content types of the Klaviyo stand-in, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from api_sandbox.klaviyo import examples as ex
from api_sandbox.settings import KlaviyoSettings
from api_sandbox.testing import control

SECRET = "pk_secret_never_echoed"


KLAVIYO_SETTINGS = KlaviyoSettings(api_key=SECRET, rate_limit_scale=0, job_seconds=0.05)


def post_event(url: str, **options: Any) -> requests.Response:
    options.setdefault("key", SECRET)
    return ex.call(url, "POST", "/api/events", ex.create_event(), **options)


def only_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["status"] == status
    return error


def test_missing_authorization_is_401_not_authenticated(url: str) -> None:
    error = only_error(post_event(url, key=None), 401)
    assert error["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "authorization",
    [f"Klaviyo-API-Key {SECRET}x", "Klaviyo-API-Key pk_other", f"Bearer {SECRET}", SECRET],
)
def test_wrong_key_or_scheme_is_401_authentication_failed(url: str, authorization: str) -> None:
    response = requests.post(
        f"{url}/api/events",
        json=ex.create_event(),
        headers={**ex.headers(key=None), "Authorization": authorization},
        timeout=10,
    )
    error = only_error(response, 401)
    assert error["code"] == "authentication_failed"
    assert SECRET not in response.text


def test_the_key_never_appears_in_errors_or_the_report(url: str) -> None:
    bad = ex.create_event({"email": "nope"})
    response = ex.call(url, "POST", "/api/events", bad, key=SECRET)
    assert response.status_code == 400
    assert SECRET not in response.text
    wrong = post_event(url, key=SECRET + "-typo")
    assert wrong.status_code == 401
    report = requests.get(f"{url}/_sandbox/report", timeout=10)
    assert SECRET not in report.text
    assert [(r["status"], r["errors"][0]["code"]) for r in report.json()["rejected_requests"]] == [
        (400, "invalid"),
        (401, "authentication_failed"),
    ]


def test_missing_revision_is_400(url: str) -> None:
    error = only_error(post_event(url, revision=None), 400)
    assert (error["code"], error["source"]) == ("invalid", {"parameter": "revision"})


@pytest.mark.parametrize(
    "revision",
    ["2026/10/15", "latest", "2026-10-15.beta", "2026-02-30", "2026-10-16", "2027-01-15"],
)
def test_malformed_or_unknown_revision_is_400(url: str, revision: str) -> None:
    error = only_error(post_event(url, revision=revision), 400)
    assert (error["code"], error["source"]) == ("invalid", {"parameter": "revision"})


@pytest.mark.parametrize("revision", ["2024-10-15", "2024-02-15", "2023-07-15"])
def test_retired_revision_is_410(url: str, revision: str) -> None:
    error = only_error(post_event(url, revision=revision), 410)
    assert error["source"] == {"parameter": "revision"}


@pytest.mark.parametrize(
    "revision",
    [
        "2025-01-15",
        "2025-04-15",
        "2025-07-15",
        "2025-10-15",
        "2026-01-15",
        "2026-04-15",
        "2026-07-15",
        "2026-10-15",
        "2026-10-15.pre",
        "2025-01-15.pre",
    ],
)
def test_supported_revisions_are_accepted(url: str, revision: str) -> None:
    assert post_event(url, revision=revision).status_code == 202


def test_key_limited_to_scopes_gets_403_outside_them(url: str) -> None:
    control(url, "keys", {"key": "pk_events_only", "scopes": ["events:write"]})
    assert post_event(url, key="pk_events_only").status_code == 202
    response = ex.call(
        url,
        "POST",
        "/api/profile-import",
        ex.profile_import({"email": "ana@example.com"}),
        key="pk_events_only",
    )
    error = only_error(response, 403)
    assert error["code"] == "permission_denied"
    assert "profiles:write" in error["detail"]


def test_write_scope_includes_read(url: str) -> None:
    control(url, "keys", {"key": "pk_profiles", "scopes": ["profiles:write", "lists:write"]})
    body = ex.bulk_profiles([{"email": "a@example.com"}])
    job = ex.call(url, "POST", "/api/profile-bulk-import-jobs", body, key="pk_profiles")
    assert job.status_code == 202
    job_id = job.json()["data"]["id"]
    read = ex.call(url, "GET", f"/api/profile-bulk-import-jobs/{job_id}", key="pk_profiles")
    assert read.status_code == 200


def test_read_only_key_cannot_write(url: str) -> None:
    control(url, "keys", {"key": "pk_read", "scopes": ["profiles:read", "lists:read"]})
    body = ex.bulk_profiles([{"email": "a@example.com"}])
    response = ex.call(url, "POST", "/api/profile-bulk-import-jobs", body, key="pk_read")
    assert only_error(response, 403)["code"] == "permission_denied"


def test_bad_key_definitions_are_rejected_by_the_control_endpoint(url: str) -> None:
    for payload in (
        {"key": "k", "scopes": ["everything"]},
        {"key": "", "scopes": []},
        {"key": "k"},
    ):
        response = requests.post(f"{url}/_sandbox/keys", json=payload, timeout=10)
        assert response.status_code == 400
        assert "error" in response.json()


def test_every_endpoint_works_with_and_without_trailing_slash(url: str) -> None:
    bulk_events = ex.bulk_events(
        [ex.bulk_entry({"email": "a@example.com"}, [ex.event_attributes()])]
    )
    for slash in ("", "/"):
        assert post_event(url, revision="2026-10-15").status_code == 202
        calls = [
            ("POST", "/api/events", ex.create_event(), 202),
            ("POST", "/api/event-bulk-create-jobs", bulk_events, 202),
            ("POST", "/api/profile-import", ex.profile_import({"email": "a@example.com"}), 200),
        ]
        for method, path, body, status in calls:
            response = ex.call(url, method, path + slash, body, key=SECRET)
            assert response.status_code == status, (path + slash, response.text)
        job = ex.call(
            url,
            "POST",
            "/api/profile-bulk-import-jobs" + slash,
            ex.bulk_profiles([{"email": "b@example.com"}]),
            key=SECRET,
        )
        assert job.status_code == 202
        job_path = f"/api/profile-bulk-import-jobs/{job.json()['data']['id']}"
        assert ex.call(url, "GET", job_path + slash, key=SECRET).status_code == 200
        errors = ex.call(url, "GET", f"{job_path}/import-errors{slash}", key=SECRET)
        assert errors.status_code == 200


def test_unknown_path_and_wrong_method_are_json_api_errors(url: str) -> None:
    missing = ex.call(url, "GET", "/api/nothing", key=SECRET)
    assert only_error(missing, 404)["code"] == "not_found"
    wrong = ex.call(url, "DELETE", "/api/events", key=SECRET)  # GET reads events, POST creates one
    assert only_error(wrong, 405)["code"] == "method_not_allowed"


def test_stats_count_requests_by_route_and_status(url: str) -> None:
    post_event(url)
    post_event(url, key=None)
    ex.call(url, "GET", "/api/profile-bulk-import-jobs/x/", key=SECRET)
    stats = control(url, "stats")
    assert stats == {
        "requests": {
            "POST /api/events": 2,
            "GET /api/profile-bulk-import-jobs/{job_id}": 1,
        },
        "statuses": {"202": 1, "401": 1, "404": 1},
    }
