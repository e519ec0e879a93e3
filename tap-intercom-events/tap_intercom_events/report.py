"""The run report (setting `report_path`): one JSON file a scheduler reads instead of the log,
rewritten at the end of every run, also a failed or stopped one (what was done up to then).
Pure, but for writing the file."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from tap_intercom_events.events import iso_time
from tap_intercom_events.window import SyncWindow

REPORT_VERSION = 1
# Streams whose records are the contract's events; every other stream's records are objects.
EVENT_STREAMS = ("conversation_events", "ticket_events")


class Traffic(Protocol):
    """What the report reads of the run's statistics (stats.RunStats)."""

    requests: int
    retries: int
    throttled: int

    @property
    def records(self) -> Mapping[str, int]: ...


class Cut(Protocol):
    """What the report reads of a truncated part list (runtime.Truncation)."""

    @property
    def parts_out_of_reach(self) -> int: ...

    @property
    def events_missing(self) -> str | None: ...


def window_json(window: SyncWindow) -> dict[str, Any]:
    return {
        "updated_after": iso_time(window.lower),
        "events_after": iso_time(window.events_after),
        "events_until": iso_time(window.end),
    }


def build_report(
    *,
    outcome: str,
    exit_code: int,
    error: str | None,
    api_version: str,
    elapsed: float,
    traffic: Traffic,
    objects_read: Mapping[str, int],
    windows: Mapping[str, SyncWindow],
    truncations: Sequence[Cut],
    lookback_events: int = 0,
) -> dict[str, Any]:
    """The report of a run. `outcome`: 'finished', 'failed' (an error) or 'stopped' (a signal)."""
    records = dict(sorted(traffic.records.items()))
    return {
        "plugin": "tap-intercom-events",
        "report_version": REPORT_VERSION,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "outcome": outcome,
        "exit_code": exit_code,
        "error": error,
        "api_version": api_version,
        "duration_seconds": round(elapsed, 1),
        "windows": {name: window_json(w) for name, w in sorted(windows.items())},
        "objects_read": dict(sorted(objects_read.items())),
        "records_by_stream": records,
        "events_emitted": {s: n for s, n in records.items() if s in EVENT_STREAMS},
        # Of those, events at or before the stored event floor (the lookback): possibly sent before.
        "events_from_lookback": lookback_events,
        "truncated_part_lists": {
            "objects": len(truncations),
            "parts_out_of_reach": sum(t.parts_out_of_reach for t in truncations),
            "may_miss_events": sum(1 for t in truncations if t.events_missing),
        },
        "requests": traffic.requests,
        "retries": traffic.retries,
        "throttled": traffic.throttled,
    }


def write_report(path: str, report: Mapping[str, Any]) -> None:
    """Replace the file at `path` in one step: a reader never sees half a report."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    partial.replace(target)
