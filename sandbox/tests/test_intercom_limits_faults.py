"""Rate limiting per 10-second window and the fault knobs, over HTTP (plus the limiter's clock logic)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from api_sandbox.intercom.rate_limit import WindowRateLimiter
from api_sandbox.intercom.testing import IntercomTestClient
from api_sandbox.settings import FaultSettings, IntercomSettings

NOW = 1_750_000_000


def _client(start_sandbox: Any, **settings: Any) -> IntercomTestClient:
    sandbox = start_sandbox(
        IntercomSettings(now=NOW, contacts=20, conversations=20, tickets=5, **settings)
    )
    return IntercomTestClient(sandbox.urls["intercom"])


def _wait_for_window_start() -> None:
    """Tests that count calls in one window start early in a window, so it cannot roll over mid-test."""
    into_window = time.time() % 10
    if into_window > 6:
        time.sleep(10 - into_window + 0.05)


# ---- rate limit ----------------------------------------------------------------------------------------


def test_rate_limit_per_window_then_429(start_sandbox: Any) -> None:
    api = _client(start_sandbox, rate_limit_per_minute=60)  # 10 a window
    _wait_for_window_start()
    remaining = []
    for _ in range(10):
        response = api.get("/admins")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "10"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    throttled = api.get("/admins")
    assert throttled.status_code == 429
    assert throttled.json()["errors"] == [
        {"code": "rate_limit_exceeded", "message": "Exceeded rate limit of 10 in 10_seconds"}
    ]
    assert throttled.headers["X-RateLimit-Remaining"] == "0"
    reset = int(throttled.headers["X-RateLimit-Reset"])
    assert reset % 10 == 0
    assert time.time() < reset <= time.time() + 10


def test_default_limit_is_1666_a_window_and_zero_turns_it_off(start_sandbox: Any) -> None:
    default = _client(start_sandbox)
    assert default.get("/me").headers["X-RateLimit-Limit"] == "1666"
    tiny = _client(start_sandbox, rate_limit_per_minute=6)  # 1 a window
    _wait_for_window_start()
    assert tiny.get("/me").status_code == 200
    assert tiny.get("/me").status_code == 429
    off = _client(start_sandbox, rate_limit_per_minute=0)
    assert {off.get("/me").status_code for _ in range(30)} == {200}


def test_limiter_windows_align_to_wall_clock_ten_seconds() -> None:
    clock = [1_750_000_003.5]
    limiter = WindowRateLimiter(120, clock=lambda: clock[0])  # 20 a window
    allowed, headers = limiter.hit()
    assert allowed
    assert headers == {
        "X-RateLimit-Limit": "20",
        "X-RateLimit-Remaining": "19",
        "X-RateLimit-Reset": "1750000010",
    }
    for _ in range(19):
        assert limiter.hit()[0]
    assert limiter.hit() == (
        False,
        {
            "X-RateLimit-Limit": "20",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "1750000010",
        },
    )
    clock[0] = 1_750_000_010.0  # the next window starts on the boundary
    allowed, headers = limiter.hit()
    assert allowed
    assert headers["X-RateLimit-Remaining"] == "19"
    assert headers["X-RateLimit-Reset"] == "1750000020"


def test_limiter_rejects_negative_limit() -> None:
    with pytest.raises(ValueError, match="rate_limit_per_minute must be >= 0"):
        WindowRateLimiter(-1)


# ---- faults --------------------------------------------------------------------------------------------


def _set_faults(api: IntercomTestClient, **faults: float) -> None:
    api.control("faults", faults)


def test_injected_500_is_an_intercom_server_error(start_sandbox: Any) -> None:
    api = _client(start_sandbox)
    _set_faults(api, error_rate=1.0)
    response = api.get("/me")
    assert response.status_code == 500
    assert response.json()["type"] == "error.list"
    assert response.json()["errors"][0]["code"] == "server_error"
    assert "X-RateLimit-Limit" in response.headers
    assert api.control("faults")["injected"] == {"error": 1}


def test_injected_429_looks_like_the_rate_limiter(start_sandbox: Any) -> None:
    api = _client(start_sandbox)
    _set_faults(api, throttle_rate=1.0)
    response = api.get("/me")
    assert response.status_code == 429
    assert response.json()["errors"][0] == {
        "code": "rate_limit_exceeded",
        "message": "Exceeded rate limit of 1666 in 10_seconds",
    }
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) % 10 == 0


def test_injected_empty_body_is_a_200_without_content(start_sandbox: Any) -> None:
    api = _client(start_sandbox)
    _set_faults(api, empty_body_rate=1.0)
    response = api.get("/conversations/100001")
    assert response.status_code == 200
    assert response.content == b""
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()


def test_dropped_connection_is_a_connection_error_in_requests(start_sandbox: Any) -> None:
    api = _client(start_sandbox)
    _set_faults(api, drop_rate=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("/me")
    # control endpoints never see faults
    assert api.control("faults")["injected"] == {"drop": 1}


def test_latency_is_added_to_api_calls(start_sandbox: Any) -> None:
    api = _client(start_sandbox)
    _set_faults(api, latency_ms=300)
    started = time.perf_counter()
    assert api.get("/me").status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_bad_token_is_401_even_when_faults_are_on(start_sandbox: Any) -> None:
    api = _client(start_sandbox)
    _set_faults(api, error_rate=1.0)
    response = IntercomTestClient(api.base_url, token="nope").get("/me")
    assert response.status_code == 401


def test_fault_draws_are_deterministic_with_the_seed(start_sandbox: Any) -> None:
    runs = []
    for _ in range(2):
        api = _client(start_sandbox, faults=FaultSettings(error_rate=0.5, seed=11))
        runs.append([api.get("/tags").status_code for _ in range(30)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 500}


def test_bad_fault_setting_is_400(start_sandbox: Any) -> None:
    api = _client(start_sandbox)
    response = requests.post(f"{api.base_url}/_sandbox/faults", json={"error_rate": 3}, timeout=10)
    assert response.status_code == 400
    assert "error_rate" in response.json()["error"]


def test_stats_count_requests_by_route_and_status(start_sandbox: Any) -> None:
    api = _client(start_sandbox)
    api.get("/conversations/100001")
    api.get("/conversations/100002")
    api.get("/conversations/1")
    IntercomTestClient(api.base_url, token="nope").get("/me")
    stats = api.control("stats")
    assert stats["requests"] == {"GET /conversations/{id}": 3, "GET /me": 1}
    assert stats["statuses"] == {"200": 2, "404": 1, "401": 1}
