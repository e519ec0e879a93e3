"""tap-intercom-events: the Tap class (its settings and streams); run-scoped objects: runtime.py."""

from __future__ import annotations

import signal
import sys
from functools import cached_property
from types import FrameType
from typing import Any, ClassVar

from singer_sdk import Stream, Tap
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
from tap_intercom_events.runtime import Runtime
from tap_intercom_events.settings import CONFIG_SCHEMA, SettingsError, replay_requested


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

    config_jsonschema = CONFIG_SCHEMA
    # The run of this process, for invoke to note how it ended in its report; `syncing` is
    # set by invoke (a sync), not by --discover or --about, which write no report.
    current_run: ClassVar[Runtime | None] = None
    syncing: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.message_writer, ReplayAwareWriter):
            self.message_writer.writes_state = not replay_requested(self.config)

    @cached_property
    def run(self) -> Runtime:
        """This sync's shared objects, built once from the config (before the streams)."""
        try:
            run = Runtime.from_config(self.config, user_agent=f"{self.name}/{self.plugin_version}")
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
