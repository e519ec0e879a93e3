"""What the Klaviyo stand-in can show of a move off the native Intercom integration (README, "Moving from Klaviyo's
native Intercom integration"): the metrics these events make are API metrics (`GET /api/metrics` names their
integration), and during an overlap `metric_names` puts the events under the temporary names, with history sent as
backfill (recorded, no flows fired)."""

from __future__ import annotations

from typing import Any

import pytest
from target_klaviyo_testing.harness import KEY, Klaviyo, run_target
from target_klaviyo_testing.singer import (
    conversation_event,
    lines,
    record_message,
    schema_message,
    ticket_event,
)

from api_sandbox.klaviyo import examples as ex


def metrics(klaviyo: Klaviyo, query: str = "") -> dict[str, dict[str, Any]]:
    response = ex.call(klaviyo.url, "GET", f"/api/metrics{query}", key=KEY)
    assert response.status_code == 200, response.text
    return {m["attributes"]["name"]: m["attributes"] for m in response.json()["data"]}


def test_renamed_metrics_are_api_metrics_and_history_is_backfilled(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    text = lines(
        [
            schema_message("conversation_events"),
            schema_message("ticket_events"),
            record_message(
                "conversation_events",
                conversation_event(
                    1, 1, metric="Created Conversation", occurred_at="2026-03-01T10:00:00Z"
                ),
            ),
            record_message(
                "conversation_events",
                conversation_event(
                    2, 2, metric="Created Conversation", occurred_at="2026-09-01T10:00:00Z"
                ),
            ),
            record_message("ticket_events", ticket_event(7, 1, occurred_at="2026-03-02T09:30:00Z")),
        ]
    )
    config = klaviyo.config(
        metric_names={"Created Conversation": "Created Conversation (API)"},
        revision="2026-04-15",
        backfill_before="2026-06-01T00:00:00Z",
    )
    run = run_target(config, text, caplog)
    assert run.error is None

    stored = {m: c["events"] for m, c in klaviyo.report()["metrics"].items()}
    assert stored == {"Created Conversation (API)": 2, "Created Ticket": 1}
    by_name = metrics(klaviyo)
    assert set(by_name) == {"Created Conversation (API)", "Created Ticket"}
    assert {m["integration"]["name"] for m in by_name.values()} == {"API"}
    assert {m["integration"]["category"] for m in by_name.values()} == {"API"}
    # A native integration's metrics would answer this filter; none of these does.
    assert metrics(klaviyo, '?filter=equals(integration.name,"Intercom")') == {}
    # History before backfill_before is recorded without firing flows.
    backfilled = {m: c["backfilled"] for m, c in klaviyo.report()["metrics"].items()}
    assert backfilled == {"Created Conversation (API)": 1, "Created Ticket": 1}
