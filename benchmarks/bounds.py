"""The rate-limit lower bound the benchmarks compare their runs' times with."""

from __future__ import annotations

import math


def lower_bound_seconds(requests: int, burst: int, steady: int, *, start: float = 0.0) -> float:
    """The least time `requests` requests need with fixed windows of one second (`burst` each) and
    one minute (`steady` each), aligned on the clock as Klaviyo's are, starting at clock time
    `start`: each second's window takes what both windows still allow."""
    if requests <= 0:
        return 0.0
    second = math.floor(start)
    minute, used = second // 60, 0
    left = requests
    while True:
        if second // 60 != minute:
            minute, used = second // 60, 0
        sent = min(burst, steady - used, left)
        left -= sent
        used += sent
        if left == 0:
            return float(max(0.0, second - start))
        # The minute's allowance is spent: the next request waits for the next minute window.
        second = (minute + 1) * 60 if used >= steady else second + 1
