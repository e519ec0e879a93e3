"""target-klaviyo: Singer records -> Klaviyo events (metrics) and profiles, through the bulk APIs."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import IO, Any

from singer_sdk import typing as th
from singer_sdk.sinks import Sink
from singer_sdk.target_base import Target

from target_klaviyo.client import KlaviyoClient, KlaviyoError
from target_klaviyo.deadletters import DeadLetters
from target_klaviyo.defaults import DEFAULT_SKIP_STREAMS
from target_klaviyo.delivery import Delivery, DryRunWriter
from target_klaviyo.mapping import (
    MappingConfigError,
    Renames,
    default_event_streams,
    default_metric_property_names,
    default_profile_streams,
)
from target_klaviyo.payloads import (
    DEFAULT_MAX_REQUEST_BYTES,
    MAX_EVENTS_PER_REQUEST,
    MAX_PROFILES_PER_JOB,
)
from target_klaviyo.sinks import EventSink, ProfileSink, SkippedSink
from target_klaviyo.stats import ProgressReporter, RunStats
from target_klaviyo.translate import TranslationError, to_iso_utc

DEFAULT_REVISION = "2026-10-15"
BACKFILL_SINCE_REVISION = "2026-04-15"
GC_GEN0_THRESHOLD = 50_000


@dataclass
class Runtime:
    """What every sink of one run shares: settings read once, the pool, counters, dead letters."""

    event_streams: Mapping[str, Mapping[str, Any]]
    profile_streams: Mapping[str, Mapping[str, Any]]
    skip_streams: set[str]
    skip_unmapped: bool
    renames: Renames
    default_region: str
    earliest_event_year: int
    max_event_properties: int
    backfill_before: str | None
    events_per_request: int
    profiles_per_job: int
    profile_import_below: int
    max_request_bytes: int
    stats: RunStats
    dead_letters: DeadLetters
    delivery: Delivery
    dry_run: bool


class TargetKlaviyo(Target):
    """Delivers event streams as Klaviyo events and profile streams as Klaviyo profiles."""

    name = "target-klaviyo"
    current: TargetKlaviyo | None = None  # the running instance, for the summary after a failure
    # Re-parsing date-times and JSON-schema validation cost more CPU than everything else per
    # record; the mapping checks what it uses, so validation is off unless asked for.
    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            secret=True,
            description="Klaviyo private API key (pk_...). Scopes: events:write, profiles:write, "
            "lists:write, lists:read, profiles:read. Not needed with dry_run.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://a.klaviyo.com",
            description="Klaviyo API base URL.",
        ),
        th.Property(
            "revision",
            th.StringType,
            default=DEFAULT_REVISION,
            description="Klaviyo API revision header (YYYY-MM-DD).",
        ),
        th.Property(
            "default_phone_region",
            th.StringType,
            default="US",
            description="Region (ISO 3166 alpha-2) for phone numbers written without a country code.",
        ),
        th.Property(
            "event_streams",
            th.ObjectType(additional_properties=True),
            description="Streams delivered as events, by stream name: {metric or metric_field, "
            "unique_id_field, time_field, email_field, phone_field, external_id_field, value_field, "
            "properties: {field: property name}}. Merged over the defaults for "
            "tap-intercom-events' conversation_events and ticket_events.",
        ),
        th.Property(
            "profile_streams",
            th.ObjectType(additional_properties=True),
            description="Streams delivered as profiles, by stream name: {email_field, phone_field, "
            "external_id_field, name_field, first_name_field, last_name_field, image_field, "
            "location_field, properties: {field: property name}}. Merged over the default for "
            "tap-intercom-events' contacts.",
        ),
        th.Property(
            "skip_streams",
            th.ArrayType(th.StringType),
            default=DEFAULT_SKIP_STREAMS,
            description="Streams that are read and dropped (default: tap-intercom-events' streams "
            "that are not delivered).",
        ),
        th.Property(
            "unmapped_streams",
            th.StringType,
            default="error",
            allowed_values=["error", "skip"],
            description="What to do with a stream that is in none of event_streams, "
            "profile_streams, skip_streams: 'error' stops the run, 'skip' drops it with a warning.",
        ),
        th.Property(
            "metric_names",
            th.ObjectType(additional_properties=True),
            description="Metric renames: {contract metric name: name in Klaviyo}.",
        ),
        th.Property(
            "property_names",
            th.ObjectType(additional_properties=True),
            description="Property renames applied to every event and profile property: {name: new name}.",
        ),
        th.Property(
            "metric_property_names",
            th.ObjectType(additional_properties=True),
            description="Per-metric property renames, {metric: {property: new name or null to "
            "leave it out}}, merged over the default for Resolved Ticket.",
        ),
        th.Property(
            "backfill_before",
            th.DateTimeType,
            description="Events older than this are sent with backfill: true (recorded, no flows "
            "fired). Needs revision 2026-04-15 or newer.",
        ),
        th.Property(
            "dead_letter_path",
            th.StringType,
            default="dead-letters.jsonl",
            description="JSON-lines file of records not delivered (stream, record, reason, detail).",
        ),
        th.Property(
            "max_concurrency",
            th.IntegerType,
            default=8,
            description="Requests in flight at once (all streams together).",
        ),
        th.Property(
            "max_pending_requests",
            th.IntegerType,
            default=12,
            description="Requests prepared but not yet finished before reading input pauses "
            "(bounds memory).",
        ),
        th.Property(
            "events_per_request",
            th.IntegerType,
            default=MAX_EVENTS_PER_REQUEST,
            description="Events per bulk request (at most 1,000).",
        ),
        th.Property(
            "profiles_per_job",
            th.IntegerType,
            default=MAX_PROFILES_PER_JOB,
            description="Profiles per bulk import job (at most 10,000).",
        ),
        th.Property(
            "profile_import_below",
            th.IntegerType,
            default=50,
            description="A batch with fewer profiles than this uses /api/profile-import per "
            "profile instead of a bulk job.",
        ),
        th.Property(
            "rate_limit_scale",
            th.NumberType,
            default=1.0,
            description="Multiplies Klaviyo's documented per-endpoint rate limits (0: no "
            "client-side limit).",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=8,
            description="Retries of a request after 5xx, timeouts or dropped connections.",
        ),
        th.Property(
            "backoff_base_seconds",
            th.NumberType,
            default=1.0,
            description="First retry delay after a 5xx or dropped connection; doubles each try "
            "(with full jitter, at most 30 s).",
        ),
        th.Property(
            "state_interval_seconds",
            th.NumberType,
            default=300.0,
            description="At most this long between state lines: every sink is then drained and, "
            "once all its requests succeeded, the latest state is emitted.",
        ),
        th.Property(
            "request_timeout",
            th.NumberType,
            default=60.0,
            description="Seconds to wait for one response.",
        ),
        th.Property(
            "progress_interval",
            th.NumberType,
            default=30.0,
            description="Seconds between progress log lines (0: none).",
        ),
        th.Property(
            "dry_run",
            th.BooleanType,
            default=False,
            description="Write the request bodies to dry_run_path and send nothing. No state is "
            "emitted, so a later real run still sends everything.",
        ),
        th.Property(
            "dry_run_path",
            th.StringType,
            default="klaviyo-dry-run.jsonl",
            description="Where dry_run writes the requests (JSON lines: method, path, body).",
        ),
        th.Property(
            "validate_records",
            th.BooleanType,
            default=False,
            description="Validate each record against its stream's JSON schema (slow; off by default).",
        ),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._finished = False
        self._finish_lock = threading.Lock()
        self._progress: ProgressReporter | None = None
        TargetKlaviyo.current = self
        # Translating a batch allocates many small dicts while tens of thousands of records are
        # alive: with the default threshold (700) the garbage collector took half of that time.
        gen0, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(max(gen0, GC_GEN0_THRESHOLD), gen1, gen2)
        # How often drain_all (and so a state line) happens; the SDK's default is 5 minutes.
        self._MAX_RECORD_AGE_IN_MINUTES = (
            float(self.config.get("state_interval_seconds", 300.0)) / 60
        )

    @cached_property
    def runtime(self) -> Runtime:
        """Settings checked once, and the shared pool; built on the first stream."""
        config = self.config
        stats = RunStats()
        revision = str(config.get("revision") or DEFAULT_REVISION)
        dry_run = bool(config.get("dry_run"))
        api_key = config.get("api_key")
        if not dry_run and not api_key:
            msg = (
                "no Klaviyo API key: set the 'api_key' setting (TARGET_KLAVIYO_API_KEY), or dry_run"
            )
            raise KlaviyoError(msg)
        backfill_before = None
        if config.get("backfill_before"):
            if revision < BACKFILL_SINCE_REVISION:
                msg = (
                    f"'backfill_before' needs revision {BACKFILL_SINCE_REVISION} or newer; "
                    f"'revision' is {revision}"
                )
                raise KlaviyoError(msg)
            try:
                backfill_before = to_iso_utc(config["backfill_before"])
            except TranslationError as exc:
                msg = f"'backfill_before': {exc}"
                raise KlaviyoError(msg) from None
        events_per_request = int(config.get("events_per_request") or MAX_EVENTS_PER_REQUEST)
        profiles_per_job = int(config.get("profiles_per_job") or MAX_PROFILES_PER_JOB)
        if not 1 <= events_per_request <= MAX_EVENTS_PER_REQUEST:
            msg = f"'events_per_request' must be 1 to {MAX_EVENTS_PER_REQUEST}, got {events_per_request}"
            raise KlaviyoError(msg)
        if not 1 <= profiles_per_job <= MAX_PROFILES_PER_JOB:
            msg = f"'profiles_per_job' must be 1 to {MAX_PROFILES_PER_JOB}, got {profiles_per_job}"
            raise KlaviyoError(msg)
        dead_letters = DeadLetters(config.get("dead_letter_path"), stats, api_key)
        client = None
        if not dry_run:
            client = KlaviyoClient(
                api_url=str(config.get("api_url") or "https://a.klaviyo.com"),
                api_key=str(api_key),
                revision=revision,
                stats=stats,
                rate_limit_scale=float(config.get("rate_limit_scale", 1.0)),
                max_retries=int(config.get("max_retries", 8)),
                timeout=float(config.get("request_timeout", 60.0)),
                backoff_base_seconds=float(config.get("backoff_base_seconds", 1.0)),
            )
        concurrency = max(1, int(config.get("max_concurrency", 8)))
        delivery = Delivery(
            client=client,
            dead_letters=dead_letters,
            stats=stats,
            max_concurrency=concurrency,
            max_pending=max(concurrency, int(config.get("max_pending_requests", 12))),
            dry_run=DryRunWriter(str(config.get("dry_run_path") or "klaviyo-dry-run.jsonl"))
            if dry_run
            else None,
        )
        runtime = Runtime(
            event_streams=default_event_streams(config.get("event_streams")),
            profile_streams=default_profile_streams(config.get("profile_streams")),
            skip_streams=set(config.get("skip_streams", DEFAULT_SKIP_STREAMS) or []),
            skip_unmapped=config.get("unmapped_streams", "error") == "skip",
            renames=Renames(
                metric_names=dict(config.get("metric_names") or {}),
                property_names=dict(config.get("property_names") or {}),
                metric_property_names=default_metric_property_names(
                    config.get("metric_property_names")
                ),
            ),
            default_region=str(config.get("default_phone_region") or "US").upper(),
            earliest_event_year=1990 if revision >= "2026-07-15" else 2000,
            max_event_properties=400 if revision >= "2025-04-15" else 300,
            backfill_before=backfill_before,
            events_per_request=events_per_request,
            profiles_per_job=profiles_per_job,
            profile_import_below=int(config.get("profile_import_below", 50)),
            max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
            stats=stats,
            dead_letters=dead_letters,
            delivery=delivery,
            dry_run=dry_run,
        )
        self._progress = ProgressReporter(
            stats, self.logger, float(config.get("progress_interval", 30.0))
        )
        self._progress.start()
        return runtime

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        runtime = self.runtime
        in_events = stream_name in runtime.event_streams
        in_profiles = stream_name in runtime.profile_streams
        if in_events and in_profiles:
            msg = (
                f"stream '{stream_name}' is in both 'event_streams' and 'profile_streams': "
                "keep it in one"
            )
            raise MappingConfigError(msg)
        if stream_name in runtime.skip_streams:
            return SkippedSink
        if in_events:
            return EventSink
        if in_profiles:
            return ProfileSink
        if runtime.skip_unmapped:
            self.logger.warning(
                "stream '%s' has no mapping; skipping it (unmapped_streams is 'skip')", stream_name
            )
            return SkippedSink
        msg = (
            f"stream '{stream_name}' has no mapping: add it to 'event_streams' or "
            "'profile_streams', list it in 'skip_streams', or set 'unmapped_streams' to 'skip'"
        )
        raise MappingConfigError(msg)

    def _write_state_message(self, state: dict) -> None:
        # The barrier: every request submitted so far must have succeeded before any state
        # goes out (sinks return from process_batch once their requests are queued).
        runtime = self.runtime
        runtime.delivery.wait_all()
        if runtime.dry_run:
            self.logger.info("dry run: not emitting state (a real run must still send this data)")
            return
        super()._write_state_message(state)

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        if "runtime" in self.__dict__:
            self.runtime.delivery.wait_all()
        self.finish()

    def finish(self) -> None:
        """Stop the pool, close files and log the summary (once)."""
        with self._finish_lock:
            if self._finished:
                return
            self._finished = True
        if "runtime" not in self.__dict__:
            self.logger.info("summary: nothing sent")
            return
        runtime = self.runtime
        if self._progress is not None:
            self._progress.stop()
        runtime.delivery.close()
        runtime.dead_letters.close()
        if runtime.dry_run:
            self.logger.info(
                "dry run: requests written to %s; nothing was sent", self.config.get("dry_run_path")
            )
        for line in runtime.stats.summary_lines(dry_run=runtime.dry_run):
            self.logger.info(line)
        if runtime.dead_letters.path is not None and runtime.stats.dead_letters.total():
            self.logger.warning("dead letters written to %s", runtime.dead_letters.path)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        file_input: IO[str] | None = None,
    ) -> None:
        """Run the target; a configuration or delivery failure ends the run with one clear line
        and exit code 1, with no state emitted for what was not delivered."""
        try:
            super().invoke(
                about=about, about_format=about_format, config=config, file_input=file_input
            )
        except (KlaviyoError, MappingConfigError) as exc:
            cls.logger.error("target-klaviyo stopped: %s", exc)
            cls._finish_current()
            sys.exit(1)
        except BaseException:
            cls._finish_current()
            raise

    @classmethod
    def _finish_current(cls) -> None:
        current = TargetKlaviyo.current
        if current is not None:
            current.finish()


if __name__ == "__main__":
    TargetKlaviyo.cli()
