"""HTTP to Intercom: one client for all streams and threads (sessions, limiter, retries, errors).

The SDK's own request path is serial; this client is what the streams' thread pool calls. Errors
never carry the access token or the Authorization header.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import backoff
import requests

from tap_intercom_events.limiter import RateLimiter
from tap_intercom_events.stats import RunStats

LOGGER = logging.getLogger("tap-intercom-events.client")


class IntercomError(Exception):
    """A failure the run cannot continue past; its message is one line, safe to print."""


class IntercomAuthError(IntercomError):
    """401/403: a token or permission problem."""


class _Transient(Exception):  # noqa: N818 - internal retry signal, not a user-facing error
    """5xx, timeout, dropped connection or empty body: worth retrying."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable  # no HTTP answer at all (refused, DNS, TLS)


class _Throttled(Exception):  # noqa: N818 - internal retry signal
    """429: the limiter has already waited for the window's reset."""


def _error_detail(response: requests.Response) -> str:
    """Intercom's error code and message (`error.list`), never the request's headers."""
    try:
        body = response.json()
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code, message = errors[0].get("code"), errors[0].get("message")
        return f"{code}: {message}" if message else str(code)
    return ""


def header_safe(token: str) -> bool:
    """Whether a token can be sent as an HTTP header value as it is (printable ASCII)."""
    return all(" " <= ch <= "~" for ch in token)


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class IntercomClient:
    """Thread-safe Intercom REST client with a shared rate limiter; counts into `stats`."""

    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        api_version: str,
        max_concurrency: int = 8,
        timeout: float = 60.0,
        max_tries: int = 8,
        backoff_max_seconds: float = 30.0,
        user_agent: str = "tap-intercom-events",
        stats: RunStats | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = access_token
        self.api_version = api_version
        self.timeout = timeout
        self.max_tries = max(1, max_tries)
        self.backoff_max_seconds = backoff_max_seconds
        self.max_concurrency = max(1, max_concurrency)
        self.user_agent = user_agent
        # Headroom = requests that may be in flight at once (pool + the main thread's searches).
        self.limiter = RateLimiter(headroom=self.max_concurrency + 2)
        self.stats = stats if stats is not None else RunStats()
        self._local = threading.local()
        self._clock_lock = threading.Lock()
        # Intercom's clock: the `Date` of the first answer, and this machine's time on receipt.
        self.first_server_date: float | None = None
        self.first_server_date_received_at = 0.0

    # -- sessions and headers -------------------------------------------------------------

    @property
    def _session(self) -> requests.Session:
        # requests.Session is not documented as thread-safe: one per thread.
        session = getattr(self._local, "session", None)
        if session is None:
            if not header_safe(self._token):
                # requests would refuse the header with an error quoting it whole (twice, in
                # the traceback). Checked before the first request, not when the client is
                # built: discovery sends none, and fails outside the tap's one-line errors.
                msg = (
                    "the access token holds a line break, a control character or a non-ASCII "
                    "character, which an HTTP header cannot carry: check "
                    "TAP_INTERCOM_EVENTS_ACCESS_TOKEN / access_token (paste the token alone)"
                )
                raise IntercomAuthError(msg)
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=4)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # An auth object, not a header: with none, requests reads ~/.netrc on every request.
            session.auth = _Bearer(self._token)
            session.headers.update(
                {
                    "Accept": "application/json",
                    "Intercom-Version": self.api_version,
                    "User-Agent": self.user_agent,
                }
            )
            self._local.session = session
        return session

    # -- requests ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        """Send with rate limiting and retries; returns the JSON body (None: 404/410 and missing_ok)."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        return self._with_retries(method, url, params, json_body, missing_ok)

    def get(self, path: str, **kwargs: Any) -> dict[str, Any] | None:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result = self.request("POST", path, json_body=body)
        return result or {}

    def _with_retries(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json_body: dict[str, Any] | None,
        missing_ok: bool,
    ) -> dict[str, Any] | None:
        # 429s wait for the window (inside _attempt) and are retried at once, up to a generous cap;
        # other transient failures back off exponentially.
        @backoff.on_exception(backoff.constant, _Throttled, interval=0, max_tries=50, jitter=None)
        @backoff.on_exception(
            backoff.expo,
            _Transient,
            max_tries=self.max_tries,
            factor=0.5,
            max_value=self.backoff_max_seconds,
            on_backoff=self._on_backoff,
        )
        def send() -> dict[str, Any] | None:
            return self._attempt(method, url, params, json_body, missing_ok)

        try:
            return send()
        except _Transient as exc:
            msg = (
                f"Intercom {method} {_path_of(url)} still failing after {self.max_tries} tries: "
                f"{exc} (retries: max_retries, backoff_max_seconds)"
            )
            if exc.unreachable:
                msg += f"; is api_url / region right? ({_origin_of(url)})"
            raise IntercomError(msg) from None
        except _Throttled:
            msg = f"Intercom {method} {_path_of(url)} still rate limited (429) after 50 waits"
            raise IntercomError(msg) from None

    def _on_backoff(self, details: Any) -> None:
        self.stats.count_retry()
        LOGGER.info(
            "retrying (try %s, waiting %.1fs): %s",
            details["tries"],
            details["wait"],
            details.get("exception"),
        )

    def _attempt(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json_body: dict[str, Any] | None,
        missing_ok: bool,
    ) -> dict[str, Any] | None:
        self.limiter.acquire()
        response: requests.Response | None = None
        try:
            response = self._session.request(
                method, url, params=params, json=json_body, timeout=self.timeout
            )
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            # The exception's text can carry the URL or headers: only its type is kept.
            unreachable = isinstance(exc, requests.ConnectionError) and not isinstance(
                exc, requests.exceptions.ChunkedEncodingError
            )
            raise _Transient(
                f"{type(exc).__name__} on {method} {_path_of(url)}", unreachable=unreachable
            ) from None
        finally:
            # A 429's "Remaining: 0" is not fed to the shared budget: only the throttled request
            # waits (see RateLimiter.throttled); answered requests keep the budget current.
            answered = response if response is not None and response.status_code != 429 else None
            self.limiter.release(answered.headers if answered is not None else None)
            self.stats.count_request(response.status_code if response is not None else None)
            if response is not None:
                with self._clock_lock:
                    if self.first_server_date is None:
                        self._note_server_date(response.headers.get("Date"))
        return self._read(method, url, response, missing_ok)

    def _note_server_date(self, value: str | None) -> None:
        try:
            date = parsedate_to_datetime(value) if value else None
        except (TypeError, ValueError):
            date = None
        if date is not None and date.tzinfo is not None:
            self.first_server_date = date.timestamp()
            self.first_server_date_received_at = time.time()

    def _read(
        self, method: str, url: str, response: requests.Response, missing_ok: bool
    ) -> dict[str, Any] | None:
        status = response.status_code
        where = f"{method} {_path_of(url)}"
        if status == 429:
            wait = self.limiter.throttled(response.headers)
            self.stats.count_throttled()
            LOGGER.info("Intercom rate limit reached (429 on %s): waiting %.1fs", where, wait)
            time.sleep(wait)
            raise _Throttled
        if status >= 500:
            raise _Transient(f"{status} on {where}")
        if status in (401, 403):
            detail = _error_detail(response)
            reason = "unauthorized" if status == 401 else "forbidden"
            msg = (
                f"Intercom rejected the access token ({status} {reason}{'; ' + detail if detail else ''}) "
                f"on {where}: check TAP_INTERCOM_EVENTS_ACCESS_TOKEN / access_token"
                + (" and the app's permissions" if status == 403 else "")
            )
            raise IntercomAuthError(msg)
        if status in (404, 410) and missing_ok:
            # 404: deleted (or merged, up to 2.15); 410 Gone: merged into another contact (2.16).
            return None
        if status >= 400:
            detail = _error_detail(response)
            msg = f"Intercom answered {status} to {where}{': ' + detail if detail else ''}"
            raise IntercomError(msg)
        if not response.content:
            raise _Transient(f"empty 200 body on {where}")
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            raise _Transient(f"unreadable JSON body on {where}") from None
        if not isinstance(body, dict):
            raise _Transient(f"unexpected JSON body on {where}")
        return body


def _origin_of(url: str) -> str:
    """Scheme, host and port only: where the tap tried to connect."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _path_of(url: str) -> str:
    """The URL's path only: never the query (it could hold identifiers) nor credentials."""
    return urlsplit(url).path or "/"
