"""Fault knobs of the Klaviyo stand-in over HTTP: Klaviyo-shaped 500 and 429, empty bodies, drops, latency."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from api_sandbox.klaviyo import examples as ex
from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import FaultSettings, KlaviyoSettings
from api_sandbox.testing import control

NO_FAULTS = {
    "latency_ms": 0,
    "error_rate": 0,
    "throttle_rate": 0,
    "empty_body_rate": 0,
    "drop_rate": 0,
    "seed": 0,
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[BackgroundSandbox]:
    with BackgroundSandbox(klaviyo=KlaviyoSettings(rate_limit_scale=0)) as running:
        yield running


@pytest.fixture
def url(sandbox: BackgroundSandbox) -> Iterator[str]:
    base = sandbox.urls["klaviyo"]
    control(base, "reset", {})
    yield base
    control(base, "faults", NO_FAULTS)


def post_event(url: str) -> requests.Response:
    return ex.call(url, "POST", "/api/events", ex.create_event())


def test_error_rate_gives_klaviyo_shaped_500_before_processing(url: str) -> None:
    control(url, "faults", {"error_rate": 1.0})
    response = post_event(url)
    assert response.status_code == 500
    [error] = response.json()["errors"]
    assert (error["status"], error["code"]) == (500, "error")
    assert control(url, "events")["events"] == []
    assert control(url, "faults")["injected"] == {"error": 1}


def test_throttle_rate_gives_429_with_retry_after(url: str) -> None:
    control(url, "faults", {"throttle_rate": 1.0})
    response = post_event(url)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    [error] = response.json()["errors"]
    assert (error["code"], error["detail"]) == (
        "throttled",
        "Request was throttled. Expected available in 1 second.",
    )
    assert control(url, "events")["events"] == []
    assert control(url, "report")["throttled"] == 1


def test_empty_body_rate_empties_200_responses_after_processing(url: str) -> None:
    body = ex.profile_import({"email": "ana@example.com"})
    assert ex.call(url, "POST", "/api/profile-import", body).status_code == 201
    control(url, "faults", {"empty_body_rate": 1.0})
    created_again = ex.call(url, "POST", "/api/profile-import", body)
    assert created_again.status_code == 200
    assert created_again.content == b""
    assert control(url, "report")["profiles"] == 1


def test_drop_rate_closes_the_connection_after_processing(url: str) -> None:
    control(url, "faults", {"drop_rate": 1.0})
    with pytest.raises(requests.ConnectionError):
        post_event(url)
    [event] = control(url, "events")["events"]  # processed, though the client never heard back
    assert event["unique_id"] == "conversation:1:created"
    assert control(url, "faults")["injected"] == {"drop": 1}


def test_latency_is_added_to_api_calls_only(url: str) -> None:
    control(url, "faults", {"latency_ms": 300})
    started = time.monotonic()
    assert post_event(url).status_code == 202
    assert time.monotonic() - started >= 0.3


def test_control_endpoints_are_never_faulted(url: str) -> None:
    control(url, "faults", {"error_rate": 1.0, "throttle_rate": 1.0, "drop_rate": 1.0})
    assert control(url, "report")["metrics"] == {}
    assert control(url, "stats") == {"requests": {}, "statuses": {}}


def test_fault_rates_are_drawn_from_the_seed(url: str) -> None:
    control(url, "faults", {"error_rate": 0.5, "seed": 7})
    first = [post_event(url).status_code for _ in range(12)]
    control(url, "faults", {"error_rate": 0.5, "seed": 7})
    second = [post_event(url).status_code for _ in range(12)]
    assert first == second
    assert set(first) == {202, 500}


def test_bad_fault_settings_are_rejected(url: str) -> None:
    for bad in ({"error_rate": 2}, {"typo_rate": 0.1}):
        response = requests.post(f"{url}/_sandbox/faults", json=bad, timeout=10)
        assert response.status_code == 400
    assert control(url, "faults")["settings"]["error_rate"] == 0


def test_faults_from_settings_apply_from_the_start() -> None:
    settings = KlaviyoSettings(rate_limit_scale=0, faults=FaultSettings(error_rate=1.0))
    with BackgroundSandbox(klaviyo=settings) as sandbox:
        assert post_event(sandbox.urls["klaviyo"]).status_code == 500
