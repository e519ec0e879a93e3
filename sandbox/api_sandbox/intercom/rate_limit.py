"""Intercom's rate limit: the per-minute allowance split into 10-second windows on wall-clock boundaries."""

from __future__ import annotations

import time
from collections.abc import Callable

WINDOW_SECONDS = 10


class WindowRateLimiter:
    """Counts calls per 10-second window; `limit_per_minute` 0 turns limiting off (headers still sent)."""

    def __init__(self, limit_per_minute: int, clock: Callable[[], float] = time.time) -> None:
        if limit_per_minute < 0:
            msg = f"rate_limit_per_minute must be >= 0, got {limit_per_minute}"
            raise ValueError(msg)
        self.enabled = limit_per_minute > 0
        # 10,000 a minute -> 1,666 a window, as Intercom's X-RateLimit-Limit shows
        self.limit = limit_per_minute // 6 if self.enabled else 10_000 // 6
        self.limit = max(self.limit, 1)
        self._clock = clock
        self._window = -1
        self._used = 0

    def _roll(self) -> int:
        window = int(self._clock() // WINDOW_SECONDS)
        if window != self._window:
            self._window = window
            self._used = 0
        return window

    def hit(self) -> tuple[bool, dict[str, str]]:
        """Count one call: (allowed, the X-RateLimit-* headers to send with the response)."""
        window = self._roll()
        allowed = not self.enabled or self._used < self.limit
        if allowed:
            self._used += 1
        return allowed, self._headers(window)

    def exhausted_headers(self) -> dict[str, str]:
        """Headers of a 429 (Remaining 0), for throttles injected as faults."""
        window = self._roll()
        headers = self._headers(window)
        headers["X-RateLimit-Remaining"] = "0"
        return headers

    def _headers(self, window: int) -> dict[str, str]:
        remaining = max(0, self.limit - self._used) if self.enabled else self.limit
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str((window + 1) * WINDOW_SECONDS),
        }

    def exceeded_message(self) -> str:
        return f"Exceeded rate limit of {self.limit} in 10_seconds"
