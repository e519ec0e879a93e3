"""Pure parts: incremental windows, search bodies, the cursor guard and the rate limiter."""

from __future__ import annotations

import threading

import pytest

from tap_intercom_events.limiter import RateLimiter
from tap_intercom_events.search import (
    CursorGuard,
    contact_search_body,
    next_cursor,
    search_body,
)
from tap_intercom_events.settings import parse_start_date
from tap_intercom_events.window import SyncWindow, plan_replay, plan_window


def test_parse_start_date_accepts_dates_datetimes_and_epochs() -> None:
    assert parse_start_date("2024-01-01") == 1_704_067_200
    assert parse_start_date("2024-01-01T00:00:10Z") == 1_704_067_210
    assert parse_start_date("2024-01-01T02:00:00+02:00") == 1_704_067_200
    assert parse_start_date(1_704_067_200) == 1_704_067_200
    assert parse_start_date("1704067200") == 1_704_067_200


def test_parse_start_date_rejects_garbage_with_the_value_in_the_message() -> None:
    with pytest.raises(ValueError, match=r"start_date 'yesterday' is not"):
        parse_start_date("yesterday")


def test_first_run_starts_at_start_date_and_ends_before_the_run_started() -> None:
    window = plan_window(bookmark=None, events_after=None, start_date=1000, lookback=0, now=5000)
    assert window == SyncWindow(lower=1000, end=4999, events_after=1000, floor=1000)


def test_finished_run_continues_from_its_bookmark() -> None:
    window = plan_window(bookmark=4999, events_after=4999, start_date=1000, lookback=0, now=9000)
    assert window == SyncWindow(
        lower=4999, end=8999, events_after=4999, floor=4999, stored_floor=4999
    )


def test_interrupted_run_keeps_the_event_floor_of_the_unfinished_window() -> None:
    window = plan_window(bookmark=3000, events_after=1000, start_date=0, lookback=0, now=9000)
    assert window == SyncWindow(
        lower=3000, end=8999, events_after=1000, floor=1000, stored_floor=1000
    )


def test_lookback_widens_both_the_search_and_the_event_floor() -> None:
    window = plan_window(bookmark=4999, events_after=4999, start_date=0, lookback=600, now=9000)
    assert window == SyncWindow(
        lower=4399, end=8999, events_after=4399, floor=4999, stored_floor=4999
    )
    # The lookback's events were in the previous window; the ones after its end are new.
    assert (window.reemits(4400), window.reemits(4999), window.reemits(5000)) == (
        True,
        True,
        False,
    )


def test_start_date_later_than_the_bookmark_wins() -> None:
    window = plan_window(bookmark=100, events_after=100, start_date=2000, lookback=0, now=9000)
    assert (window.lower, window.events_after) == (2000, 100)
    assert (window.reemits(100), window.reemits(101)) == (True, False)


def test_only_a_stored_floor_makes_events_re_emitted() -> None:
    """A first run's lookback before start_date was never emitted; a replay stores nothing; a
    state with a bookmark only (no events_after) had its floor there."""
    first = plan_window(bookmark=None, events_after=None, start_date=1000, lookback=600, now=5000)
    assert (first.events_after, first.stored_floor, first.reemits(500)) == (400, None, False)
    assert plan_replay(start=1000, end=5000).reemits(999) is False
    legacy = plan_window(bookmark=3000, events_after=None, start_date=4000, lookback=0, now=9000)
    assert (legacy.floor, legacy.stored_floor) == (4000, 3000)


def test_search_body_is_ascending_and_widened_by_a_second() -> None:
    assert search_body(field="updated_at", lower=10, upper=20, page_size=150, cursor="abc") == {
        "query": {
            "operator": "AND",
            "value": [
                {"field": "updated_at", "operator": ">", "value": 10},
                {"field": "updated_at", "operator": "<", "value": 21},
            ],
        },
        "pagination": {"per_page": 150, "starting_after": "abc"},
        "sort": {"field": "updated_at", "order": "ascending"},
    }


def test_contact_search_starts_a_day_before_the_bookmark() -> None:
    body = contact_search_body(lower=1_704_067_200, page_size=500, cursor=None)
    assert body == {
        "query": {"field": "updated_at", "operator": ">", "value": 1_703_980_800},
        "pagination": {"per_page": 150},
        "sort": {"field": "updated_at", "order": "ascending"},
    }


def test_next_cursor_and_guard() -> None:
    assert next_cursor({"pages": {"next": {"starting_after": "B"}}}) == "B"
    assert next_cursor({"pages": {"next": None}}) is None
    assert next_cursor({"pages": {"next": "https://api.intercom.io/tags?page=2"}}) is None
    guard = CursorGuard()
    assert [guard.is_new(c) for c in ["A", "B", "A"]] == [True, True, False]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_spends_the_window_down_to_its_headroom_then_waits_for_reset() -> None:
    clock = FakeClock()
    limiter = RateLimiter(headroom=2, clock=clock, jitter=0.0)
    limiter.acquire()
    limiter.release({"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "1010"})
    # 5 left: requests go while remaining - in flight > headroom (5, 4 and 3 > 2).
    for _ in range(3):
        limiter.acquire()
        limiter.release(None)
    blocked = threading.Event()

    def attempt() -> None:
        limiter.acquire()
        blocked.set()

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    assert not blocked.wait(0.2)  # at the headroom: waits for the window to reset
    clock.now = 1010.0
    with limiter._lock:
        limiter._lock.notify_all()
    assert blocked.wait(2)
    thread.join(2)
    assert limiter.waits >= 1


def test_limiter_ignores_late_responses_of_an_old_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(headroom=1, clock=clock)
    limiter.acquire()
    limiter.release({"X-RateLimit-Remaining": "100", "X-RateLimit-Reset": "1010"})
    limiter.acquire()
    limiter.release({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000"})
    assert limiter._remaining == 99  # one acquired since the 100, the stale 0 ignored


def test_limiter_after_429_waits_until_reset() -> None:
    clock = FakeClock()
    limiter = RateLimiter(headroom=1, clock=clock, jitter=0.0)
    assert limiter.throttled({"X-RateLimit-Reset": "1007"}) == 7.0
    assert limiter.throttled({"X-RateLimit-Reset": "990"}) == 0.0  # already reset
    assert limiter.throttled({}) == 1.0  # no header: a short pause
