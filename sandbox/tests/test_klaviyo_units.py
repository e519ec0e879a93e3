"""Unit tests of the Klaviyo stand-in's pure parts: revisions, phones, limits, the rate limiter, shapes."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_client.models import EventsBulkCreateJob

from api_sandbox.klaviyo.errors import ApiRequestError
from api_sandbox.klaviyo.jobs import decode_cursor, encode_cursor
from api_sandbox.klaviyo.rate_limits import Limit, RateLimiter
from api_sandbox.klaviyo.revisions import parse_revision
from api_sandbox.klaviyo.schema import key_tree, shape, subtree, unknown_keys
from api_sandbox.klaviyo.store import new_id
from api_sandbox.klaviyo.validation import is_e164, value_limit_violation


@pytest.mark.parametrize(
    ("header", "day", "beta"),
    [("2026-10-15", "2026-10-15", False), (" 2025-01-15.pre ", "2025-01-15", True)],
)
def test_parse_revision(header: str, day: str, beta: bool) -> None:
    revision = parse_revision(header)
    assert (revision.day, revision.beta) == (day, beta)


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 400), ("", 400), ("2026-1-15", 400), ("2025-02-15", 400), ("2024-10-15", 410)],
)
def test_parse_revision_errors(header: str | None, status: int) -> None:
    with pytest.raises(ApiRequestError) as raised:
        parse_revision(header)
    assert raised.value.status == status


def test_revision_features() -> None:
    assert [parse_revision(d).has_backfill for d in ("2026-01-15", "2026-04-15")] == [False, True]
    assert [parse_revision(d).earliest_event_year for d in ("2026-04-15", "2026-07-15")] == [
        2000,
        1990,
    ]
    assert [parse_revision(d).max_event_properties for d in ("2025-01-15", "2025-04-15")] == [
        300,
        400,
    ]
    assert [parse_revision(d).profile_import_per_minute for d in ("2025-10-15", "2026-01-15")] == [
        700,
        750,
    ]


@pytest.mark.parametrize(
    ("phone", "valid"),
    [
        ("+15005550006", True),
        ("+447911123456", True),
        ("+14155552671", True),
        ("14155552671", False),
        ("+1415555", False),
        ("+", False),
        ("", False),
    ],
)
def test_is_e164(phone: str, valid: bool) -> None:
    assert is_e164(phone) is valid


def test_value_limits() -> None:
    assert value_limit_violation({"a": "x" * 102_400, "b": [1, 2]}, "/p") is None
    assert value_limit_violation({"a": "x" * 102_401}, "/p") == (
        "/p/a",
        "A string may be at most 102400 bytes (100 KB).",
    )
    # Two-byte characters count by their UTF-8 size.
    assert value_limit_violation({"a": "é" * 51_201}, "/p") is not None
    assert value_limit_violation({"a": [0] * 4001}, "/p") == (
        "/p/a",
        "An array may have at most 4000 items; this one has 4001.",
    )
    deep: Any = 1
    for _ in range(11):  # eleven levels of containers
        deep = [deep]
    assert value_limit_violation(deep, "/p") == (
        "/p" + "/0" * 10,
        "Properties may be nested at most 10 levels deep.",
    )
    assert value_limit_violation(deep[0], "/p") is None


def test_rate_limiter_windows() -> None:
    now = [120.5]
    limiter = RateLimiter(scale=1.0, clock=lambda: now[0])
    limit = Limit(burst=2, steady=3)
    first = limiter.check("acct", "e", limit)
    assert first is not None
    assert (first.allowed, first.limit, first.remaining, first.reset) == (True, 3, 2, 60)
    assert limiter.check("acct", "e", limit).allowed  # type: ignore[union-attr]
    burst = limiter.check("acct", "e", limit)
    assert burst is not None
    assert (burst.allowed, burst.retry_after) == (False, 1)
    assert burst.headers() == {"Retry-After": "1"}
    now[0] = 121.0
    assert limiter.check("acct", "e", limit).allowed  # type: ignore[union-attr]
    now[0] = 122.0
    steady = limiter.check("acct", "e", limit)
    assert steady is not None
    assert (steady.allowed, steady.retry_after) == (False, 58)
    assert limiter.check("acct", "other", limit).allowed  # type: ignore[union-attr]
    now[0] = 180.0
    assert limiter.check("acct", "e", limit).allowed  # type: ignore[union-attr]


def test_rate_limiter_scale() -> None:
    limiter = RateLimiter(scale=0.01)
    assert limiter.scaled(Limit(350, 3500)) == Limit(3, 35)
    assert limiter.scaled(Limit(10, 150)) == Limit(1, 1)  # never below one request
    limiter.set_scale(0)
    assert limiter.check("acct", "e", Limit(1, 1)) is None
    with pytest.raises(ValueError, match="scale"):
        limiter.set_scale(-1)


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor(40)) == 40
    assert decode_cursor("not a cursor") is None
    assert decode_cursor(encode_cursor(0)[:-2]) is None


def test_ids_are_ulid_shaped_and_time_ordered() -> None:
    earlier, later = new_id(1_700_000_000.0), new_id(1_700_000_001.0)
    assert len(earlier) == 26
    assert set(earlier) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert earlier < later


def test_key_tree_comes_from_the_official_models() -> None:
    tree = key_tree(EventsBulkCreateJob)
    entry = subtree(tree, "data", "attributes", "events-bulk-create", "data", "attributes")
    assert set(entry.children) == {"backfill", "profile", "events"}
    profile = subtree(entry, "profile", "data", "attributes")
    assert "anonymous_id" in profile.children
    assert profile.children["properties"] is None  # free-form
    body = {"data": {"type": "event-bulk-create-job", "attributes": {"x": 1}}}
    assert list(unknown_keys(body, tree, "")) == [
        ("/data/attributes/x", "x", "event-bulk-create-job")
    ]


def test_shape_ignores_values_but_not_types_or_enums() -> None:
    tree = key_tree(EventsBulkCreateJob)
    event_tree = subtree(
        tree, "data", "attributes", "events-bulk-create", "data", "attributes", "events", "data"
    )

    def event(**attributes: Any) -> dict[str, Any]:
        return {"type": "event", "attributes": attributes}

    a = event(properties={"x": 1}, unique_id="a")
    b = event(properties={"y": [2]}, unique_id="b")
    assert shape(a, event_tree) == shape(b, event_tree)
    assert shape(a, event_tree) != shape(event(properties={}, unique_id=1), event_tree)
    assert shape(a, event_tree) != shape({**a, "type": "events"}, event_tree)
    assert shape(a, event_tree) != shape(event(properties={}, unique_id="a", z=1), event_tree)
