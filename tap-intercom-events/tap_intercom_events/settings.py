"""The tap's settings, read and checked once (pure): one line per problem, naming the setting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tap_intercom_events.output import MILLISECONDS_FROM

REGION_URLS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
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

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, defaults: Mapping[str, Any], now: float
    ) -> Settings:
        """`defaults` are the config schema's (the one place they are written)."""
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
        )


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
