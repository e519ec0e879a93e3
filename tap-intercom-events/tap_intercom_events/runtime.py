"""Run-scoped objects every stream shares: settings, the client, the pool, the run's statistics,
lookups, the run's start, its report.

Built once per run by `Runtime.from_config`; the tap passes it to each stream it creates, so streams
never reach back into the Tap object.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tap_intercom_events.client import IntercomClient
from tap_intercom_events.events import Lookups
from tap_intercom_events.json_types import Json
from tap_intercom_events.lookups import ContactCache, Directory, fetch_directory
from tap_intercom_events.pool import Pool
from tap_intercom_events.report import build_report, write_report
from tap_intercom_events.settings import Settings
from tap_intercom_events.stats import RunStats
from tap_intercom_events.window import SyncWindow, plan_replay

LOGGER = logging.getLogger("tap-intercom-events")
# A clock difference from Intercom worth a line in the log (Date has whole seconds).
CLOCK_NOTE_SECONDS = 2


@dataclass
class Truncation:
    """A conversation or ticket whose part list Intercom cut (it returns the newest 500 only)."""

    object_type: str
    object_id: str
    parts_total: int
    parts_returned: int
    oldest_returned_part_at: int | None
    events_after: int
    # "certain": the object is newer than the event floor, so every part out of reach is too;
    # "possible": parts out of reach may or may not be newer than the floor.
    events_missing: str | None

    @property
    def parts_out_of_reach(self) -> int:
        return self.parts_total - self.parts_returned


@dataclass
class RunReport:
    """What the run's summary and report add to the run's statistics (stats.RunStats)."""

    truncations: list[Truncation] = field(default_factory=list)
    # Each incremental stream's window (planned once per run), for the run report.
    windows: dict[str, SyncWindow] = field(default_factory=dict)
    # Conversations and tickets the searches found, by object type.
    objects_read: Counter[str] = field(default_factory=Counter)
    # Events at or before the stored event floor: re-emitted from the lookback, so an earlier
    # run may have sent them (same event_id; Klaviyo keeps one).
    lookback_events: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_truncation(self, truncation: Truncation) -> None:
        with self._lock:
            self.truncations.append(truncation)

    def add_window(self, stream: str, window: SyncWindow) -> None:
        with self._lock:
            self.windows[stream] = window

    def count_read(self, object_type: str, n: int) -> None:
        with self._lock:
            self.objects_read[object_type] += n

    def count_lookback_events(self, n: int) -> None:
        with self._lock:
            self.lookback_events += n

    def summary(self) -> str:
        lookback = (
            f"events from the lookback (re-read for late indexing; possibly sent before, same "
            f"event_id): {self.lookback_events}; "
        )
        return lookback + self._truncation_summary()

    def _truncation_summary(self) -> str:
        if not self.truncations:
            return "truncated part lists: 0"
        out_of_reach = sum(t.parts_out_of_reach for t in self.truncations)
        at_risk = sum(1 for t in self.truncations if t.events_missing)
        return (
            f"truncated part lists: {len(self.truncations)} ({out_of_reach} parts out of reach; "
            f"{at_risk} may miss events: see the truncated_parts stream)"
        )


class Runtime:
    """One sync: its settings, HTTP client, pool, statistics, lookups and start second."""

    def __init__(self, settings: Settings, *, user_agent: str, started_at: float) -> None:
        self.settings = settings
        # Every incremental window of this run ends at the same second (window.SyncWindow.end).
        self.started_at = started_at
        self.stats = RunStats()
        self.client = IntercomClient(
            base_url=settings.api_url,
            access_token=settings.access_token,
            api_version=settings.api_version,
            max_concurrency=settings.max_concurrency,
            timeout=settings.request_timeout,
            max_tries=settings.max_retries + 1,
            backoff_max_seconds=settings.backoff_max_seconds,
            user_agent=user_agent,
            stats=self.stats,
        )
        self.pool = Pool(max_concurrency=settings.max_concurrency)
        self.contacts = ContactCache(self.client)
        self.report = RunReport()
        self._directory: Directory | None = None
        self._names: tuple[dict[str, Json], dict[str, str], dict[str, str]] = ({}, {}, {})
        self._directory_lock = threading.Lock()
        self._window_end: int | None = None
        self._window_lock = threading.Lock()
        self._closed = False
        # How the run ended, for the report: sync_all began and returned, a signal, or an
        # error's line. Discovery (no sync) writes no report.
        self.syncing = False
        self.finished = False
        self.stopped_by_signal: int | None = None
        self.error: str | None = None
        # The summary ends the run however it ends (the SDK's sync_all is final).
        atexit.register(self.close)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, user_agent: str) -> Runtime:
        now = time.time()
        settings = Settings.from_config(config, now=now)
        return cls(settings, user_agent=user_agent, started_at=now)

    def directory(self) -> Directory:
        """Admins, teams and tags: listed once per run, for their streams and for event names."""
        with self._directory_lock:
            if self._directory is None:
                self._directory = fetch_directory(self.client)
                self._names = self._directory.names()
            return self._directory

    def window_end(self) -> int:
        """The end of every incremental window of this run: the second before Intercom's clock
        when the run began reading (the `Date` of its first answer), so that a change Intercom
        stamps after a read is the next run's whatever this machine's clock says; this machine's
        clock when Intercom sends no `Date` (docs/api-assumptions.md I19)."""
        with self._window_lock:
            if self._window_end is None:
                if self.client.first_server_date is None:
                    self.directory()  # needed by contacts and events anyway: no extra request
                self._window_end = self._clock_end()
            return self._window_end

    def replay_window(self) -> SyncWindow | None:
        """The replay's window (the same for every stream), or None for an incremental run."""
        replay = self.settings.replay
        if replay is None:
            return None
        start, end = replay.bounds(latest=self.window_end(), start_date=self.settings.start_date)
        return plan_replay(start=start, end=end)

    def _clock_end(self) -> int:
        server = self.client.first_server_date
        if server is None:
            LOGGER.warning(
                "Intercom's answers carry no Date header: windows end by this machine's clock "
                "(lookback_window_seconds must then also cover how far it runs ahead)"
            )
            return int(self.started_at) - 1
        ahead = self.client.first_server_date_received_at - server
        if abs(ahead) >= CLOCK_NOTE_SECONDS:
            LOGGER.info(
                "this machine's clock is %+.0f s from Intercom's: windows follow Intercom's", ahead
            )
        return int(server) - 1

    def lookups(self, contacts: Mapping[str, Json] | None = None) -> Lookups:
        """Admin, team and tag names plus the given contacts."""
        self.directory()
        admins, teams, tags = self._names
        return Lookups(
            admins=admins,
            teams=teams,
            tags=tags,
            contacts=contacts or {},
            workspace_id=self.directory().workspace_id,
        )

    def close(self) -> None:
        """Log the run's summary once, write its report and stop its thread pool."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        if self.stats.requests:
            summary = self.stats.summary(limiter_waits=self.client.limiter.waits)
            LOGGER.info("%s; %s", summary, self.report.summary())
        self.pool.close()
        if self.syncing and self.settings.report_path is not None:
            self.write_report(self.settings.report_path)

    def write_report(self, path: str) -> None:
        if self.stopped_by_signal is not None:
            outcome, code = "stopped", 128 + self.stopped_by_signal
        elif self.finished:
            outcome, code = "finished", 0
        else:
            outcome, code = "failed", 1
        report = build_report(
            outcome=outcome,
            exit_code=code,
            error=self.error,
            api_version=self.settings.api_version,
            elapsed=time.time() - self.started_at,
            traffic=self.stats,
            objects_read=self.report.objects_read,
            windows=self.report.windows,
            truncations=self.report.truncations,
            lookback_events=self.report.lookback_events,
        )
        try:
            write_report(path, report)
        except OSError as exc:
            LOGGER.error("cannot write the run report to %s (%s)", path, exc.strerror)
        else:
            LOGGER.info("run report written to %s", path)
