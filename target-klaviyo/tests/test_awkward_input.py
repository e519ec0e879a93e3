"""Awkward input (issues #10 and #11): one bad record costs that record only, a bad line or path
stops the run with one line before anything is sent, and flattening changes nothing Klaviyo gets.
(Signals, the key and logs: test_signals_and_secrets.py.)

Expected values are written out by hand from the input, never computed with the target's code.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from target_klaviyo_testing.cli import run_cli, stopped_lines
from target_klaviyo_testing.harness import Klaviyo, run_target
from target_klaviyo_testing.singer import (
    contact,
    conversation_event,
    lines,
    record_message,
    schema_message,
    state_message,
)

from target_klaviyo.errors import KlaviyoConfigError, KlaviyoError
from target_klaviyo.translate import TranslationError, to_iso_utc, to_money, to_number

# ---- times and values (pure) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20t10:15:00z", "2026-11-20T10:15:00+00:00"),
        ("2026-11-20T10:15:00Z", "2026-11-20T10:15:00+00:00"),
        ("2026-11-20 10:15:00", "2026-11-20T10:15:00+00:00"),
        ("2026-11-20 10:15:00+02:00", "2026-11-20T08:15:00+00:00"),
        ("2026-11-20T10:15:00.5Z", "2026-11-20T10:15:00.500+00:00"),
        ("2026-11-20T10:15:00.123456789-05:00", "2026-11-20T15:15:00.123+00:00"),
        ("2026-11-20T10:15:00+0530", "2026-11-20T04:45:00+00:00"),
        ("2026-11-20T10:15:00+05", "2026-11-20T05:15:00+00:00"),
        ("2026-11-20", "2026-11-20T00:00:00+00:00"),
        (" 2026-11-20T10:15:00Z ", "2026-11-20T10:15:00+00:00"),
        (1795169700, "2026-11-20T10:15:00+00:00"),
        (1795169700500, "2026-11-20T10:15:00.500+00:00"),
        (Decimal("1795169700.25"), "2026-11-20T10:15:00.250+00:00"),
        ("1795169700", "2026-11-20T10:15:00+00:00"),
        ("1795169700000", "2026-11-20T10:15:00+00:00"),
    ],
)
def test_every_time_form_taps_emit(value: Any, expected: str) -> None:
    assert to_iso_utc(value) == expected


@pytest.mark.parametrize(
    "value", ["20/11/2026", "yesterday", "2026-13-01T00:00:00Z", True, float("nan"), "1e400"]
)
def test_unreadable_times_are_refused(value: Any) -> None:
    with pytest.raises(TranslationError):
        to_iso_utc(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("19.99", "19.99"),
        (" 19.99 ", "19.99"),
        (Decimal("0.10"), "0.1"),
        (Decimal("1234567890123.45"), "1234567890123.45"),
        ("5", "5"),
        (7, "7"),
        (12.5, "12.5"),
        ("-3.20", "-3.2"),
        ("1e3", "1000"),
        ("40.00", "40"),
    ],
)
def test_values_are_exact_to_the_cent(value: Any, expected: str) -> None:
    assert json.dumps(to_money(value)) == expected


@pytest.mark.parametrize(
    "value", ["$19.99", "19,99", "", "NaN", "Infinity", "1e400", True, [1], float("inf")]
)
def test_non_numeric_values_are_refused(value: Any) -> None:
    with pytest.raises(TranslationError):
        to_money(value)


# ---- one bad record costs that record only ----------------------------------------------------------

ORDERS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "orders",
    "key_properties": ["id"],
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": ["string", "null"]},
            "total": {"type": ["number", "string", "null"]},
            "score": {"type": ["number", "null"]},
            "extra": {"type": ["object", "null"]},
        },
    },
}
ORDERS = {"orders": {"metric": "Placed Order", "email_field": "email", "value_field": "total"}}


def order_line(order_id: int, total: str, score: str = "1.5", extra: str = "{}") -> str:
    """A RECORD line written by hand, so that it can hold what JSON has no number for."""
    fields = f'"id": {order_id}, "email": "o{order_id}@example.com", '
    fields += f'"total": {total}, "score": {score}, "extra": {extra}'
    return '{"type": "RECORD", "stream": "orders", "record": {' + fields + "}}\n"


def test_non_finite_numbers_cost_their_record_only(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    text = json.dumps(ORDERS_SCHEMA) + "\n"
    text += order_line(1, "10.5")
    text += order_line(2, "NaN")
    text += order_line(3, "1", score="Infinity")
    text += order_line(4, "1", score="-Infinity")
    text += order_line(5, "1", score="1e400")
    text += order_line(6, "1", extra='{"deep": {"x": NaN}}')
    text += order_line(7, '"12.30"')
    text += order_line(8, '"twelve"')
    text += json.dumps(state_message({"done": 8})) + "\n"
    run = run_target(klaviyo.config(event_streams=ORDERS), text, caplog)
    assert run.error is None
    assert run.state_lines == [{"done": 8}]
    stored = {e["unique_id"]: e for e in klaviyo.events()}
    assert set(stored) == {"orders:1", "orders:7"}
    assert stored["orders:7"]["properties"] == {
        "email": "o7@example.com",
        "id": 7,
        "score": 1.5,
        "Unique ID": "orders:7",
    }
    assert stored["orders:7"]["value"] == 12.3
    assert stored["orders:1"]["value"] == 10.5
    details = {d["record"]["id"]: d["detail"] for d in run.dead_letters}
    assert details == {
        2: "field 'total': not a finite number: nan",
        3: "field 'score': not a finite number: inf",
        4: "field 'score': not a finite number: -inf",
        5: "field 'score': not a finite number: Decimal('1E+400')",
        6: "field 'extra': not a finite number: nan",
        8: "field 'total': not a number: 'twelve'",
    }
    assert {d["reason"] for d in run.dead_letters} == {"invalid record"}
    # The dead-letter file stays JSON (no bare NaN a parser would refuse).
    text = (klaviyo.workdir / "dead-letters.jsonl").read_text()
    for line in text.splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in a dead letter"))


def test_a_record_missing_its_key_property_is_dead_lettered(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    missing = conversation_event(2, 2, part=2)
    del missing["event_id"]
    text = lines(
        [
            schema_message("conversation_events"),
            record_message("conversation_events", conversation_event(1, 1, part=1)),
            record_message("conversation_events", missing),
            record_message("conversation_events", conversation_event(3, 3, part=3)),
            state_message({"s": 3}),
        ]
    )
    run = run_target(klaviyo.config(), text, caplog)
    assert run.error is None
    assert run.state_lines == [{"s": 3}]
    assert sorted(e["unique_id"] for e in klaviyo.events()) == [
        "conversation:1:part:1:replied",
        "conversation:3:part:3:replied",
    ]
    [letter] = run.dead_letters
    assert (letter["reason"], letter["detail"]) == (
        "invalid record",
        "missing key property 'event_id'",
    )


def test_a_bad_email_next_to_another_identifier_is_left_out(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    text = lines(
        [
            schema_message("conversation_events"),
            schema_message("contacts"),
            record_message(
                "conversation_events",
                conversation_event(1, 1, part=1, contact_email="ann at example"),
            ),
            record_message(
                "conversation_events",
                conversation_event(
                    2, 2, part=2, contact_email="bob@", contact_phone="(415) 555-0142"
                ),
            ),
            record_message(
                "conversation_events",
                conversation_event(3, 3, part=3, contact_email="x@y", contact_external_id=None),
            ),
            record_message("contacts", contact(4, email="dan@@example.com")),
        ]
    )
    run = run_target(klaviyo.config(), text, caplog)
    assert run.error is None
    stored = {e["unique_id"]: e for e in klaviyo.events()}
    assert set(stored) == {"conversation:1:part:1:replied", "conversation:2:part:2:replied"}
    first = stored["conversation:1:part:1:replied"]
    assert (first["profile"]["email"], first["profile"]["external_id"]) == (None, "ext-1")
    assert "email" not in first["properties"]
    second = stored["conversation:2:part:2:replied"]
    assert (second["profile"]["email"], second["profile"]["phone_number"]) == (None, "+14155550142")
    [profile] = [p for p in klaviyo.profiles() if p["external_id"] == "ext-4"]
    assert profile["email"] is None
    [letter] = run.dead_letters
    assert letter["reason"] == "no usable identifier"
    assert letter["detail"] == (
        "no email, valid phone number or external_id (the email is not valid)"
    )
    assert "invalid emails dropped (sent with another identifier): 3" in run.log
    for bad in ("ann at example", "bob@", "dan@@example.com"):
        assert bad not in run.log


# ---- the run stops with one line, before anything is sent ---------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"type": "RECORD", "stream": "conversation_events", "record": {"a": 1', "is not JSON"),
        ("call me at 415-555-0142", "is not JSON"),
        ("[1, 2]", "is not a Singer message (no 'type')"),
        ('{"stream": "conversation_events"}', "is not a Singer message (no 'type')"),
        ('{"type": "RECORD", "stream": "conversation_events"}', "a RECORD message without record"),
        ('{"type": "RECORD", "stream": "conversation_events", "record": [1]}', "is not an object"),
        ('{"type": "SCHEMA", "stream": "s", "schema": {}}', "has no 'properties' object"),
        ('{"type": "GREETING", "text": "ann@example.com"}', "unknown Singer message type"),
    ],
)
def test_a_malformed_line_stops_the_run_naming_its_number(
    klaviyo: Klaviyo, tmp_path: Path, bad: str, message: str
) -> None:
    good = [
        schema_message("conversation_events"),
        record_message("conversation_events", conversation_event(1, 1, part=1)),
    ]
    text = lines(good) + "\n" + bad + "\n" + lines(good[1:])
    result = run_cli(klaviyo.config(), text, tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = stopped_lines(result.stderr)
    assert "input line 4" in line  # the blank line 3 is skipped, and counted
    assert message in line
    assert "Traceback" not in result.stderr
    assert "415-555-0142" not in result.stderr
    assert "ann@example.com" not in result.stderr


@pytest.mark.parametrize("setting", ["dead_letter_path", "dry_run_path"])
@pytest.mark.parametrize("kind", ["a directory", "under a file"])
def test_unwritable_paths_stop_the_run_before_any_request(
    klaviyo: Klaviyo, tmp_path: Path, setting: str, kind: str
) -> None:
    blocker = tmp_path / "blocker"
    if kind == "a directory":
        blocker.mkdir()
        path = blocker
    else:
        blocker.write_text("a file")
        path = blocker / "out.jsonl"
    config = klaviyo.config(**{setting: str(path)}, dry_run=setting == "dry_run_path")
    text = lines(
        [
            schema_message("conversation_events"),
            record_message("conversation_events", conversation_event(1, 1, part=1)),
        ]
    )
    result = run_cli(config, text, tmp_path)
    assert result.returncode == 1
    [line] = stopped_lines(result.stderr)
    assert f"cannot write to '{path}'" in line
    assert f"set '{setting}' to a writable file" in line
    assert "Traceback" not in result.stderr
    assert klaviyo.control("stats")["requests"] == {}


# ---- flattening -------------------------------------------------------------------------------------


def intercom_input() -> str:
    located = contact(
        1,
        phone="(415) 555-0100",
        location={"type": "location", "city": "Lisbon", "country": "Portugal", "region": None},
        avatar={"type": "avatar", "image_url": "https://example.com/a.png"},
        custom_attributes={"plan": "pro", "seats": 3},
        tag_names=["vip", "beta"],
    )
    return lines(
        [
            schema_message("conversation_events"),
            schema_message("contacts"),
            record_message(
                "conversation_events",
                conversation_event(
                    1, 1, part=1, tags=["a", "b"], custom_attributes={"tier": {"level": 2}}
                ),
            ),
            record_message("contacts", located),
            record_message("contacts", contact(2)),
        ]
    )


def delivered(klaviyo: Klaviyo) -> tuple[list[Any], list[Any]]:
    events = sorted(
        (
            {k: e[k] for k in ("unique_id", "metric", "time", "properties")}
            for e in klaviyo.events()
        ),
        key=lambda e: e["unique_id"],
    )
    profiles = sorted(
        ({k: v for k, v in p.items() if k != "id"} for p in klaviyo.profiles()),
        key=lambda p: p["email"],
    )
    return events, profiles


@pytest.mark.parametrize("depth", [1, 2, 10])
def test_flattening_changes_nothing_klaviyo_gets(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture, depth: int
) -> None:
    # One request at a time: the same order of arrival in both runs.
    plain = run_target(klaviyo.config(max_concurrency=1), intercom_input(), caplog)
    assert plain.error is None
    expected = delivered(klaviyo)
    profile = next(p for p in expected[1] if p["email"] == "user1@example.com")
    assert profile["location"] == {"city": "Lisbon", "country": "Portugal"}
    assert profile["properties"]["Intercom_custom_attributes"] == {"plan": "pro", "seats": 3}
    assert expected[0][0]["properties"]["Tags"] == ["a", "b"]
    klaviyo.control("reset", {})
    assert klaviyo.events() == [] and klaviyo.profiles() == []
    flat = run_target(
        klaviyo.config(max_concurrency=1, flattening_enabled=True, flattening_max_depth=depth),
        intercom_input(),
        caplog,
    )
    assert flat.error is None
    events, profiles = delivered(klaviyo)
    assert events == expected[0]
    assert [p["email"] for p in profiles] == [p["email"] for p in expected[1]]
    # `created`/`updated` are the stand-in's own storage times (the two runs are seconds apart).
    stored_at = {"created", "updated"}
    for got, want in zip(profiles, expected[1], strict=True):
        assert {k: (got[k], want[k]) for k in set(want) - stored_at if got[k] != want[k]} == {}
    assert flat.dead_letters == plain.dead_letters == []


def test_flattened_custom_mapping_reads_nested_fields(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    schema = {
        "type": "SCHEMA",
        "stream": "orders",
        "key_properties": ["id"],
        "schema": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "customer": {
                    "type": "object",
                    "properties": {
                        "email": {"type": "string"},
                        "address": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                        },
                    },
                },
                "total": {"type": "string"},
            },
        },
    }
    record = {
        "id": 9,
        "customer": {"email": "eve@example.com", "address": {"city": "Porto"}},
        "total": "5.00",
    }
    mapping = {
        "orders": {
            "metric": "Placed Order",
            "email_field": "customer.email",
            "value_field": "total",
            "properties": {"customer.address.city": "City"},
        }
    }
    text = lines([schema, record_message("orders", record)])
    run = run_target(
        klaviyo.config(event_streams=mapping, flattening_enabled=True, flattening_max_depth=1),
        text,
        caplog,
    )
    assert run.error is None
    [event] = klaviyo.events()
    assert event["profile"]["email"] == "eve@example.com"
    assert event["properties"] == {
        "email": "eve@example.com",
        "City": "Porto",
        "Unique ID": "orders:9",
    }
    assert event["value"] == 5
    [request] = [e for e in klaviyo.control("events")["events"]]
    assert request["unique_id"] == "orders:9"


# ---- meltano config test -------------------------------------------------------------------------------

# What `meltano config test target-klaviyo` sends (Meltano 4.4, LoaderTestService).
MELTANO_TEST = lines(
    [
        {
            "type": "SCHEMA",
            "stream": "meltano_test_stream",
            "schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                },
            },
            "key_properties": ["id"],
        },
        {
            "type": "RECORD",
            "stream": "meltano_test_stream",
            "record": {
                "id": 1,
                "name": "Meltano Test Record",
                "created_at": "2025-09-29T00:00:00Z",
            },
        },
        {"type": "STATE", "value": {"bookmarks": {"meltano_test_stream": {"last_record": 1}}}},
    ]
)


def test_the_meltano_test_stream_checks_the_key(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    good = run_target(klaviyo.config(), MELTANO_TEST, caplog)
    assert good.error is None
    assert "config test: Klaviyo accepted the API key: it belongs to account SBXACC" in good.log
    limited = "pk_events_only_1357"
    klaviyo.control("keys", {"key": limited, "scopes": ["events:write", "profiles:write"]})
    caplog.clear()
    scoped = run_target(klaviyo.config(api_key=limited), MELTANO_TEST, caplog)
    assert scoped.error is None
    assert "it lacks the accounts:read scope" in scoped.log
    caplog.clear()
    bad = run_target(klaviyo.config(api_key="pk_bad_2468"), MELTANO_TEST, caplog)
    assert isinstance(bad.error, KlaviyoConfigError)
    assert str(bad.error).startswith("Klaviyo rejected the API key (401")
    assert "'api_key' setting (TARGET_KLAVIYO_API_KEY)" in str(bad.error)
    assert bad.state_lines == []
    assert klaviyo.events() == [] and klaviyo.profiles() == []
    caplog.clear()
    closed = run_target(klaviyo.config(api_url="http://127.0.0.1:9"), MELTANO_TEST, caplog)
    assert isinstance(closed.error, KlaviyoError)
    assert "check the 'api_url' setting" in str(closed.error)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("19.99", 19.99), ("5.00", 5), ("9007199254740993", 9007199254740993), ("-0.10", -0.1)],
)
def test_singer_decimal_strings_become_exact_numbers(text: str, expected: Any) -> None:
    value = to_number(text)
    assert value == expected
    assert type(value) is type(expected)


def test_singer_decimal_fields_reach_klaviyo_as_numbers(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    """Another tap's string field marked `format: singer.decimal` is a number in the event's
    properties and the profile's (target README, "Values"); a plain string field stays a
    string, digits or not; a decimal field that holds no number is sent as it came."""
    decimal = {"type": ["string", "null"], "format": "singer.decimal"}
    schema = {
        "type": "SCHEMA",
        "stream": "payments",
        "key_properties": ["id"],
        "schema": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "email": {"type": ["string", "null"]},
                "amount": decimal,
                "fee": decimal,
                "reference": {"type": ["string", "null"]},
            },
        },
    }
    record = {"id": "p1", "email": "pay@example.com", "amount": "19.99", "fee": "n/a"}
    text = json.dumps(schema) + "\n"
    text += json.dumps(record_message("payments", {**record, "reference": "00123"})) + "\n"
    text += json.dumps({**schema, "stream": "payers"}) + "\n"
    text += json.dumps(record_message("payers", {**record, "amount": "5.00"})) + "\n"
    config = klaviyo.config(
        event_streams={"payments": {"metric": "Paid", "email_field": "email"}},
        profile_streams={"payers": {"email_field": "email", "properties": {"amount": "Paid"}}},
    )
    run = run_target(config, text, caplog)
    assert run.error is None
    [event] = klaviyo.events()
    assert event["properties"]["amount"] == 19.99
    assert event["properties"]["fee"] == "n/a"
    assert event["properties"]["reference"] == "00123"
    [profile] = klaviyo.profiles()
    assert profile["properties"]["Paid"] == 5
