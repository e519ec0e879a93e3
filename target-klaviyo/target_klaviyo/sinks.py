"""Sinks: event streams, profile streams, and streams that are skipped.

A delivering sink translates its batch (records.py), cuts it into requests (payloads.py) and hands
them to the run's pool with the sender of their Klaviyo protocol (senders.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from singer_sdk.helpers._flattening import flatten_key, get_flattening_options
from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target

from target_klaviyo.items import INVALID_RECORD, REPORTED_BY_TAP, EventItem, ProfileItem, Rejection
from target_klaviyo.key_check import check_key
from target_klaviyo.payloads import (
    Chunking,
    EventChunk,
    ProfileChunk,
    chunk_events,
    chunk_profiles,
)
from target_klaviyo.records import (
    EventRules,
    ProfileRules,
    Unflattening,
    translate_event,
    translate_profile,
)
from target_klaviyo.runtime import runtime_of
from target_klaviyo.stream_config import EventMapping, ProfileMapping

MAX_WARNINGS = 10
# The stream `meltano config test <loader>` sends one record of (Meltano 4.4).
MELTANO_TEST_STREAM = "meltano_test_stream"

ItemT = TypeVar("ItemT", EventItem, ProfileItem)
ChunkT = TypeVar("ChunkT", EventChunk, ProfileChunk)


class ReentrantDrainError(RuntimeError):
    """process_batch was entered again while a drain of the same sink was under way.

    That happens when SIGTERM arrives mid-drain (meltano/sdk#3775): the SDK would then call
    process_batch with an empty batch and acknowledge state for records never sent."""


class _TargetSink(BatchSink):
    """Every sink of this target: the run's shared runtime, and no SDK date-time parsing."""

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.runtime = runtime_of(target)
        self.unflattening = _unflattening(target, stream_name)
        # The schema of the records translation sees (before the SDK's flattening, if any).
        self.record_schema: dict[str, Any] = dict(
            self.unflattening.schema if self.unflattening is not None else self.schema
        )

    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: Any) -> None:
        # The SDK would turn date-time strings into datetimes only for us to format them back
        # (about a third of a target's CPU per record); translate.to_iso_utc handles strings.
        return

    def _singer_validate_message(self, record: dict) -> None:
        # The SDK stops the run on a record without its key properties; a delivering sink
        # dead-letters that record instead (process_record), a skipped stream does not care.
        return

    def _after_process_record(self, context: dict) -> None:
        # The SDK logs the whole batch so far at DEBUG after every record (gigabytes of personal
        # data); the target logs counts and ids only.
        return


class KlaviyoSink(_TargetSink, Generic[ItemT, ChunkT]):
    """A delivering sink: the re-entry guard, and one way from records to queued requests.

    Subclasses say how a record is translated, how items are cut into requests and which
    sender delivers a request."""

    # Records per drain (batch_size_rows overrides it): five full bulk event requests; smaller
    # batches keep memory down while requests of earlier batches are still in flight.
    MAX_SIZE_DEFAULT = 5000

    OVERSIZED: str  # the dead letter's detail for an item too big for any request
    rules: EventRules | ProfileRules

    def setup(self) -> None:
        super().setup()
        self._draining = False
        self._warnings: Counter[str] = Counter()

    def process_record(self, record: dict, context: dict) -> None:
        missing = [k for k in self.key_properties if record.get(k) is None]
        if missing:
            # Counted, so that a batch of only such records is not taken for a lost one.
            context["dead_lettered"] = context.get("dead_lettered", 0) + 1
            names = ", ".join(repr(k) for k in missing)
            self.dead_letter(
                record,
                Rejection(
                    INVALID_RECORD,
                    f"missing key propert{'ies' if len(missing) > 1 else 'y'} {names}",
                ),
            )
            return
        if self.unflattening is not None:
            record = self.unflattening.apply(record)
        super().process_record(record, context)

    def process_batch(self, context: dict) -> None:
        """Translate the batch and queue its requests; returns once they are queued (reading
        goes on meanwhile). The target waits for all of them before it writes any state line,
        and a permanent failure of an earlier request is raised here or there."""
        if self._draining:
            msg = f"stream '{self.stream_name}': a drain was interrupted; not acknowledging its records"
            self.logger.error("%s (rerun from the last state line)", msg)
            raise ReentrantDrainError(msg)
        records = context.get("records")
        if records is None:
            if self.current_size > context.get("dead_lettered", 0):
                msg = f"stream '{self.stream_name}': asked to drain a batch that holds no records"
                self.logger.error("%s (rerun from the last state line)", msg)
                raise ReentrantDrainError(msg)
            return
        self._draining = True
        try:
            self.deliver(records)
        finally:
            self._draining = False

    def deliver(self, records: list[dict[str, Any]]) -> None:
        stats = self.runtime.stats
        translate = self.translate
        items: list[ItemT] = []
        for record in records:
            result = translate(record)
            if isinstance(result, Rejection):
                self.dead_letter(record, result)
                continue
            if result.identity.invalid_phone:
                self.warn_invalid_phone(result.identity.invalid_phone)
            if result.identity.invalid_email:
                self.warn_invalid_email()
            items.append(result)
        # Who holds the drain's phone numbers and external_ids, asked once for the whole drain
        # (100 a lookup) rather than per request (holders.py).
        self.runtime.profiles.holders.check(item.identity for item in items)
        cut = self.rules.cuts.take()
        if cut:
            stats.count_cut(cut)
        chunking = self.chunk(items)
        stats.count_duplicates(chunking.duplicates)
        for big in chunking.oversized:
            detail = self.OVERSIZED.format(size=big.size)
            self.dead_letter(big.item.record, Rejection(INVALID_RECORD, detail))
        for fitted in chunking.dropped:
            stats.count_fields_dropped(self.stream_name, fitted.names)
            # Names only: the values are the record's data.
            self._warn_few(
                "dropped",
                "%s dropped to fit Klaviyo's size limits; the rest of the record is sent",
                ", ".join(fitted.names),
            )
        self.send(chunking.chunks)

    def translate(self, record: dict[str, Any]) -> ItemT | Rejection:
        raise NotImplementedError

    def chunk(self, items: list[ItemT]) -> Chunking[ChunkT]:
        raise NotImplementedError

    def send(self, chunks: list[ChunkT]) -> None:
        raise NotImplementedError

    def dead_letter(self, record: dict[str, Any], rejection: Rejection) -> None:
        self.runtime.dead_letters.write(
            self.stream_name, record, rejection.reason, rejection.detail
        )

    def warn_invalid_phone(self, raw: str) -> None:
        self.runtime.stats.count_invalid_phone()
        # The number itself is personal data: only its length is logged.
        self._warn_few(
            "phone",
            "a phone number (%d characters) is not valid (default region %s); sent without it",
            len(raw),
            self.runtime.settings.default_region,
        )

    def warn_invalid_email(self) -> None:
        self.runtime.stats.count_invalid_email()
        self._warn_few(
            "email", "an email address is not valid; the record is sent with its other identifiers"
        )

    def _warn_few(self, kind: str, message: str, *args: Any) -> None:
        """The first MAX_WARNINGS warnings of a kind are logged; the rest are only counted."""
        self._warnings[kind] += 1
        seen = self._warnings[kind]
        if seen <= MAX_WARNINGS:
            last = " (further ones are only counted)" if seen == MAX_WARNINGS else ""
            self.logger.warning("stream '%s': " + message + "%s", self.stream_name, *args, last)


def _unflattening(target: Target, stream_name: str) -> Unflattening | None:
    """How to undo the SDK's flattening for this stream, when `flattening_enabled` is on."""
    options = get_flattening_options(target.config)  # type: ignore[arg-type]
    if options is None or not options.enabled or options.max_level <= 0:
        return None
    raw_schema: dict[str, Any] | None = None
    for maps in target.mapper.stream_maps.values():
        for stream_map in maps:
            if stream_map.stream_alias == stream_name:
                raw_schema = stream_map.raw_schema
    if raw_schema is None:
        return None

    def key_of(name: str, parents: list[str]) -> str:
        return flatten_key(name, parents, options.separator, max_key_length=options.max_key_length)

    return Unflattening.from_schema(raw_schema, options.max_level, key_of)


def _fields_of_format(schema: dict[str, Any], form: str) -> set[str]:
    fields = set()
    for name, prop in (schema.get("properties") or {}).items():
        options = [prop, *(prop.get("anyOf") or [])] if isinstance(prop, dict) else []
        if any(isinstance(o, dict) and o.get("format") == form for o in options):
            fields.add(name)
    return fields


def _string_fields(schema: dict[str, Any]) -> frozenset[str]:
    fields = set()
    for name, prop in (schema.get("properties") or {}).items():
        kinds = prop.get("type") if isinstance(prop, dict) else None
        kinds = [kinds] if isinstance(kinds, str) else (kinds or [])
        if "string" in kinds and not set(kinds) - {"string", "null"}:
            fields.add(name)
    return frozenset(fields)


class EventSink(KlaviyoSink[EventItem, EventChunk]):
    """Records of an event stream -> POST /api/event-bulk-create-jobs."""

    OVERSIZED = "event is {size:,} bytes, more than a request may be"
    rules: EventRules

    def setup(self) -> None:
        super().setup()
        settings = self.runtime.settings
        mapping = EventMapping.from_config(
            self.stream_name, settings.event_streams[self.stream_name], self.key_properties
        )
        self.rules = EventRules(
            mapping=mapping,
            renames=settings.renames,
            default_region=settings.default_region,
            earliest_year=settings.earliest_event_year,
            backfill_before=settings.backfill_before,
            max_properties=settings.max_event_properties,
            string_fields=_string_fields(self.record_schema),
            time_properties=frozenset(
                _fields_of_format(self.record_schema, "date-time") - mapping.used_fields()
            ),
            decimal_fields=frozenset(_fields_of_format(self.record_schema, "singer.decimal")),
            unique_id_property=settings.unique_id_property,
            source_property=settings.source_property,
        )

    def translate(self, record: dict[str, Any]) -> EventItem | Rejection:
        return translate_event(record, self.rules)

    def chunk(self, items: list[EventItem]) -> Chunking[EventChunk]:
        settings = self.runtime.settings
        return chunk_events(items, settings.events_per_request, settings.max_request_bytes)

    def send(self, chunks: list[EventChunk]) -> None:
        if self.runtime.reconcile is not None:
            # Reconcile mode: sent at the end, if Klaviyo lacks them (reconcile.py).
            self.runtime.reconcile.expect(self.stream_name, chunks)
            return
        pool, sender = self.runtime.pool, self.runtime.events
        for chunk in chunks:
            pool.submit(sender.send, self.stream_name, chunk)


class ProfileSink(KlaviyoSink[ProfileItem, ProfileChunk]):
    """Records of a profile stream -> bulk import jobs (or /api/profile-import when few)."""

    OVERSIZED = "profile is {size:,} bytes, more than Klaviyo's 100 KB"
    rules: ProfileRules

    def setup(self) -> None:
        super().setup()
        settings = self.runtime.settings
        self.rules = ProfileRules(
            mapping=ProfileMapping.from_config(
                self.stream_name, settings.profile_streams[self.stream_name]
            ),
            renames=settings.renames,
            default_region=settings.default_region,
            decimal_fields=frozenset(_fields_of_format(self.record_schema, "singer.decimal")),
        )

    def translate(self, record: dict[str, Any]) -> ProfileItem | Rejection:
        return translate_profile(record, self.rules)

    def chunk(self, items: list[ProfileItem]) -> Chunking[ProfileChunk]:
        settings = self.runtime.settings
        return chunk_profiles(items, settings.profiles_per_job, settings.max_request_bytes)

    def send(self, chunks: list[ProfileChunk]) -> None:
        runtime = self.runtime
        if sum(len(c.profiles) for c in chunks) < runtime.settings.profile_import_below:
            # Klaviyo advises against bulk jobs for a handful of profiles.
            for chunk in chunks:
                for item in chunk.profiles:
                    runtime.pool.submit(runtime.profiles.send, self.stream_name, item)
            return
        for chunk in chunks:
            runtime.pool.submit(runtime.profile_jobs.send, self.stream_name, chunk)


class SkippedSink(_TargetSink):
    """A stream configured not to be delivered: records are counted and dropped."""

    def get_validator(self) -> None:
        return None

    def process_record(self, record: dict, context: dict) -> None:
        context["skipped"] = context.get("skipped", 0) + 1

    def process_batch(self, context: dict) -> None:
        skipped = context.get("skipped", 0)
        if skipped:
            self.runtime.stats.count_skipped(self.stream_name, skipped)


class ReportSink(SkippedSink):
    """A tap's report of data it could not read (defaults.DEFAULT_REPORT_STREAMS): every record
    goes to the dead-letter file with the reason, and is counted in the run summary."""

    def process_record(self, record: dict, context: dict) -> None:
        detail = "; ".join(f"{k}={v}" for k, v in record.items() if not k.startswith("_sdc_"))
        self.runtime.dead_letters.write(self.stream_name, record, REPORTED_BY_TAP, detail)

    def process_batch(self, context: dict) -> None:
        return


class ConfigTestSink(SkippedSink):
    """Meltano's `config test` stream (unless a mapping names it): its record is not sent;
    instead the key is checked with one GET /api/accounts, and a refused key stops the run
    with one line naming the setting."""

    def setup(self) -> None:
        super().setup()
        settings = self.runtime.settings
        if settings.dry_run or settings.api_key is None:
            self.logger.info("config test: dry run, so the API key is not checked")
            return
        line = check_key(
            api_url=settings.api_url,
            api_key=settings.api_key,
            revision=settings.revision,
            timeout=settings.request_timeout,
        )
        self.logger.info("config test: %s", line)
