"""Replay (issue #20 point 1), over HTTP: the events of a window, with the ids incremental runs gave
them, and no state read or written."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError
from tap_intercom_events_testing import (
    HISTORY_END,
    SyncResult,
    ledger_keys,
    make_config,
    mutate,
    run_tap_in_process,
)

from api_sandbox.testing import dataset
from tap_intercom_events.tap import TapIntercomEvents

MELTANO_SELECTION = ("contacts", "conversation_events", "ticket_events")
DAY = 86_400
RUN_1 = HISTORY_END + 3600
CHANGES_AT = HISTORY_END + 5400
RUN_2 = HISTORY_END + 7200
REPLAY_DAYS = 6


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def by_id(*runs: SyncResult) -> dict[str, dict[str, Any]]:
    """Event records by event_id, as first emitted."""
    records: dict[str, dict[str, Any]] = {}
    for run in runs:
        for record in run.events():
            records.setdefault(record["event_id"], record)
    return records


def changes(url: str) -> list[dict[str, Any]]:
    conversations = [c for c in dataset(url, "conversations") if c["contacts"]["contacts"]]
    tickets = [t for t in dataset(url, "tickets") if t["contacts"]["contacts"]]
    return [
        {"action": "contact_reply", "conversation_id": conversations[0]["id"], "at": CHANGES_AT},
        {
            "action": "rate",
            "conversation_id": conversations[1]["id"],
            "rating": 5,
            "at": CHANGES_AT,
        },
        {"action": "ticket_reply", "ticket_id": tickets[0]["id"], "at": CHANGES_AT},
        {
            "action": "new_conversation",
            "contact_id": conversations[2]["contacts"]["contacts"][0]["id"],
            "at": CHANGES_AT,
        },
    ]


def test_a_replay_emits_the_window_with_incremental_ids_and_no_state(start_intercom: Any) -> None:
    url = start_intercom(seed=71, contacts=20, conversations=40, tickets=15)
    first = run_tap_in_process(make_config(url), streams=MELTANO_SELECTION, now=RUN_1)
    mutate(url, *changes(url))
    second = run_tap_in_process(
        make_config(url), state=first.state, streams=MELTANO_SELECTION, now=RUN_2
    )
    incremental = by_id(first, second)
    assert set(incremental) == set(ledger_keys(url))  # the incremental runs emitted everything

    start = RUN_2 - REPLAY_DAYS * DAY  # the last REPLAY_DAYS days before RUN_2
    expected = {
        event_id
        for event_id, record in incremental.items()
        if start <= epoch(record["occurred_at"]) <= RUN_2 - 1
    }
    assert 0 < len(expected) < len(incremental)
    replays = {
        "replay_days": run_tap_in_process(
            make_config(url, replay_days=REPLAY_DAYS), streams=MELTANO_SELECTION, now=RUN_2
        ),
        # Explicit bounds; the hourly job's state handed in is ignored.
        "replay_start": run_tap_in_process(
            make_config(url, replay_start=str(start), replay_end="2100-01-01"),
            state=second.state,
            streams=MELTANO_SELECTION,
            now=RUN_2,
        ),
    }
    for name, replay in replays.items():
        assert replay.event_ids() == expected, name
        assert len(replay.events()) == len(expected), name  # each once
        for record in replay.events():
            first_seen = incremental[record["event_id"]]
            assert record["metric"] == first_seen["metric"]
            if record["metric"] != "Read Conversation":  # timed when first seen read
                assert record["occurred_at"] == first_seen["occurred_at"]
            # A replay has no stored floor: its events are not the lookback's (reconcile mode
            # counts what Klaviyo lacked).
            assert record["from_lookback"] is False
        assert [m for m in replay.messages if m["type"] == "STATE"] == [], name


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"replay_days": 3, "replay_start": "2026-01-01"}, "replay_days or replay_start"),
        ({"replay_end": "2026-01-01"}, "replay_end needs replay_start or replay_days"),
        ({"replay_start": "2026-02-01", "replay_end": "2026-01-01"}, "is after replay_end"),
        ({"replay_start": "last week"}, "replay_start 'last week' is not"),
        ({"replay_days": 0}, "config['replay_days']"),  # the schema's minimum
    ],
)
def test_bad_replay_settings_stop_the_run_with_one_line(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigValidationError) as raised:  # the schema, or Settings.from_config
        _ = TapIntercomEvents(config={"access_token": "t", **settings}).run
    assert any(message in line for line in [str(raised.value), *raised.value.errors])
