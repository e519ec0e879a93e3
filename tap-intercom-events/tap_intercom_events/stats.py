"""Run counters (thread-safe), the periodic progress line and the end-of-run summary line."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

# The name the progress line has always been logged under (log filters may match it).
LOGGER = logging.getLogger("tap-intercom-events.client")
PROGRESS_EVERY_SECONDS = 10.0


class RunStats:
    """What the run did: requests, retries, 429s and answers by status (the client counts
    them, on any thread) and records by stream (the streams count them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.throttled = 0
        self.statuses: Counter[int] = Counter()
        self.records: Counter[str] = Counter()
        self.started = time.monotonic()
        self._last_progress = self.started

    def count_request(self, status: int | None) -> None:
        """One request sent; `status` None: no HTTP answer came back."""
        with self._lock:
            self.requests += 1
            if status is not None:
                self.statuses[status] += 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def count_throttled(self) -> None:
        with self._lock:
            self.throttled += 1

    def count_records(self, stream: str, n: int = 1) -> None:
        """Records emitted (the main thread); logs the progress line every so often."""
        self.records[stream] += n
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_EVERY_SECONDS:
            self._last_progress = now
            elapsed = now - self.started
            LOGGER.info(
                "progress: %d requests (%.0f/s), %d records (%.0f/s), %d retries, %d 429s",
                self.requests,
                self.requests / elapsed,
                sum(self.records.values()),
                sum(self.records.values()) / elapsed,
                self.retries,
                self.throttled,
            )

    def summary(self, *, limiter_waits: int) -> str:
        """The run's summary line; `limiter_waits`: how often the rate limiter made a request wait."""
        elapsed = time.monotonic() - self.started
        per_stream = ", ".join(f"{k}={v}" for k, v in sorted(self.records.items())) or "none"
        return (
            f"sync summary: {self.requests} requests in {elapsed:.1f}s, {self.retries} retries, "
            f"{self.throttled} 429s, limiter waits {limiter_waits}; records: {per_stream}"
        )
