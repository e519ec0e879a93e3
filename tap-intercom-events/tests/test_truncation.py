"""Conversations past Intercom's 500-part cap: a warning, a summary count and a truncated_parts record, over HTTP."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from tap_intercom_events_testing import (
    HISTORY_END,
    dataset,
    ledger_keys,
    make_config,
    mutate,
    run_tap_in_process,
)

from api_sandbox.testing import control

RUN_1 = HISTORY_END + 3600
REPLIES_AT = HISTORY_END + 4000
RUN_2 = HISTORY_END + 7200
SELECTION = ("conversations", "conversation_events", "truncated_parts")


def contact_started(url: str) -> list[dict[str, Any]]:
    return [
        c
        for c in dataset(url, "conversations")
        if c["source"]["author"]["type"] in ("user", "lead") and c["contacts"]["contacts"]
    ]


def replies(keys: set[str], conversation_id: str) -> set[str]:
    return {k for k in keys if k.startswith(f"conversation:{conversation_id}:part:")}


def test_first_sync_of_a_700_part_conversation(
    start_intercom: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url = start_intercom(seed=51, conversations=10)
    # Unread: contact replies would erase a read's trace (tap README, "Known limits").
    big = next(c for c in contact_started(url) if not c["read"])["id"]
    (added,) = mutate(
        url,
        {"action": "bulk_parts", "conversation_id": big, "count": 700, "author": "contact",
         "at": HISTORY_END + 60},
    )  # fmt: skip
    total = added["ids"]["total_parts"] if "ids" in added else added["total_parts"]
    assert total >= 700
    with caplog.at_level(logging.INFO):
        result = run_tap_in_process(make_config(url), streams=SELECTION, now=RUN_1)

    ledger = {k for k in ledger_keys(url) if k.startswith("conversation:")}
    emitted = result.event_ids()
    missing = replies(ledger, big) - replies(emitted, big)
    assert len(missing) >= 200  # the oldest parts are out of reach: Intercom returns the newest 500
    assert emitted <= ledger and ledger - emitted == missing
    warnings = [
        r.getMessage() for r in caplog.records if f"conversation {big} has" in r.getMessage()
    ]
    assert warnings == [
        f"conversation {big} has {total} parts; Intercom returns the newest 500: "
        f"{total - 500} out of reach (events certainly missing since the bookmark)"
    ]
    assert any("truncated part lists: 1 (" in r.getMessage() for r in caplog.records)
    (record,) = result.records["truncated_parts"]
    assert record["object_type"] == "conversation"
    assert record["object_id"] == str(big)
    assert (record["parts_total"], record["parts_returned"]) == (total, 500)
    assert record["parts_out_of_reach"] == total - 500
    assert record["events_missing"] == "certain"  # created after the floor: so is every part


def test_700_new_replies_on_a_synced_conversation(start_intercom: Any) -> None:
    url = start_intercom(seed=52, conversations=10)
    first = run_tap_in_process(make_config(url), streams=SELECTION, now=RUN_1)
    assert "truncated_parts" not in first.records
    before = set(ledger_keys(url))
    big = contact_started(url)[1]
    old_parts = big["conversation_parts"]["total_count"]
    mutate(
        url,
        {"action": "bulk_parts", "conversation_id": big["id"], "count": 700, "author": "contact",
         "at": REPLIES_AT},
    )  # fmt: skip
    new = set(ledger_keys(url)) - before
    assert len(new) == 700

    second = run_tap_in_process(make_config(url), state=first.state, streams=SELECTION, now=RUN_2)
    assert second.event_ids() <= new
    assert len(new - second.event_ids()) == 200  # 700 new, the newest 500 returned
    (record,) = second.records["truncated_parts"]
    assert record["parts_out_of_reach"] == old_parts + 700 - 500
    # Some parts out of reach are older than the bookmark, some newer: the tap cannot tell which.
    assert record["events_missing"] == "possible"
    assert control(url, "stats")["requests"]["GET /conversations/{id}"] == 10 + 1
