"""One rate limiter shared by every request thread, driven by Intercom's X-RateLimit-* headers.

Intercom splits its per-minute quota into 10-second windows and reports, on each response, the
calls left in the current window (`X-RateLimit-Remaining`) and when it resets (`X-RateLimit-Reset`,
epoch seconds). Requests already in flight are not counted in the last Remaining seen, so the
limiter keeps a headroom of at least the number of concurrent requests: it never overshoots.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Mapping


class RateLimiter:
    """Blocks callers while the current window's budget (minus requests in flight) is spent."""

    def __init__(
        self,
        *,
        headroom: int,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        jitter: float = 0.25,
    ) -> None:
        self.headroom = max(1, headroom)
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._lock = threading.Condition()
        self._remaining: int | None = None  # unknown until the first response
        self._reset_at = 0.0
        self._in_flight = 0
        self.waits = 0

    def acquire(self) -> None:
        """Wait until a request may be sent, then count it as in flight."""
        with self._lock:
            while True:
                now = self._clock()
                if self._remaining is None or now >= self._reset_at:
                    # Unknown or a fresh window: allow one probe at a time until headers arrive.
                    if self._remaining is None and self._in_flight >= self.headroom:
                        self._lock.wait(0.05)
                        continue
                    break
                if self._remaining - self._in_flight > self.headroom:
                    break
                pause = self._reset_at - now + random.uniform(0, self._jitter)
                self.waits += 1
                self._lock.wait(pause)
            self._in_flight += 1
            if self._remaining is not None and now < self._reset_at:
                self._remaining -= 1

    def release(self, headers: Mapping[str, str] | None) -> None:
        """Record a response's rate-limit headers (None: no response) and free the slot."""
        with self._lock:
            self._in_flight -= 1
            if headers:
                self._observe(headers)
            self._lock.notify_all()

    def _observe(self, headers: Mapping[str, str]) -> None:
        remaining, reset = headers.get("X-RateLimit-Remaining"), headers.get("X-RateLimit-Reset")
        if remaining is None or reset is None:
            return
        try:
            remaining_calls, reset_at = int(remaining), float(reset)
        except ValueError:
            return
        if reset_at > self._reset_at:
            self._reset_at, self._remaining = reset_at, remaining_calls
        elif reset_at == self._reset_at and self._remaining is not None:
            # Responses of one window arrive out of order: the smallest count is the latest.
            self._remaining = min(self._remaining, remaining_calls)
        # reset_at < self._reset_at: a late response from an earlier window tells nothing new.

    def throttled(self, headers: Mapping[str, str] | None) -> float:
        """After a 429: how long the throttled request should wait (until the window's reset).

        Only that request waits; the shared budget is left to the Remaining headers of answered
        requests, so an isolated 429 (a proxy, another app's burst) does not stall every thread.
        When the quota is really spent, the other threads get their own 429 and wait as well.
        """
        now = self._clock()
        reset_at = now + 1.0
        if headers and headers.get("X-RateLimit-Reset"):
            with contextlib.suppress(ValueError):
                reset_at = float(headers["X-RateLimit-Reset"])
        with self._lock:
            self.waits += 1
        return max(0.0, reset_at - now) + random.uniform(0, self._jitter)
