"""The pool every sink hands its requests to: bounded, with back-pressure, and one remembered
failure (the first permanent one), after which nothing more is sent.

Sinks `submit` and go on reading; `wait_all` is the barrier the target passes before it writes a
state line, so state only ever covers accepted data. Work that goes on outside the pool's threads
(a profile import job Klaviyo accepted and is still processing) takes a `hold`: `wait_all` waits
for it too, but it holds no thread and no pending slot.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any


class Pool:
    """A thread pool with at most `max_pending` unfinished tasks and a first failure."""

    def __init__(
        self,
        *,
        max_concurrency: int,
        max_pending: int,
        on_failure: Callable[[BaseException], None] = lambda exc: None,
        at_barrier: Callable[[], None] = lambda: None,
    ) -> None:
        self._on_failure = on_failure
        self._at_barrier = at_barrier
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix="klaviyo"
        )
        self._slots = threading.BoundedSemaphore(max_pending)
        self._lock = threading.Lock()
        self._in_flight: set[concurrent.futures.Future[None]] = set()
        self._failure: BaseException | None = None

    def submit(self, task: Callable[..., None], *args: Any) -> None:
        """Run `task(*args)` on the pool; blocks while `max_pending` tasks are unfinished."""
        self.raise_if_failed()
        self._slots.acquire()
        try:
            self.raise_if_failed()
            future = self._pool.submit(self._run, task, args)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._in_flight.add(future)
        future.add_done_callback(self._forget)

    def _run(self, task: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            if self._failure is None:  # after a permanent failure, nothing more is sent
                task(*args)
        except BaseException as exc:
            self._fail(exc)
            raise
        finally:
            self._slots.release()

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            first = self._failure is None
            if first:
                self._failure = exc
        if first:
            self._on_failure(exc)  # e.g. requests still retrying elsewhere give up at once

    def hold(self) -> Hold:
        """Something `wait_all` must wait for that runs elsewhere; release it when done."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            self._in_flight.add(future)
        future.add_done_callback(self._forget)
        return Hold(self, future)

    def _forget(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._in_flight.discard(future)

    def wait_all(self) -> None:
        """Return once every submitted task is done and `at_barrier` (which sees nothing in
        flight) passed; raise the first permanent failure."""
        while True:
            with self._lock:
                pending = list(self._in_flight)
            if not pending:
                break
            concurrent.futures.wait(pending)
        self.raise_if_failed()
        try:
            self._at_barrier()
        except BaseException as exc:
            self._fail(exc)
            raise

    def raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class Hold:
    """Work outside the pool that `Pool.wait_all` waits for (see `Pool.hold`)."""

    def __init__(self, pool: Pool, future: concurrent.futures.Future[None]) -> None:
        self._pool = pool
        self._future = future

    def release(self, error: BaseException | None = None) -> None:
        """Done; with `error`, the run's first permanent failure (unless one came before)."""
        if self._future.done():
            return
        if error is None:
            self._future.set_result(None)
            return
        self._pool._fail(error)
        self._future.set_exception(error)
