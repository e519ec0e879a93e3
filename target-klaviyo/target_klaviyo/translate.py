"""Pure value translations: times, phones, names, and Klaviyo's limits on property values."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal, InvalidOperation
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


# A string of digits (optionally with a fraction) this long or longer is an epoch time, not an
# ISO basic-format date such as 20261120.
_EPOCH_TEXT = re.compile(r"^-?\d{9,}(\.\d+)?$")


def to_iso_utc(value: Any) -> str | None:
    """ISO-8601 UTC (`YYYY-MM-DDTHH:MM:SS+00:00`, milliseconds when present) from a string,
    datetime, date or epoch number (seconds, or milliseconds when very large).

    Strings: any RFC 3339 / ISO-8601 form (`T`, `t` or a space between date and time, `Z` or
    `z`, fractions of any length, offsets `+05:30`, `+0530`, `+05`, a date alone; no offset means
    UTC), or epoch seconds or milliseconds written as digits."""
    if value is None:
        return None
    if isinstance(value, str):
        # The tap's canonical form passes through untouched: most values, so keep it cheap.
        if len(value) == 25 and value[10] == "T" and value.endswith("+00:00"):
            return value
        text = value.strip()
        if _EPOCH_TEXT.match(text):
            return _from_epoch(Decimal(text), value)
        try:
            # Upper case: the only letters ISO-8601 has are T, Z and W (`2026-11-20t10:15:00z`).
            parsed = dt.datetime.fromisoformat(text.upper())
        except ValueError:
            raise TranslationError(f"not an ISO-8601 date-time: {_excerpt(value)}") from None
        return _format(parsed)
    if isinstance(value, bool):
        raise TranslationError(f"not a time: {value!r}")
    if isinstance(value, (int, float, Decimal)):
        return _from_epoch(value, value)
    if isinstance(value, dt.datetime):
        return _format(value)
    if isinstance(value, dt.date):
        return _format(dt.datetime(value.year, value.month, value.day, tzinfo=UTC))
    raise TranslationError(f"not a time: {value!r}")


def _from_epoch(number: float | Decimal, original: Any) -> str:
    try:
        seconds = float(number)
        if not math.isfinite(seconds):
            raise ValueError
        if abs(seconds) > _EPOCH_MILLIS_ABOVE:
            seconds /= 1000
        return _format(dt.datetime.fromtimestamp(seconds, tz=UTC))
    except (OverflowError, OSError, ValueError):
        raise TranslationError(f"epoch time out of range: {_excerpt(original)}") from None


def _excerpt(value: Any) -> str:
    """A value for an error message: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_money(value: Any) -> float | int:
    """Klaviyo's event `value` from a number or a numeric string ("19.99", " 1e3 "), exact to the
    cent (a Decimal's nearest double prints back as the same decimal up to 15 significant digits).

    Raises TranslationError for booleans, non-numeric strings and non-finite numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise TranslationError(f"not a number: {_excerpt(value)}")
    if isinstance(value, int):
        if abs(value) >= 2**53:
            raise TranslationError(f"too large for a JSON number: {value}")
        return value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise TranslationError(f"not a number: {_excerpt(value)}") from None
    else:
        number = value if isinstance(value, Decimal) else Decimal(repr(value))
    if not number.is_finite():
        raise TranslationError(f"not a finite number: {_excerpt(value)}")
    as_float = float(number)
    if not math.isfinite(as_float):
        raise TranslationError(f"too large for a JSON number: {_excerpt(value)}")
    if number == number.to_integral_value() and abs(as_float) < 2**53:
        return int(number)
    return as_float


def to_number(text: str) -> int | float:
    """A numeric string as a JSON number: integers exactly (ids past 2^53 too), others as the
    nearest double. Raises TranslationError when it is not a finite number."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise TranslationError(f"not a number: {_excerpt(text)}") from None
    if non_finite(number):
        raise TranslationError(f"not a finite number: {_excerpt(text)}")
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def non_finite(value: Any) -> bool:
    """True for NaN and infinities (floats or Decimals), and Decimals too large for a double:
    JSON has no such numbers (Python would write `NaN`, which no JSON parser takes)."""
    if type(value) is float:
        return not math.isfinite(value)
    if isinstance(value, Decimal):
        return not value.is_finite() or not math.isfinite(float(value))
    return False


# What an email address must look like to be sent (Klaviyo refuses the whole request otherwise):
# something@domain.tld, no spaces, a top-level domain of two or more letters.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[A-Za-z]{2,}$")


def is_email(text: str) -> bool:
    return _EMAIL.match(text) is not None


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


# Klaviyo's profile location keys (ProfileUpsert `location`); `ip` is not taken from records.
LOCATION_KEYS = (
    "address1",
    "address2",
    "city",
    "country",
    "region",
    "zip",
    "timezone",
    "latitude",
    "longitude",
)
_COORDINATES = ("latitude", "longitude")


def location_parts(location: Any) -> dict[str, Any] | None:
    """Klaviyo location from an object (Intercom's, or any tap's): its non-null Klaviyo location
    keys (Intercom's has city, country and region)."""
    if not isinstance(location, dict):
        return None
    return location_of({k: location.get(k) for k in LOCATION_KEYS})


def location_of(parts: dict[str, Any]) -> dict[str, Any] | None:
    """A Klaviyo location from its parts (by Klaviyo key): empty ones left out, coordinates as
    numbers (numeric strings too), everything else as text. Raises TranslationError for a
    coordinate that is not a finite number."""
    location: dict[str, Any] = {}
    for key, value in parts.items():
        if value is None or isinstance(value, (dict, list, bool)):
            continue
        if key in _COORDINATES:
            try:
                location[key] = to_money(value)
            except TranslationError as exc:
                msg = f"{key}: {exc}"
                raise TranslationError(msg) from None
            continue
        text = str(value).strip()
        if text:
            location[key] = text
    return location or None


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
    strings <= 100 KB, arrays <= 4,000 items, nesting <= 10 (deeper parts become JSON text).

    Raises TranslationError for a number JSON cannot hold (NaN, infinities, 1e400)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TranslationError(f"not a finite number: {value!r}")
        return value
    if isinstance(value, str):
        # 4 bytes is the most a character takes in UTF-8: short strings need no encoding.
        if len(value) * 4 <= MAX_STRING_BYTES:
            return value
        return _fit_string(value, cuts)
    if isinstance(value, Decimal):
        if non_finite(value):
            raise TranslationError(f"not a finite number: {_excerpt(value)}")
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


def json_size(value: Any) -> int:
    """The larger of two ways to count a value's JSON bytes: compact UTF-8 (what is sent) and
    ASCII-escaped with spaces after separators (Python's default, as the stand-in counts). Klaviyo
    does not say how it counts its size limits: a value within both fits either reading."""
    compact = json.dumps(value, default=json_default, ensure_ascii=False, separators=(",", ":"))
    return max(len(compact.encode()), len(json.dumps(value, default=json_default)))


def drop_largest(properties: dict[str, Any], excess: int) -> list[str]:
    """Take the largest values out of `properties` (looking into nested objects: one custom
    attribute, not the whole object of them) until at least `excess` bytes of JSON are gone.

    Changes `properties` in place; returns the dotted names of what was taken out, largest
    first. Dropped, not cut short: a cut value would look whole in Klaviyo."""
    leaves: list[tuple[int, tuple[str, ...], dict[str, Any]]] = []

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        for key, value in node.items():
            if isinstance(value, dict) and value:
                walk(value, (*path, key))
            else:
                # The key, its quotes, ": " and ", " go with the value.
                leaves.append((json_size(value) + json_size(key) + 4, (*path, key), node))

    walk(properties, ())
    leaves.sort(key=lambda leaf: -leaf[0])
    dropped: list[str] = []
    removed = 0
    for size, path, parent in leaves:
        if removed >= excess:
            break
        del parent[path[-1]]
        removed += size
        dropped.append(".".join(path))
    return dropped


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
