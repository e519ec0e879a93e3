"""Whole syncs over HTTP against the Intercom stand-in: completeness, incremental runs, resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tap_intercom_events_testing import (
    EVENT_STREAMS,
    HISTORY_END,
    dataset,
    ledger_keys,
    make_config,
    mutate,
    run_tap_in_process,
    selected_catalog,
)

from api_sandbox.settings import FaultSettings
from api_sandbox.testing import control

RUN_1 = HISTORY_END + 3600  # 11:00 UTC, same day as the history's end
CHANGES_AT = HISTORY_END + 5400  # 11:30
RUN_2 = HISTORY_END + 7200  # 12:00
DEFAULT_LOOKBACK_SECONDS = 900  # lookback_window_seconds, as the README documents it
MELTANO_SELECTION = ("contacts", "conversation_events", "ticket_events")


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


def assert_events_match_ledger(
    events: list[dict[str, Any]], ledger: dict[str, dict[str, Any]]
) -> None:
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was emitted twice"
    assert set(ids) == set(ledger)
    for event in events:
        expected = ledger[event["event_id"]]
        assert event["metric"] == expected["metric"]
        assert event["occurred_at"] == iso(expected["time"])
        assert event["contact_id"] == expected["contact_id"]
        assert event["object_type"] == expected["object_type"]
        assert event["part_id"] == expected["part_id"]
        object_field = (
            "conversation_id" if expected["object_type"] == "conversation" else "ticket_id"
        )
        assert event[object_field] == expected["object_id"]


def test_full_sync_emits_exactly_the_ledger_and_complete_lookups(start_intercom: Any) -> None:
    url = start_intercom(seed=11, workspace_id="q7w3e9rt")
    result = run_tap_in_process(make_config(url), now=RUN_1)
    ledger = ledger_keys(url)
    assert len(ledger) > 50  # the data set is not trivially small
    assert_events_match_ledger(result.events(), ledger)
    # Every event names its workspace (GET /me app.id_code); its id does not.
    assert {e["workspace_id"] for e in result.events()} == {"q7w3e9rt"}
    assert not any("q7w3e9rt" in e["event_id"] for e in result.events())

    # Each event's contact columns are the contact's own (dataset = the stand-in's raw objects).
    contacts = {c["id"]: c for c in dataset(url, "contacts")}
    for event in result.events():
        contact = contacts.get(event["contact_id"])
        if contact is not None:
            assert event["contact_email"] == contact["email"]
            assert event["contact_phone"] == contact["phone"]
            assert event["contact_external_id"] == contact["external_id"]
            assert event["contact_role"] == contact["role"]

    # Every contact once, with all its tag names; every part once, with its parent's id.
    tag_names = {t["id"]: t["name"] for t in dataset(url, "tags")}
    emitted_contacts = result.records["contacts"]
    assert any(c["tags"]["has_more"] for c in contacts.values())  # the >10 tags path is exercised
    assert control(url, "stats")["requests"].get("GET /contacts/{id}/tags", 0) >= 1
    assert sorted(c["id"] for c in emitted_contacts) == sorted(contacts)
    for record in emitted_contacts:
        raw_tags = contacts[record["id"]]["tags"]
        assert raw_tags["total_count"] == len(record["tag_names"])
        if not raw_tags["has_more"]:
            assert record["tag_names"] == [tag_names[t["id"]] for t in raw_tags["data"]]
    conversations = dataset(url, "conversations")
    expected_parts = {
        (str(c["id"]), str(p["id"]))
        for c in conversations
        for p in c["conversation_parts"]["conversation_parts"]
    }
    parts = [(p["conversation_id"], p["id"]) for p in result.records["conversation_parts"]]
    assert Counter(parts) == Counter(expected_parts)
    assert {r["id"] for r in result.records["conversations"]} == {
        str(c["id"]) for c in conversations
    }
    tickets = dataset(url, "tickets")
    assert len(result.records["ticket_parts"]) == sum(
        len(t["ticket_parts"]["ticket_parts"]) for t in tickets
    )
    assert {r["id"] for r in result.records["admins"]} == {a["id"] for a in dataset(url, "admins")}


def test_meltano_selection_moves_bookmarks_and_a_rerun_emits_nothing(start_intercom: Any) -> None:
    url = start_intercom(seed=12)
    config = make_config(url)
    first = run_tap_in_process(config, streams=MELTANO_SELECTION, now=RUN_1)
    assert set(first.records) == set(MELTANO_SELECTION)
    assert first.event_ids() == set(ledger_keys(url))
    for stream in ("contacts", "conversations", "tickets"):
        assert first.state["bookmarks"][stream] == {
            "replication_key": "updated_at",
            "replication_key_value": RUN_1 - 1,
            "events_after": RUN_1 - 1,
        }
    again = run_tap_in_process(config, state=first.state, streams=MELTANO_SELECTION, now=RUN_1 + 60)
    assert again.records == {}


def test_incremental_run_yields_exactly_the_new_events(start_intercom: Any) -> None:
    url = start_intercom(seed=13)
    config = make_config(url)
    first = run_tap_in_process(config, streams=MELTANO_SELECTION, now=RUN_1)
    before = ledger_keys(url)
    conversations = dataset(url, "conversations")
    contact_started = [
        c for c in conversations if c["source"]["author"]["type"] in ("user", "lead")
    ]
    tickets = [t for t in dataset(url, "tickets") if t["contacts"]["contacts"]]
    waiting = next(t for t in tickets if t["ticket_state"]["category"] != "waiting_on_customer")
    contacts = dataset(url, "contacts")
    # A contact edited earlier on the bookmark's day must not come back; one edited after it must.
    same_day = [c for c in contacts if c["updated_at"] // 86_400 == HISTORY_END // 86_400]
    edited = contacts[0]["id"]
    results = mutate(
        url,
        {"action": "contact_reply", "conversation_id": contact_started[0]["id"], "at": CHANGES_AT},
        {"action": "admin_reply", "conversation_id": contact_started[1]["id"], "at": CHANGES_AT},
        {"action": "mark_read", "conversation_id": contact_started[1]["id"], "at": CHANGES_AT + 5},
        {
            "action": "rate",
            "conversation_id": contact_started[2]["id"],
            "rating": 2,
            "at": CHANGES_AT,
        },
        {"action": "new_conversation", "contact_id": contacts[1]["id"], "at": CHANGES_AT},
        {
            "action": "ticket_state",
            "ticket_id": waiting["id"],
            "state": "waiting_on_customer",
            "at": CHANGES_AT,
        },
        {"action": "ticket_reply", "ticket_id": tickets[1]["id"], "at": CHANGES_AT},
        {
            "action": "edit_contact",
            "contact_id": edited,
            "changes": {"name": "Zed Edited"},
            "at": CHANGES_AT,
        },
    )
    assert len(results) == 8
    new_keys = set(ledger_keys(url)) - set(before)
    assert len(new_keys) >= 5

    second = run_tap_in_process(config, state=first.state, streams=MELTANO_SELECTION, now=RUN_2)
    assert sorted(second.event_ids()) == sorted(new_keys)
    assert len(second.events()) == len(new_keys)
    changed_contacts = {c["id"] for c in dataset(url, "contacts") if c["updated_at"] > RUN_1 - 1}
    assert edited in changed_contacts
    emitted = [c["id"] for c in second.records["contacts"]]
    assert sorted(emitted) == sorted(changed_contacts)
    assert not {c["id"] for c in same_day} & (set(emitted) - changed_contacts)
    assert next(c for c in second.records["contacts"] if c["id"] == edited)["name"] == "Zed Edited"


def test_killed_run_resumes_without_losing_events(start_intercom: Any) -> None:
    url = start_intercom(seed=14, conversations=40)
    config = make_config(url, page_size=7)
    full = run_tap_in_process(config, streams=MELTANO_SELECTION, now=RUN_1)
    # Kill right after a mid-run checkpoint of conversations: keep what came before it.
    checkpoints = [
        i
        for i, m in enumerate(full.messages)
        if m["type"] == "STATE"
        and m["value"]["bookmarks"].get("conversations", {}).get("replication_key_value", RUN_1)
        < RUN_1 - 1
        and "replication_key_value" in m["value"]["bookmarks"].get("conversations", {})
    ]
    assert len(checkpoints) >= 3
    cut = checkpoints[len(checkpoints) // 2]
    state_at_kill = full.messages[cut]["value"]
    conversations_state = state_at_kill["bookmarks"]["conversations"]
    assert conversations_state["events_after"] < conversations_state["replication_key_value"]
    before_kill = [
        m["record"]["event_id"]
        for m in full.messages[:cut]
        if m["type"] == "RECORD" and m["stream"] in EVENT_STREAMS
    ]
    resumed = run_tap_in_process(config, state=state_at_kill, streams=MELTANO_SELECTION, now=RUN_1)
    assert set(before_kill) | resumed.event_ids() == set(ledger_keys(url))
    # At-least-once only at the seam: repeats are events of objects updated in the checkpoint's
    # second or in the lookback before it (re-read for late indexing, docs/interfaces.md section 4).
    seam = conversations_state["replication_key_value"] + 1
    lookback = DEFAULT_LOOKBACK_SECONDS
    at_seam = {
        str(c["id"])
        for c in dataset(url, "conversations")
        if seam - 1 - lookback < c["updated_at"] <= seam
    }
    for event_id in set(before_kill) & resumed.event_ids():
        assert event_id.split(":")[1] in at_seam


def test_cursor_loops_do_not_lose_or_repeat_anything(start_intercom: Any) -> None:
    url = start_intercom(seed=15, conversations=40)
    control(url, "quirks", {"cursor_repeat_rate": 0.4})
    result = run_tap_in_process(make_config(url, page_size=5), streams=MELTANO_SELECTION, now=RUN_1)
    assert_events_match_ledger(result.events(), ledger_keys(url))
    contact_ids = [c["id"] for c in result.records["contacts"]]
    assert sorted(contact_ids) == sorted(c["id"] for c in dataset(url, "contacts"))


def test_deleted_contact_and_conversation(start_intercom: Any) -> None:
    url = start_intercom(seed=16)
    conversations = dataset(url, "conversations")
    victim = next(c for c in conversations if c["source"]["author"]["type"] in ("user", "lead"))
    author = victim["source"]["author"]["id"]
    gone = conversations[-1]["id"]
    mutate(
        url,
        {"action": "delete_contact", "contact_id": author, "at": HISTORY_END},
        {"action": "delete_conversation", "conversation_id": gone, "at": HISTORY_END},
    )
    result = run_tap_in_process(make_config(url), streams=MELTANO_SELECTION, now=RUN_1)
    created = next(
        e for e in result.events() if e["event_id"] == f"conversation:{victim['id']}:created"
    )
    assert created["contact_id"] == author
    # The contact is gone (GET answers 404): what the conversation's author reference says is kept.
    assert control(url, "stats")["statuses"].get("404", 0) >= 1
    assert created["contact_email"] == victim["source"]["author"].get("email")
    assert created["contact_phone"] is None
    assert not [e for e in result.events() if e["conversation_id"] == str(gone)]


def test_sigkilled_cli_run_resumes_from_its_last_state(start_intercom: Any, tmp_path: Path) -> None:
    url = start_intercom(seed=17, conversations=40, faults=FaultSettings(latency_ms=15))
    config = tmp_path / "config.json"
    config.write_text(json.dumps(make_config(url, page_size=4, max_concurrency=2)))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(selected_catalog(MELTANO_SELECTION)))
    tap = subprocess.Popen(
        [sys.executable, "-m", "tap_intercom_events", "--config", str(config), "--catalog", str(catalog)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert tap.stdout is not None
    committed: list[str] = []  # events a target would have committed (followed by a STATE)
    pending: list[str] = []
    last_state: dict[str, Any] = {}
    for line in tap.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD" and message["stream"] in EVENT_STREAMS:
            pending.append(message["record"]["event_id"])
        elif message["type"] == "STATE":
            committed += pending
            pending = []
            last_state = message["value"]
            if last_state["bookmarks"].get("conversations", {}).get("replication_key_value"):
                tap.kill()  # mid-conversations: its first checkpoint is in
                break
    tap.wait(timeout=30)
    assert tap.returncode == -signal.SIGKILL
    resumed = run_tap_in_process(make_config(url), state=last_state, streams=MELTANO_SELECTION)
    assert set(committed) | resumed.event_ids() == set(ledger_keys(url))
