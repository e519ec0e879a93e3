"""The rate-limit lower bound the benchmarks measure their runs against (benchmarks/bounds.py)."""

from __future__ import annotations

from bounds import lower_bound_seconds


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


def test_lower_bound_of_shared_work() -> None:
    # Four minute windows; the fourth opens at 180 s and its 150 requests take 15 burst windows.
    assert lower_bound_seconds(600, 10, 150) == 194.0
