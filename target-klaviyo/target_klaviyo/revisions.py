"""What Klaviyo accepts, by API revision (the `revision` setting): every revision date the target
depends on is here.

Klaviyo's revision history: https://developers.klaviyo.com/en/docs/api_versioning_and_deprecation_policy
"""

from __future__ import annotations

DEFAULT_REVISION = "2026-10-15"
# `backfill: true` on bulk-created events (recorded without firing flows).
BACKFILL_SINCE = "2026-04-15"
# Event times from 1990 on (2000 before this revision).
EVENT_TIMES_FROM_1990_SINCE = "2026-07-15"
# 400 properties per event (300 before this revision).
MORE_EVENT_PROPERTIES_SINCE = "2025-04-15"
# POST /api/profile-import's steady limit rose from 700/min to 750/min.
FASTER_PROFILE_IMPORT_SINCE = "2026-01-15"
# GET /api/events takes page[size], up to 1,000 (before: 200 a page, no page[size]).
EVENTS_PAGE_SIZE_SINCE = "2026-01-15"
MAX_EVENTS_PAGE_SIZE = 1000


def supports_backfill(revision: str) -> bool:
    return revision >= BACKFILL_SINCE


def earliest_event_year(revision: str) -> int:
    """Klaviyo refuses events older than this year."""
    return 1990 if revision >= EVENT_TIMES_FROM_1990_SINCE else 2000


def max_event_properties(revision: str) -> int:
    return 400 if revision >= MORE_EVENT_PROPERTIES_SINCE else 300


def profile_import_steady_limit(revision: str, documented: int) -> int:
    """Requests per minute to POST /api/profile-import (`documented`: the current revision's)."""
    return documented if revision >= FASTER_PROFILE_IMPORT_SINCE else 700


def events_page_size(revision: str) -> int | None:
    """The page[size] to read events with, or None when the revision has no such parameter."""
    return MAX_EVENTS_PAGE_SIZE if revision >= EVENTS_PAGE_SIZE_SINCE else None
