"""Klaviyo's per-endpoint rate limits: a burst (1-second) and a steady (1-minute) fixed window per account.

Every key of one account counts against the same windows. Allowed responses carry the steady
window's state, as Klaviyo documents it: `RateLimit-Limit` (requests per steady window),
`RateLimit-Remaining` (left in it after this request) and `RateLimit-Reset` (whole seconds until it
resets, rounded up, at least 1). A 429 carries only `Retry-After`: whole seconds until the binding
window (burst or steady) resets, rounded up, at least 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

BURST_SECONDS = 1.0
STEADY_SECONDS = 60.0


@dataclass(frozen=True)
class Limit:
    burst: int  # per second
    steady: int  # per minute


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # seconds until the binding window resets (throttled only)
    limit: int  # steady limit, as RateLimit-Limit reports it
    remaining: int
    reset: int  # seconds until the steady window resets

    def headers(self) -> dict[str, str]:
        if not self.allowed:
            return {"Retry-After": str(self.retry_after)}
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """Counts allowed requests per (account, endpoint, window); `scale` multiplies every limit, 0 turns
    them off."""

    def __init__(self, scale: float, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.set_scale(scale)

    def set_scale(self, scale: float) -> None:
        if scale < 0:
            msg = f"rate-limit scale must be >= 0, got {scale}"
            raise ValueError(msg)
        self.scale = scale
        self._counts: dict[tuple[str, str, str, int], int] = {}

    def scaled(self, limit: Limit) -> Limit:
        return Limit(
            max(1, math.floor(limit.burst * self.scale)),
            max(1, math.floor(limit.steady * self.scale)),
        )

    def check(self, account: str, endpoint: str, limit: Limit) -> Decision | None:
        """Count the request against its account if allowed; None when rate limiting is off."""
        if self.scale == 0:
            return None
        limit = self.scaled(limit)
        now = self.clock()
        burst_window = math.floor(now / BURST_SECONDS)
        steady_window = math.floor(now / STEADY_SECONDS)
        burst_key = (account, endpoint, "burst", burst_window)
        steady_key = (account, endpoint, "steady", steady_window)
        burst_used = self._counts.get(burst_key, 0)
        steady_used = self._counts.get(steady_key, 0)
        steady_reset = (steady_window + 1) * STEADY_SECONDS - now
        waits = []
        if burst_used >= limit.burst:
            waits.append((burst_window + 1) * BURST_SECONDS - now)
        if steady_used >= limit.steady:
            waits.append(steady_reset)
        if waits:
            return Decision(False, max(1, math.ceil(max(waits))), limit.steady, 0, 0)
        self._forget_old(burst_window, steady_window)
        self._counts[burst_key] = burst_used + 1
        self._counts[steady_key] = steady_used + 1
        return Decision(
            True,
            0,
            limit.steady,
            limit.steady - steady_used - 1,
            max(1, math.ceil(steady_reset)),
        )

    def _forget_old(self, burst_window: int, steady_window: int) -> None:
        if len(self._counts) < 64:
            return
        self._counts = {
            key: count
            for key, count in self._counts.items()
            if key[3] == (burst_window if key[2] == "burst" else steady_window)
        }
