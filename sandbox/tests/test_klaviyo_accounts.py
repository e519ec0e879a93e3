"""Accounts over HTTP: every key of one account shares its rate limits (RateLimit-* headers, 429 with
Retry-After), keys of another account do not; GET /api/accounts answers the key's own account.

The limiter's clock is replaced by a hand-moved one, so a minute-long window takes no time to test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from openapi_client.models.get_account_response_collection import GetAccountResponseCollection

from api_sandbox.klaviyo import examples as ex
from api_sandbox.klaviyo.access import MAIN_ACCOUNT
from api_sandbox.klaviyo.app import STATE
from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import KlaviyoSettings
from api_sandbox.testing import control

MINUTE = 60 * 1000.0  # a window start: epoch second 60,000 is a whole minute
BULK = "/api/event-bulk-create-jobs"
ACCOUNTS = "/api/accounts"


class HandClock:
    def __init__(self) -> None:
        self.now = MINUTE

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def sandbox() -> Iterator[BackgroundSandbox]:
    # scale 0.1: bulk event create 1/s and 15/m; GET /api/accounts 1/s (never below 1) and 1/m
    with BackgroundSandbox(klaviyo=KlaviyoSettings(rate_limit_scale=0.1)) as running:
        yield running


@pytest.fixture
def clock(sandbox: BackgroundSandbox) -> HandClock:
    hand = HandClock()
    sandbox.apps["klaviyo"][STATE].limiter.clock = hand
    return hand


@pytest.fixture
def url(sandbox: BackgroundSandbox, clock: HandClock) -> str:
    base = sandbox.urls["klaviyo"]
    control(base, "rate-limits", {"scale": 0.1})
    control(base, "reset", {})
    return base


def bulk(url: str, key: str = "pk_sandbox", unique_id: str = "u") -> requests.Response:
    body = ex.bulk_events(
        [ex.bulk_entry({"email": "a@example.com"}, [ex.event_attributes(unique_id=unique_id)])]
    )
    return ex.call(url, "POST", BULK, body, key=key)


def rate_headers(response: requests.Response) -> tuple[int, int, int]:
    assert response.status_code < 400, response.text
    return (
        int(response.headers["RateLimit-Limit"]),
        int(response.headers["RateLimit-Remaining"]),
        int(response.headers["RateLimit-Reset"]),
    )


def test_keys_of_one_account_share_the_steady_budget(url: str, clock: HandClock) -> None:
    added = control(url, "keys", {"key": "pk_second", "scopes": ["events:write"]})
    assert added["account"] == MAIN_ACCOUNT  # no `account`: the configured key's account
    seen = []
    for second in range(15):
        clock.now = MINUTE + second + 0.5  # one a second: the burst window never binds
        key = "pk_sandbox" if second % 2 == 0 else "pk_second"
        seen.append(rate_headers(bulk(url, key, f"u{second}")))
    # Limit and Remaining describe the steady (minute) window, shared by both keys; Reset is the
    # seconds left in it, rounded up.
    assert seen == [(15, 14 - second, 60 - second) for second in range(15)]
    clock.now = MINUTE + 20.25
    for key in ("pk_sandbox", "pk_second"):
        throttled = bulk(url, key)
        assert throttled.status_code == 429, throttled.text
        assert throttled.headers["Retry-After"] == "40"  # until the minute window ends
        assert "RateLimit-Limit" not in throttled.headers
        assert "RateLimit-Remaining" not in throttled.headers
        [error] = throttled.json()["errors"]
        assert (error["code"], error["detail"]) == (
            "throttled",
            "Request was throttled. Expected available in 40 seconds.",
        )
    clock.now = MINUTE + 60.0
    assert rate_headers(bulk(url, "pk_second")) == (15, 14, 60)


def test_keys_of_one_account_share_the_burst_budget(url: str, clock: HandClock) -> None:
    control(url, "keys", {"key": "pk_second", "scopes": ["events:write"]})
    clock.now = MINUTE + 5.5
    assert rate_headers(bulk(url, "pk_sandbox")) == (15, 14, 55)
    throttled = bulk(url, "pk_second")  # 1 a second for the account, not per key
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    clock.now = MINUTE + 6.0
    assert rate_headers(bulk(url, "pk_second")) == (15, 13, 54)


def test_another_account_has_its_own_budget(url: str, clock: HandClock) -> None:
    added = control(
        url, "keys", {"key": "pk_other", "scopes": ["events:write"], "account": "Oth3r"}
    )
    assert added == {"key_added": True, "scopes": ["events:write"], "account": "Oth3r"}
    clock.now = MINUTE + 0.5
    assert rate_headers(bulk(url, "pk_sandbox")) == (15, 14, 60)
    assert bulk(url, "pk_sandbox").status_code == 429  # the main account's burst is spent
    assert rate_headers(bulk(url, "pk_other")) == (15, 14, 60)  # the other account's is not


def test_remaining_counts_only_allowed_requests(url: str, clock: HandClock) -> None:
    clock.now = MINUTE + 0.5
    assert rate_headers(bulk(url)) == (15, 14, 60)
    assert bulk(url).status_code == 429  # burst; not counted against the minute
    clock.now = MINUTE + 1.5
    assert rate_headers(bulk(url)) == (15, 13, 59)


def test_rejected_requests_carry_the_headers_too(url: str, clock: HandClock) -> None:
    clock.now = MINUTE + 0.5
    bad = ex.call(url, "POST", BULK, {"data": {}})
    assert bad.status_code == 400
    assert (bad.headers["RateLimit-Limit"], bad.headers["RateLimit-Remaining"]) == ("15", "14")


def test_account_key_validation(url: str) -> None:
    for payload in (
        {"key": "k", "scopes": [], "account": ""},
        {"key": "k", "scopes": [], "account": "has space"},
        {"key": "k", "scopes": [], "account": 7},
    ):
        response = requests.post(f"{url}/_sandbox/keys", json=payload, timeout=10)
        assert response.status_code == 400, payload
        assert "account" in response.json()["error"]


# -- GET /api/accounts --------------------------------------------------------------------------------


def test_get_accounts_lists_the_keys_account(url: str, clock: HandClock) -> None:
    clock.now = MINUTE + 0.5
    response = ex.call(url, "GET", ACCOUNTS)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/vnd.api+json")
    body = response.json()
    parsed = GetAccountResponseCollection.from_dict(body)  # the official SDK's model
    assert parsed is not None
    [account] = body["data"]
    assert (account["type"], account["id"]) == ("account", MAIN_ACCOUNT)
    assert account["attributes"]["public_api_key"] == MAIN_ACCOUNT
    assert account["links"]["self"] == f"{url}/api/accounts/{MAIN_ACCOUNT}/"
    assert body["links"] == {"self": f"{url}/api/accounts/", "next": None, "prev": None}
    # XS tier: 1/s, 15/m (x 0.1 -> 1/m)
    assert rate_headers(response) == (1, 0, 60)
    assert ex.call(url, "GET", f"{ACCOUNTS}/").status_code == 429

    control(url, "keys", {"key": "pk_elsewhere", "scopes": ["accounts:read"], "account": "XyZ123"})
    other = ex.call(url, "GET", ACCOUNTS, key="pk_elsewhere")
    assert other.status_code == 200, other.text
    assert [a["id"] for a in other.json()["data"]] == ["XyZ123"]


def test_get_accounts_needs_a_valid_key_and_the_accounts_read_scope(url: str) -> None:
    control(url, "rate-limits", {"scale": 0})
    missing = ex.call(url, "GET", ACCOUNTS, key=None)
    assert missing.status_code == 401
    assert missing.json()["errors"][0]["code"] == "not_authenticated"
    wrong = ex.call(url, "GET", ACCOUNTS, key="pk_wrong")
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["code"] == "authentication_failed"
    assert "pk_wrong" not in wrong.text
    control(url, "keys", {"key": "pk_events", "scopes": ["events:write", "profiles:write"]})
    denied = ex.call(url, "GET", ACCOUNTS, key="pk_events")
    assert denied.status_code == 403
    [error] = denied.json()["errors"]
    assert error["code"] == "permission_denied"
    assert "accounts:read" in error["detail"]
    no_revision = ex.call(url, "GET", ACCOUNTS, revision=None)
    assert no_revision.status_code == 400
