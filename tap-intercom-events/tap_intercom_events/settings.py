"""The tap's settings, read and checked once (pure): one line per problem, naming the setting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from singer_sdk import typing as th

from tap_intercom_events.output import MILLISECONDS_FROM
from tap_intercom_events.search import MAX_PAGE_SIZE

REGION_URLS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
DAY = 86_400
SUPPORTED_VERSIONS = ["2.11", "2.12", "2.13", "2.14", "2.15", "2.16"]


class SettingsError(ValueError):
    """Settings or state that cannot be used; `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_epoch_or_iso(value: Any, what: str) -> int:
    """Epoch seconds from epoch seconds or milliseconds (int or string), or an ISO-8601 date/date-time."""
    if isinstance(value, bool):
        msg = f"{what} must be a date or epoch seconds, got {value!r}"
        raise ValueError(msg)
    if isinstance(value, int | float):
        number = int(value)
    else:
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            number = int(text)
        else:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                msg = (
                    f"{what} {value!r} is not an ISO-8601 date/date-time or epoch seconds "
                    "(e.g. 2024-01-31, 2024-01-31T12:00:00Z or 1706702400)"
                )
                raise ValueError(msg) from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return int(parsed.timestamp())
    return number // 1000 if abs(number) >= MILLISECONDS_FROM else number


def parse_start_date(value: Any) -> int:
    return parse_epoch_or_iso(value, "start_date")


REPLAY_SETTINGS = ("replay_start", "replay_end", "replay_days")


def replay_requested(config: Mapping[str, Any]) -> bool:
    return any(config.get(name) not in (None, "") for name in REPLAY_SETTINGS)


@dataclass(frozen=True)
class Replay:
    """A replay as configured: every event with `start <= time <= end`, from the objects updated
    since `start`; `start` is `days` before the end when given as days, the end is Intercom's
    clock when not given (window.plan_replay)."""

    start: int | None
    end: int | None
    days: int | None

    @staticmethod
    def from_config(config: Mapping[str, Any], problems: list[str]) -> Replay | None:
        """None when no replay setting is set; a problem line per bad or conflicting value."""
        if not replay_requested(config):
            return None
        raw = {name: config.get(f"replay_{name}") for name in ("start", "end", "days")}
        bounds: dict[str, int | None] = {}
        for name in ("start", "end"):
            value = raw[name]
            bounds[name] = None
            if value not in (None, ""):
                try:
                    bounds[name] = parse_epoch_or_iso(value, f"replay_{name}")
                except ValueError as exc:
                    problems.append(str(exc))
        days = None
        if raw["days"] not in (None, ""):
            try:
                days = int(str(raw["days"]).strip())
            except ValueError:
                problems.append(f"replay_days must be a whole number of days, got {raw['days']!r}")
            else:
                if days < 1:
                    problems.append(f"replay_days must be at least 1, got {days}")
        start, end = bounds["start"], bounds["end"]
        if days is not None and start is not None:
            problems.append("set replay_days or replay_start, not both")
        elif raw["days"] in (None, "") and raw["start"] in (None, ""):
            problems.append(
                "replay_end needs replay_start or replay_days (where the replay begins)"
            )
        if start is not None and end is not None and start > end:
            problems.append(
                f"replay_start {raw['start']!r} is after replay_end {raw['end']!r}: nothing to replay"
            )
        return Replay(start=start, end=end, days=days)

    def bounds(self, *, latest: int, start_date: int) -> tuple[int, int]:
        """(first, last) second of the replay: its end is `latest` (Intercom's clock) at most,
        its start after `start_date`, as for incremental runs."""
        end = latest if self.end is None else min(self.end, latest)
        start = self.start if self.start is not None else end - (self.days or 0) * DAY + 1
        return max(start, start_date + 1), end


@dataclass(frozen=True)
class Settings:
    """Every setting the run uses, typed; built by `Settings.from_config`."""

    access_token: str
    api_url: str
    api_version: str
    start_date: int
    lookback_seconds: int
    contact_lookback_seconds: int
    max_concurrency: int
    page_size: int
    request_timeout: float
    max_retries: int
    backoff_max_seconds: float
    report_path: str | None = None  # None: no run report file
    replay: Replay | None = None  # None: an incremental run

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, now: float) -> Settings:
        """The settings, each absent one at CONFIG_SCHEMA's default (the one place it is written)."""
        defaults = DEFAULTS
        problems: list[str] = []
        start_date = 0
        if config.get("start_date") not in (None, ""):
            try:
                start_date = parse_start_date(config["start_date"])
            except ValueError as exc:
                problems.append(str(exc))
            else:
                if start_date > now:
                    problems.append(
                        f"start_date {config['start_date']!r} is in the future: nothing would be "
                        "synced and the bookmark would skip everything until then"
                    )

        def integer(name: str) -> int:
            # Ranges are in the config schema (tap.py), which the SDK checks first.
            raw = config.get(name)
            value = defaults[name] if raw is None else raw
            try:
                return int(str(value).strip())
            except ValueError:
                problems.append(f"{name} must be a whole number, got {raw!r}")
                return int(defaults[name])

        replay = Replay.from_config(config, problems)
        page_size = integer("page_size")
        max_concurrency = integer("max_concurrency")
        lookback = integer("lookback_window_seconds")
        contact_lookback = integer("contact_lookback_seconds")
        timeout = integer("request_timeout")
        max_retries = integer("max_retries")
        backoff_max = integer("backoff_max_seconds")
        region = config.get("region") or defaults["region"]
        url = str(config.get("api_url") or REGION_URLS.get(region, ""))
        if not url.startswith(("http://", "https://")):
            problems.append(f"api_url must start with http:// or https://, got {url!r}")
        if problems:
            raise SettingsError(problems)
        return cls(
            # Tokens pasted from a file often carry a newline: never send (or print) it.
            access_token=str(config.get("access_token") or "").strip(),
            api_url=url.rstrip("/"),
            api_version=str(config.get("api_version") or defaults["api_version"]),
            start_date=start_date,
            lookback_seconds=lookback,
            contact_lookback_seconds=contact_lookback,
            max_concurrency=max_concurrency,
            page_size=page_size,
            request_timeout=float(timeout),
            max_retries=max_retries,
            backoff_max_seconds=float(backoff_max),
            report_path=str(config.get("report_path") or "").strip() or None,
            replay=replay,
        )


# The config schema (types, ranges, defaults, descriptions); Settings.from_config reads it typed.
CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "access_token",
        th.StringType,
        required=True,
        secret=True,
        title="Access token",
        description="Intercom access token (private app token or OAuth token).",
    ),
    th.Property(
        "start_date",
        th.StringType,
        title="Start date",
        description=(
            "Sync objects updated and events that happened after this time (ISO-8601 date or "
            "date-time, epoch seconds or epoch milliseconds). Default: everything."
        ),
    ),
    th.Property(
        "region",
        th.StringType,
        default="us",
        allowed_values=sorted(REGION_URLS),
        title="Region",
        description="Workspace region, a shorthand for api_url: us, eu or au.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        title="API URL",
        description="Intercom API base URL; overrides region (e.g. a local stand-in).",
    ),
    th.Property(
        "api_version",
        th.StringType,
        default="2.14",
        allowed_values=SUPPORTED_VERSIONS,
        title="API version",
        description="Intercom-Version header sent on every request (2.11 to 2.16).",
    ),
    th.Property(
        "lookback_window_seconds",
        th.IntegerType(minimum=0),
        default=900,
        title="Lookback window (seconds)",
        description=(
            "Conversations and tickets changed this long before the bookmark are read again "
            "and their events in it emitted again, because Intercom's search may show a change "
            "minutes late. The default covers a search lag up to 10 minutes plus a machine "
            "clock 5 minutes ahead of Intercom's when Intercom sends no Date header; resent "
            "events keep their event_id (Klaviyo keeps one). 0 turns it off: changes search "
            "shows late are then lost. Cost: the tap README, 'Late indexing and clocks'."
        ),
    ),
    th.Property(
        "contact_lookback_seconds",
        th.IntegerType(minimum=0),
        default=900,
        title="Contact lookback (seconds)",
        description=(
            "Contacts changed this long before the bookmark are read and sent again: "
            "Intercom's contact search shows new and edited contacts minutes late. Profiles are "
            "upserts, so a resent contact changes nothing."
        ),
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType(minimum=1),
        default=8,
        title="Max concurrency",
        description="Requests in flight at once (detail and contact fetches).",
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
        default=MAX_PAGE_SIZE,
        title="Page size",
        description="Search page size, 1 to 150.",
    ),
    th.Property(
        "request_timeout",
        th.IntegerType(minimum=1),
        default=60,
        title="Request timeout (seconds)",
        description="Timeout of one HTTP request; timeouts are retried with backoff.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0, maximum=100),
        default=7,
        title="Max retries",
        description=(
            "Retries of a request that failed with a 5xx, a timeout, a dropped connection or "
            "an empty body, with exponential backoff (0 to 100). 429s wait for the rate-limit "
            "window instead."
        ),
    ),
    th.Property(
        "backoff_max_seconds",
        th.IntegerType(minimum=1),
        default=30,
        title="Max backoff (seconds)",
        description="Longest wait between two retries of a failing request.",
    ),
    th.Property(
        "report_path",
        th.StringType,
        title="Run report path",
        description=(
            "Where the run report goes: one JSON file (objects read and records emitted per "
            "stream, events emitted, truncated part lists, requests, 429s, each stream's "
            "window, outcome, exit code), rewritten at the end of every sync, also a failed "
            "or stopped one. Default: none."
        ),
    ),
    th.Property(
        "replay_days",
        th.IntegerType(minimum=1),
        title="Replay: days",
        description=(
            "Replay instead of an incremental run: emit every event of the last N days (to "
            "Intercom's clock), from the conversations and tickets updated since, with the ids "
            "an incremental run gives them. A replay neither reads nor writes state (no STATE "
            "message at all), so it never moves an incremental job's bookmarks. For "
            "reconciliation (target-klaviyo's reconcile mode)."
        ),
    ),
    th.Property(
        "replay_start",
        th.StringType,
        title="Replay: start",
        description=(
            "Replay (see replay_days) every event at or after this time (ISO-8601 date or "
            "date-time, or epoch seconds); instead of replay_days."
        ),
    ),
    th.Property(
        "replay_end",
        th.StringType,
        title="Replay: end",
        description=(
            "Last time a replay emits events of (ISO-8601 or epoch seconds; default: now, to "
            "Intercom's clock); with replay_start or replay_days (then the N days before it)."
        ),
    ),
).to_dict()
DEFAULTS: dict[str, Any] = {
    name: spec["default"] for name, spec in CONFIG_SCHEMA["properties"].items() if "default" in spec
}


def stored_epoch(state: Mapping[str, Any], key: str, stream: str) -> int | None:
    """A bookmark from the state (epoch seconds; 0.1.0 wrote the same), or one line naming it."""
    value = state.get(key)
    if value is None:
        return None
    try:
        return parse_epoch_or_iso(value, f"state bookmark {stream}.{key}")
    except ValueError:
        msg = (
            f"state bookmark {stream}.{key} is {value!r}, not epoch seconds: fix or reset the "
            f"stream's state (meltano state clear <state-id>)"
        )
        raise SettingsError([msg]) from None
