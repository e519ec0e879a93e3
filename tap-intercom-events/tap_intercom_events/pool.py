"""The bounded thread pool the streams hand detail, contact and next-page fetches to."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")


class Pool:
    """At most `max_concurrency` tasks run at once; the rest wait in order."""

    def __init__(self, *, max_concurrency: int) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="intercom")

    def submit(self, fn: Callable[..., R], *args: Any) -> Future[R]:
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        """Stop without waiting: tasks not started are cancelled (the run is over)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
