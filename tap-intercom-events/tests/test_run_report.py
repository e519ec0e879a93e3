"""The run report (`report_path`) over HTTP against the Intercom stand-in, through the CLI as
Meltano runs it, and Priority's one meaning under every API version.

Expected values come from the stand-in (its data set, ledger and request counts), never from the
tap's code."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tap_intercom_events_testing import (
    HISTORY_END,
    dataset,
    make_config,
    run_tap_in_process,
    selected_catalog,
)

from api_sandbox.settings import FaultSettings
from api_sandbox.testing import control

SELECTION = ("contacts", "conversations", "tickets", "conversation_events", "ticket_events")


def test_the_report_counts_what_the_run_read_emitted_and_requested(
    start_intercom: Any, tmp_path: Path
) -> None:
    # A 429 waits for the rate window's reset: short windows keep the test short.
    url = start_intercom(
        seed=64, faults=FaultSettings(throttle_rate=0.05, seed=5), rate_window_seconds=0.5
    )
    report_path = tmp_path / "out" / "tap-report.json"
    (tmp_path / "config.json").write_text(
        json.dumps(make_config(url, report_path=str(report_path), page_size=5))
    )
    (tmp_path / "catalog.json").write_text(json.dumps(selected_catalog(SELECTION)))
    result = subprocess.run(
        [sys.executable, "-m", "tap_intercom_events", "--config", str(tmp_path / "config.json"),
         "--catalog", str(tmp_path / "catalog.json")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    emitted = Counter(
        message["stream"]
        for message in map(json.loads, result.stdout.splitlines())
        if message["type"] == "RECORD"
    )
    report = json.loads(report_path.read_text())
    stats = control(url, "stats")
    injected = control(url, "faults")["injected"]
    assert (report["outcome"], report["exit_code"], report["error"]) == ("finished", 0, None)
    assert report["records_by_stream"] == dict(emitted)
    assert report["events_emitted"] == {
        "conversation_events": emitted["conversation_events"],
        "ticket_events": emitted["ticket_events"],
    }
    assert report["objects_read"] == {
        "conversation": len(dataset(url, "conversations")),
        "ticket": len(dataset(url, "tickets")),
    }
    assert report["events_from_lookback"] == 0  # a first run: nothing before its floor
    assert report["throttled"] == injected["throttle"] == stats["statuses"]["429"] > 0
    assert report["requests"] == sum(stats["statuses"].values())
    assert set(report["windows"]) == {"contacts", "conversations", "tickets"}
    # One window end for the whole run.
    [end] = {window["events_until"] for window in report["windows"].values()}
    assert end is not None


def test_priority_means_the_same_under_every_api_version(start_intercom: Any) -> None:
    """2.16's levels would change what a segment on Priority means: Priority stays Intercom's
    2.14 vocabulary (the stand-in renders the same conversations both ways), the level is
    Priority Level."""
    url = start_intercom(seed=65, conversations=40)
    by_version = {}
    for version in ("2.11", "2.14", "2.16"):
        result = run_tap_in_process(
            make_config(url, api_version=version),
            streams=("conversation_events",),
            now=HISTORY_END + 60,
        )
        by_version[version] = {
            e["event_id"]: (e["priority"], e["priority_level"]) for e in result.events()
        }
    old, new = by_version["2.14"], by_version["2.16"]
    assert by_version["2.11"] == old
    assert set(old) == set(new) and old
    assert {priority for priority, _ in old.values()} == {"priority", "not_priority"}
    assert {level for _, level in old.values()} == {None}
    for event_id, (priority, level) in new.items():
        assert priority == old[event_id][0], event_id
        assert level in ("none", "low", "medium", "high", "urgent")
    assert {level for _, level in new.values()} - {"none"}, "no conversation has a level"
