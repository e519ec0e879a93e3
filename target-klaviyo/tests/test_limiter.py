"""The per-endpoint limiter on a fake clock, and the rate-limit lower bound."""

from __future__ import annotations

import threading

from target_klaviyo.limiter import WindowLimiter, lower_bound_seconds, scaled


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def send_times(limiter: WindowLimiter, clock: FakeClock, n: int) -> list[float]:
    times = []
    for _ in range(n):
        limiter.acquire()
        times.append(clock.now)
    return times


def test_burst_then_one_window_later() -> None:
    clock = FakeClock()
    limiter = WindowLimiter(3, 100, second=1.0, minute=60.0, clock=clock, sleep=clock.sleep)
    times = send_times(limiter, clock, 7)
    assert [round(t - 1000.0, 6) for t in times] == [0, 0, 0, 1, 1, 1, 2]


def test_steady_window_caps_a_minute() -> None:
    clock = FakeClock()
    limiter = WindowLimiter(10, 15, second=1.0, minute=60.0, clock=clock, sleep=clock.sleep)
    times = send_times(limiter, clock, 16)
    offsets = [round(t - 1000.0, 6) for t in times]
    assert offsets[:10] == [0] * 10
    assert offsets[10:15] == [1] * 5
    assert offsets[15] == 60  # the 16th waits for the first to leave the minute window


def test_no_window_of_a_second_or_a_minute_is_ever_over_the_limit() -> None:
    clock = FakeClock()
    limiter = WindowLimiter(10, 150, clock=clock, sleep=clock.sleep)
    times = send_times(limiter, clock, 400)
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 1.0) <= 10
        assert sum(1 for t in times[i:] if t < start + 60.0) <= 150


def test_pause_holds_everyone_back() -> None:
    clock = FakeClock()
    limiter = WindowLimiter(100, 1000, clock=clock, sleep=clock.sleep)
    limiter.pause(5.0)
    limiter.acquire()
    assert clock.now >= 1005.0


def test_scaled_limits_are_at_least_one() -> None:
    assert scaled(10, 0.1) == 1
    assert scaled(150, 0.1) == 15
    assert scaled(3500, 0.001) == 3
    assert scaled(10, 0.01) == 1


def test_lower_bound_of_fixed_windows() -> None:
    # 150 requests at 10/s and 150/min: 15 one-second windows, the first at t=0.
    assert lower_bound_seconds(150, 10, 150) == 14
    # 151 requests: the 151st waits for the next minute window.
    assert lower_bound_seconds(151, 10, 150) == 60
    # 240 requests: 150 in the first minute, then 90 at 10 a second from t=60: the last at t=68.
    assert lower_bound_seconds(240, 10, 150) == 68
    # A steady limit above a minute of bursts never binds.
    assert lower_bound_seconds(1000, 10, 1000) == 99
    assert lower_bound_seconds(1, 10, 150) == 0
    assert lower_bound_seconds(0, 10, 150) == 0
    # Started 50 s into a minute window: 100 requests in its last 10 s, then a new window at 60 s
    # and the other 140 at 10 a second, the last at 73 s: 23 s after the start (68 from 0).
    assert lower_bound_seconds(240, 10, 150, start=50.0) == 23
    # Started half-way through a second: that second's window still takes a burst.
    assert lower_bound_seconds(150, 10, 150, start=0.5) == 13.5


def test_a_refused_request_gives_its_place_back() -> None:
    clock = FakeClock()
    limiter = WindowLimiter(2, 100, second=1.0, minute=60.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    refused = limiter.acquire()
    limiter.release(refused)  # the server answered 429 and did not count it
    limiter.acquire()
    assert clock.now == 1000.0
