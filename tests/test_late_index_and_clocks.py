"""Issue #18 through `meltano run` with default settings: Intercom's search lagging behind its writes,
and the tap's machine clock ahead of or behind Intercom's. Klaviyo must end up with every event of the
Intercom stand-in's ledger exactly once.

The stand-in plays both (sandbox/README.md): `search_lag_seconds` (search shows each object as it
was that long ago, new ones not at all; GET is current) and `clock_offset_seconds` (its `Date`
header and the times it stamps on changes run that far from this machine's clock).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from e2e_expected import identifiers, mismatches, split_ledger
from e2e_pipeline import Pipeline

# Runs meltano on this project through the `pipeline` fixture, which holds the project's lock
# (tests/conftest.py).

LAG = 60  # seconds, on every search kind


def expected(pipeline: Pipeline) -> dict[str, Any]:
    ledger = pipeline.intercom("ledger")["events"]
    deliverable, _ = split_ledger(ledger, pipeline.intercom("dataset?kind=contacts")["data"])
    return deliverable


def stored(pipeline: Pipeline) -> list[dict[str, Any]]:
    return list(pipeline.klaviyo("events")["events"])


def changes_of_every_kind(pipeline: Pipeline) -> list[dict[str, Any]]:
    """One change for each metric of the contract, on objects whose contact Klaviyo can identify,
    plus a contact edit (a profile)."""
    contacts = {c["id"]: c for c in pipeline.intercom("dataset?kind=contacts")["data"]}
    people = [c["id"] for c in contacts.values() if identifiers(c) and c["email"]]

    def deliverable(obj: dict[str, Any]) -> bool:
        first = obj["contacts"]["contacts"]
        return bool(first) and first[0]["id"] in people

    conversations = [
        c for c in pipeline.intercom("dataset?kind=conversations")["data"] if deliverable(c)
    ]
    unread = [c for c in conversations if not c["read"]]
    tickets = [
        t
        for t in pipeline.intercom("dataset?kind=tickets")["data"]
        if deliverable(t)
        and t["ticket_state"]["category"] not in ("resolved", "waiting_on_customer")
    ]
    return [
        {"action": "contact_reply", "conversation_id": unread[0]["id"]},
        {"action": "admin_reply", "conversation_id": unread[1]["id"]},
        {"action": "mark_read", "conversation_id": unread[1]["id"]},
        {"action": "rate", "conversation_id": conversations[2]["id"], "rating": 4},
        {"action": "new_conversation", "contact_id": people[0]},
        {"action": "new_ticket", "contact_id": people[1], "state": "submitted"},
        {"action": "ticket_reply", "ticket_id": tickets[0]["id"]},
        {"action": "ticket_state", "ticket_id": tickets[0]["id"], "state": "waiting_on_customer"},
        {"action": "ticket_state", "ticket_id": tickets[1]["id"], "state": "resolved"},
        {"action": "edit_contact", "contact_id": people[2], "changes": {"name": "Late Indexed"}},
    ]


def assert_every_event_once(pipeline: Pipeline) -> None:
    assert mismatches(expected(pipeline), stored(pipeline)) == []
    assert pipeline.klaviyo("report")["rejected_requests"] == []


def test_a_lagging_search_loses_no_event_with_default_settings(pipeline: Pipeline) -> None:
    pipeline.intercom(
        "quirks",
        {"search_lag_seconds": {"conversations": LAG, "tickets": LAG, "contacts": LAG}},
    )
    pipeline.run_pipeline()
    assert_every_event_once(pipeline)

    changes = changes_of_every_kind(pipeline)
    results = pipeline.intercom("mutations", {"mutations": changes})["results"]
    new_keys = {entry["key"] for result in results for entry in result["ledger"]}
    metrics = {entry["metric"] for result in results for entry in result["ledger"]}
    assert len(metrics) == 9, metrics  # every metric of the contract

    pipeline.run_pipeline()  # at once: search still shows none of the changes
    missing = set(expected(pipeline)) - {e["unique_id"] for e in stored(pipeline)}
    assert missing <= new_keys

    # Intercom's time passes beyond the lag: the stand-in's clock moves LAG + 1 s ahead (so the
    # tap's machine is then that far behind Intercom, which only the next test's reading adds).
    pipeline.intercom("quirks", {"clock_offset_seconds": LAG + 1})
    log = pipeline.run_pipeline().stderr
    # The late changes come from the lookback: the tap counts them, the target counts them as
    # resent (possibly already in Klaviyo), not as events sent.
    assert re.search(r"events from the lookback \([^)]*\): [1-9]", log), log[-3000:]
    assert re.search(r"events resent from the tap's lookback \([^)]*\): [1-9]", log), log[-3000:]

    assert_every_event_once(pipeline)
    edited = changes[-1]["contact_id"]
    (profile,) = [
        p
        for p in pipeline.klaviyo("profiles")["profiles"]
        if p["properties"].get("Intercom Contact ID") == edited
    ]
    assert (profile["first_name"], profile["last_name"]) == ("Late", "Indexed")


@pytest.mark.parametrize("tap_ahead_seconds", [120, -120])
def test_a_skewed_machine_clock_loses_no_event_with_default_settings(
    pipeline: Pipeline, tap_ahead_seconds: int
) -> None:
    """Changes land while run 1 reads; the tap's machine runs `tap_ahead_seconds` ahead of
    Intercom (negative: behind). After run 2 every event is in Klaviyo once."""
    pipeline.intercom("quirks", {"clock_offset_seconds": -tap_ahead_seconds})
    pipeline.intercom("reset", {"now": None})  # the history ends at Intercom's now
    changes = changes_of_every_kind(pipeline)
    pipeline.intercom(
        "mutations/schedule",
        {"mutations": changes, "every_requests": 2, "after_requests": 3, "times": len(changes)},
    )

    pipeline.run_pipeline()
    schedule = pipeline.intercom("mutations/schedule")
    assert (schedule["pending"], schedule["failed"]) == (0, 0), schedule
    pipeline.run_pipeline()

    assert_every_event_once(pipeline)
