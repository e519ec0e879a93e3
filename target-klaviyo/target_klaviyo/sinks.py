"""Sinks: event streams, profile streams, and streams that are skipped."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import BatchSink

from target_klaviyo.mapping import (
    INVALID_RECORD,
    EventItem,
    EventMapping,
    EventRules,
    ProfileItem,
    ProfileMapping,
    Rejection,
    translate_event,
    translate_profile,
)
from target_klaviyo.payloads import chunk_events, chunk_profiles
from target_klaviyo.translate import LimitCounter, TranslationError, to_iso_utc

if TYPE_CHECKING:
    from target_klaviyo.target import Runtime, TargetKlaviyo

MAX_PHONE_WARNINGS = 10


class ReentrantDrainError(RuntimeError):
    """process_batch was entered again while a drain of the same sink was under way.

    That happens when SIGTERM arrives mid-drain (meltano/sdk#3775): the SDK would then call
    process_batch with an empty batch and acknowledge state for records never sent."""


class _TargetSink(BatchSink):
    """Every sink of this target: the run's shared runtime, and no SDK date-time parsing."""

    def __init__(
        self,
        target: TargetKlaviyo,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: list[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.runtime: Runtime = target.runtime

    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: Any) -> None:
        # The SDK would turn date-time strings into datetimes only for us to format them back
        # (about a third of a target's CPU per record); translate.to_iso_utc handles strings.
        return


class KlaviyoSink(_TargetSink):
    """What both delivering sinks share: the re-entry guard, dead letters, phone warnings."""

    # Records per drain (batch_size_rows overrides it): five full bulk event requests; smaller
    # batches keep memory down while requests of earlier batches are still in flight.
    MAX_SIZE_DEFAULT = 5000

    def __init__(
        self,
        target: TargetKlaviyo,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: list[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self._draining = False
        self._phone_warnings = 0

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
            if self.current_size:
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
        raise NotImplementedError

    def dead_letter(self, record: dict[str, Any], rejection: Rejection) -> None:
        self.runtime.dead_letters.write(
            self.stream_name, record, rejection.reason, rejection.detail
        )

    def warn_invalid_phone(self, raw: str) -> None:
        self.runtime.stats.count_invalid_phone()
        self._phone_warnings += 1
        if self._phone_warnings <= MAX_PHONE_WARNINGS:
            self.logger.warning(
                "stream '%s': phone number %r is not valid (default region %s); sent without it%s",
                self.stream_name,
                raw,
                self.runtime.default_region,
                " (further ones are only counted)"
                if self._phone_warnings == MAX_PHONE_WARNINGS
                else "",
            )


def _date_time_fields(schema: dict[str, Any]) -> set[str]:
    fields = set()
    for name, prop in (schema.get("properties") or {}).items():
        options = [prop, *(prop.get("anyOf") or [])] if isinstance(prop, dict) else []
        if any(isinstance(o, dict) and o.get("format") == "date-time" for o in options):
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


class EventSink(KlaviyoSink):
    """Records of an event stream -> POST /api/event-bulk-create-jobs."""

    def __init__(
        self,
        target: TargetKlaviyo,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: list[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        runtime = self.runtime
        mapping = EventMapping.from_config(
            stream_name, runtime.event_streams[stream_name], key_properties or []
        )
        self.rules = EventRules(
            mapping=mapping,
            renames=runtime.renames,
            default_region=runtime.default_region,
            earliest_year=runtime.earliest_event_year,
            backfill_before=runtime.backfill_before,
            max_properties=runtime.max_event_properties,
            string_fields=_string_fields(schema),
        )
        # Date-time properties other than the event time are normalised to ISO-8601 UTC too.
        self._time_properties = _date_time_fields(schema) - mapping.used_fields()

    def deliver(self, records: list[dict[str, Any]]) -> None:
        items: list[EventItem] = []
        for record in records:
            if self._time_properties:
                self._normalise_times(record)
            result = translate_event(record, self.rules)
            if isinstance(result, Rejection):
                self.dead_letter(record, result)
                continue
            if result.identity.invalid_phone:
                self.warn_invalid_phone(result.identity.invalid_phone)
            items.append(result)
        self._flush_cuts(self.rules.cuts)
        chunking = chunk_events(
            items, self.runtime.events_per_request, self.runtime.max_request_bytes
        )
        self.runtime.stats.count_duplicates(chunking.duplicates)
        for big in chunking.oversized:
            self.dead_letter(
                big.item.record,
                Rejection(
                    INVALID_RECORD, f"event is {big.size:,} bytes, more than a request may be"
                ),
            )
        for chunk in chunking.chunks:
            self.runtime.delivery.submit(self.runtime.delivery.send_events, self.stream_name, chunk)

    def _normalise_times(self, record: dict[str, Any]) -> None:
        for name in self._time_properties:
            value = record.get(name)
            if value is not None:
                # Not a time after all: sent as it came.
                with contextlib.suppress(TranslationError):
                    record[name] = to_iso_utc(value)

    def _flush_cuts(self, cuts: LimitCounter) -> None:
        if cuts.cut:
            self.runtime.stats.count_cut(cuts.cut)
            cuts.cut = 0


class ProfileSink(KlaviyoSink):
    """Records of a profile stream -> bulk import jobs (or /api/profile-import when few)."""

    def __init__(
        self,
        target: TargetKlaviyo,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: list[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.mapping = ProfileMapping.from_config(
            stream_name, self.runtime.profile_streams[stream_name]
        )
        self.cuts = LimitCounter()

    def deliver(self, records: list[dict[str, Any]]) -> None:
        runtime = self.runtime
        items: list[ProfileItem] = []
        for record in records:
            result = translate_profile(
                record, self.mapping, runtime.renames, runtime.default_region, self.cuts
            )
            if isinstance(result, Rejection):
                self.dead_letter(record, result)
                continue
            if result.identity.invalid_phone:
                self.warn_invalid_phone(result.identity.invalid_phone)
            items.append(result)
        if self.cuts.cut:
            runtime.stats.count_cut(self.cuts.cut)
            self.cuts.cut = 0
        chunking = chunk_profiles(items, runtime.profiles_per_job, runtime.max_request_bytes)
        runtime.stats.count_duplicates(chunking.duplicates)
        for big in chunking.oversized:
            self.dead_letter(
                big.item.record,
                Rejection(
                    INVALID_RECORD, f"profile is {big.size:,} bytes, more than Klaviyo's 100 KB"
                ),
            )
        total = sum(len(c.profiles) for c in chunking.chunks)
        if total < runtime.profile_import_below:
            # Klaviyo advises against bulk jobs for a handful of profiles.
            for chunk in chunking.chunks:
                for item in chunk.profiles:
                    runtime.delivery.submit(runtime.delivery.send_profile, self.stream_name, item)
            return
        for chunk in chunking.chunks:
            runtime.delivery.submit(runtime.delivery.send_profile_job, self.stream_name, chunk)


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
