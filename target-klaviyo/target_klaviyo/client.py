"""HTTP to Klaviyo: one session per thread, one rate limiter per endpoint, retries.

Each answer's RateLimit-* headers pace the endpoint's limiter (the account's quota is shared with
every other key of the account); 429 waits for Retry-After; 5xx, timeouts and dropped connections are retried with exponential
backoff and jitter (python-backoff); 401/403 stop the run with one line naming the setting.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import backoff
import requests

from target_klaviyo.errors import (
    KlaviyoConfigError,
    KlaviyoError,
    RunStoppingError,
    error_detail,
)
from target_klaviyo.limiter import Unlimited, WindowLimiter, scaled
from target_klaviyo.revisions import profile_import_steady_limit
from target_klaviyo.stats import RunStats

RETRYABLE_STATUSES = {500, 502, 503, 504, 520, 522, 524}
MAX_THROTTLED_RETRIES = 100


@dataclass(frozen=True)
class Endpoint:
    """One Klaviyo operation and its documented rate limits
    (https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling)."""

    name: str
    method: str
    path: str
    burst: int
    steady: int
    scopes: str


EVENTS_BULK = Endpoint(
    "bulk_create_events", "POST", "/api/event-bulk-create-jobs", 10, 150, "events:write"
)
PROFILE_IMPORT = Endpoint(
    "create_or_update_profile", "POST", "/api/profile-import", 75, 750, "profiles:write"
)
PROFILES_BULK = Endpoint(
    "bulk_import_profiles",
    "POST",
    "/api/profile-bulk-import-jobs",
    10,
    150,
    "lists:write and profiles:write",
)
PROFILES_BULK_JOB = Endpoint(
    "get_bulk_import_profiles_job",
    "GET",
    "/api/profile-bulk-import-jobs/{job_id}",
    10,
    150,
    "lists:read and profiles:read",
)
PROFILES_BULK_ERRORS = Endpoint(
    "get_errors_for_bulk_import_profiles_job",
    "GET",
    "/api/profile-bulk-import-jobs/{job_id}/import-errors",
    10,
    150,
    "profiles:read",
)
# Who holds a phone number or external_id (holders.py); the same quota tier as profile-import.
GET_PROFILES = Endpoint("get_profiles", "GET", "/api/profiles", 75, 750, "profiles:read")
ENDPOINTS = (
    EVENTS_BULK,
    PROFILE_IMPORT,
    PROFILES_BULK,
    PROFILES_BULK_JOB,
    PROFILES_BULK_ERRORS,
    GET_PROFILES,
)

# The reads of reconcile mode (reconcile.py).
GET_EVENTS = Endpoint("get_events", "GET", "/api/events", 350, 3500, "events:read")
GET_METRICS = Endpoint("get_metrics", "GET", "/api/metrics", 10, 150, "metrics:read")
READ_ENDPOINTS = (GET_EVENTS, GET_METRICS)


class TransientError(Exception):
    """A response or connection failure worth retrying."""


@dataclass
class Reply:
    status: int
    body: Any  # parsed JSON, or None
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def errors(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict) and isinstance(self.body.get("errors"), list):
            return [e for e in self.body["errors"] if isinstance(e, dict)]
        return []

    def first_detail(self) -> str:
        """The first error's code and detail (without its pointer), or ''."""
        errors = self.errors()
        return error_detail(errors[0], with_pointer=False) if errors else ""

    def describe(self) -> str:
        """A short, key-free description of an unexpected reply for an error message."""
        errors = self.errors()
        text = json.dumps(errors[:3]) if errors else str(self.body)[:500]
        return f"HTTP {self.status}: {text}"


class Transport(Protocol):
    """What senders send through: the Klaviyo client, or the dry run's stand-in for it."""

    def send(
        self,
        endpoint: Endpoint,
        body: bytes | None = None,
        *,
        url: str | None = None,
        query: str = "",
        **path: str,
    ) -> Reply: ...

    def cancel(self, reason: BaseException | None = None) -> None: ...

    def close(self) -> None: ...


def redact(text: str, secret: str | None) -> str:
    """Never let the key through, whatever produced the text."""
    return text.replace(secret, "[redacted]") if secret else text


class KlaviyoClient:
    """Sends requests through the endpoint's limiter with retries; thread-safe."""

    def __init__(
        self,
        *,
        api_url: str,
        api_key: str,
        revision: str,
        stats: RunStats,
        rate_limit_scale: float = 1.0,
        max_retries: int = 8,
        timeout: float = 60.0,
        backoff_max_seconds: float = 30.0,
        backoff_base_seconds: float = 1.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        self.revision = revision
        self.stats = stats
        self.timeout = timeout
        # urllib3 logs each request line at DEBUG, and a holders lookup's URL names the phone
        # numbers and external_ids it asks about (holders.py): personal data stays out of logs.
        logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._cancelled = threading.Event()
        self._stop_reason: BaseException | None = None
        self._limiters: dict[str, WindowLimiter | Unlimited] = {}
        for endpoint in (*ENDPOINTS, *READ_ENDPOINTS):
            steady = endpoint.steady
            if endpoint is PROFILE_IMPORT or endpoint is GET_PROFILES:
                steady = profile_import_steady_limit(revision, steady)
            self._limiters[endpoint.name] = (
                Unlimited()
                if rate_limit_scale <= 0
                else WindowLimiter(
                    scaled(endpoint.burst, rate_limit_scale),
                    scaled(steady, rate_limit_scale),
                    probe=True,
                )
            )
        self._send_with_backoff = backoff.on_exception(
            backoff.expo,
            TransientError,
            factor=backoff_base_seconds,
            max_tries=max_retries + 1,
            max_value=backoff_max_seconds,
            jitter=backoff.full_jitter,
            on_backoff=self._count_retry,
            logger=None,
        )(self._send_once)

    def cancel(self, reason: BaseException | None = None) -> None:
        """Make every later or retried request fail at once (the run is stopping), naming
        `reason`, the failure that stops it, wherever that error surfaces first."""
        self._stop_reason = self._stop_reason or reason
        self._cancelled.set()

    def _stopping(self) -> RunStoppingError:
        reason = self._stop_reason
        return RunStoppingError("the run is stopping" + (f" after: {reason}" if reason else ""))

    def close(self) -> None:
        """Close every thread's session (once no request is under way any more)."""
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def _count_retry(self, details: Any) -> None:
        self.stats.count_retry()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(
                {
                    "Authorization": f"Klaviyo-API-Key {self._api_key}",
                    "revision": self.revision,
                    "Accept": "application/vnd.api+json",
                    "Content-Type": "application/vnd.api+json",
                    "User-Agent": "target-klaviyo",
                }
            )
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def send(
        self,
        endpoint: Endpoint,
        body: bytes | None = None,
        *,
        url: str | None = None,
        query: str = "",
        **path: str,
    ) -> Reply:
        """The reply to a request once it is neither throttled nor failing transiently.

        `url` (a `links.next` Klaviyo returned) replaces the endpoint's path; it must be on the
        configured host, so that the key is never sent elsewhere.

        Raises KlaviyoConfigError on 401/403 (and a retired or unknown revision), KlaviyoError
        when retries run out. Other statuses (2xx, 400, 409, ...) are the caller's to read."""
        if url is None:
            url = self.api_url + endpoint.path.format(**path) + query
        elif not url.startswith(self.api_url + "/"):
            msg = f"Klaviyo's next-page link points outside {self.api_url}: {url}"
            raise KlaviyoError(msg)
        for _ in range(MAX_THROTTLED_RETRIES):
            try:
                reply = self._send_with_backoff(endpoint, url, body)
            except TransientError as exc:
                msg = f"{endpoint.method} {endpoint.path} kept failing after retries: {exc}"
                raise KlaviyoError(redact(msg, self._api_key)) from None
            if reply.status != 429:
                self._raise_for_config(endpoint, reply)
                return reply
            wait = _retry_after(reply.headers)
            self.stats.count_throttled()
            self._limiters[endpoint.name].throttled(wait)
            if self._cancelled.wait(wait):
                raise self._stopping()
        msg = f"{endpoint.method} {endpoint.path} was still throttled after {MAX_THROTTLED_RETRIES} tries"
        raise KlaviyoError(msg)

    def _send_once(self, endpoint: Endpoint, url: str, body: bytes | None) -> Reply:
        if self._cancelled.is_set():
            raise self._stopping()
        limiter = self._limiters[endpoint.name]
        sent_at = limiter.acquire()
        self.stats.count_request()
        try:
            response = self._session().request(
                endpoint.method, url, data=body, timeout=self.timeout
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            limiter.done()
            # Dropped connections and timeouts: the request may or may not have been processed;
            # resending is safe (events carry unique_id; profile imports are upserts).
            raise TransientError(type(exc).__name__) from None
        except BaseException:
            limiter.done()
            raise
        status = response.status_code
        headers = dict(response.headers)
        # The account's quota as Klaviyo reports it (RateLimit-*; absent on a 429).
        limiter.done(headers)
        if status == 429:
            limiter.release(sent_at)
        if status in RETRYABLE_STATUSES:
            raise TransientError(f"HTTP {status}")
        if status == 403 and _is_cloudflare_challenge(headers):
            raise TransientError("HTTP 403 (Cloudflare challenge)")
        body_json: Any = None
        if response.content:
            try:
                body_json = response.json()
            except ValueError:
                body_json = None
        if status == 200 and body_json is None and endpoint.method == "GET":
            raise TransientError("HTTP 200 with an empty or unreadable body")
        return Reply(status, body_json, headers)

    def _raise_for_config(self, endpoint: Endpoint, reply: Reply) -> None:
        detail = reply.first_detail()
        where = f"{endpoint.method} {endpoint.path}"
        if reply.status == 401:
            msg = (
                f"Klaviyo rejected the API key (401 {detail}) on {where}: set a valid private key "
                "in the 'api_key' setting (TARGET_KLAVIYO_API_KEY)"
            )
        elif reply.status == 403:
            msg = (
                f"the Klaviyo API key may not call {where} (403 {detail}): give the key in "
                f"'api_key' the scope(s) {endpoint.scopes}"
            )
        elif reply.status == 410:
            msg = f"Klaviyo has retired API revision {self.revision} (410 {detail}): set a newer 'revision'"
        elif reply.status == 400 and any(
            (e.get("source") or {}).get("parameter") == "revision" for e in reply.errors()
        ):
            msg = f"Klaviyo does not accept revision {self.revision!r} ({detail}): fix the 'revision' setting"
        else:
            return
        raise KlaviyoConfigError(redact(msg, self._api_key))


def _retry_after(headers: dict[str, str]) -> float:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, min(float(value), 120.0))
            except ValueError:
                break
    return 1.0


def _is_cloudflare_challenge(headers: dict[str, str]) -> bool:
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get("cf-mitigated") == "challenge" or "text/html" in lowered.get(
        "content-type", ""
    )
