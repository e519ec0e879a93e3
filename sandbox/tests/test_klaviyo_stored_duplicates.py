"""Bulk events whose unique_id is already stored for their profile and metric (sent by an earlier
request), under both `stored_duplicates` readings: "keep_first" (accepted, the stored one kept) and
"reject" (400 naming every such event, nothing of the request stored)."""

from __future__ import annotations

from typing import Any

import pytest

from api_sandbox.klaviyo import examples as ex
from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import KlaviyoSettings
from api_sandbox.testing import SandboxProcess, control

BULK = "/api/event-bulk-create-jobs"
ENTRIES = "/data/attributes/events-bulk-create/data"
METRIC = "Replied to Conversation"


def entry(email: str, *unique_ids: str, metric: str = METRIC) -> dict[str, Any]:
    return ex.bulk_entry(
        {"email": email}, [ex.event_attributes(metric, unique_id=uid) for uid in unique_ids]
    )


def send(url: str, *entries: dict[str, Any]) -> Any:
    return ex.call(url, "POST", BULK, ex.bulk_events(list(entries)))


def kept(url: str) -> list[tuple[str, str]]:
    return [(e["unique_id"], e["profile"]["email"]) for e in control(url, "events")["events"]]


@pytest.fixture
def reject(url: str) -> str:
    control(url, "behaviour", {"stored_duplicates": "reject"})
    yield url
    control(url, "behaviour", {"stored_duplicates": "keep_first"})


def test_keep_first_accepts_a_resend_and_keeps_the_first(url: str) -> None:
    assert control(url, "behaviour")["stored_duplicates"] == "keep_first"
    assert send(url, entry("ana@example.com", "u-1", "u-2")).status_code == 202
    resent = send(url, entry("ana@example.com", "u-2", "u-3"))
    assert resent.status_code == 202
    assert kept(url) == [
        ("u-1", "ana@example.com"),
        ("u-2", "ana@example.com"),
        ("u-3", "ana@example.com"),
    ]
    assert control(url, "report")["metrics"][METRIC] == {
        "events": 3,
        "arrivals": 4,
        "duplicates": 1,
        "backfilled": 0,
    }


def test_reject_fails_a_request_with_stored_events_naming_each(reject: str) -> None:
    url = reject
    assert (
        send(
            url, entry("ana@example.com", "u-1", "u-2"), entry("bo@example.com", "u-1")
        ).status_code
        == 202
    )
    response = send(
        url,
        entry("cy@example.com", "u-1"),  # same unique_id, another profile: new
        entry("ana@example.com", "u-3", "u-2"),  # u-2 stored for Ana
        entry("bo@example.com", "u-1"),  # stored for Bo
    )
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert [(e["status"], e["code"], e["title"], e["source"]) for e in errors] == [
        (
            400,
            "invalid",
            "Invalid input.",
            {"pointer": f"{ENTRIES}/1/attributes/events/data/1/attributes/unique_id"},
        ),
        (
            400,
            "invalid",
            "Invalid input.",
            {"pointer": f"{ENTRIES}/2/attributes/events/data/0/attributes/unique_id"},
        ),
    ]
    assert errors[0]["detail"] == (
        f"unique_id 'u-2' was already recorded for the same profile and metric '{METRIC}'; "
        "no events of this request were processed."
    )
    # Nothing of the request is kept: not Cy's profile, not Ana's new event, no arrivals.
    assert kept(url) == [
        ("u-1", "ana@example.com"),
        ("u-2", "ana@example.com"),
        ("u-1", "bo@example.com"),
    ]
    report = control(url, "report")
    assert report["profiles"] == 2
    assert report["metrics"][METRIC]["arrivals"] == 3
    assert [
        (r["endpoint"], r["status"], len(r["errors"])) for r in report["rejected_requests"]
    ] == [("POST /api/event-bulk-create-jobs", 400, 2)]
    # Without the stored ones, the rest goes through.
    assert (
        send(url, entry("cy@example.com", "u-1"), entry("ana@example.com", "u-3")).status_code
        == 202
    )
    assert len(kept(url)) == 5


def test_reject_matches_the_resolved_profile_not_the_identifiers_sent(reject: str) -> None:
    url = reject
    first = ex.bulk_entry(
        {"email": "ana@example.com", "external_id": "crm-1"},
        [ex.event_attributes(METRIC, unique_id="u-1")],
    )
    assert send(url, first).status_code == 202
    by_external_id = ex.bulk_entry(
        {"external_id": "crm-1"}, [ex.event_attributes(METRIC, unique_id="u-1")]
    )
    response = send(url, by_external_id)
    assert response.status_code == 400
    assert [e["source"]["pointer"] for e in response.json()["errors"]] == [
        f"{ENTRIES}/0/attributes/events/data/0/attributes/unique_id"
    ]


def test_reject_leaves_other_metrics_and_events_without_unique_id_alone(reject: str) -> None:
    url = reject
    assert send(url, entry("ana@example.com", "u-1")).status_code == 202
    assert (
        send(url, entry("ana@example.com", "u-1", metric="Created Conversation")).status_code == 202
    )
    # No unique_id: deduplicated by time to the second, kept first (the bulk rule names unique_id).
    no_id = ex.bulk_entry(
        {"email": "ana@example.com"}, [ex.event_attributes(METRIC, unique_id=None)]
    )
    assert send(url, no_id).status_code == 202
    assert send(url, no_id).status_code == 202
    assert len(kept(url)) == 3


def test_reject_does_not_touch_single_event_create(reject: str) -> None:
    # POST /api/events documents keep-first: "only the first processed event will be recorded".
    url = reject
    body = ex.create_event({"email": "ana@example.com"}, unique_id="u-1")
    assert ex.call(url, "POST", "/api/events", body).status_code == 202
    assert ex.call(url, "POST", "/api/events", body).status_code == 202
    assert control(url, "report")["metrics"]["Created Conversation"]["duplicates"] == 1


def test_repeats_within_one_request_fail_under_both_readings(url: str) -> None:
    for reading in ("keep_first", "reject"):
        control(url, "behaviour", {"stored_duplicates": reading})
        response = send(url, entry("ana@example.com", "u-1", "u-1"))
        assert response.status_code == 400, reading
        assert [e["source"]["pointer"] for e in response.json()["errors"]] == [
            f"{ENTRIES}/0/attributes/events/data/1/attributes/unique_id"
        ]
    control(url, "behaviour", {"stored_duplicates": "keep_first"})
    assert kept(url) == []


def test_reject_over_a_thousand_events() -> None:
    with BackgroundSandbox(
        klaviyo=KlaviyoSettings(rate_limit_scale=0, stored_duplicates="reject")
    ) as sandbox:
        url = sandbox.urls["klaviyo"]
        entries = [
            entry(f"user{p}@example.com", *(f"u-{e}" for e in range(100))) for p in range(10)
        ]
        assert send(url, *entries).status_code == 202
        response = send(url, *entries)
        assert response.status_code == 400
        assert len(response.json()["errors"]) == 1000
        assert len(kept(url)) == 1000


def test_cli_flags_set_the_readings() -> None:
    with SandboxProcess(
        "--only",
        "klaviyo",
        "--klaviyo-stored-duplicates",
        "reject",
        "--klaviyo-identity-conflicts",
        "ignore",
        "--klaviyo-bulk-event-conflicts",
        "item",
    ) as process:
        assert control(process.urls["klaviyo"], "behaviour") == {
            "stored_duplicates": "reject",
            "identity_conflicts": "ignore",
            "bulk_event_conflicts": "item",
            "profile_lookups": "current",
            "unexplained_rejections": "off",
        }
