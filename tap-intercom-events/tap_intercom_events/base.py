"""Stream bases: every request goes through the run's IntercomClient; incremental state by hand."""

from __future__ import annotations

import time

from singer_sdk import Stream, Tap
from singer_sdk.helpers.types import Context, Record

from tap_intercom_events.events import iso_time
from tap_intercom_events.output import conform
from tap_intercom_events.runtime import Runtime
from tap_intercom_events.settings import SettingsError, stored_epoch
from tap_intercom_events.window import SyncWindow, plan_window


class IntercomStream(Stream):
    """A stream of the run `run`: it reads through `run.client` in `get_records`."""

    def __init__(self, tap: Tap, run: Runtime) -> None:
        self.run = run
        super().__init__(tap)

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        self.run.stats.count_records(self.name)
        # One JSON type per field whatever the API version sends (ids, epoch timestamps, avatar).
        return conform(self.schema, row)


class IncrementalStream(IntercomStream):
    """State kept by hand (the SDK only advances selected streams; children need the parent's).

    `replication_key_value`: every object with updated_at <= it was read (window.py).
    `events_after`: the event floor of the window in progress (kept on interruption).
    """

    replication_key = "updated_at"
    # State is written by checkpoint(); the SDK's record-count cadence is not used.
    STATE_MSG_FREQUENCY = 10**12

    def lookback_seconds(self) -> int:
        return self.run.settings.lookback_seconds

    def plan_window(self) -> SyncWindow:
        """This run's window from the state (a replay's from its settings, the state ignored).
        The SDK's starting value is not used: it would mix the start_date string with epoch
        bookmarks (its integer-key pitfall)."""
        replay = self.run.replay_window()
        if replay is not None:
            self.run.report.add_window(self.name, replay)
            self.logger.info(
                "%s replay: updated_at >= %s, events in [%s, %s]; no state read or written",
                self.name,
                iso_time(replay.lower + 1),
                iso_time(replay.events_after + 1),
                iso_time(replay.end),
            )
            return replay
        state = self.stream_state
        bookmark = stored_epoch(state, "replication_key_value", self.name)
        events_after = stored_epoch(state, "events_after", self.name)
        # Intercom's clock (runtime.Runtime.window_end); a bookmark an older version took from a
        # machine clock ahead of Intercom's is not "in the future" while that clock is not.
        now = self.run.window_end() + 1
        latest = max(now, int(time.time()))
        for value in (bookmark, events_after):
            if value is not None and value > latest:
                msg = (
                    f"state bookmark {self.name} is {iso_time(value)}, in the future: a run would "
                    "skip everything until then; reset the stream's state"
                )
                raise SettingsError([msg])
        window = plan_window(
            bookmark=bookmark,
            events_after=events_after,
            start_date=self.run.settings.start_date,
            lookback=self.lookback_seconds(),
            now=now,
        )
        self.run.report.add_window(self.name, window)
        self.logger.info(
            "%s window: updated_at > %s, events in (%s, %s]",
            self.name,
            iso_time(window.lower),
            iso_time(window.events_after),
            iso_time(window.end),
        )
        return window

    def checkpoint(self, window: SyncWindow, *, read_through: int) -> None:
        """Every object with updated_at <= `read_through` was read and emitted: resume after it,
        keeping this window's event floor. A replay moves no bookmark."""
        if self.run.settings.replay is not None:
            return
        bookmark = max(window.resume_point(read_through), self._stored_bookmark())
        self._set_state(bookmark, window.floor, flush=True)

    def finish(self, window: SyncWindow) -> None:
        """The whole window was emitted."""
        if self.run.settings.replay is not None:
            return
        self._set_state(window.end, window.end, flush=False)

    def _stored_bookmark(self) -> int:
        value = stored_epoch(self.stream_state, "replication_key_value", self.name)
        return -(2**62) if value is None else value

    def _set_state(self, bookmark: int, events_after: int, *, flush: bool) -> None:
        state = self.stream_state
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = bookmark
        state["events_after"] = events_after
        self.state_manager.is_flushed = False
        if flush:
            self._write_state_message()

    def _write_starting_replication_value(self, context: Context | None) -> None:
        """No-op: the window comes from plan_window (the SDK would compare an epoch bookmark
        with the date-time typed `updated_at`)."""

    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """No-op: bookmarks move in checkpoint/finish, only past what was emitted."""
