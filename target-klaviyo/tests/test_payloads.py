"""Chunking, grouping by profile, deduplication, bodies and error pointers (pure, no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from target_klaviyo.items import EventItem, Identity, ProfileItem
from target_klaviyo.payloads import (
    chunk_events,
    chunk_profiles,
    event_pointer,
    profile_import_body,
    profile_pointer,
)


def item(contact: int, unique_id: str, metric: str = "Created Ticket", size: int = 0) -> EventItem:
    identity = Identity(f"u{contact}@example.com", None, None)
    properties: dict[str, Any] = {"n": unique_id}
    if size:
        properties["blob"] = "x" * size
    return EventItem(
        record={"event_id": unique_id},
        identity=identity,
        metric=metric,
        unique_id=unique_id,
        resource={
            "type": "event",
            "attributes": {
                "properties": properties,
                "unique_id": unique_id,
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
            },
        },
    )


def test_events_are_grouped_by_profile_in_one_request() -> None:
    chunking = chunk_events([item(1, "a"), item(2, "b"), item(1, "c")])
    assert len(chunking.chunks) == 1
    body = json.loads(chunking.chunks[0].body())
    entries = body["data"]["attributes"]["events-bulk-create"]["data"]
    assert body["data"]["type"] == "event-bulk-create-job"
    assert [e["attributes"]["profile"]["data"]["attributes"] for e in entries] == [
        {"email": "u1@example.com"},
        {"email": "u2@example.com"},
    ]
    assert [
        [ev["attributes"]["unique_id"] for ev in e["attributes"]["events"]["data"]] for e in entries
    ] == [["a", "c"], ["b"]]
    assert entries[0]["type"] == "event-bulk-create"


def test_repeated_profile_metric_unique_id_is_sent_once() -> None:
    chunking = chunk_events(
        [item(1, "a"), item(1, "a"), item(1, "a", metric="Resolved Ticket"), item(2, "a")]
    )
    assert chunking.duplicates == 1
    assert chunking.chunks[0].event_count == 3


def test_requests_hold_at_most_the_event_limit() -> None:
    chunking = chunk_events([item(i % 7, f"e{i}") for i in range(2500)], max_events=1000)
    assert [c.event_count for c in chunking.chunks] == [1000, 1000, 500]


def test_requests_stay_under_the_byte_limit() -> None:
    chunking = chunk_events([item(i, f"e{i}", size=30_000) for i in range(10)], max_bytes=100_000)
    sizes = [len(c.body()) for c in chunking.chunks]
    assert all(size <= 100_000 for size in sizes)
    assert sum(c.event_count for c in chunking.chunks) == 10
    assert len(chunking.chunks) == 4  # three ~30 KB events fit in 100 KB


def test_an_event_bigger_than_a_request_loses_its_largest_property() -> None:
    chunking = chunk_events([item(1, "big", size=200_000), item(1, "ok")], max_bytes=100_000)
    assert chunking.oversized == []
    assert [(d.item.unique_id, d.names) for d in chunking.dropped] == [("big", ["blob"])]
    [chunk] = chunking.chunks
    body = json.loads(chunk.body())
    [group] = body["data"]["attributes"]["events-bulk-create"]["data"]
    sent = [e["attributes"]["properties"] for e in group["attributes"]["events"]["data"]]
    assert sent == [{"n": "big"}, {"n": "ok"}]


def test_fitted_events_keep_every_request_under_the_byte_limit() -> None:
    sizes = [60_000, 99_700, 150_000, 99_000, 30_000]
    events = [item(1, f"e{i}", size=size) for i, size in enumerate(sizes)]
    chunking = chunk_events(events, max_bytes=100_000)
    assert chunking.oversized == []
    assert all(len(c.body()) <= 100_000 for c in chunking.chunks)
    assert sum(c.event_count for c in chunking.chunks) == len(sizes)
    assert sorted(d.item.unique_id for d in chunking.dropped) == ["e1", "e2"]


def test_an_event_too_big_without_its_properties_is_set_aside() -> None:
    huge = item(1, "u" * 200_000)
    chunking = chunk_events([huge, item(1, "ok")], max_bytes=100_000)
    assert [o.item.unique_id for o in chunking.oversized] == [huge.unique_id]
    assert chunking.chunks[0].event_count == 1


def profile(contact: int, name: str = "A") -> ProfileItem:
    identity = Identity(f"u{contact}@example.com", None, None)
    return ProfileItem(
        record={"id": contact, "name": name},
        identity=identity,
        resource={"type": "profile", "attributes": {"email": identity.email, "first_name": name}},
    )


def test_profiles_are_chunked_and_the_latest_record_of_a_profile_wins() -> None:
    chunking = chunk_profiles([profile(1, "Old"), profile(2), profile(1, "New"), profile(3)], 2)
    assert chunking.duplicates == 1
    names = [[p.resource["attributes"]["first_name"] for p in c.profiles] for c in chunking.chunks]
    assert names == [["A", "New"], ["A"]]
    body = json.loads(chunking.chunks[0].body())
    assert body["data"]["type"] == "profile-bulk-import-job"
    assert body["data"]["attributes"]["profiles"]["data"][1] == {
        "type": "profile",
        "attributes": {"email": "u1@example.com", "first_name": "New"},
    }


def test_profile_import_body() -> None:
    assert json.loads(profile_import_body(profile(9))) == {
        "data": {"type": "profile", "attributes": {"email": "u9@example.com", "first_name": "A"}}
    }


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("/data/attributes/events-bulk-create/data/3/attributes/profile", (3, None)),
        (
            "/data/attributes/events-bulk-create/data/12/attributes/events/data/4/attributes/time",
            (12, 4),
        ),
        ("/data/attributes/events-bulk-create/data/0", (0, None)),
        ("/data", None),
        (None, None),
    ],
)
def test_event_pointers_name_the_group_and_event(pointer: str | None, expected: object) -> None:
    assert event_pointer(pointer) == expected


def test_profile_pointers_name_the_profile() -> None:
    assert profile_pointer("/data/attributes/profiles/data/7/attributes/email") == 7
    assert profile_pointer("/data/attributes/profiles/data/0") == 0
    assert profile_pointer("/data/attributes") is None
