"""`meltano run` when Klaviyo refuses every bulk request with a 400 that names no item (an API change, a
proxy, a bad revision: the stand-in's behaviour `unexplained_rejections`), issue 19 point 5: the run stops
with one clear line and a non-zero exit in a bounded number of requests, dead-letters nothing as rejected
and moves no state; once Klaviyo accepts requests again, a plain rerun delivers every event."""

from __future__ import annotations

import json
from typing import Any

from e2e_expected import mismatches, split_ledger
from e2e_pipeline import STATE_ID, Pipeline

from target_klaviyo.items import REJECTED
from target_klaviyo.refusals import SYSTEMIC_AFTER

BULK = ("POST /api/event-bulk-create-jobs", "POST /api/profile-bulk-import-jobs")
MAX_CONCURRENCY = 8  # the target's default: requests other threads may have in flight


def letters(pipeline: Pipeline) -> list[dict[str, Any]]:
    path = pipeline.dead_letter_path
    return [json.loads(x) for x in path.read_text().splitlines() if x] if path.exists() else []


def test_everything_refused_without_a_pointer_stops_the_run_and_a_rerun_delivers_all(
    pipeline: Pipeline,
) -> None:
    ledger = pipeline.intercom("ledger")["events"]
    contacts = pipeline.intercom("dataset?kind=contacts")["data"]
    deliverable, _ = split_ledger(ledger, contacts)
    pipeline.klaviyo("behaviour", {"unexplained_rejections": "bulk"})

    refused = pipeline.meltano("run", "tap-intercom-events", "target-klaviyo")

    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    stops = [x for x in output.splitlines() if "target-klaviyo stopped:" in x]
    assert stops and all("without naming an item" in x for x in stops), output[-4000:]
    assert "nothing was dead-lettered" in stops[0]
    assert [x for x in letters(pipeline) if x["reason"] == REJECTED] == []
    state = pipeline.meltano("state", "get", STATE_ID)
    assert "bookmarks" not in state.stdout
    requests = pipeline.klaviyo("stats")["requests"]
    # Each sender stops at SYSTEMIC_AFTER refusals in a row, plus what the pool had in flight;
    # bisecting every request down to single records took 1,352 requests for 300 events.
    assert sum(requests.get(path, 0) for path in BULK) <= 2 * (SYSTEMIC_AFTER + MAX_CONCURRENCY)
    assert pipeline.klaviyo("events")["events"] == []

    pipeline.klaviyo("behaviour", {"unexplained_rejections": "off"})
    pipeline.run_pipeline()

    assert mismatches(deliverable, pipeline.klaviyo("events")["events"]) == []
    assert [x for x in letters(pipeline) if x["reason"] == REJECTED] == []
