"""Everything one Klaviyo stand-in holds: settings, store, keys, rate limiter, jobs, faults and counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from api_sandbox.faults import FaultInjector
from api_sandbox.klaviyo.access import KeyRing
from api_sandbox.klaviyo.errors import ApiError, error_response
from api_sandbox.klaviyo.jobs import ProfileImportJobs
from api_sandbox.klaviyo.rate_limits import RateLimiter
from api_sandbox.klaviyo.store import KlaviyoStore
from api_sandbox.settings import KlaviyoSettings


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
    requests: Counter[str] = field(default_factory=Counter)  # "<METHOD> <route>" -> n
    statuses: Counter[str] = field(default_factory=Counter)  # "<status>" -> n

    @classmethod
    def create(cls, settings: KlaviyoSettings) -> KlaviyoState:
        store = KlaviyoStore(settings.db_path)
        return cls(
            settings=settings,
            store=store,
            keys=KeyRing(settings.api_key),
            limiter=RateLimiter(settings.rate_limit_scale),
            jobs=ProfileImportJobs(store, settings.job_seconds),
            faults=FaultInjector(settings.faults, KlaviyoFaults()),
        )
