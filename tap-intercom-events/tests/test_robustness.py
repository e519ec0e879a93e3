"""API versions, injected faults, and fatal errors, over HTTP against the Intercom stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tap_intercom_events_testing import (
    HISTORY_END,
    dataset,
    ledger_keys,
    make_config,
    run_tap_in_process,
    selected_catalog,
)

from api_sandbox.settings import FaultSettings
from api_sandbox.testing import control
from tap_intercom_events import paging
from tap_intercom_events.client import IntercomClient, IntercomError

RUN_AT = HISTORY_END + 3600
SELECTION = ("contacts", "conversations", "tickets", "conversation_events", "ticket_events")


def rated_at_request_time(key: str, url: str) -> str:
    """2.11 has no conversation_rating.updated_at: the contract then times a rating at created_at."""
    if ":rated:" not in key:
        return key
    _, conversation_id, _, _, value = key.split(":")
    conversation = next(c for c in dataset(url, "conversations") if str(c["id"]) == conversation_id)
    requested_at = conversation["conversation_rating"]["created_at"]
    return f"conversation:{conversation_id}:rated:{requested_at}:{value}"


@pytest.mark.parametrize("version", ["2.11", "2.14", "2.16"])
def test_api_versions_give_the_full_event_set(start_intercom: Any, version: str) -> None:
    url = start_intercom(seed=21, contacts=15, conversations=20, tickets=10)
    result = run_tap_in_process(
        make_config(url, api_version=version), streams=SELECTION, now=RUN_AT
    )
    expected = set(ledger_keys(url))
    if version == "2.11":
        expected = {rated_at_request_time(key, url) for key in expected}
    assert result.event_ids() == expected
    tickets = result.records["tickets"]
    # One shape on every version (2.11's category string becomes the object's category).
    assert all(isinstance(t["ticket_state"], dict) for t in tickets)
    if version == "2.11":
        assert all(set(t["ticket_state"]) == {"type", "category"} for t in tickets)
    else:
        assert all("internal_label" in t["ticket_state"] for t in tickets)
    # Priority keeps one vocabulary on every version; 2.16's level is priority_level (issue #22).
    events = result.records["conversation_events"]
    assert {e["priority"] for e in events} <= {"priority", "not_priority"}
    levels = {e["priority_level"] for e in events}
    if version == "2.16":
        assert levels <= {"none", "low", "medium", "high", "urgent"}
    else:
        assert levels == {None}
    # Admin names resolve whatever type the version gives assignee ids.
    admins = {a["name"] for a in dataset(url, "admins")}
    named = [e["assigned_admin_name"] for e in result.events() if e["assigned_admin_name"]]
    assert named
    assert set(named) <= admins


def by_key(result: Any) -> dict[str, list[Any]]:
    keys = {"conversation_events": "event_id", "ticket_events": "event_id"}
    return {
        stream: sorted(records, key=lambda r: str(r[keys.get(stream, "id")]))
        for stream, records in result.records.items()
    }


def test_injected_500s_and_429s_do_not_change_the_records(start_intercom: Any) -> None:
    # Each 429 waits for the stand-in's next window, as Intercom's would: 1-second windows here
    # (the same 10,000 calls a minute) keep the test quick.
    sizes = {"seed": 22, "contacts": 6, "conversations": 16, "tickets": 3}
    clean_url = start_intercom(**sizes)
    faulty_url = start_intercom(
        **sizes,
        faults=FaultSettings(error_rate=0.1, throttle_rate=0.1, seed=5),
        rate_window_seconds=1.0,
    )
    clean = run_tap_in_process(make_config(clean_url), now=RUN_AT)
    faulty = run_tap_in_process(make_config(faulty_url, max_concurrency=8), now=RUN_AT)
    injected = control(faulty_url, "faults")["injected"]
    assert injected.get("error", 0) >= 2
    assert injected.get("throttle", 0) >= 2
    assert by_key(faulty) == by_key(clean)
    assert faulty.event_ids() == set(ledger_keys(faulty_url))


def test_empty_bodies_and_dropped_connections_are_retried(start_intercom: Any) -> None:
    url = start_intercom(
        seed=23,
        contacts=10,
        conversations=12,
        tickets=5,
        faults=FaultSettings(empty_body_rate=0.1, drop_rate=0.1, seed=9),
    )
    result = run_tap_in_process(make_config(url), streams=SELECTION, now=RUN_AT)
    injected = control(url, "faults")["injected"]
    assert injected.get("empty_body", 0) >= 1
    assert injected.get("drop", 0) >= 1
    assert result.event_ids() == set(ledger_keys(url))
    assert len(result.records["conversations"]) == 12


def run_cli(config: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-m", "tap_intercom_events", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rejected_token_stops_with_one_clear_line_and_no_secret(
    start_intercom: Any, tmp_path: Path
) -> None:
    url = start_intercom(contacts=3, conversations=2, tickets=1)
    secret = "not-the-right-token-4f9a1c"
    done = run_cli(make_config(url, access_token=secret), tmp_path)
    assert done.returncode == 1
    assert "Intercom rejected the access token (401 unauthorized" in done.stderr
    assert "TAP_INTERCOM_EVENTS_ACCESS_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr
    assert secret not in done.stderr
    assert secret not in done.stdout


def test_bad_start_date_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    config = make_config("http://127.0.0.1:9", start_date="last tuesday")
    done = run_cli(config, tmp_path)
    assert done.returncode == 1
    assert "start_date 'last tuesday' is not an ISO-8601" in done.stderr


def test_client_skips_a_missing_object_and_names_other_client_errors(start_intercom: Any) -> None:
    url = start_intercom(contacts=3, conversations=2, tickets=1)
    client = IntercomClient(base_url=url, access_token="sandbox-intercom-token", api_version="2.14")
    assert client.get("/conversations/987654321", missing_ok=True) is None
    with pytest.raises(IntercomError, match=r"Intercom answered 404 to GET /contacts/nope"):
        client.get("/contacts/nope")
    bad_version = IntercomClient(
        base_url=url, access_token="sandbox-intercom-token", api_version="1.9"
    )
    with pytest.raises(IntercomError, match="intercom_version_invalid"):
        bad_version.get("/admins")


def test_conversation_gone_between_search_and_detail_is_skipped(
    start_intercom: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = start_intercom(seed=24, contacts=6, conversations=8, tickets=2)
    real_read_slices = paging.SliceSearch.read_slices

    def with_a_ghost(search: paging.SliceSearch, lower: int) -> Any:
        slices = list(real_read_slices(search, lower))
        if search.results_key == "conversations":
            first = next(s for s in slices if s.items)
            ghost = {**first.items[0], "id": "987654321"}  # listed, but GET answers 404
            first.items.insert(0, ghost)
        return iter(slices)

    monkeypatch.setattr(paging.SliceSearch, "read_slices", with_a_ghost)
    result = run_tap_in_process(make_config(url), streams=SELECTION, now=RUN_AT)
    assert "987654321" not in {c["id"] for c in result.records["conversations"]}
    assert len(result.records["conversations"]) == 8
    assert result.event_ids() == set(ledger_keys(url))


def test_cli_with_catalog_and_state_files_as_meltano_runs_it(
    start_intercom: Any, tmp_path: Path
) -> None:
    url = start_intercom(seed=25, contacts=5, conversations=6, tickets=2)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(selected_catalog(("conversations", "conversation_events"))))
    state = tmp_path / "state.json"
    # A bookmark after the whole history: only the state comes back, no record.
    bookmark = {"replication_key": "updated_at", "replication_key_value": HISTORY_END}
    state.write_text(
        json.dumps({"bookmarks": {"conversations": {**bookmark, "events_after": HISTORY_END}}})
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps(make_config(url)))
    done = subprocess.run(
        [sys.executable, "-m", "tap_intercom_events", "--config", str(config),
         "--catalog", str(catalog), "--state", str(state)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    messages = [json.loads(line) for line in done.stdout.splitlines()]
    assert [m for m in messages if m["type"] == "RECORD"] == []
    final = [m for m in messages if m["type"] == "STATE"][-1]["value"]["bookmarks"]["conversations"]
    assert final["replication_key_value"] >= HISTORY_END
    assert "sync summary:" in done.stderr


def test_limiter_keeps_under_a_small_rate_limit_without_a_429(start_intercom: Any) -> None:
    # 3,000 calls a minute in 1-second windows = 50 per window (what 300 a minute gives in
    # Intercom's 10-second windows, ten times quicker); the sync needs more than one window.
    url = start_intercom(
        seed=26,
        contacts=5,
        conversations=45,
        tickets=4,
        rate_limit_per_minute=3_000,
        rate_window_seconds=1.0,
    )
    result = run_tap_in_process(make_config(url, max_concurrency=4), now=RUN_AT)
    stats = control(url, "stats")
    assert sum(stats["requests"].values()) > 50
    assert "429" not in stats["statuses"]
    assert len(result.records["conversations"]) == 45
    assert result.event_ids() == set(ledger_keys(url))
