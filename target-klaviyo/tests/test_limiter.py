"""The per-endpoint limiter on a fake clock."""

from __future__ import annotations

import threading

from target_klaviyo.limiter import WindowLimiter, scaled


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


def test_a_refused_request_gives_its_place_back() -> None:
    clock = FakeClock()
    limiter = WindowLimiter(2, 100, second=1.0, minute=60.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    refused = limiter.acquire()
    limiter.release(refused)  # the server answered 429 and did not count it
    limiter.acquire()
    assert clock.now == 1000.0
