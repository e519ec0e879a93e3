"""The target's settings: the config schema (types, ranges and defaults, each written once) and
`Settings`, everything a run reads from its config, checked once.

The SDK fills in the schema's defaults for settings that are not given; a setting given as null
also gets its default (except `dead_letter_path` and `skip_streams`, where null means none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import typing as th

from target_klaviyo.defaults import DEFAULT_SKIP_STREAMS
from target_klaviyo.errors import KlaviyoError
from target_klaviyo.payloads import (
    DEFAULT_MAX_REQUEST_BYTES,
    MAX_EVENTS_PER_REQUEST,
    MAX_PROFILES_PER_JOB,
)
from target_klaviyo.reconciliation import (
    RECONCILE_FAIL_ON_CHOICES,
    SOURCE_PROPERTY,
    UNIQUE_ID_PROPERTY,
)
from target_klaviyo.report import FAIL_ON_POLICIES
from target_klaviyo.revisions import (
    BACKFILL_SINCE,
    DEFAULT_REVISION,
    earliest_event_year,
    max_event_properties,
    supports_backfill,
)
from target_klaviyo.stream_config import (
    Renames,
    default_event_streams,
    default_metric_property_names,
    default_profile_streams,
)
from target_klaviyo.translate import TranslationError, to_iso_utc

# Re-parsing date-times and JSON-schema validation cost more CPU than everything else per
# record; the mapping checks what it uses, so validation is off unless asked for.
CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
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
        "value_currency_field or value_currency, lookback_field, source_field, properties: "
        "{field: property name}}; field names may be dotted paths. Merged over the defaults for "
        "tap-intercom-events' conversation_events and ticket_events (their lookback_field, "
        "from_lookback, counts the tap's lookback resends apart from new deliveries; their "
        "source_field, workspace_id, goes in the Source property). See the "
        "README's 'Map any tap'.",
    ),
    th.Property(
        "profile_streams",
        th.ObjectType(additional_properties=True),
        description="Streams delivered as profiles, by stream name: {email_field, phone_field, "
        "external_id_field, name_field, first_name_field, last_name_field, image_field, "
        "location_field (an object) and/or address1_field, address2_field, city_field, "
        "region_field, country_field, zip_field, timezone_field, latitude_field, "
        "longitude_field, properties: {field: property name}}. Merged over the default for "
        "tap-intercom-events' contacts. See the README's 'Map any tap'.",
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
        th.IntegerType(minimum=1),
        default=8,
        description="Requests in flight at once (all streams together).",
    ),
    th.Property(
        "max_pending_requests",
        th.IntegerType(minimum=1),
        default=12,
        description="Requests prepared but not yet finished before reading input pauses "
        "(bounds memory).",
    ),
    th.Property(
        "events_per_request",
        th.IntegerType(minimum=1, maximum=MAX_EVENTS_PER_REQUEST),
        default=MAX_EVENTS_PER_REQUEST,
        description="Events per bulk request (at most 1,000).",
    ),
    th.Property(
        "profiles_per_job",
        th.IntegerType(minimum=1, maximum=MAX_PROFILES_PER_JOB),
        default=MAX_PROFILES_PER_JOB,
        description="Profiles per bulk import job (at most 10,000).",
    ),
    th.Property(
        "profile_import_below",
        th.IntegerType(minimum=0),
        default=50,
        description="A batch with fewer profiles than this uses /api/profile-import per "
        "profile instead of a bulk job.",
    ),
    th.Property(
        "rate_limit_scale",
        th.NumberType(minimum=0),
        default=1.0,
        description="Multiplies Klaviyo's documented per-endpoint rate limits (0: no "
        "client-side limit).",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0),
        default=8,
        description="Retries of a request after 5xx, timeouts or dropped connections.",
    ),
    th.Property(
        "backoff_base_seconds",
        th.NumberType(minimum=0),
        default=1.0,
        description="First retry delay after a 5xx or dropped connection; doubles each try "
        "(with full jitter, at most 30 s).",
    ),
    th.Property(
        "state_interval_seconds",
        th.NumberType(exclusive_minimum=0),
        default=300.0,
        description="At most this long between state lines: every sink is then drained and, "
        "once all its requests succeeded, the latest state is emitted.",
    ),
    th.Property(
        "request_timeout",
        th.NumberType(exclusive_minimum=0),
        default=60.0,
        description="Seconds to wait for one response.",
    ),
    th.Property(
        "progress_interval",
        th.NumberType(minimum=0),
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
        "report_path",
        th.StringType,
        description="Where the run report goes: one JSON file (events per metric, profiles, "
        "this run's dead letters by reason, requests, 429s, duration, state lines, outcome, "
        "exit code), rewritten at the end of every run, also a failed or stopped one. "
        "Default: none.",
    ),
    th.Property(
        "fail_on",
        th.StringType,
        default="undelivered",
        allowed_values=list(FAIL_ON_POLICIES),
        description="When a run that read all its input still exits non-zero (exit code 3, "
        "after its last state line): 'undelivered' (default) when Klaviyo rejected a record "
        "of this run or the target could not send one (invalid); 'any_dead_letter' also for "
        "records without an identifier of their own and the tap's reports of data it could "
        "not read; 'nothing' never (read the run report).",
    ),
    th.Property(
        "unique_id_property",
        th.StringType,
        default=UNIQUE_ID_PROPERTY,
        description="Event property that carries each event's unique_id as well (Klaviyo's "
        "event reads do not return unique_id; reconcile matches by this property). Empty: "
        "not carried, and reconcile cannot match.",
    ),
    th.Property(
        "source_property",
        th.StringType,
        default=SOURCE_PROPERTY,
        description="Event property that carries where each event comes from (a mapping's "
        "source_field: tap-intercom-events' Intercom workspace), so that reconcile tells an "
        "event Klaviyo dropped as a repeat of another source's event with the same unique_id "
        "from one it holds, and sends it again. Empty: not carried.",
    ),
    th.Property(
        "reconcile",
        th.BooleanType,
        default=False,
        description="Reconcile mode: read Klaviyo's events for the metrics and time range of "
        "the input (a tap's replay), send only those Klaviyo lacks, report per metric and day, "
        "and emit no state. Needs the scopes events:read and metrics:read.",
    ),
    th.Property(
        "reconcile_report_only",
        th.BooleanType,
        default=False,
        description="With reconcile: send nothing, only report.",
    ),
    th.Property(
        "reconcile_report_path",
        th.StringType,
        default="reconcile-report.json",
        description="With reconcile: where the JSON report goes (per metric and UTC day: "
        "expected, in_klaviyo, missing, sent, not_produced).",
    ),
    th.Property(
        "reconcile_lookback_days",
        th.IntegerType(minimum=0),
        default=30,
        description="With reconcile: events still missing after the range was read are looked "
        "for this many days before it too (Klaviyo keeps the first time an event was sent "
        "with; a replay may time it later, e.g. Read Conversation). 0: not looked for.",
    ),
    th.Property(
        "reconcile_fail_on",
        th.StringType,
        default="missing",
        allowed_values=list(RECONCILE_FAIL_ON_CHOICES),
        description="With reconcile, when the run exits with code 4: 'missing' (default) "
        "when any expected event was missing before healing; 'unhealed' when any is still "
        "missing after it (or report-only found some); 'nothing' never.",
    ),
    th.Property(
        "validate_records",
        th.BooleanType,
        default=False,
        description="Validate each record against its stream's JSON schema (slow; off by default).",
    ),
).to_dict()


def setting(config: Mapping[str, Any], name: str) -> Any:
    """A setting's value; its schema default when it is missing or null."""
    value = config.get(name)
    if value is None or value == "":
        return CONFIG_SCHEMA["properties"][name].get("default")
    return value


def api_key_of(config: Mapping[str, Any]) -> str | None:
    """The API key without surrounding whitespace (a key pasted from a file often ends in a
    newline, which no HTTP header may hold). Raises KlaviyoError, never showing the key, when
    whitespace or control characters remain inside it."""
    raw = config.get("api_key")
    if raw is None:
        return None
    key = str(raw).strip()
    # Non-ASCII too: an HTTP header cannot carry it (requests fails with a traceback).
    if any(ch.isspace() or not ch.isprintable() or not ch.isascii() for ch in key):
        msg = (
            "the 'api_key' setting (TARGET_KLAVIYO_API_KEY) has whitespace, control or non-ASCII "
            "characters inside it: paste the private key (pk_...) alone"
        )
        raise KlaviyoError(msg)
    return key or None


@dataclass(frozen=True)
class Settings:
    """Everything one run reads from its config, checked (the first stream builds it)."""

    api_key: str | None
    api_url: str
    revision: str
    dry_run: bool
    dry_run_path: str
    dead_letter_path: str | None  # None: dead letters are counted and logged, not kept
    report_path: str | None  # None: no run report file
    fail_on: str  # one of report.FAIL_ON_POLICIES
    # Mapping
    event_streams: Mapping[str, Mapping[str, Any]]
    profile_streams: Mapping[str, Mapping[str, Any]]
    skip_streams: frozenset[str]
    skip_unmapped: bool
    renames: Renames
    default_region: str
    backfill_before: str | None  # ISO UTC
    earliest_event_year: int
    max_event_properties: int
    # Requests
    events_per_request: int
    profiles_per_job: int
    profile_import_below: int
    max_request_bytes: int
    max_concurrency: int
    max_pending_requests: int
    rate_limit_scale: float
    max_retries: int
    backoff_base_seconds: float
    request_timeout: float
    progress_interval: float
    # Reconcile mode (reconcile.py)
    unique_id_property: str | None = UNIQUE_ID_PROPERTY
    source_property: str | None = SOURCE_PROPERTY
    reconcile: bool = False
    reconcile_report_only: bool = False
    reconcile_report_path: str = "reconcile-report.json"
    reconcile_fail_on: str = "missing"
    reconcile_lookback_days: int = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Raises KlaviyoError naming the setting to fix."""

        def get(name: str) -> Any:
            return setting(config, name)

        revision = str(get("revision"))
        dry_run = bool(get("dry_run"))
        api_key = api_key_of(config)
        if not dry_run and not api_key:
            msg = (
                "no Klaviyo API key: set the 'api_key' setting (TARGET_KLAVIYO_API_KEY), or dry_run"
            )
            raise KlaviyoError(msg)
        backfill_before = None
        if config.get("backfill_before"):
            if not supports_backfill(revision):
                msg = (
                    f"'backfill_before' needs revision {BACKFILL_SINCE} or newer; "
                    f"'revision' is {revision}"
                )
                raise KlaviyoError(msg)
            try:
                backfill_before = to_iso_utc(config["backfill_before"])
            except TranslationError as exc:
                msg = f"'backfill_before': {exc}"
                raise KlaviyoError(msg) from None
        max_concurrency = int(get("max_concurrency"))
        reconcile = bool(get("reconcile"))
        if reconcile and dry_run:
            msg = "'reconcile' reads Klaviyo and cannot run with 'dry_run': turn one off"
            raise KlaviyoError(msg)
        unique_id_property = config.get("unique_id_property", UNIQUE_ID_PROPERTY) or None
        if reconcile and unique_id_property is None:
            msg = (
                "'reconcile' matches Klaviyo's events by the 'unique_id_property' event property: "
                "set it (default 'Unique ID')"
            )
            raise KlaviyoError(msg)
        return cls(
            api_key=api_key,
            api_url=str(get("api_url")),
            revision=revision,
            dry_run=dry_run,
            dry_run_path=str(get("dry_run_path")),
            dead_letter_path=config.get("dead_letter_path") or None,
            report_path=config.get("report_path") or None,
            fail_on=str(get("fail_on")),
            event_streams=default_event_streams(config.get("event_streams")),
            profile_streams=default_profile_streams(config.get("profile_streams")),
            skip_streams=frozenset(config.get("skip_streams") or []),
            skip_unmapped=get("unmapped_streams") == "skip",
            renames=Renames(
                metric_names=dict(config.get("metric_names") or {}),
                property_names=dict(config.get("property_names") or {}),
                metric_property_names=default_metric_property_names(
                    config.get("metric_property_names")
                ),
            ),
            default_region=str(get("default_phone_region")).upper(),
            backfill_before=backfill_before,
            earliest_event_year=earliest_event_year(revision),
            max_event_properties=max_event_properties(revision),
            events_per_request=int(get("events_per_request")),
            profiles_per_job=int(get("profiles_per_job")),
            profile_import_below=int(get("profile_import_below")),
            max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
            max_concurrency=max_concurrency,
            # Never fewer than can be in flight.
            max_pending_requests=max(max_concurrency, int(get("max_pending_requests"))),
            rate_limit_scale=float(get("rate_limit_scale")),
            max_retries=int(get("max_retries")),
            backoff_base_seconds=float(get("backoff_base_seconds")),
            request_timeout=float(get("request_timeout")),
            progress_interval=float(get("progress_interval")),
            unique_id_property=unique_id_property,
            source_property=config.get("source_property", SOURCE_PROPERTY) or None,
            reconcile=reconcile,
            reconcile_report_only=bool(get("reconcile_report_only")),
            reconcile_report_path=str(get("reconcile_report_path")),
            reconcile_fail_on=str(get("reconcile_fail_on")),
            reconcile_lookback_days=int(get("reconcile_lookback_days")),
        )
