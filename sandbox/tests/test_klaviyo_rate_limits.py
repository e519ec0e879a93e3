"""Per-endpoint rate limits over HTTP: burst and steady fixed windows, Retry-After, RateLimit-* headers.

The limiter's clock is replaced by a hand-moved one, so a minute-long window takes no time to test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from api_sandbox.klaviyo import examples as ex
from api_sandbox.klaviyo.app import STATE
from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import KlaviyoSettings
from api_sandbox.testing import control

MINUTE = 60 * 1000.0  # a window start: epoch second 60,000 is a whole minute


class HandClock:
    def __init__(self) -> None:
        self.now = MINUTE

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def sandbox() -> Iterator[BackgroundSandbox]:
    with BackgroundSandbox(klaviyo=KlaviyoSettings(rate_limit_scale=0.02)) as running:
        yield running


@pytest.fixture
def clock(sandbox: BackgroundSandbox) -> HandClock:
    hand = HandClock()
    sandbox.apps["klaviyo"][STATE].limiter.clock = hand
    return hand


@pytest.fixture
def url(sandbox: BackgroundSandbox, clock: HandClock) -> str:
    base = sandbox.urls["klaviyo"]
    control(base, "rate-limits", {"scale": 0.02})
    control(base, "reset", {})
    return base


def post_event(
    url: str, unique_id: str = "u", revision: str = ex.LATEST_REVISION
) -> requests.Response:
    body = ex.create_event(unique_id=unique_id)
    return ex.call(url, "POST", "/api/events", body, revision=revision)


def bulk(url: str) -> requests.Response:
    body = ex.bulk_events([ex.bulk_entry({"email": "a@example.com"}, [ex.event_attributes()])])
    return ex.call(url, "POST", "/api/event-bulk-create-jobs", body)


def assert_throttled(response: requests.Response, retry_after: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["Retry-After"] == retry_after
    assert "RateLimit-Remaining" not in response.headers
    [error] = response.json()["errors"]
    assert (error["status"], error["code"], error["title"]) == (
        429,
        "throttled",
        "Request was throttled.",
    )


def test_burst_limit_per_second(url: str, clock: HandClock) -> None:
    clock.now = MINUTE + 0.25
    # POST /api/events: 350/s x 0.02 = 7 a second.
    statuses = [post_event(url, f"u{i}").status_code for i in range(7)]
    assert statuses == [202] * 7
    assert_throttled(post_event(url, "u7"), "1")
    clock.now = MINUTE + 1.0  # the next one-second window
    assert post_event(url, "u8").status_code == 202


def test_steady_limit_per_minute_and_retry_after(url: str, clock: HandClock) -> None:
    # POST /api/event-bulk-create-jobs: 10/s and 150/m x 0.02 = 1 a second, 3 a minute.
    headers = []
    for second in range(3):
        clock.now = MINUTE + second + 0.5
        response = bulk(url)
        assert response.status_code == 202
        headers.append(
            (
                response.headers["RateLimit-Limit"],
                response.headers["RateLimit-Remaining"],
                response.headers["RateLimit-Reset"],
            )
        )
    assert headers == [("3", "2", "60"), ("3", "1", "59"), ("3", "0", "58")]
    clock.now = MINUTE + 3.5
    assert_throttled(bulk(url), "57")  # until the minute window ends, not the second
    clock.now = MINUTE + 60.0
    assert bulk(url).status_code == 202


def test_limits_are_per_endpoint(url: str, clock: HandClock) -> None:
    clock.now = MINUTE + 0.5
    assert bulk(url).status_code == 202
    assert bulk(url).status_code == 429
    assert post_event(url).status_code == 202


def test_profile_import_steady_limit_follows_the_revision(url: str, clock: HandClock) -> None:
    # 700/m up to 2025-10-15 and 750/m from 2026-01-15; x 0.02 = 14 and 15; burst 75 x 0.02 = 1.
    def import_at(second: int, revision: str) -> int:
        clock.now = MINUTE + second
        body = ex.profile_import({"email": "ana@example.com"})
        return ex.call(url, "POST", "/api/profile-import", body, revision=revision).status_code

    old = [import_at(second, "2025-10-15") for second in range(15)]
    assert old == [201] + [200] * 13 + [429]
    new = [import_at(60 + second, "2026-01-15") for second in range(16)]  # the next minute
    assert new == [200] * 15 + [429]


def test_scale_zero_turns_limits_off_and_headers_with_them(url: str, clock: HandClock) -> None:
    control(url, "rate-limits", {"scale": 0})
    clock.now = MINUTE + 0.5
    responses = [bulk(url) for _ in range(5)]
    assert [r.status_code for r in responses] == [202] * 5
    assert "RateLimit-Limit" not in responses[0].headers


def test_rate_limit_control_endpoint(url: str) -> None:
    assert control(url, "rate-limits") == {"scale": 0.02}
    assert control(url, "rate-limits", {"scale": 2}) == {"scale": 2.0}
    for bad in ({"scale": -1}, {"scale": "fast"}, {}, [1]):
        response = requests.post(f"{url}/_sandbox/rate-limits", json=bad, timeout=10)
        assert response.status_code == 400
        assert response.json()["error"]
    assert control(url, "rate-limits") == {"scale": 2.0}


def test_throttled_requests_are_counted_in_the_report(url: str, clock: HandClock) -> None:
    clock.now = MINUTE + 0.5
    assert [bulk(url).status_code for _ in range(3)] == [202, 429, 429]
    report = control(url, "report")
    assert report["throttled"] == 2
    assert report["requests"] == {"POST /api/event-bulk-create-jobs": 3}
    assert report["rejected_requests"] == []
