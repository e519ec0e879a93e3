"""The Klaviyo stand-in's report and listings over HTTP, and `api-sandbox report --klaviyo-url` output."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api_sandbox.klaviyo import examples as ex
from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import KlaviyoSettings
from api_sandbox.testing import control


@pytest.fixture(scope="module")
def sandbox() -> Iterator[BackgroundSandbox]:
    with BackgroundSandbox(klaviyo=KlaviyoSettings(rate_limit_scale=0)) as running:
        yield running


@pytest.fixture
def url(sandbox: BackgroundSandbox) -> str:
    base = sandbox.urls["klaviyo"]
    control(base, "reset", {})
    return base


def send_scenario(url: str) -> None:
    """2 Created Conversation kept (+1 duplicate), 1 backfilled Resolved Ticket, 1 rejected bulk."""
    created = [
        ex.create_event({"email": "ana@example.com"}, unique_id="c-1"),
        ex.create_event({"email": "ana@example.com"}, unique_id="c-1"),
        ex.create_event({"external_id": "crm-2"}, unique_id="c-2"),
    ]
    for body in created:
        assert ex.call(url, "POST", "/api/events", body).status_code == 202
    backfilled = ex.bulk_events(
        [ex.bulk_entry({"email": "ana@example.com"}, [ex.event_attributes("Resolved Ticket")])]
    )
    backfilled["data"]["attributes"]["events-bulk-create"]["data"][0]["attributes"]["backfill"] = (
        True
    )
    assert ex.call(url, "POST", "/api/event-bulk-create-jobs", backfilled).status_code == 202
    bad = ex.bulk_events(
        [ex.bulk_entry({"email": "bo@"}, [ex.event_attributes("Resolved Ticket")])]
    )
    assert ex.call(url, "POST", "/api/event-bulk-create-jobs", bad).status_code == 400


def without_ids(rejected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **request,
            "errors": [{k: v for k, v in e.items() if k != "id"} for e in request["errors"]],
        }
        for request in rejected
    ]


def test_report_counts_metrics_profiles_duplicates_and_rejections(url: str) -> None:
    send_scenario(url)
    report = control(url, "report")
    assert report["metrics"] == {
        "Created Conversation": {"events": 2, "arrivals": 3, "duplicates": 1, "backfilled": 0},
        "Resolved Ticket": {"events": 1, "arrivals": 1, "duplicates": 0, "backfilled": 1},
    }
    assert report["profiles"] == 2
    assert without_ids(report["rejected_requests"]) == [
        {
            "endpoint": "POST /api/event-bulk-create-jobs",
            "status": 400,
            "errors": [
                {
                    "status": 400,
                    "code": "invalid",
                    "title": "Invalid input.",
                    "detail": "Invalid email address 'bo@'.",
                    "source": {
                        "pointer": "/data/attributes/events-bulk-create/data/0/attributes/profile/data/attributes/email"
                    },
                    "links": {},
                    "meta": {},
                }
            ],
        }
    ]
    assert report["requests"] == {"POST /api/events": 3, "POST /api/event-bulk-create-jobs": 2}
    assert report["throttled"] == 0


def test_events_listing_filters_by_metric(url: str) -> None:
    send_scenario(url)
    [resolved] = control(url, "events?metric=Resolved Ticket")["events"]
    assert resolved["metric"] == "Resolved Ticket"
    assert resolved["backfill"] is True
    assert resolved["profile"]["email"] == "ana@example.com"
    assert set(resolved) == {
        "metric",
        "unique_id",
        "time",
        "properties",
        "value",
        "value_currency",
        "backfill",
        "profile",
    }
    assert len(control(url, "events")["events"]) == 3


def test_profiles_listing_has_the_interface_fields(url: str) -> None:
    send_scenario(url)
    profiles = control(url, "profiles")["profiles"]
    assert [(p["email"], p["external_id"]) for p in profiles] == [
        ("ana@example.com", None),
        (None, "crm-2"),
    ]
    expected = {"id", "email", "phone_number", "external_id", "first_name", "last_name"}
    assert expected | {"image", "location", "properties"} <= set(profiles[0])


def test_reset_empties_the_store(url: str) -> None:
    send_scenario(url)
    control(url, "reset", {})
    assert control(url, "report") == {
        "metrics": {},
        "profiles": 0,
        "rejected_requests": [],
        "requests": {},
        "throttled": 0,
        "skipped_for_identity_conflicts": {},
        "profile_writes": {"created": 0, "updated": 0},
    }


def test_profile_writes_count_accepted_records_not_profiles(url: str) -> None:
    """Two records of one person are one profile: the report counts both writes, as a sender
    counts the records Klaviyo accepted; events' own profiles are no profile writes."""
    ana = {"email": "ana@example.com"}
    for attributes in (ana, {**ana, "first_name": "Ana"}):
        response = ex.call(url, "POST", "/api/profile-import", ex.profile_import(attributes))
        assert response.status_code in (200, 201)
    body = ex.bulk_profiles([{"email": "bo@example.com"}, {"email": "bo@example.com"}, ana])
    job = ex.call(url, "POST", "/api/profile-bulk-import-jobs", body).json()["data"]["id"]
    deadline = time.monotonic() + 30
    while control(url, "report")["profile_writes"]["created"] < 2:
        assert time.monotonic() < deadline, f"job {job} did not complete"
        time.sleep(0.05)
    assert ex.call(url, "POST", "/api/events", ex.create_event({"email": "cy@example.com"}))
    report = control(url, "report")
    assert report["profile_writes"] == {"created": 2, "updated": 3}
    assert report["profiles"] == 3


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api_sandbox.cli", "report", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_prints_a_readable_report(url: str) -> None:
    send_scenario(url)
    result = run_cli("--klaviyo-url", url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Metrics (events kept / arrivals / duplicates / backfilled)" in lines
    assert any(line.split() == ["Created", "Conversation", "2", "3", "1", "0"] for line in lines)
    assert any(line.split() == ["Resolved", "Ticket", "1", "1", "0", "1"] for line in lines)
    assert "  total: 3 events kept, 1 duplicates received" in lines
    assert "Profiles: 2" in lines
    assert any("email=ana@example.com" in line for line in lines)
    assert "Rejected requests: 1" in lines
    assert "  POST /api/event-bulk-create-jobs -> 400 (1 error(s))" in lines
    assert any(line.strip().startswith("invalid: Invalid email address 'bo@'.") for line in lines)
    assert "Throttled (429): 0" in lines
    assert "  POST /api/events: 3" in lines


def test_cli_json_is_the_http_report(url: str) -> None:
    send_scenario(url)
    result = run_cli("--klaviyo-url", url, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == control(url, "report")


def test_cli_fails_clearly_when_the_stand_in_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli("--klaviyo-url", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: cannot read the Klaviyo stand-in's report at http://127.0.0.1:{port}"
    )


def test_accepted_data_is_kept_in_the_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "klaviyo.sqlite"
    settings = KlaviyoSettings(rate_limit_scale=0, db_path=str(db))
    with BackgroundSandbox(klaviyo=settings) as sandbox:
        send_scenario(sandbox.urls["klaviyo"])
    with sqlite3.connect(db) as kept:
        rows = kept.execute("SELECT metric, unique_id FROM events ORDER BY seq").fetchall()
        emails = kept.execute("SELECT email FROM profiles ORDER BY seq").fetchall()
    assert rows == [
        ("Created Conversation", "c-1"),
        ("Created Conversation", "c-2"),
        ("Resolved Ticket", "conversation:1:created"),
    ]
    assert emails == [("ana@example.com",), (None,)]
