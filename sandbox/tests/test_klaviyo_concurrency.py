"""The stand-in under load: the event loop answers while bodies are stored and jobs import on the
worker thread; identity resolution batched per request stays what it was one profile at a time."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from api_sandbox.klaviyo import examples as ex
from api_sandbox.settings import KlaviyoSettings
from api_sandbox.testing import control

BULK = "/api/event-bulk-create-jobs"
JOBS = "/api/profile-bulk-import-jobs"


KLAVIYO_SETTINGS = KlaviyoSettings(rate_limit_scale=0, job_seconds=0)


def stored(url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return control(url, "profiles")["profiles"], control(url, "events")["events"]


def test_the_loop_answers_while_a_big_job_imports(url: str) -> None:
    total = 10_000
    body = ex.bulk_profiles(
        [{"email": f"u{i}@example.com", "properties": {"n": i}} for i in range(total)]
    )
    job = ex.call(url, "POST", JOBS, body).json()["data"]
    session = requests.Session()
    seen: list[tuple[str, int]] = []
    stats_answered_while_processing = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        attributes = ex.call(url, "GET", f"{JOBS}/{job['id']}", session=session).json()["data"][
            "attributes"
        ]
        seen.append((attributes["status"], attributes["completed_count"]))
        if attributes["status"] == "complete":
            break
        if attributes["status"] == "processing":
            session.get(f"{url}/_sandbox/stats", timeout=5).raise_for_status()
            stats_answered_while_processing = True
    assert seen[-1] == ("complete", total)
    # Answered between the import's slices: the job's progress was seen part way.
    assert any(status == "processing" and 0 < done < total for status, done in seen), seen
    assert stats_answered_while_processing
    assert control(url, "report")["profiles"] == total


def test_concurrent_resends_are_stored_once(url: str) -> None:
    entries = [
        ex.bulk_entry(
            {"email": f"user{p}@example.com"},
            [ex.event_attributes(unique_id=f"c:{p}:{e}") for e in range(5)],
        )
        for p in range(40)
    ]
    body = ex.bulk_events(entries)
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: ex.call(url, "POST", BULK, body).status_code, range(6)))
    assert statuses == [202] * 6
    report = control(url, "report")
    assert report["profiles"] == 40
    (metric,) = report["metrics"].values()
    assert (metric["events"], metric["arrivals"], metric["duplicates"]) == (200, 1200, 1000)


def test_profiles_a_request_creates_are_met_by_its_later_entries(url: str) -> None:
    body = ex.bulk_events(
        [
            ex.bulk_entry({"email": "ana@example.com"}, [ex.event_attributes(unique_id="a")]),
            ex.bulk_entry(
                {"email": "ana@example.com", "phone_number": "+14155550100"},
                [ex.event_attributes(unique_id="b")],
            ),
            ex.bulk_entry({"phone_number": "+14155550100"}, [ex.event_attributes(unique_id="c")]),
        ]
    )
    assert ex.call(url, "POST", BULK, body).status_code == 202
    profiles, events = stored(url)
    assert [(p["email"], p["phone_number"]) for p in profiles] == [
        ("ana@example.com", "+14155550100")
    ]
    assert [e["unique_id"] for e in events] == ["a", "b", "c"]
    assert {e["profile"]["id"] for e in events} == {profiles[0]["id"]}


def test_an_identifier_moved_earlier_in_a_request_no_longer_finds_its_old_profile(url: str) -> None:
    seed = ex.bulk_events(
        [
            ex.bulk_entry(
                {"email": "ana@example.com", "external_id": "crm-1"}, [ex.event_attributes()]
            )
        ]
    )
    assert ex.call(url, "POST", BULK, seed).status_code == 202
    body = ex.bulk_events(
        [
            ex.bulk_entry(
                {"email": "ana@example.com", "external_id": "crm-2"},
                [ex.event_attributes(unique_id="moved")],
            ),
            ex.bulk_entry({"external_id": "crm-1"}, [ex.event_attributes(unique_id="new")]),
        ]
    )
    assert ex.call(url, "POST", BULK, body).status_code == 202
    profiles, events = stored(url)
    assert [(p["email"], p["external_id"]) for p in profiles] == [
        ("ana@example.com", "crm-2"),
        (None, "crm-1"),
    ]
    by_unique_id = {e["unique_id"]: e["profile"]["external_id"] for e in events}
    assert by_unique_id == {"conversation:1:created": "crm-2", "moved": "crm-2", "new": "crm-1"}


def test_profiles_of_a_rolled_back_request_are_not_found_later(url: str) -> None:
    seed = ex.bulk_events(
        [
            ex.bulk_entry(
                {"email": "ana@example.com", "external_id": "crm-1"}, [ex.event_attributes()]
            )
        ]
    )
    assert ex.call(url, "POST", BULK, seed).status_code == 202
    # Entry 0 creates a profile; entries 1 and 2 repeat a unique_id for one existing profile
    # under two identifiers, which fails (and rolls back) the whole request.
    failing = ex.bulk_events(
        [
            ex.bulk_entry({"email": "new@example.com"}, [ex.event_attributes(unique_id="n")]),
            ex.bulk_entry({"email": "ana@example.com"}, [ex.event_attributes(unique_id="r")]),
            ex.bulk_entry({"external_id": "crm-1"}, [ex.event_attributes(unique_id="r")]),
        ]
    )
    assert ex.call(url, "POST", BULK, failing).status_code == 400
    assert [p["email"] for p in stored(url)[0]] == ["ana@example.com"]
    again = ex.bulk_events(
        [ex.bulk_entry({"email": "new@example.com"}, [ex.event_attributes(unique_id="n")])]
    )
    assert ex.call(url, "POST", BULK, again).status_code == 202
    profiles, events = stored(url)
    assert [p["email"] for p in profiles] == ["ana@example.com", "new@example.com"]
    assert [(e["unique_id"], e["profile"]["email"]) for e in events] == [
        ("conversation:1:created", "ana@example.com"),
        ("n", "new@example.com"),
    ]
