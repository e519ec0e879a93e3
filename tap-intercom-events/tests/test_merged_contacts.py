"""A merged contact (404 up to 2.15, 410 Gone on 2.16) costs its lookup only, over HTTP."""

from __future__ import annotations

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

SELECTION = ("conversation_events",)


@pytest.mark.parametrize("version", ["2.14", "2.16"])
def test_events_of_a_merged_contact_keep_the_reference(start_intercom: Any, version: str) -> None:
    url = start_intercom(seed=81, conversations=12, contacts=10, tickets=0)
    conversations = dataset(url, "conversations")
    victim = next(c for c in conversations if c["source"]["author"]["type"] in ("user", "lead"))
    merged = victim["source"]["author"]["id"]
    survivor = next(c["id"] for c in dataset(url, "contacts") if c["id"] != merged)
    mutate(url, {"action": "merge_contact", "contact_id": merged, "into_contact_id": survivor})

    result = run_tap_in_process(
        make_config(url, api_version=version), streams=SELECTION, now=HISTORY_END + 3600
    )
    expected = {k for k, e in ledger_keys(url).items() if e["object_type"] == "conversation"}
    assert result.event_ids() == expected
    created = next(
        e for e in result.events() if e["event_id"] == f"conversation:{victim['id']}:created"
    )
    assert created["contact_id"] == merged
    assert created["contact_phone"] is None  # the contact object is gone: only the reference
    status = "410" if version == "2.16" else "404"
    assert control(url, "stats")["statuses"].get(status, 0) >= 1
