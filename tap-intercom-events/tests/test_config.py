"""Settings: region shorthand, validation messages, discovery without a token, the lookback window."""

from __future__ import annotations

from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError
from tap_test_support import HISTORY_END, ledger_keys, make_config, run_tap_in_process

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
        ({"page_size": 500}, "page_size must be 1 to 150, got 500"),
        ({"max_concurrency": 0}, "max_concurrency must be >= 1, got 0"),
        ({"api_url": "api.intercom.io"}, "api_url must start with http:// or https://"),
        ({"start_date": "soon"}, "start_date 'soon' is not an ISO-8601"),
    ],
)
def test_bad_settings_are_named(setting: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigValidationError, match=message):
        TapIntercomEvents(config={"access_token": "t", **setting})


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
