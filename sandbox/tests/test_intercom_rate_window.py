"""A shorter rate-limit window for tests, runtime rate-limit changes, and what "no limit" advertises."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from api_sandbox.intercom.rate_limit import UNLIMITED, WindowRateLimiter
from api_sandbox.intercom.testing import IntercomTestClient
from api_sandbox.settings import IntercomSettings
from api_sandbox.testing import SandboxProcess

NOW = 1_750_000_000


def _client(start_sandbox: Any, **settings: Any) -> IntercomTestClient:
    sandbox = start_sandbox(
        IntercomSettings(now=NOW, contacts=5, conversations=5, tickets=2, **settings)
    )
    return IntercomTestClient(sandbox.urls["intercom"])


def _early_in_window(seconds: float) -> None:
    """Start counting in the first half of a window, so it cannot roll over mid-count."""
    into = time.time() % seconds
    if into > seconds / 2:
        time.sleep(seconds - into + 0.01)


def test_a_one_second_window_429s_and_resets_within_a_second(start_sandbox: Any) -> None:
    api = _client(start_sandbox, rate_limit_per_minute=600, rate_window_seconds=1)  # 10 a window
    _early_in_window(1)
    remaining = []
    for _ in range(10):
        response = api.get("/me")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "10"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == list(range(9, -1, -1))
    throttled = api.get("/me")
    assert throttled.status_code == 429
    assert throttled.json()["errors"][0] == {
        "code": "rate_limit_exceeded",
        "message": "Exceeded rate limit of 10 in 1_seconds",
    }
    reset = int(throttled.headers["X-RateLimit-Reset"])
    assert throttled.headers["X-RateLimit-Remaining"] == "0"
    assert time.time() < reset <= time.time() + 1
    time.sleep(max(0.0, reset - time.time()) + 0.02)
    again = api.get("/me")
    assert again.status_code == 200
    assert again.headers["X-RateLimit-Remaining"] == "9"
    assert int(again.headers["X-RateLimit-Reset"]) == reset + 1


def test_rate_limits_change_at_run_time(start_sandbox: Any) -> None:
    api = _client(start_sandbox)
    assert api.control("rate-limits") == {
        "per_minute": 10_000,
        "window_seconds": 10.0,
        "limit_per_window": 1666,
        "enabled": True,
    }
    assert api.control("rate-limits", {"per_minute": 120, "window_seconds": 2}) == {
        "per_minute": 120,
        "window_seconds": 2.0,
        "limit_per_window": 4,
        "enabled": True,
    }
    _early_in_window(2)
    statuses = [api.get("/me").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert int(api.get("/me").headers["X-RateLimit-Reset"]) % 2 == 0
    api.control("rate-limits", {"per_minute": 0})
    assert {api.get("/me").status_code for _ in range(20)} == {200}


@pytest.mark.parametrize(
    "body",
    [{"per_minute": -1}, {"window_seconds": 0}, {"window_seconds": "1"}, {"burst": 3}],
)
def test_bad_rate_limit_settings_are_400(start_sandbox: Any, body: dict[str, Any]) -> None:
    api = _client(start_sandbox)
    response = requests.post(f"{api.base_url}/_sandbox/rate-limits", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"].startswith("rate-limits:")
    assert api.control("rate-limits")["limit_per_window"] == 1666


def test_no_limit_advertises_a_budget_no_client_throttles_on(start_sandbox: Any) -> None:
    api = _client(start_sandbox, rate_limit_per_minute=0, rate_window_seconds=1)
    headers = [api.get("/me").headers for _ in range(50)]
    assert {h["X-RateLimit-Limit"] for h in headers} == {str(UNLIMITED)}
    # nothing is counted, so Remaining never falls
    assert {h["X-RateLimit-Remaining"] for h in headers} == {str(UNLIMITED)}
    assert all(int(h["X-RateLimit-Reset"]) >= time.time() - 1 for h in headers)


def test_the_cli_flag_sets_the_window() -> None:
    with SandboxProcess(
        "--only",
        "intercom",
        "--contacts",
        "3",
        "--conversations",
        "3",
        "--tickets",
        "1",
        "--intercom-rate-limit",
        "300",
        "--intercom-rate-window-seconds",
        "2",
    ).start() as process:
        api = IntercomTestClient(process.urls["intercom"])
        assert api.control("rate-limits")["window_seconds"] == 2.0
        response = api.get("/me")
        assert response.headers["X-RateLimit-Limit"] == "10"
        assert int(response.headers["X-RateLimit-Reset"]) % 2 == 0


def test_the_cli_rejects_a_window_of_zero() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "api_sandbox.cli", "serve", "--intercom-rate-window-seconds", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "--intercom-rate-window-seconds must be > 0, got 0.0" in done.stderr


def test_limiter_windows_of_other_lengths() -> None:
    clock = [1_750_000_000.7]
    limiter = WindowRateLimiter(300, clock=lambda: clock[0], window_seconds=0.5)  # 2 a window
    assert limiter.hit() == (
        True,
        {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "1750000001"},
    )
    assert limiter.hit()[0]
    assert not limiter.hit()[0]
    clock[0] = 1_750_000_001.0  # the next half-second window
    assert limiter.hit()[1]["X-RateLimit-Remaining"] == "1"
    assert limiter.exceeded_message() == "Exceeded rate limit of 2 in 0.5_seconds"
    assert WindowRateLimiter(10_000, window_seconds=60).limit == 10_000
    assert WindowRateLimiter(10_000).limit == 1666
    assert WindowRateLimiter(1, window_seconds=1).limit == 1  # never a window of 0 calls
    with pytest.raises(ValueError, match="rate_window_seconds must be > 0"):
        WindowRateLimiter(100, window_seconds=0)
