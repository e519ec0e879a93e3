"""`meltano run` on a workspace that changes while the run reads it, whatever order search returns.

The Intercom stand-in fires scheduled mutations while it serves the run (POST /_sandbox/mutations/schedule), so
conversations and tickets move past the run's window end before or after the tap reaches them. Klaviyo must end up
with exactly the ledger's events: none missing, none sent twice.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from e2e_expected import epoch, identifiers, mismatches, split_ledger
from e2e_pipeline import Pipeline

REPORTED = "reported by the tap: data it could not read"  # target-klaviyo's dead-letter reason

# Runs meltano on this project through the `pipeline` fixture, which holds the project's lock
# (tests/conftest.py).


def stored(pipeline: Pipeline) -> list[dict[str, Any]]:
    return list(pipeline.klaviyo("events")["events"])


def arrivals(pipeline: Pipeline) -> int:
    return sum(m["arrivals"] for m in pipeline.klaviyo("report")["metrics"].values())


def live_changes(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Notes, admin and contact replies, ticket state changes and replies, new conversations,
    spread over old and recent conversations and tickets (so some move before the tap reaches them,
    some after).

    Replies go to unread conversations only: on a read conversation, a contact reply (read becomes
    false) or an admin reply (a new Read key) erases the trace of the earlier read before a sync
    can see it; REST shows only the current `read` (tap README, "Known limits"). Read
    conversations get notes, which must not lose or resend their Read event.
    """
    conversations = sorted(
        pipeline.intercom("dataset?kind=conversations")["data"], key=lambda c: c["updated_at"]
    )
    tickets = sorted(
        pipeline.intercom("dataset?kind=tickets")["data"], key=lambda t: t["updated_at"]
    )
    contacts = {c["id"]: c for c in pipeline.intercom("dataset?kind=contacts")["data"]}
    with_contact = [
        c
        for c in conversations
        if c["contacts"]["contacts"] and c["contacts"]["contacts"][0]["id"] in contacts
    ]
    open_tickets = [
        t
        for t in tickets
        if t["contacts"]["contacts"]
        and t["contacts"]["contacts"][0]["id"] in contacts
        and t["ticket_state"]["category"] != "resolved"
    ]
    people = [c for c in contacts.values() if identifiers(c)]
    changes: list[dict[str, Any]] = []
    read = [c for c in with_contact if c["read"]]
    unread = [c for c in with_contact if not c["read"]]
    for i in (0, 3, len(read) // 2, -3, -1):
        changes.append({"action": "note", "conversation_id": read[i]["id"]})
    for n, i in enumerate((0, 2, 5, len(unread) // 2, -6, -3, -1)):
        cid = unread[i]["id"]
        changes.append({"action": "note", "conversation_id": cid})
        changes.append({"action": ("contact_reply", "admin_reply")[n % 2], "conversation_id": cid})
    for i, ticket in enumerate(open_tickets[:2] + open_tickets[-2:]):
        state = ("waiting_on_customer", "resolved")[i % 2]
        changes.append({"action": "ticket_state", "ticket_id": ticket["id"], "state": state})
        changes.append({"action": "ticket_reply", "ticket_id": ticket["id"]})
    changes += [{"action": "new_conversation", "contact_id": p["id"]} for p in people[:3]]
    return changes


def expected_events(pipeline: Pipeline) -> tuple[dict[str, Any], set[str]]:
    ledger = pipeline.intercom("ledger")["events"]
    contacts = pipeline.intercom("dataset?kind=contacts")["data"]
    return split_ledger(ledger, contacts)


def differences(pipeline: Pipeline) -> list[str]:
    """mismatches(), except that a Read Conversation may be timed later than the read: REST has no
    read time, and the contract times it at `updated_at` as first seen read (a later note moves it)."""
    deliverable, _ = expected_events(pipeline)
    events = stored(pipeline)
    by_key = {e["unique_id"]: e for e in events}
    problems = []
    for problem in mismatches(deliverable, events):
        key = problem.rsplit(": time", 1)[0] if ": time " in problem else None
        read = key is not None and deliverable[key].metric == "Read Conversation"
        if read and epoch(by_key[str(key)]["time"]) >= deliverable[str(key)].time:
            continue
        problems.append(problem)
    return problems


def refused_as_stored(request: dict[str, Any]) -> bool:
    """A bulk request the stand-in refused (stored_duplicates `reject`) only for resent events."""
    return bool(request["errors"]) and all(
        str((e.get("source") or {}).get("pointer", "")).endswith("/attributes/unique_id")
        and "already recorded" in str(e.get("detail"))
        for e in request["errors"]
    )


def assert_exactly_once(pipeline: Pipeline, *, resends_refused: bool = False) -> dict[str, int]:
    deliverable, _ = expected_events(pipeline)
    assert differences(pipeline) == []
    report = pipeline.klaviyo("report")
    rejected = report["rejected_requests"]
    if resends_refused:
        rejected = [r for r in rejected if not refused_as_stored(r)]
    assert rejected == []
    duplicates = sum(m["duplicates"] for m in report["metrics"].values())
    figures = {
        "expected": len(deliverable),
        "delivered": len(stored(pipeline)),
        "arrivals": arrivals(pipeline),
        "duplicates": duplicates,
    }
    print(f"figures: {figures}")  # the note quotes them (pytest -s)
    return figures


def schedule_during_run(pipeline: Pipeline, changes: list[dict[str, Any]]) -> None:
    """One change every 3 API requests from the 5th on: all fire while run 1 reads Intercom
    (it makes about 130 requests; assert_all_fired checks)."""
    pipeline.intercom(
        "mutations/schedule",
        {"mutations": changes, "every_requests": 3, "after_requests": 5, "times": len(changes)},
    )


def assert_all_fired(pipeline: Pipeline, changes: list[dict[str, Any]]) -> None:
    schedule = pipeline.intercom("mutations/schedule")
    assert (schedule["pending"], schedule["failed"]) == (0, 0), schedule
    assert schedule["fired"] == len(changes)


def test_changes_during_a_run_reach_klaviyo_exactly_once(pipeline: Pipeline) -> None:
    changes = live_changes(pipeline)
    assert len(changes) >= 20
    schedule_during_run(pipeline, changes)

    pipeline.run_pipeline()
    assert_all_fired(pipeline, changes)
    pipeline.run_pipeline()

    figures = assert_exactly_once(pipeline)
    assert figures["duplicates"] == 0
    assert figures["arrivals"] == figures["delivered"]


def kill_target(run_pid: int) -> None:
    """SIGKILL target-klaviyo only (Meltano started it in the run's process group)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode().split("\0")
            pgid = os.getpgid(int(proc.name))
        except (OSError, ProcessLookupError):
            continue
        if pgid == run_pid and "target-klaviyo" in {Path(a).name for a in argv[:2]}:
            os.kill(int(proc.name), signal.SIGKILL)
            return
    raise AssertionError("no target-klaviyo process found in the run's process group")


@pytest.mark.parametrize("stored_duplicates", ["keep_first", "reject"])
def test_search_order_ignored_cursors_by_offset_and_a_killed_target(
    pipeline: Pipeline, stored_duplicates: str
) -> None:
    """`reject`: Klaviyo refuses resends of stored events (the stand-in's other reading): the
    rerun still succeeds with exactly the expected events and no dead letter."""
    pipeline.klaviyo("behaviour", {"stored_duplicates": stored_duplicates})
    pipeline.intercom(
        "quirks",
        {
            "ignore_sort": {"conversations": True, "tickets": True, "contacts": True},
            "cursor_mode": "offset",
        },
    )
    changes = live_changes(pipeline)
    schedule_during_run(pipeline, changes)
    # Slow Klaviyo and small requests, so the kill lands mid-delivery.
    pipeline.klaviyo("faults", {"latency_ms": 150})
    pipeline.env["TARGET_KLAVIYO_EVENTS_PER_REQUEST"] = "20"
    pipeline.env["TARGET_KLAVIYO_MAX_CONCURRENCY"] = "2"
    pipeline.env["TAP_INTERCOM_EVENTS_PAGE_SIZE"] = "20"  # many slices: the order matters on each

    run = pipeline.start_meltano("run", "tap-intercom-events", "target-klaviyo")
    deadline = time.monotonic() + 300
    while arrivals(pipeline) < 40:
        assert run.poll() is None, f"the run ended before the kill:\n{run.communicate()[0]}"
        assert time.monotonic() < deadline, "too few events reached Klaviyo within 300 s"
        time.sleep(0.1)
    kill_target(run.pid)
    output = run.communicate(timeout=120)[0]
    assert run.returncode != 0, output[-4000:]
    deliverable, _ = expected_events(pipeline)
    assert 0 < len(stored(pipeline)) < len(deliverable), "the kill should land mid-run"

    pipeline.klaviyo("faults", {"latency_ms": 0})
    # The killed run is still marked running in Meltano's database: --force.
    resumed = pipeline.meltano("run", "--force", "tap-intercom-events", "target-klaviyo")
    assert resumed.returncode == 0, resumed.stderr[-8000:]
    assert_all_fired(pipeline, changes)
    pipeline.run_pipeline()

    assert_exactly_once(pipeline, resends_refused=stored_duplicates == "reject")
    if stored_duplicates == "reject":
        assert "already in Klaviyo (resent events refused as repeats): " in resumed.stderr


def test_switching_api_versions_sends_no_new_event(pipeline: Pipeline) -> None:
    pipeline.env["TAP_INTERCOM_EVENTS_API_VERSION"] = "2.11"
    pipeline.run_pipeline()
    first = {e["unique_id"]: e["metric"] for e in stored(pipeline)}
    deliverable, _ = expected_events(pipeline)
    assert first == {key: event.metric for key, event in deliverable.items()}
    for version in ("2.14", "2.16"):
        pipeline.env["TAP_INTERCOM_EVENTS_API_VERSION"] = version
        result = pipeline.meltano("run", "--full-refresh", "tap-intercom-events", "target-klaviyo")
        assert result.returncode == 0, result.stderr[-8000:]
        assert {e["unique_id"]: e["metric"] for e in stored(pipeline)} == first, version
    # Every resync resent every event under the same id: Klaviyo kept each once.
    assert arrivals(pipeline) == 3 * len(first)


def dead_letters(pipeline: Pipeline) -> list[dict[str, Any]]:
    if not pipeline.dead_letter_path.exists():
        return []
    lines = pipeline.dead_letter_path.read_text().splitlines()
    return [json.loads(line) for line in lines if line]


def out_of_reach_replies(pipeline: Pipeline, conversation_id: str) -> set[str]:
    """Ledger keys of the contact replies among a conversation's parts older than its newest 500
    (the dataset has every part; the API returns the newest 500)."""
    conversation = next(
        c
        for c in pipeline.intercom("dataset?kind=conversations")["data"]
        if str(c["id"]) == conversation_id
    )
    parts = conversation["conversation_parts"]["conversation_parts"]
    hidden = {str(p["id"]) for p in parts[: max(0, len(parts) - 500)]}
    ledger = pipeline.intercom("ledger")["events"]
    return {
        e["key"] for e in ledger if e["object_id"] == conversation_id and e["part_id"] in hidden
    }


def test_conversations_past_500_parts_are_reported(pipeline: Pipeline) -> None:
    conversations = pipeline.intercom("dataset?kind=conversations")["data"]
    contacts = {c["id"]: c for c in pipeline.intercom("dataset?kind=contacts")["data"]}
    # Unread conversations whose contact Klaviyo can identify (contact replies erase a read's trace).
    targets = [
        str(c["id"])
        for c in conversations
        if not c["read"]
        and c["contacts"]["contacts"]
        and identifiers(contacts.get(c["contacts"]["contacts"][0]["id"]))
    ]
    first, second = targets[0], targets[-1]
    bulk = {"action": "bulk_parts", "count": 700, "author": "contact"}
    pipeline.intercom("mutations", {"mutations": [{**bulk, "conversation_id": first}]})
    hidden_first = out_of_reach_replies(pipeline, first)
    assert len(hidden_first) >= 200

    run = pipeline.run_pipeline()
    output = run.stdout + run.stderr
    assert f"conversation {first} has" in output and "out of reach" in output
    assert "truncated part lists: 1 (" in output
    (report,) = [d for d in dead_letters(pipeline) if d["stream"] == "truncated_parts"]
    assert report["record"]["object_id"] == first
    assert report["record"]["events_missing"] == "certain"

    time.sleep(1.1)  # the second batch of replies lands after run 1's window end
    pipeline.intercom("mutations", {"mutations": [{**bulk, "conversation_id": second}]})
    hidden_second = out_of_reach_replies(pipeline, second)
    run = pipeline.run_pipeline()
    reports = [d for d in dead_letters(pipeline) if d["stream"] == "truncated_parts"]
    # Run 2 reads the first again: it changed within the lookback (15 minutes) before run 1's end.
    assert [r["record"]["object_id"] for r in reports] == [first, first, second]
    assert "truncated part lists: 2 (" in run.stdout + run.stderr

    # Klaviyo has every event but the replies Intercom no longer returns: none of those, all others.
    deliverable, _ = expected_events(pipeline)
    stored_ids = {e["unique_id"] for e in stored(pipeline)}
    hidden = hidden_first | hidden_second
    assert stored_ids == set(deliverable) - hidden
    summary = run.stdout + run.stderr
    assert f"{REPORTED}: 2" in summary
