"""tap-intercom-events: the Tap class (its settings and streams); run-scoped objects: runtime.py."""

from __future__ import annotations

import signal
import sys
from functools import cached_property
from types import FrameType
from typing import Any, ClassVar

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import Message, StateMessage

from tap_intercom_events import conversations, streams
from tap_intercom_events.client import IntercomError
from tap_intercom_events.runtime import Run
from tap_intercom_events.search import MAX_PAGE_SIZE
from tap_intercom_events.settings import (
    REGION_URLS,
    SUPPORTED_VERSIONS,
    SettingsError,
    replay_requested,
)


class ReplayAwareWriter(SingerWriter):
    """The SDK's message writer; in a replay it writes no STATE: a replay's STATE could be taken
    for a bookmark, even the incoming state the SDK would echo (docs/interfaces.md section 4)."""

    writes_state = True

    def write_message(self, message: Message) -> None:
        if self.writes_state or not isinstance(message, StateMessage):
            super().write_message(message)


class TapIntercomEvents(Tap):
    """Intercom contacts, conversations, tickets, their parts, and the contract's support events."""

    name = "tap-intercom-events"
    package_name = "tap-intercom-events"
    message_writer_class = ReplayAwareWriter
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
    # The run of this process, for invoke to note how it ended in its report; `syncing` is
    # set by invoke (a sync), not by --discover or --about, which write no report.
    current_run: ClassVar[Run | None] = None
    syncing: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.message_writer, ReplayAwareWriter):
            self.message_writer.writes_state = not replay_requested(self.config)

    @cached_property
    def run(self) -> Run:
        """This sync's shared objects, built once from the config (before the streams)."""
        defaults = {
            name: spec.get("default")
            for name, spec in self.config_jsonschema["properties"].items()
            if "default" in spec
        }
        try:
            run = Run.from_config(
                self.config, defaults=defaults, user_agent=f"{self.name}/{self.plugin_version}"
            )
        except SettingsError as exc:
            raise ConfigValidationError(str(exc), errors=exc.problems) from None
        run.syncing = TapIntercomEvents.syncing
        TapIntercomEvents.current_run = run
        return run

    @property
    def api_url(self) -> str:
        return self.run.settings.api_url

    def discover_streams(self) -> list[Stream]:
        run = self.run
        conversations_stream = conversations.ConversationsStream(self, run)
        tickets_stream = conversations.TicketsStream(self, run)
        return [
            streams.AdminsStream(self, run),
            streams.TeamsStream(self, run),
            streams.TagsStream(self, run),
            streams.TicketTypesStream(self, run),
            streams.ContactsStream(self, run),
            conversations_stream,
            conversations.ConversationPartsStream(self, run, conversations_stream),
            conversations.ConversationEventsStream(self, run, conversations_stream),
            tickets_stream,
            conversations.TicketPartsStream(self, run, tickets_stream),
            conversations.TicketEventsStream(self, run, tickets_stream),
            conversations.TruncatedPartsStream(self, run),
        ]

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """The SDK writes the state (it covers only what was emitted) and exits 0; a stopped sync
        must not look like a finished one to Meltano or a scheduler: exit 128 + the signal."""
        self.logger.error(
            "stopped by %s before the sync finished: the state covers what was emitted",
            signal.Signals(signum).name,
        )
        if "run" in self.__dict__:
            self.run.stopped_by_signal = signum
        try:
            super()._handle_termination(signum, frame)
        finally:
            sys.exit(128 + signum)

    @classmethod
    def invoke(cls, **kwargs: Any) -> None:
        """The SDK's invoke, plus one clear line (no traceback, no token) on a fatal API error."""
        TapIntercomEvents.syncing = not kwargs.get("about")
        try:
            super().invoke(**kwargs)
            if cls.current_run is not None:
                cls.current_run.finished = True
        except (IntercomError, SettingsError) as exc:
            cls.logger.error("%s", exc)
            if cls.current_run is not None:
                cls.current_run.error = str(exc)  # the report is written as the process exits
            sys.exit(1)


if __name__ == "__main__":
    TapIntercomEvents.cli()
