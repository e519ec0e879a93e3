"""tap-intercom-events: the Tap class, its settings and the run-scoped shared objects."""

from __future__ import annotations

import sys
import threading
import time
from functools import cached_property
from typing import Any, ClassVar

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)

from tap_intercom_events import conversations, streams
from tap_intercom_events.client import IntercomClient, IntercomError
from tap_intercom_events.events import Lookups
from tap_intercom_events.lookups import ContactCache, fetch_names
from tap_intercom_events.search import MAX_PAGE_SIZE, parse_start_date

REGION_URLS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
SUPPORTED_VERSIONS = ["2.11", "2.12", "2.13", "2.14", "2.15", "2.16"]


class TapIntercomEvents(Tap):
    """Intercom contacts, conversations, tickets, their parts, and the contract's support events."""

    name = "tap-intercom-events"
    package_name = "tap-intercom-events"
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
    ]

    config_jsonschema = th.PropertiesList(
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
                "date-time, or epoch seconds). Default: everything."
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
            th.IntegerType,
            default=0,
            title="Lookback window (seconds)",
            description=(
                "Conversations and tickets re-read before the bookmark, for objects Intercom indexes "
                "late. Events inside it are sent again (same event_id, so harmless downstream)."
            ),
        ),
        th.Property(
            "contact_lookback_seconds",
            th.IntegerType,
            default=600,
            title="Contact lookback (seconds)",
            description=(
                "Contacts re-read before the bookmark: Intercom's contact search shows recent edits "
                "only after a few minutes. Contacts inside it are sent again (profiles are upserts)."
            ),
        ),
        th.Property(
            "max_concurrency",
            th.IntegerType,
            default=8,
            title="Max concurrency",
            description="Requests in flight at once (detail and contact fetches).",
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            default=MAX_PAGE_SIZE,
            title="Page size",
            description="Search page size, 1 to 150.",
        ),
        th.Property(
            "request_timeout",
            th.IntegerType,
            default=60,
            title="Request timeout (seconds)",
            description="Timeout of one HTTP request; timeouts are retried with backoff.",
        ),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Captured once: every incremental window of this run ends at the same second.
        self.sync_started_at = time.time()
        self.parent_cache: dict[str, Any] = {}
        self._names: tuple[dict[str, Any], dict[str, str], dict[str, str]] | None = None
        self._names_lock = threading.Lock()
        super().__init__(*args, **kwargs)
        self._check_settings()

    def _check_settings(self) -> None:
        config = self.config
        problems = []
        if config.get("start_date") not in (None, ""):
            try:
                parse_start_date(config["start_date"])
            except ValueError as exc:
                problems.append(str(exc))
        page_size = config.get("page_size", MAX_PAGE_SIZE)
        if not 1 <= int(page_size) <= MAX_PAGE_SIZE:
            problems.append(f"page_size must be 1 to {MAX_PAGE_SIZE}, got {page_size}")
        if int(config.get("max_concurrency", 8)) < 1:
            problems.append(f"max_concurrency must be >= 1, got {config.get('max_concurrency')}")
        for lookback in ("lookback_window_seconds", "contact_lookback_seconds"):
            if int(config.get(lookback) or 0) < 0:
                problems.append(f"{lookback} must be >= 0, got {config.get(lookback)}")
        url = config.get("api_url")
        if url and not str(url).startswith(("http://", "https://")):
            problems.append(f"api_url must start with http:// or https://, got {url!r}")
        if problems:
            raise ConfigValidationError("; ".join(problems), errors=problems)

    @property
    def api_url(self) -> str:
        url = self.config.get("api_url") or REGION_URLS[self.config.get("region") or "us"]
        return str(url).rstrip("/")

    @cached_property
    def client(self) -> IntercomClient:
        return IntercomClient(
            base_url=self.api_url,
            access_token=self.config["access_token"],
            api_version=self.config.get("api_version", "2.14"),
            max_concurrency=int(self.config.get("max_concurrency", 8)),
            timeout=float(self.config.get("request_timeout", 60)),
            user_agent=f"{self.name}/{self.plugin_version}",
        )

    @cached_property
    def contacts(self) -> ContactCache:
        return ContactCache(self.client)

    def lookups(self, contacts: dict[str, Any] | None = None) -> Lookups:
        """Admin, team and tag names (fetched once per run) plus the given contacts."""
        with self._names_lock:
            if self._names is None:
                self._names = fetch_names(self.client)
        admins, teams, tags = self._names
        return Lookups(admins=admins, teams=teams, tags=tags, contacts=contacts or {})

    def discover_streams(self) -> list[Stream]:
        return [
            streams.AdminsStream(self),
            streams.TeamsStream(self),
            streams.TagsStream(self),
            streams.TicketTypesStream(self),
            streams.ContactsStream(self),
            conversations.ConversationsStream(self),
            conversations.ConversationPartsStream(self),
            conversations.ConversationEventsStream(self),
            conversations.TicketsStream(self),
            conversations.TicketPartsStream(self),
            conversations.TicketEventsStream(self),
        ]

    def log_summary(self) -> None:
        if "client" in self.__dict__:
            self.logger.info(self.client.summary())
            self.client.close()

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: Any = None,
        catalog: Any = None,
    ) -> None:
        """The SDK's invoke, plus one clear line (no traceback, no token) on a fatal API error."""
        if about:
            super().invoke(about=about, about_format=about_format)
            return
        from singer_sdk.helpers._util import load_json
        from singer_sdk.plugin_base import _ConfigInput

        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        tap = cls(
            config=config.config,
            state=None if state is None else load_json(state.read()),
            catalog=None if catalog is None else load_json(catalog.read()),
            parse_env_config=config.parse_env,
            validate_config=True,
        )
        try:
            tap.sync_all()
        except IntercomError as exc:
            tap.logger.error("%s", exc)
            tap.log_summary()
            sys.exit(1)
        tap.log_summary()


if __name__ == "__main__":
    TapIntercomEvents.cli()
