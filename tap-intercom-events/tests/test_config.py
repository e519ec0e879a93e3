"""Settings: region shorthand, validation messages, discovery without a token, the lookback window."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError
from tap_intercom_events_testing import (
    HISTORY_END,
    dataset,
    ledger_keys,
    make_config,
    mutate,
    run_tap_in_process,
)

from api_sandbox.testing import control
from tap_intercom_events.tap import TapIntercomEvents


@pytest.mark.parametrize(
    ("config", "url"),
    [
        ({}, "https://api.intercom.io"),
        ({"region": "eu"}, "https://api.eu.intercom.io"),
        ({"region": "au"}, "https://api.au.intercom.io"),
        ({"region": "eu", "api_url": "http://127.0.0.1:8701/"}, "http://127.0.0.1:8701"),
    ],
)
def test_region_is_a_shorthand_for_api_url(config: dict[str, Any], url: str) -> None:
    assert TapIntercomEvents(config={"access_token": "t", **config}).api_url == url


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        # Ranges are in the config schema: the SDK names the setting and its bound.
        ({"page_size": 500}, r"500 is greater than the maximum of 150 in config\['page_size'\]"),
        ({"max_concurrency": 0}, r"0 is less than the minimum of 1 in config\['max_concurrency'\]"),
        ({"api_url": "api.intercom.io"}, "api_url must start with http:// or https://"),
        ({"start_date": "soon"}, "start_date 'soon' is not an ISO-8601"),
    ],
)
def test_bad_settings_are_named(setting: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigValidationError) as raised:
        TapIntercomEvents(config={"access_token": "t", **setting})
    assert [e for e in raised.value.errors if re.search(message, e)], raised.value.errors


def test_unknown_region_and_version_are_rejected_by_the_schema() -> None:
    with pytest.raises(ConfigValidationError):
        TapIntercomEvents(config={"access_token": "t", "region": "mars"})
    with pytest.raises(ConfigValidationError):
        TapIntercomEvents(config={"access_token": "t", "api_version": "2.9"})


def test_discovery_needs_no_token() -> None:
    tap = TapIntercomEvents(config={}, validate_config=False)
    streams = {s["tap_stream_id"]: s for s in tap.catalog_dict["streams"]}
    assert sorted(streams) == [
        "admins", "contacts", "conversation_events", "conversation_parts", "conversations",
        "tags", "teams", "ticket_events", "ticket_parts", "ticket_types", "tickets",
        "truncated_parts",
    ]  # fmt: skip
    event_fields = streams["conversation_events"]["schema"]["properties"]
    assert event_fields["event_id"]["type"] == ["string"]
    assert event_fields["occurred_at"]["format"] == "date-time"


def test_lookback_resends_only_the_events_inside_it(start_intercom: Any) -> None:
    url = start_intercom(seed=41)
    first = run_tap_in_process(
        make_config(url), streams=("conversation_events",), now=HISTORY_END + 60
    )
    lookback = 3 * 86_400
    second = run_tap_in_process(
        make_config(url, lookback_window_seconds=lookback),
        state=first.state,
        streams=("conversation_events",),
        now=HISTORY_END + 120,
    )
    floor = HISTORY_END + 59 - lookback
    conversation_keys = {
        k: e for k, e in ledger_keys(url).items() if e["object_type"] == "conversation"
    }
    assert second.event_ids() == {k for k, e in conversation_keys.items() if e["time"] > floor}
    assert 0 < len(second.event_ids()) < len(conversation_keys)


def test_contact_lookback_catches_contacts_that_reach_search_late(start_intercom: Any) -> None:
    url = start_intercom(seed=42, contacts=10, conversations=2, tickets=1)
    only_contacts = ("contacts",)
    baseline = run_tap_in_process(make_config(url), streams=only_contacts)
    control(url, "quirks", {"contact_search_delay_seconds": 2})
    edited_at = int(time.time()) + 1  # after the baseline run's window
    time.sleep(max(0.0, edited_at - time.time()))
    contact_id = dataset(url, "contacts")[0]["id"]
    mutate(
        url,
        {
            "action": "edit_contact",
            "contact_id": contact_id,
            "changes": {"name": "Late Lee"},
            "at": edited_at,
        },
    )
    # The run right after the edit cannot see it yet; its bookmark still moves past the edit.
    early = run_tap_in_process(
        make_config(url), state=baseline.state, streams=only_contacts, now=edited_at + 1
    )
    assert early.records == {}
    time.sleep(2.2)
    without = run_tap_in_process(
        make_config(url, contact_lookback_seconds=0), state=early.state, streams=only_contacts
    )
    assert without.records == {}  # missed for good without a lookback
    with_lookback = run_tap_in_process(make_config(url), state=early.state, streams=only_contacts)
    assert [c["id"] for c in with_lookback.records["contacts"]] == [contact_id]
    assert with_lookback.records["contacts"][0]["name"] == "Late Lee"
