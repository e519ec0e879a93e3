"""Test support for tap-intercom-events (not shipped in the wheel): an in-process tap runner that
captures Singer messages, and the stand-in's control helpers (from api_sandbox.testing).

The `start_intercom` fixture is in `tap_intercom_events_testing.fixtures`."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from api_sandbox.settings import IntercomSettings
from api_sandbox.testing import dataset, ledger, mutate
from tap_intercom_events.tap import TapIntercomEvents

TOKEN = IntercomSettings.token  # the stand-in's default
# History of the generated data set ends at 10:00 UTC on 2026-09-21 (20717 days after the epoch),
# so tests can place runs and mutations later the same day.
HISTORY_END = 20717 * 86_400 + 10 * 3600
EVENT_STREAMS = ("conversation_events", "ticket_events")


@dataclass
class SyncResult:
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    states: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> dict[str, Any]:
        return self.states[-1]

    def events(self) -> list[dict[str, Any]]:
        return [r for name in EVENT_STREAMS for r in self.records.get(name, [])]

    def event_ids(self) -> set[str]:
        return {r["event_id"] for r in self.events()}


def parse_messages(lines: list[str]) -> SyncResult:
    result = SyncResult()
    for line in lines:
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        result.messages.append(message)
        if message["type"] == "RECORD":
            result.records.setdefault(message["stream"], []).append(message["record"])
        elif message["type"] == "STATE":
            result.states.append(message["value"])
    return result


def selected_catalog(streams: tuple[str, ...] | None) -> dict[str, Any] | None:
    """The discovered catalog with only `streams` selected (None: the default, everything)."""
    if streams is None:
        return None
    tap = TapIntercomEvents(config={"access_token": "x"}, validate_config=False)
    catalog = tap.catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


RunTap = Callable[..., SyncResult]


def make_config(url: str, **overrides: Any) -> dict[str, Any]:
    return {"access_token": TOKEN, "api_url": url, "start_date": "2020-01-01", **overrides}


def run_tap_in_process(
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    streams: tuple[str, ...] | None = None,
    now: int | None = None,
) -> SyncResult:
    """Run a whole sync in this process; `now` pins the run's start second (its window end + 1)."""
    tap = TapIntercomEvents(config=config, state=state, catalog=selected_catalog(streams))
    if now is not None:
        tap.run.started_at = now
        # As if Intercom's first answer said `now` (its Date ends the windows: Runtime.window_end).
        client = tap.run.client
        client.first_server_date = client.first_server_date_received_at = now
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            tap.sync_all()
    finally:
        tap.run.close()
    return parse_messages(buffer.getvalue().splitlines())


def ledger_keys(url: str) -> dict[str, dict[str, Any]]:
    return ledger(url)


__all__ = [
    "EVENT_STREAMS",
    "HISTORY_END",
    "TOKEN",
    "SyncResult",
    "dataset",
    "ledger_keys",
    "make_config",
    "mutate",
    "parse_messages",
    "run_tap_in_process",
    "selected_catalog",
]
