"""msgspec reads input lines and writes payloads to the same values as the json module did (pure)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from singer_sdk.singerlib.json import deserialize_json

from target_klaviyo import target
from target_klaviyo.errors import InputError
from target_klaviyo.payloads import encode, encode_record
from target_klaviyo.translate import LimitCounter, fit_value, json_default


def shape(value: Any) -> Any:
    """A value with its types and key order spelled out: Decimal('12.50') is not Decimal('12.5'),
    1 is not 1.0 nor True, and {"a": 1, "b": 2} is not {"b": 2, "a": 1}."""
    if isinstance(value, dict):
        return ("dict", [(shape(k), shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [shape(v) for v in value])
    return (type(value).__name__, repr(value))


def outcome(line: str) -> Any:
    """What _message_of makes of a line: the message's shape, or the error's message."""
    try:
        return shape(target._message_of(line, 7))
    except InputError as exc:
        return ("InputError", str(exc))


def record_line(record: str) -> str:
    return '{"type": "RECORD", "stream": "s", "record": ' + record + "}"


READABLE = [
    '{"big": 123456789012345678901234567890, "neg": -99999999999999999999999}',
    '{"edges": [9223372036854775807, 9223372036854775808, 18446744073709551616, -9223372036854775809]}',
    '{"huge": ' + "9" * 4000 + "}",
    '{"n": [1e400, -1e400, 1e-400, 12.50, 1E+2, 1e2, -0.0, -0, 0, 0.000, 1.5e-7]}',
    '{"p": 0.1000000000000000055511151231257827, "q": 3.141592653589793238462643383279}',
    '{"b": 1, "a": 2, "b": 3}',
    '{"outer": {"k": 1, "k": {"deep": [1, {"k": 2, "k": 3}]}}}',
    '{"t": "caf\\u00e9 \\ud83d\\ude00 \\n\\t\\"\\\\\\/ \\u0000 \\u2028"}',
    '{"t": "café 😀 ñandú \u2028 \u00a0 \x7f", "ключ": "значение"}',
    '{"\\u00e9": null, "yes": true, "no": false, "empty": {}, "none": []}',
    '  {"spaced" : [ 1 , 2 ] }  \r\n',
    '[1, "x", null]',
    '"just a string"',
    "12",
    "null",
]


@pytest.mark.parametrize("line", READABLE)
def test_msgspec_reads_a_line_to_the_values_json_reads(line: str) -> None:
    assert shape(target._DECODER.decode(line)) == shape(deserialize_json(line))


@pytest.mark.parametrize("line", READABLE)
def test_a_line_msgspec_reads_becomes_the_message_json_made(line: str) -> None:
    message = record_line(line.strip()) if line.lstrip().startswith("{") else line
    assert target._fast_read(message) is not None or message == "null"
    with_fast, before = with_and_without_msgspec(outcome, message)
    assert with_fast == before


ODD = [
    record_line('{"x": NaN}'),
    record_line('{"x": Infinity, "y": -Infinity}'),
    record_line('{"deep": {"x": [NaN, 1.5]}}'),
    record_line('{"lone": "\\ud800", "low": "\\udc00x"}'),
    record_line('{"huge": -' + "9" * 4300 + "}"),
    record_line('{"too long": ' + "9" * 4301 + "}"),
    record_line('{"a": 1,}'),
    record_line('{"a" 1}'),
    record_line('{"a": 01}'),
    record_line('{"a": .5}'),
    record_line('{"a": "control \x01"}'),
    record_line("{'a': 1}"),
    '{"type": "RECORD", "stream": "s", "record": {"a": 1',
    '{"type": "RECORD"} trailing',
    "\ufeff" + record_line("{}"),
    "\u00a0" + record_line("{}"),
    "call me at 415-555-0142",
    "",
]


@pytest.mark.parametrize("line", ODD, ids=range(len(ODD)))
def test_a_line_msgspec_refuses_is_json_s_to_read_or_refuse(line: str) -> None:
    assert target._fast_read(line) is None
    with_fast, before = with_and_without_msgspec(outcome, line)
    assert with_fast == before


def test_deep_nesting_reads_or_fails_as_with_json() -> None:
    # msgspec alone reads a few levels deeper than json before a RecursionError. How deep json goes
    # depends on the Python version (about 1,000 levels on 3.10 and 3.11, several thousand from 3.12):
    # find json's own limit, then compare the depths on both sides of it.
    limit = first_depth_json_refuses()
    read = failed = 0
    for depth in [*range(1, 50), *range(limit - 60, limit + 60)]:
        verdict, before = with_and_without_msgspec(read_or_error, nested_line(depth))
        assert verdict == before, depth
        read += verdict == "read"
        failed += verdict == "input line 7 is not JSON (RecursionError)"
    # The bisection ran a few frames deeper than the loop, so the limit may be off by a few levels here.
    assert read > 49 + 50
    assert failed > 50


def nested_line(depth: int) -> str:
    return record_line('{"x": ' + "[" * depth + "]" * depth + "}")


def first_depth_json_refuses() -> int:
    """The smallest nesting depth json (msgspec left out) refuses, by bisection."""

    def json_reads(depth: int) -> bool:
        return with_and_without_msgspec(read_or_error, nested_line(depth))[1] == "read"

    low, high = 1, 1_000_000
    assert json_reads(low)
    assert not json_reads(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if json_reads(middle) else (low, middle)
    return high


def read_or_error(line: str) -> str:
    """Whether _message_of reads a line (too deep to compare its value), or its error."""
    try:
        target._message_of(line, 7)
    except InputError as exc:
        return str(exc)
    return "read"


def with_and_without_msgspec(function: Any, line: str) -> tuple[Any, Any]:
    """What `function` makes of the line, then with every line left to json as before msgspec
    (called from the same depth: how deep json may nest depends on the stack)."""
    original = target._fast_read
    results = []
    for fast_read in (original, lambda _line: None):
        target._fast_read = fast_read
        try:
            results.append(function(line))
        finally:
            target._fast_read = original
    return results[0], results[1]


# ---- payloads ---------------------------------------------------------------------------------


_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=json_default)


def json_encoded(value: Any) -> bytes:
    """How payloads were encoded before msgspec."""
    return _JSON.encode(value).encode()


class Opaque:
    def __str__(self) -> str:
        return "opaque"


UTC = dt.timezone.utc
RAW = [
    Decimal("12.50"),
    Decimal("1E+2"),
    Decimal("-0"),
    Decimal("0.1000000000000000055511151231257827"),
    Decimal("123456789012345678901234567890"),
    2**63,
    2**64,
    -(2**70),
    10**30,
    1.5,
    0.1,
    1e16,
    1e-5,
    5e-324,
    1.7976931348623157e308,
    -0.0,
    True,
    False,
    None,
    "café 😀 ñandú",
    'quotes " and \\ and / and \n\t\r\b\f \x00\x1f\x7f \u2028\u2029',
    {"a": [1, {"b": [Decimal("2.5"), "é"]}], "c": (), "d": {}},
    (1, "two", [3.0]),
    Opaque(),
]
# What translation turns values into before they reach a payload (datetimes become text).
FITTED = [
    dt.datetime(2026, 11, 20, 10, 15, 0),  # noqa: DTZ001 - naive is UTC
    dt.datetime(2026, 11, 20, 10, 15, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5))),
    dt.datetime(2026, 11, 20, tzinfo=UTC),
    dt.date(2026, 11, 20),
    Decimal("12.50"),
    {"when": dt.datetime(2026, 1, 2, 3, 4, 5), "amounts": [Decimal("1E+2")]},  # noqa: DTZ001
    {1: "int key", "nested": {"deeper": [{"x": Decimal("7")}]}},
]


@pytest.mark.parametrize("value", RAW + [fit_value(v, 1, LimitCounter()) for v in FITTED])
def test_payloads_encode_to_the_json_values_they_had(value: Any) -> None:
    resource = {"type": "event", "attributes": {"properties": {"v": value}, "list": [value]}}
    sent = encode(resource)
    assert isinstance(sent, bytes)
    assert shape(json.loads(sent)) == shape(json.loads(json_encoded(resource)))


def test_payloads_are_compact_utf8() -> None:
    value = {"name": "Zoë 😀", "list": [1, 2], "nested": {"a": None}}
    assert encode(value) == json_encoded(value)
    assert encode(value) == '{"name":"Zoë 😀","list":[1,2],"nested":{"a":null}}'.encode()


def test_records_kept_for_dead_letters_are_encoded_as_before() -> None:
    record = {
        "nan": float("nan"),
        "inf": float("inf"),
        "amount": Decimal("12.50"),
        "whole": Decimal("1E+2"),
        "beyond": Decimal("1E+400"),
        "at": dt.datetime(2026, 11, 20, 10, 15, tzinfo=UTC),
    }
    assert encode_record(record) == json_encoded(record)
