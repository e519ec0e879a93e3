"""Mangled request bodies (seeded) never crash the Klaviyo stand-in: each gets Klaviyo's 2xx or 4xx."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from api_sandbox.klaviyo import examples as ex
from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import KlaviyoSettings

REPLACEMENTS: list[Any] = ["x", 5, [1], None, {"q": 1}, {}, True, []]
REVISIONS = ("2025-01-15", "2026-01-15", "2026-07-15", "2026-10-15")
BODIES: list[tuple[str, dict[str, Any]]] = [
    (
        "/api/event-bulk-create-jobs",
        ex.bulk_events(
            [
                ex.bulk_entry(
                    {"email": f"u{i}@example.com", "properties": {"a": [1]}},
                    [ex.event_attributes(unique_id=f"u{i}-{j}") for j in range(2)],
                )
                for i in range(2)
            ]
        ),
    ),
    (
        "/api/events",
        ex.create_event(
            {
                "email": "a@example.com",
                "meta": {"patch_properties": {"unset": ["a"], "append": {"x": 1}}},
                "location": {"city": "Boston"},
            }
        ),
    ),
    (
        "/api/profile-import",
        ex.profile_import(
            {"email": "a@example.com", "location": {"city": "Boston"}},
            meta={"patch_properties": {"unset": "x"}},
        ),
    ),
    (
        "/api/profile-bulk-import-jobs",
        ex.bulk_profiles(
            [{"email": "a@example.com"}, {"external_id": "e-1"}],
            relationships={"lists": {"data": [{"type": "list", "id": "L1"}]}},
        ),
    ),
]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = KlaviyoSettings(rate_limit_scale=0, job_seconds=0)
    with BackgroundSandbox(klaviyo=settings) as running:
        yield running.urls["klaviyo"]


def paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*path, index))


def mangle(body: dict[str, Any], draw: random.Random) -> dict[str, Any]:
    """Delete one member or replace it with a value of another type."""
    mangled = copy.deepcopy(body)
    path = draw.choice(list(paths(mangled)))
    parent: Any = mangled
    for step in path[:-1]:
        parent = parent[step]
    if draw.random() < 0.3:
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(draw.choice(REPLACEMENTS))
    return mangled


def test_mangled_bodies_get_klaviyo_errors_not_crashes(url: str) -> None:
    draw = random.Random(20261124)
    session = requests.Session()
    statuses: set[int] = set()
    for _ in range(300):
        path, body = draw.choice(BODIES)
        mangled = mangle(body, draw)
        if draw.random() < 0.3:
            mangled = mangle(mangled, draw)
        revision = draw.choice(REVISIONS)
        response = ex.call(url, "POST", path, mangled, session=session, revision=revision)
        statuses.add(response.status_code)
        assert response.status_code in (200, 201, 202, 400, 409), (mangled, response.text)
        if response.status_code == 400:
            for error in response.json()["errors"]:
                assert error["code"] == "invalid"
                assert error["source"]["pointer"].startswith("/data"), (mangled, error)
    assert 400 in statuses
    assert statuses & {200, 201, 202}
