"""The `revision` header: which API revisions exist, which are retired, and what each one changes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from api_sandbox.klaviyo.errors import ApiError, ApiRequestError

# Quarterly stable revisions the stand-in serves; 2024 and older are retired (410).
SUPPORTED = (
    "2025-01-15",
    "2025-04-15",
    "2025-07-15",
    "2025-10-15",
    "2026-01-15",
    "2026-04-15",
    "2026-07-15",
    "2026-10-15",
)
RETIRED_BEFORE = date(2025, 1, 1)
_REVISION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:\.([A-Za-z0-9_-]+))?$")


@dataclass(frozen=True)
class Revision:
    """A parsed revision and the behaviour differences this stand-in implements."""

    day: str  # YYYY-MM-DD
    beta: bool

    @property
    def has_backfill(self) -> bool:
        return self.day >= "2026-04-15"

    @property
    def earliest_event_year(self) -> int:
        return 1990 if self.day >= "2026-07-15" else 2000

    @property
    def max_event_properties(self) -> int:
        return 400 if self.day >= "2025-04-15" else 300

    @property
    def profile_import_per_minute(self) -> int:
        return 750 if self.day >= "2026-01-15" else 700

    @property
    def create_event_meta_beside_attributes(self) -> bool:
        # Up to 2026-07-15 the spec nests Create Event's profile `meta` inside `attributes`;
        # the 2026-10-15 models (klaviyo-api 25.0.0) put it beside `attributes`.
        return self.day >= "2026-10-15"


def parse_revision(header: str | None) -> Revision:
    """Parse the header or raise the error Klaviyo answers with (400 missing/unknown, 410 retired)."""
    if header is None or not header.strip():
        raise _revision_error(400, "invalid", "The 'revision' header is required.")
    match = _REVISION.match(header.strip())
    if match is None:
        raise _revision_error(
            400, "invalid", f"'{header}' is not a valid revision: expected YYYY-MM-DD[.pre]."
        )
    year, month, day_of_month, suffix = match.groups()
    try:
        day = date(int(year), int(month), int(day_of_month))
    except ValueError:
        raise _revision_error(
            400, "invalid", f"'{header}' is not a valid revision: no such date."
        ) from None
    if suffix is not None and suffix != "pre":
        raise _revision_error(
            400, "invalid", f"'{header}' is not a valid revision: the only suffix is '.pre'."
        )
    if day < RETIRED_BEFORE:
        raise _revision_error(
            410,
            "gone",
            f"Revision {day.isoformat()} has been retired; use one of {SUPPORTED[0]} to {SUPPORTED[-1]}.",
        )
    if day.isoformat() not in SUPPORTED:
        raise _revision_error(
            400,
            "invalid",
            f"'{header}' is not a valid revision; valid revisions: {', '.join(SUPPORTED)}.",
        )
    return Revision(day=day.isoformat(), beta=suffix is not None)


def _revision_error(status: int, code: str, detail: str) -> ApiRequestError:
    return ApiRequestError([ApiError(status, code, detail, parameter="revision")])
