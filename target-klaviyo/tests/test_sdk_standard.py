"""The SDK's standard target tests, with HTTP going to the Klaviyo stand-in.

Every stream of the SDK's test files is mapped as an event stream (metric named after the stream,
external_id from its key), so each test really sends bulk requests. All standard tests apply but
two, which expect the run to crash where this target goes on or stops with one line instead:
a record missing its key property is dead-lettered (issue #10), and a RECORD before its SCHEMA
stops the run naming the input line; both are tested below with the SDK's own files.
"""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path
from typing import Any

import pytest
import singer_sdk.testing
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.suites import SingerTestSuite, target_tests
from singer_sdk.testing.target_tests import (
    TargetRecordBeforeSchemaTest,
    TargetRecordMissingKeyProperty,
)
from target_klaviyo_testing.harness import Klaviyo, run_target

from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import KlaviyoSettings
from target_klaviyo.errors import InputError
from target_klaviyo.target import TargetKlaviyo

KEY = "pk_sdk_suite_2468"


def _start_sandbox() -> str:
    sandbox = BackgroundSandbox(None, KlaviyoSettings(api_key=KEY, rate_limit_scale=0)).start()
    atexit.register(sandbox.stop)
    return sandbox.urls["klaviyo"]


def _event(stream: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"metric": f"SDK test {stream}", "external_id_field": key, **extra}


STREAMS_KEYED_BY_ID = [
    "test_array_data",
    "test_duplicate_records",
    "test_strings",
    "test_strings_in_objects",
    "test_strings_in_arrays",
    "test_multiple_state_messages_a",
    "test_multiple_state_messages_b",
    "test_optional_attributes",
    "test_record_before_schema",
    "record_missing_fields",
    "test_record_missing_key_property",
    "test_schema_updates",
    "test_users",
    "test_locations",
    "test_user_in_location",
]
EVENT_STREAMS: dict[str, dict[str, Any]] = {s: _event(s, "id") for s in STREAMS_KEYED_BY_ID}
EVENT_STREAMS.update(
    {
        "TestCamelcase": _event("TestCamelcase", "Id"),
        "ForecastingTypeToCategory": _event(
            "ForecastingTypeToCategory", "Id", time_field="CreatedDate"
        ),
        "test:SpecialChars!in?attributes": _event("special chars", "_id"),
        # Streams without key properties name the field that makes their unique_id.
        "test_no_pk": _event("test_no_pk", "id", unique_id_field="id"),
        "test_record_missing_required_property": _event(
            "missing required", "id", unique_id_field="id"
        ),
        "example_stream": _event("example_stream", "id", unique_id_field="id", email_field="email"),
        "test_object_schema_with_properties": _event(
            "object with properties", "object_store.id", unique_id_field="object_store.id"
        ),
        "test_object_schema_no_properties": _event(
            "object without properties", "object_store.id", unique_id_field="object_store.id"
        ),
    }
)

SAMPLE_CONFIG = {
    "api_key": KEY,
    "api_url": _start_sandbox(),
    "event_streams": EVENT_STREAMS,
    "dead_letter_path": str(Path(tempfile.mkdtemp(prefix="target-klaviyo-sdk-")) / "dead.jsonl"),
    "progress_interval": 0,
    "rate_limit_scale": 0,
}

REPLACED = (TargetRecordBeforeSchemaTest, TargetRecordMissingKeyProperty)
SUITE = SingerTestSuite(
    kind="target", tests=[test for test in target_tests.tests if test not in REPLACED]
)
StandardTargetTests = get_target_test_class(
    target_class=TargetKlaviyo,
    config=SAMPLE_CONFIG,
    custom_suites=[SUITE],
    include_target_tests=False,
)


class TestTargetKlaviyo(StandardTargetTests):  # type: ignore[misc,valid-type]
    """Standard target tests against the Klaviyo stand-in."""


def test_the_standard_streams_really_reach_klaviyo(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    """The suite above only checks that nothing fails; this checks what its files deliver."""
    files = Path(singer_sdk.testing.__file__).parent / "target_test_streams"
    text = (files / "array_data.singer").read_text() + (
        files / "special_chars_in_attributes.singer"
    ).read_text()
    run = run_target(klaviyo.config(event_streams=EVENT_STREAMS), text, caplog)
    assert run.error is None
    events = klaviyo.events()
    array_events = sorted(
        (e for e in events if e["metric"] == "SDK test test_array_data"),
        key=lambda e: e["unique_id"],
    )
    assert [e["unique_id"] for e in array_events] == [f"test_array_data:{i}" for i in range(1, 5)]
    # Fields used as identifiers are not repeated as properties.
    assert array_events[0]["properties"] == {
        "fruits": ["apple", "orange", "pear"],
        "Unique ID": "test_array_data:1",
    }
    assert array_events[0]["profile"]["external_id"] == "1"
    [special] = [e for e in events if e["metric"] == "SDK test special chars"]
    assert special["properties"] == {
        "d": {"env": "prod", "agent:type": "desktop", "agent:os:version": "10.13.1"},
        "Unique ID": special["unique_id"],
    }


SDK_FILES = Path(singer_sdk.testing.__file__).parent / "target_test_streams"


def test_the_sdk_record_missing_key_property_is_dead_lettered(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    text = (SDK_FILES / "record_missing_key_property.singer").read_text()
    records = [line for line in text.splitlines() if '"RECORD"' in line]
    run = run_target(klaviyo.config(event_streams=EVENT_STREAMS), text, caplog)
    assert run.error is None
    missing = [d for d in run.dead_letters if d["detail"] == "missing key property 'id'"]
    assert len(missing) == len(run.dead_letters) == 1
    assert missing[0]["reason"] == "invalid record"
    assert len(klaviyo.events()) == len(records) - 1


def test_the_sdk_record_before_schema_stops_naming_the_line(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    text = (SDK_FILES / "record_before_schema.singer").read_text()
    run = run_target(klaviyo.config(event_streams=EVENT_STREAMS), text, caplog)
    assert isinstance(run.error, InputError)
    assert str(run.error) == (
        "input line 1: a RECORD of stream 'test_record_before_schema' before any SCHEMA of it"
    )
    assert run.state_lines == []
