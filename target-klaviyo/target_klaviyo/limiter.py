"""Thread-safe per-endpoint rate limiter matching Klaviyo's burst (1 s) and steady (1 min) windows,
paced by what Klaviyo says of the account's quota.

Klaviyo limits per account: every private key of an account (so every target run with one)
shares the same windows. Each answer that is not a 429 carries `RateLimit-Limit` (the steady
window's size), `RateLimit-Remaining` (what is left in it, for the whole account) and
`RateLimit-Reset` (seconds until it resets); a 429 carries `Retry-After`. From those the limiter
learns three things without any setting:

- the real size of the windows (an account may have other limits than the documented ones);
- its share of the account's use: between two answers of one window, the account used
  `Remaining` drops, this run its own answers; the burst and steady limits are scaled by that
  share (smoothed), so N runs on one account each keep to about 1/N of it;
- the budget left: once `Remaining` (times the share, minus this run's requests in flight) is
  used up, it waits for the window to reset instead of collecting 429s.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

# The share is estimated over the account's use in the last this many burst windows (within one
# steady window).
SHARE_SPAN_WINDOWS = 3
# Fewer requests than this (account-wide) since then say too little to estimate a share from.
SHARE_MIN_SAMPLE = 6
MIN_SHARE = 1 / 16
# A 429 means someone else is using the quota too: the share shrinks by this factor.
THROTTLED_SHARE_FACTOR = 0.7


class WindowLimiter:
    """At most `burst` requests in any `second` and `steady` in any `minute` (sliding windows),
    both times this run's share of the account (see the module docstring).

    Klaviyo counts in fixed windows; never exceeding the limit in *any* window of that length
    keeps every fixed window under it too, whatever its alignment, at a cost of at most one
    window against a client that knew the server's boundaries. The windows are 2% longer than a
    second and a minute so that up to 20 ms of jitter in arrival times cannot push two requests
    into the same server window; a rarer 429 is still handled (Retry-After, the slot given back).
    A wider margin costs throughput and avoids no further 429.
    """

    def __init__(
        self,
        burst: int,
        steady: int,
        *,
        second: float = 1.02,
        minute: float = 60.2,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        probe: bool = False,
    ) -> None:
        """`probe`: send one request at a time until the first answer shows how much of the
        account's window others use (for callers that report answers through `done`)."""
        if burst < 1 or steady < 1:
            msg = f"rate limits must be at least 1 (burst {burst}, steady {steady})"
            raise ValueError(msg)
        self.burst = burst
        self.steady = steady
        self._second = second
        self._minute = minute
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()  # send times within the last minute
        self._paused_until = 0.0
        self._in_flight = 0
        # The account's steady window as Klaviyo last described it.
        self._window_end = 0.0  # local clock time it resets at (0: unknown)
        self._remaining: int | None = None  # the least Remaining seen in it
        self._answered = 0  # this run's answers counted in it
        self._samples: deque[tuple[float, int, int]] = deque()  # (time, account used, answered)
        self.share = 1.0
        self._probe = probe  # no answer with RateLimit-* headers yet
        self._probe_until = 0.0

    # -- what callers do -------------------------------------------------------------------

    def acquire(self) -> float:
        """Block until a request may be sent; returns when it was counted (for `done`)."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    self._recent.append(now)
                    self._in_flight += 1
                    return now
            self._sleep(wait)

    def release(self, sent_at: float) -> None:
        """Uncount a request the server refused (429): Klaviyo does not count it either."""
        with self._lock, contextlib.suppress(ValueError):  # already out of the window
            self._recent.remove(sent_at)

    def done(self, headers: Mapping[str, str] | None = None) -> None:
        """A request sent after `acquire` has its answer (or failed); `headers` are the answer's
        (read for RateLimit-Limit, -Remaining and -Reset)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            quota = rate_limit_headers(headers) if headers is not None else None
            if quota is not None:
                self._observe(*quota, self._clock())

    def throttled(self, retry_after: float) -> None:
        """A 429: hold every caller back for `retry_after`, and take a smaller share."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + retry_after)
            self.share = max(MIN_SHARE, self.share * THROTTLED_SHARE_FACTOR)

    def pause(self, seconds: float) -> None:
        """Hold every caller back (after a 429 with Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    # -- inside ----------------------------------------------------------------------------

    def _limits(self) -> tuple[int, int]:
        # The burst is this run's share of the account's; the steady window is kept by the
        # budget (Remaining), so a run whose peers are idle may use all of it.
        return max(1, int(self.burst * self.share + 0.3)), self.steady

    def _wait_needed(self, now: float) -> float:
        recent = self._recent
        while recent and recent[0] <= now - self._minute:
            recent.popleft()
        wait = self._paused_until - now
        burst, steady = self._limits()
        if len(recent) >= steady:
            wait = max(wait, recent[-steady] + self._minute - now)
        if len(recent) >= burst:
            wait = max(wait, recent[-burst] + self._second - now)
        if self._remaining is None and self._in_flight and self._probe:
            # Until the first answer says how much of the account is in use, one at a time
            # (for at most a burst window: answers without RateLimit-* headers end it).
            if not self._probe_until:
                self._probe_until = now + self._second
            if now < self._probe_until:
                wait = max(wait, min(self._second / 20, self._probe_until - now))
        if self._remaining is not None and now < self._window_end:
            # What this run may still use of the account's window, its requests in flight
            # included; none left: wait for the reset rather than collect 429s.
            budget = self._remaining * self.share if self.share < 1 else self._remaining
            if budget - self._in_flight < 1:
                wait = max(wait, self._window_end - now)
        return wait

    def _observe(self, limit: int, remaining: int, reset: float, now: float) -> None:
        if limit < self.steady:
            # The account's real window is smaller than the documented one: keep its ratio.
            self.burst = max(1, self.burst * limit // self.steady)
            self.steady = limit
        window_end = now + reset
        if self._remaining is None:
            # The first answer: others' requests in this window so far say how many share it.
            used = limit - remaining
            if used > 1:
                self.share = max(MIN_SHARE * 4, 1 / used)
        # Reset is rounded up to a whole second: allow for that.
        tolerance = min(1.5, self._minute / 8)
        if (
            self._remaining is None
            or window_end > self._window_end + tolerance
            or remaining > (self._remaining + self.steady // 2)
        ):
            # A new window.
            self._window_end = window_end
            self._remaining = remaining
            self._answered = 0
            self._samples.clear()
        else:
            self._window_end = min(self._window_end, window_end)
            self._remaining = min(self._remaining, remaining)
        self._answered += 1
        used = limit - self._remaining
        samples = self._samples
        samples.append((now, used, self._answered))
        while len(samples) > 2 and samples[1][0] <= now - SHARE_SPAN_WINDOWS * self._second:
            samples.popleft()
        _, used_then, answered_then = samples[0]
        account = used - used_then
        if account >= SHARE_MIN_SAMPLE:
            mine = self._answered - answered_then
            measured = min(1.0, max(MIN_SHARE, mine / account))
            # Smoothed, and a little optimistic, so that a run whose peers finish takes over
            # their share again.
            self.share = min(1.0, 0.5 * self.share + 0.5 * measured + 0.02)


def rate_limit_headers(headers: Mapping[str, str]) -> tuple[int, int, float] | None:
    """(limit, remaining, reset seconds) from Klaviyo's RateLimit-* headers, or None."""
    values: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith("ratelimit-"):
            values[lowered] = value
    try:
        limit = int(values["ratelimit-limit"].split(",")[0].split(";")[0])
        remaining = int(values["ratelimit-remaining"].split(",")[0].split(";")[0])
        reset = float(values["ratelimit-reset"].split(",")[0].split(";")[0])
    except (KeyError, ValueError):
        return None
    if limit < 1 or remaining < 0 or reset < 0:
        return None
    return limit, remaining, reset


class Unlimited:
    """No client-side limit (rate_limit_scale 0)."""

    def acquire(self) -> float:
        return 0.0

    def release(self, sent_at: float) -> None:
        pass

    def done(self, headers: Mapping[str, str] | None = None) -> None:
        pass

    def throttled(self, retry_after: float) -> None:
        pass

    def pause(self, seconds: float) -> None:
        pass


def scaled(limit: int, scale: float) -> int:
    """A documented limit times the configured scale, at least 1."""
    return max(1, int(limit * scale))
