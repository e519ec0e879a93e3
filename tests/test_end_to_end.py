"""`meltano run tap-intercom-events target-klaviyo` against the stand-ins: what lands in Klaviyo, run after run."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from typing import Any

import pytest
from e2e_expected import identifiers, mismatches, split_ledger
from e2e_pipeline import INTERCOM_TOKEN, KLAVIYO_KEY, Pipeline

# Every test here runs meltano on this repository's project through the `pipeline` fixture, which holds
# the project's lock (tests/conftest.py): two meltano commands at once would overwrite each other's catalog.


def expected_contents(pipeline: Pipeline) -> tuple[dict[str, Any], set[str], list[dict[str, Any]]]:
    ledger = pipeline.intercom("ledger")["events"]
    contacts = pipeline.intercom("dataset?kind=contacts")["data"]
    deliverable, undeliverable = split_ledger(ledger, contacts)
    return deliverable, undeliverable, contacts


def klaviyo_events(pipeline: Pipeline) -> list[dict[str, Any]]:
    return list(pipeline.klaviyo("events")["events"])


def arrivals(pipeline: Pipeline) -> int:
    report = pipeline.klaviyo("report")
    return sum(metric["arrivals"] for metric in report["metrics"].values())


def dead_letters(pipeline: Pipeline) -> list[dict[str, Any]]:
    if not pipeline.dead_letter_path.exists():
        return []
    return [json.loads(line) for line in pipeline.dead_letter_path.read_text().splitlines() if line]


def test_full_run_delivers_exactly_the_contract_events_and_profiles(pipeline: Pipeline) -> None:
    deliverable, undeliverable, contacts = expected_contents(pipeline)
    assert deliverable and undeliverable, "the seeded data set should have both kinds of events"

    pipeline.run_pipeline()

    assert mismatches(deliverable, klaviyo_events(pipeline)) == []
    report = pipeline.klaviyo("report")
    assert all(metric["duplicates"] == 0 for metric in report["metrics"].values()), report[
        "metrics"
    ]
    assert report["rejected_requests"] == []

    letters = dead_letters(pipeline)
    dead_event_ids = {
        letter["record"]["event_id"] for letter in letters if letter["stream"].endswith("_events")
    }
    assert dead_event_ids == undeliverable

    # Every contact with an identifier resolves to a profile. Contacts sharing an identifier (a family phone)
    # are one person to Klaviyo's identity resolution; the others carry their own Intercom id.
    profiles = pipeline.klaviyo("profiles")["profiles"]
    profile_by = {
        (field, p[field]): p
        for p in profiles
        for field in ("email", "phone_number", "external_id")
        if p[field]
    }
    shared = Counter(value for contact in contacts for _, value in identifiers(contact))
    for contact in contacts:
        ids = identifiers(contact)
        if ids:
            profile = profile_by[ids[0]]
            if all(shared[value] == 1 for _, value in ids):
                assert profile["properties"]["Intercom Contact ID"] == contact["id"]
                assert profile["properties"]["Intercom Contact Role"] == contact["role"]
    dead_contacts = {letter["record"]["id"] for letter in letters if letter["stream"] == "contacts"}
    assert dead_contacts == {c["id"] for c in contacts if not identifiers(c)}


def pick_changes(pipeline: Pipeline, deliverable_contacts: set[str]) -> list[dict[str, Any]]:
    """A new contact reply, a read, a ticket resolved, a new conversation, and a contact edit."""
    conversations = pipeline.intercom("dataset?kind=conversations")["data"]
    tickets = pipeline.intercom("dataset?kind=tickets")["data"]
    contacts = pipeline.intercom("dataset?kind=contacts")["data"]
    replied = next(
        c
        for c in conversations
        if c["source"]["author"]["type"] in {"user", "lead"}
        and c["source"]["author"]["id"] in deliverable_contacts
        and c["contacts"]["contacts"][0]["id"] in deliverable_contacts
    )
    open_ticket = next(
        t
        for t in tickets
        if t["contacts"]["contacts"]
        and t["contacts"]["contacts"][0]["id"] in deliverable_contacts
        and t["ticket_state"]["category"] != "resolved"
    )
    author = next(c for c in contacts if c["id"] in deliverable_contacts and c["email"])
    return [
        {"action": "contact_reply", "conversation_id": replied["id"]},
        # A Read Conversation is one per (conversation, last admin reply): a new admin reply, then a read.
        {"action": "admin_reply", "conversation_id": replied["id"]},
        {"action": "mark_read", "conversation_id": replied["id"]},
        {"action": "ticket_state", "ticket_id": open_ticket["id"], "state": "resolved"},
        {"action": "new_conversation", "contact_id": author["id"]},
        # Edited now: after the contact bookmark and on its calendar day, which Intercom's day-granular
        # contact search (`updated_at > bookmark` starts at the next day) would miss.
        {
            "action": "edit_contact",
            "contact_id": author["id"],
            "changes": {"name": "Renamed Person"},
        },
    ]


def test_second_run_after_changes_moves_only_the_delta(pipeline: Pipeline) -> None:
    deliverable, _, contacts = expected_contents(pipeline)
    pipeline.run_pipeline()
    before = arrivals(pipeline)

    deliverable_contacts = {c["id"] for c in contacts if identifiers(c)}
    changes = pick_changes(pipeline, deliverable_contacts)
    results = pipeline.intercom("mutations", {"mutations": changes})
    new_keys = {entry["key"] for result in results["results"] for entry in result["ledger"]}
    assert len(new_keys) >= 4  # reply, read, resolved, created (+ the new conversation's own parts)

    pipeline.run_pipeline()

    deliverable_after, _, _ = expected_contents(pipeline)
    assert set(deliverable_after) == set(deliverable) | new_keys
    assert mismatches(deliverable_after, klaviyo_events(pipeline)) == []
    # Only the new events were sent again: no old event was resent.
    assert arrivals(pipeline) - before == len(new_keys)

    edited_id = changes[5]["contact_id"]
    profiles = pipeline.klaviyo("profiles")["profiles"]
    (edited,) = [p for p in profiles if p["properties"].get("Intercom Contact ID") == edited_id]
    assert (edited["first_name"], edited["last_name"]) == ("Renamed", "Person")


@pytest.mark.parametrize("stored_duplicates", ["keep_first", "reject"])
def test_a_killed_run_rerun_gives_exactly_the_expected_contents(
    pipeline: Pipeline, stored_duplicates: str
) -> None:
    """Also when Klaviyo refuses resends of stored events (`reject`, the stand-in's other reading
    of the bulk-create doc): the rerun's resends count as already in Klaviyo, none is a dead
    letter and the run succeeds."""
    pipeline.klaviyo("behaviour", {"stored_duplicates": stored_duplicates})
    deliverable, _, _ = expected_contents(pipeline)
    # Slow Klaviyo down and send small requests, so the kill lands mid-delivery.
    pipeline.klaviyo("faults", {"latency_ms": 150})
    pipeline.env["TARGET_KLAVIYO_EVENTS_PER_REQUEST"] = "20"
    pipeline.env["TARGET_KLAVIYO_MAX_CONCURRENCY"] = "2"

    run = pipeline.start_meltano("run", "tap-intercom-events", "target-klaviyo")
    deadline = time.monotonic() + 300
    while arrivals(pipeline) == 0:
        assert run.poll() is None, (
            f"the run ended before any event arrived:\n{run.communicate()[0]}"
        )
        assert time.monotonic() < deadline, "no event arrived in Klaviyo within 300 s"
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    delivered_before_kill = {event["unique_id"] for event in klaviyo_events(pipeline)}
    assert 0 < len(delivered_before_kill) < len(deliverable), "the kill should land mid-run"

    pipeline.klaviyo("faults", {"latency_ms": 0})
    # The killed run is still marked running in Meltano's database for a few minutes: --force.
    result = pipeline.meltano("run", "--force", "tap-intercom-events", "target-klaviyo")
    assert result.returncode == 0, result.stderr[-8000:]

    assert mismatches(deliverable, klaviyo_events(pipeline)) == []
    if stored_duplicates == "reject":
        assert "already in Klaviyo (resent events refused as repeats): " in result.stderr
        letters = pipeline.dead_letter_path
        assert not letters.exists() or all(
            json.loads(line)["reason"] != "rejected by Klaviyo"
            for line in letters.read_text().splitlines()
        )


def test_meltano_invoke_about_and_discover(pipeline: Pipeline) -> None:
    about = pipeline.meltano("invoke", "tap-intercom-events", "--about", "--format", "json")
    assert about.returncode == 0, about.stderr[-4000:]
    assert "access_token" in json.loads(about.stdout)["settings"]["properties"]

    discover = pipeline.meltano("invoke", "tap-intercom-events", "--discover")
    assert discover.returncode == 0, discover.stderr[-4000:]
    streams = {entry["tap_stream_id"] for entry in json.loads(discover.stdout)["streams"]}
    assert {
        "contacts",
        "conversations",
        "conversation_events",
        "tickets",
        "ticket_events",
    } <= streams


def test_a_wrong_token_fails_with_one_clear_line(pipeline: Pipeline) -> None:
    wrong_token = "wrong-token-31337"
    pipeline.env["TAP_INTERCOM_EVENTS_ACCESS_TOKEN"] = wrong_token

    tap = pipeline.meltano("invoke", "tap-intercom-events")
    assert tap.returncode != 0
    # "(401 " and not "401": a log timestamp can hold the digits 401.
    error_lines = [line for line in tap.stderr.splitlines() if "(401 " in line]
    assert len(error_lines) == 1, tap.stderr[-4000:]
    assert "access_token" in error_lines[0] or "ACCESS_TOKEN" in error_lines[0]
    assert "Traceback" not in tap.stderr

    run = pipeline.meltano("run", "tap-intercom-events", "target-klaviyo")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "401" in output
    for secret in (wrong_token, INTERCOM_TOKEN, KLAVIYO_KEY):
        assert secret not in output
    assert arrivals(pipeline) == 0


def test_padded_secrets_work_and_appear_nowhere_at_debug(pipeline: Pipeline) -> None:
    """Both secrets pasted from files (a trailing newline, a CRLF) at DEBUG, through Meltano: the run
    works, and neither secret is in anything the run writes: output, logs, dead letters, state."""
    pipeline.env["TAP_INTERCOM_EVENTS_ACCESS_TOKEN"] = INTERCOM_TOKEN + "\n"
    pipeline.env["TARGET_KLAVIYO_API_KEY"] = KLAVIYO_KEY + "\r\n"
    pipeline.env["TAP_INTERCOM_EVENTS_LOGLEVEL"] = "DEBUG"
    pipeline.env["TARGET_KLAVIYO_LOGLEVEL"] = "DEBUG"
    run = pipeline.meltano("--log-level=debug", "run", "tap-intercom-events", "target-klaviyo")
    assert run.returncode == 0, run.stderr[-4000:]
    assert "[debug" in run.stdout + run.stderr  # Meltano's and the plugins' debug lines
    assert arrivals(pipeline) > 0
    state = pipeline.meltano("state", "get", "sandbox:tap-intercom-events-to-target-klaviyo")
    assert state.returncode == 0 and "bookmarks" in state.stdout
    written = [run.stdout, run.stderr, state.stdout]
    written += [p.read_text(errors="replace") for p in pipeline.workdir.rglob("*") if p.is_file()
                and p.suffix in (".jsonl", ".json", ".log", ".txt")]  # fmt: skip
    for secret in (INTERCOM_TOKEN, KLAVIYO_KEY):
        assert not [text for text in written if secret in text], secret
