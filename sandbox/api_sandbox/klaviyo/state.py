"""Everything one Klaviyo stand-in holds: settings, store, keys, rate limiter, jobs, faults and counters."""

from __future__ import annotations

import asyncio
import functools
import gc
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from api_sandbox.faults import FaultInjector
from api_sandbox.klaviyo.access import KeyRing
from api_sandbox.klaviyo.behaviour import Behaviour
from api_sandbox.klaviyo.errors import ApiError, error_response
from api_sandbox.klaviyo.jobs import ProfileImportJobs
from api_sandbox.klaviyo.rate_limits import RateLimiter
from api_sandbox.klaviyo.store import KlaviyoStore
from api_sandbox.settings import KlaviyoSettings

T = TypeVar("T")


class _CollectionPause:
    """No cyclic garbage collection while a request is parsed, validated and stored: a 1,000-event
    body is some 30,000 new objects, which otherwise set off collections of every long-lived
    object (up to a third of a request's CPU). The bodies hold no cycles; refcounting frees them.
    Requests in progress at once (interleaved, or on other stand-ins' loops) share one pause."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0 and not gc.isenabled():
                paused_elsewhere = True  # e.g. by a test: leave it as it is
            else:
                paused_elsewhere = False
                self._holders += 1
                gc.disable()
        try:
            yield
        finally:
            if not paused_elsewhere:
                with self._lock:
                    self._holders -= 1
                    if self._holders == 0:
                        gc.enable()


_collection_paused = _CollectionPause()


def _paused(fn: Callable[..., T], *args: Any) -> T:
    with _collection_paused():
        return fn(*args)


class KlaviyoFaults:
    """Injected faults in Klaviyo's own error format."""

    def server_error(self, request: web.Request) -> web.Response:
        return error_response([ApiError(500, "error", "A server error occurred.", pointer="/data")])

    def throttled(self, request: web.Request) -> web.Response:
        return error_response(
            [
                ApiError(
                    429,
                    "throttled",
                    "Request was throttled. Expected available in 1 second.",
                    pointer="/data",
                )
            ],
            {"Retry-After": "1"},
        )


@dataclass
class KlaviyoState:
    settings: KlaviyoSettings
    store: KlaviyoStore
    keys: KeyRing
    limiter: RateLimiter
    jobs: ProfileImportJobs
    faults: FaultInjector
    behaviour: Behaviour = field(default_factory=Behaviour)
    requests: Counter[str] = field(default_factory=Counter)  # "<METHOD> <route>" -> n
    statuses: Counter[str] = field(default_factory=Counter)  # "<status>" -> n
    # The one thread that parses, validates and stores request bodies, imports jobs and reads
    # for the control endpoints, in the order handed over, so that the event loop keeps answering
    # (rate limits are counted when a request arrives, not when the requests before it are done).
    # One request is handed over whole (parse, validate, store): it is done before the next one
    # starts. (A second thread for parsing and validating was tried: the two fight over the GIL,
    # which SQLite gives up and takes back for every row, and the stand-in used more CPU.)
    worker: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="klaviyo-worker")
    )

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the worker thread, after everything handed over before it."""
        return await asyncio.get_running_loop().run_in_executor(
            self.worker, functools.partial(_paused, fn, *args)
        )

    def shutdown(self) -> None:
        self.worker.shutdown(wait=True)

    @classmethod
    def create(cls, settings: KlaviyoSettings) -> KlaviyoState:
        store = KlaviyoStore(settings.db_path)
        worker = ThreadPoolExecutor(1, thread_name_prefix="klaviyo-worker")
        behaviour = Behaviour.from_settings(settings)
        return cls(
            worker=worker,
            settings=settings,
            store=store,
            keys=KeyRing(settings.api_key),
            limiter=RateLimiter(settings.rate_limit_scale),
            jobs=ProfileImportJobs(
                store, settings.job_seconds, worker, lambda: behaviour.identity_conflicts
            ),
            faults=FaultInjector(settings.faults, KlaviyoFaults()),
            behaviour=behaviour,
        )
