"""Intercom's rate limit: the per-minute allowance split into windows (10 s, as Intercom) on wall-clock boundaries."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

WINDOW_SECONDS = 10.0
# Advertised while limiting is off: a budget no client can spend, so none throttles itself on it.
UNLIMITED = 1_000_000_000


class WindowRateLimiter:
    """Counts calls per window; `limit_per_minute` 0 turns limiting off (headers then advertise UNLIMITED).

    A window shorter than Intercom's 10 seconds lets tests see a 429 and its reset quickly; the window's
    allowance stays the per-minute limit's share of it (10,000 a minute -> 1,666 per 10 s, 166 per 1 s).
    """

    def __init__(
        self,
        limit_per_minute: int,
        clock: Callable[[], float] = time.time,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        if limit_per_minute < 0:
            msg = f"rate_limit_per_minute must be >= 0, got {limit_per_minute}"
            raise ValueError(msg)
        if not window_seconds > 0:
            msg = f"rate_window_seconds must be > 0, got {window_seconds}"
            raise ValueError(msg)
        self.limit_per_minute = limit_per_minute
        self.window_seconds = float(window_seconds)
        self.enabled = limit_per_minute > 0
        # 10,000 a minute -> 1,666 a 10-second window, as Intercom's X-RateLimit-Limit shows
        share = limit_per_minute * self.window_seconds / 60
        self.limit = max(1, math.floor(share + 1e-9)) if self.enabled else UNLIMITED
        self._clock = clock
        self._window = -1
        self._used = 0

    def _roll(self) -> int:
        window = math.floor(self._clock() / self.window_seconds)
        if window != self._window:
            self._window = window
            self._used = 0
        return window

    def hit(self) -> tuple[bool, dict[str, str]]:
        """Count one call: (allowed, the X-RateLimit-* headers to send with the response)."""
        window = self._roll()
        allowed = not self.enabled or self._used < self.limit
        if allowed and self.enabled:
            self._used += 1
        return allowed, self._headers(window)

    def exhausted_headers(self) -> dict[str, str]:
        """Headers of a 429 (Remaining 0), for throttles injected as faults."""
        window = self._roll()
        headers = self._headers(window)
        headers["X-RateLimit-Remaining"] = "0"
        return headers

    def reset_at(self, window: int) -> int:
        """Epoch seconds the window ends (rounded up: a client waiting until then is in the next one)."""
        return math.ceil((window + 1) * self.window_seconds - 1e-9)

    def _headers(self, window: int) -> dict[str, str]:
        remaining = max(0, self.limit - self._used) if self.enabled else self.limit
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(self.reset_at(window)),
        }

    def exceeded_message(self) -> str:
        seconds = f"{self.window_seconds:g}"
        return f"Exceeded rate limit of {self.limit} in {seconds}_seconds"

    def describe(self) -> dict[str, object]:
        return {
            "per_minute": self.limit_per_minute,
            "window_seconds": self.window_seconds,
            "limit_per_window": self.limit,
            "enabled": self.enabled,
        }
