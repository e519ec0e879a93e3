"""Pure value translations: times, phones, names, and Klaviyo's limits on property values."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import lru_cache
from typing import Any

import phonenumbers

UTC = dt.timezone.utc

# Klaviyo's limits on property values (https://developers.klaviyo.com/en/reference/create_event).
MAX_STRING_BYTES = 100 * 1024
MAX_ARRAY_ITEMS = 4000
MAX_NESTING = 10
# Epoch values above this are taken as milliseconds (1e11 seconds is the year 5138).
_EPOCH_MILLIS_ABOVE = 100_000_000_000


class TranslationError(ValueError):
    """A value that cannot become what Klaviyo expects (the record is dead-lettered)."""


def to_iso_utc(value: Any) -> str | None:
    """ISO-8601 UTC (`YYYY-MM-DDTHH:MM:SS+00:00`, milliseconds when present) from a string,
    datetime, date or epoch number (seconds, or milliseconds when very large)."""
    if value is None:
        return None
    if isinstance(value, str):
        # The tap's canonical form passes through untouched: most values, so keep it cheap.
        if len(value) == 25 and value[10] == "T" and value.endswith("+00:00"):
            return value
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise TranslationError(f"not an ISO-8601 date-time: {value!r}") from None
        return _format(parsed)
    if isinstance(value, bool):
        raise TranslationError(f"not a time: {value!r}")
    if isinstance(value, (int, float, Decimal)):
        seconds = float(value)
        if abs(seconds) > _EPOCH_MILLIS_ABOVE:
            seconds /= 1000
        try:
            return _format(dt.datetime.fromtimestamp(seconds, tz=UTC))
        except (OverflowError, OSError, ValueError):
            raise TranslationError(f"epoch time out of range: {value!r}") from None
    if isinstance(value, dt.datetime):
        return _format(value)
    if isinstance(value, dt.date):
        return _format(dt.datetime(value.year, value.month, value.day, tzinfo=UTC))
    raise TranslationError(f"not a time: {value!r}")


def _format(moment: dt.datetime) -> str:
    # A naive datetime is taken as UTC: Singer date-times are UTC unless they say otherwise.
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec)


@lru_cache(maxsize=65_536)
def to_e164(raw: str, default_region: str) -> str | None:
    """E.164 form of a free-form phone number, or None when it is not a valid number.

    Cached: the same contact's phone comes back on every one of its events."""
    text = raw.strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def split_name(name: Any) -> tuple[str | None, str | None]:
    """First and last name from a full name, split at the first space ("Ana Maria Silva" ->
    "Ana", "Maria Silva"); a one-word name has no last name."""
    if not isinstance(name, str) or not name.strip():
        return None, None
    first, _, rest = name.strip().partition(" ")
    rest = rest.strip()
    return first, (rest or None)


def avatar_url(avatar: Any) -> str | None:
    """Intercom's avatar is an object with `image_url`, or sometimes a plain URL string."""
    if isinstance(avatar, dict):
        url = avatar.get("image_url")
        return url if isinstance(url, str) and url else None
    if isinstance(avatar, str) and avatar:
        return avatar
    return None


def location_parts(location: Any) -> dict[str, str] | None:
    """Klaviyo location from Intercom's: only the non-null city, country and region."""
    if not isinstance(location, dict):
        return None
    parts = {k: location[k] for k in ("city", "country", "region") if location.get(k) is not None}
    return parts or None


class LimitCounter:
    """Counts how often a value had to be cut to fit Klaviyo's limits (shown in the summary)."""

    def __init__(self) -> None:
        self.cut = 0

    def take(self) -> int:
        """The count so far, starting again from zero."""
        cut, self.cut = self.cut, 0
        return cut


def fit_value(value: Any, depth: int, cuts: LimitCounter) -> Any:
    """A JSON-ready value within Klaviyo's limits: Decimal -> number, datetime -> ISO string,
    strings <= 100 KB, arrays <= 4,000 items, nesting <= 10 (deeper parts become JSON text)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        # 4 bytes is the most a character takes in UTF-8: short strings need no encoding.
        if len(value) * 4 <= MAX_STRING_BYTES:
            return value
        return _fit_string(value, cuts)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return to_iso_utc(value)
    if isinstance(value, (dict, list, tuple)) and depth >= MAX_NESTING:
        cuts.cut += 1
        return _fit_string(json.dumps(value, default=str, ensure_ascii=False), cuts)
    if isinstance(value, dict):
        return {str(k): fit_value(v, depth + 1, cuts) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ARRAY_ITEMS:
            cuts.cut += 1
            value = value[:MAX_ARRAY_ITEMS]
        return [fit_value(v, depth + 1, cuts) for v in value]
    return str(value)


def _fit_string(text: str, cuts: LimitCounter) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= MAX_STRING_BYTES:
        return text
    cuts.cut += 1
    return encoded[:MAX_STRING_BYTES].decode("utf-8", errors="ignore")


def is_empty(value: Any) -> bool:
    """Null, and empty lists and objects, are left out of payloads (docs/contract.md, "Precise rules", Types)."""
    return value is None or (isinstance(value, (list, dict, tuple)) and not value)


def json_default(value: Any) -> Any:
    """`json.dumps(default=...)` for what Singer records may hold besides JSON types."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return to_iso_utc(value)
    return str(value)
