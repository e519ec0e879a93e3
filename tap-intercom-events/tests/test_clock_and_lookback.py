"""Issue #18 at the tap, over HTTP: windows end by Intercom's clock (its `Date` header), and the
default lookback re-reads changes that Intercom's search shows late."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
from tap_intercom_events_testing import ledger_keys, make_config, run_tap_in_process

from api_sandbox.testing import control, dataset, mutate
from tap_intercom_events.lookups import Directory
from tap_intercom_events.tap import TapIntercomEvents

EVENTS = ("conversation_events",)
LAG = 3  # seconds the stand-in's conversation search runs behind


def config_for(url: str, lookback: int | None) -> dict[str, Any]:
    """The defaults (None), or another lookback_window_seconds."""
    return make_config(url, **({} if lookback is None else {"lookback_window_seconds": lookback}))


def bookmark(state: dict[str, Any], stream: str = "conversations") -> int:
    return int(state["bookmarks"][stream]["replication_key_value"])


def test_windows_end_by_intercoms_clock_either_way(start_intercom: Any) -> None:
    url = start_intercom(seed=61, contacts=8, conversations=10, tickets=4)
    for intercom_ahead in (-300, 300):
        control(url, "quirks", {"clock_offset_seconds": intercom_ahead})
        before = time.time()
        first = run_tap_in_process(make_config(url), streams=EVENTS)
        after = time.time()
        assert before + intercom_ahead - 2 <= bookmark(first.state) <= after + intercom_ahead
        # Intercom 300 s ahead: the bookmark is ahead of this machine's clock, not an error.
        second = run_tap_in_process(make_config(url), state=first.state, streams=EVENTS)
        assert bookmark(second.state) >= bookmark(first.state)


def test_the_default_lookback_emits_what_search_showed_late(start_intercom: Any) -> None:
    """A reply search shows LAG s late: the run right after it cannot see it; the next run after
    the lag emits it with the defaults, and never with the lookback off."""
    url = start_intercom(seed=62, contacts=8, conversations=10, tickets=4)
    control(url, "quirks", {"search_lag_seconds": {"conversations": LAG}})
    conversation = next(c for c in dataset(url, "conversations") if c["contacts"]["contacts"])
    states = {}
    for lookback in (None, 0):
        states[lookback] = run_tap_in_process(config_for(url, lookback), streams=EVENTS).state
    (result,) = mutate(url, {"action": "contact_reply", "conversation_id": conversation["id"]})
    (reply,) = [e["key"] for e in result["ledger"]]
    # The next runs start in a later second than the reply's, so it is inside their windows.
    time.sleep(1.05 - time.time() % 1)
    for lookback, state in states.items():
        at_once = run_tap_in_process(config_for(url, lookback), state=state, streams=EVENTS)
        assert reply not in at_once.event_ids()
        states[lookback] = at_once.state
    time.sleep(LAG + 0.1)
    late = {
        lookback: run_tap_in_process(
            config_for(url, lookback), state=state, streams=EVENTS
        ).event_ids()
        for lookback, state in states.items()
    }
    assert reply in late[None]
    assert reply not in late[0]  # the loss of issue #18 with the lookback off


def test_without_a_date_header_windows_end_by_this_machines_clock() -> None:
    tap = TapIntercomEvents(config={"access_token": "t", "api_url": "http://127.0.0.1:9"})
    run = tap.run
    try:
        run.started_at = 1_800_000_000.4
        run._directory = Directory([], [], [])  # as if listed by an answer without a Date
        assert run.client.first_server_date is None
        assert run.window_end() == 1_799_999_999
    finally:
        run.close()


def lookback_count(caplog: pytest.LogCaptureFixture) -> int:
    """The run summary's count of events from the lookback (the report takes the same counter)."""
    (count,) = re.findall(r"events from the lookback \([^)]*\): (\d+)", caplog.text)
    caplog.clear()
    return int(count)


def test_events_re_read_by_the_lookback_are_marked_and_counted(
    start_intercom: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A reply before run 1 is in run 2's lookback again (`from_lookback` true); a reply after
    run 1 is new (false). The summary counts the records marked true."""
    url = start_intercom(seed=63, contacts=8, conversations=10, tickets=4)
    early, late = [c for c in dataset(url, "conversations") if c["contacts"]["contacts"]][:2]
    (before,) = mutate(url, {"action": "contact_reply", "conversation_id": early["id"]})
    time.sleep(1.05 - time.time() % 1)  # run 1's window ends after the first reply's second
    caplog.set_level(logging.INFO, logger="tap-intercom-events")
    config = make_config(url)
    first = run_tap_in_process(config, streams=EVENTS)
    (old_reply,) = [e["key"] for e in before["ledger"]]
    assert {e["event_id"]: e["from_lookback"] for e in first.events()}[old_reply] is False
    assert lookback_count(caplog) == 0  # nothing was stored before run 1

    (after,) = mutate(url, {"action": "contact_reply", "conversation_id": late["id"]})
    (new_reply,) = [e["key"] for e in after["ledger"]]
    time.sleep(1.05 - time.time() % 1)
    second = run_tap_in_process(config, state=first.state, streams=EVENTS)
    marks = {e["event_id"]: e["from_lookback"] for e in second.events()}
    assert (marks[old_reply], marks[new_reply]) == (True, False)
    # Marked exactly when the stand-in's time of the event is at or before run 1's stored end.
    floor = bookmark(first.state)
    times = ledger_keys(url)
    assert marks == {key: times[key]["time"] <= floor for key in marks}
    assert lookback_count(caplog) == sum(marks.values()) > 0
