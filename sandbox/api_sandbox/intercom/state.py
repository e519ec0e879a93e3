"""Everything one running Intercom stand-in holds: settings, the workspace, limiter, caches and counters."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from typing import Any

from aiohttp import web

from api_sandbox.intercom.generator import generate
from api_sandbox.intercom.model import Workspace
from api_sandbox.intercom.paging import CursorRepeater, SortedResults
from api_sandbox.intercom.rate_limit import WindowRateLimiter
from api_sandbox.intercom.search_lag import SearchLag
from api_sandbox.settings import IntercomSettings

# Versions the stand-in serves -> their minor number, which the renderer compares against the versions where
# a field changed (2.12, 2.13 and 2.15 behave as 2.14, except that rating.updated_at starts at 2.14).
# the minor version of the request, set by the API middleware
VERSION_KEY = web.RequestKey("intercom_version", int)
SEARCH_KINDS = ("contacts", "conversations", "tickets")
CURSOR_MODES = ("keyset", "offset")
VERSIONS = {"2.11": 11, "2.12": 12, "2.13": 13, "2.14": 14, "2.15": 15, "2.16": 16}


class IntercomState:
    def __init__(self, settings: IntercomSettings) -> None:
        if settings.default_version not in VERSIONS:
            msg = (
                f"default_version {settings.default_version!r} is not one of {', '.join(VERSIONS)}"
            )
            raise ValueError(msg)
        self.settings = settings
        # The stand-in's clock runs this many seconds ahead of the machine's (negative: behind): its
        # `Date` header, a mutation's default `at` and a reset's default `now` (quirk; rate-limit
        # windows and `X-RateLimit-Reset` stay on the machine's clock)
        self.clock_offset = 0.0
        self.rate_limiter = WindowRateLimiter(
            settings.rate_limit_per_minute, window_seconds=settings.rate_window_seconds
        )
        self.sorted_results = SortedResults()
        self.cursor_repeater = CursorRepeater(settings.faults.seed)
        # "If a contact has recently been created … it may not appear" in search: an edited contact is
        # missing from contact search for this long (quirk; 0 = at once)
        self.contact_search_delay = 0.0
        # Intercom does not document whether search honours `sort` (Intercom-OpenAPI #114): a search
        # kind set here ignores it and returns the most recently updated first (quirk)
        self.ignore_sort = dict.fromkeys(SEARCH_KINDS, False)
        # Intercom does not say what a cursor holds: "keyset" (the last item's sort key; stable while
        # items move) or "offset" (a position in the result list; moving items are skipped or repeated)
        self.cursor_mode = "keyset"
        # Intercom documents late search for new contacts only ("a few minutes"): per kind, search
        # sees each object as it was this long ago (search_lag.py; quirk)
        self.search_lag = SearchLag(SEARCH_KINDS)
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.workspace = self._generate(settings)

    def now(self) -> float:
        """The stand-in's clock (epoch seconds)."""
        return time.time() + self.clock_offset

    def searchable(self) -> dict[str, dict[Any, Any]]:
        ws = self.workspace
        return {"contacts": ws.contacts, "conversations": ws.conversations, "tickets": ws.tickets}

    def _generate(self, settings: IntercomSettings) -> Workspace:
        for name in ("contacts", "conversations", "tickets"):
            if getattr(settings, name) < 0:
                msg = f"{name} must be >= 0, got {getattr(settings, name)}"
                raise ValueError(msg)
        now = settings.now if settings.now is not None else int(self.now())
        return generate(
            settings.seed,
            settings.contacts,
            settings.conversations,
            settings.tickets,
            now,
            workspace_id=settings.workspace_id,
        )

    def reset(self, **changes: int | None) -> Workspace:
        """Regenerate the data set (seed, sizes, now may change); caches and cursor history go."""
        self.settings = replace(self.settings, **changes)  # type: ignore[arg-type]
        self.workspace = self._generate(self.settings)
        self.sorted_results.clear()
        self.cursor_repeater.clear()
        self.search_lag.restart(self.searchable())
        return self.workspace

    def changed(self) -> None:
        """Call after any change to the data: cached search results are dropped."""
        self.workspace.version += 1
        self.sorted_results.clear()
        self.search_lag.record(self.searchable(), self.now())
