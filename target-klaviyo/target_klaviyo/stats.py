"""Run counters (thread-safe), the end-of-run summary and the periodic progress line."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

# Distinct dropped fields the counters name (custom attribute names come from the data).
MAX_NAMED = 100


class RunStats:
    """What the run did; every counter is updated under one lock (several sender threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.events_by_metric: Counter[str] = Counter()
        # Events the tap re-emitted from its lookback (EventItem.resent), accepted by Klaviyo:
        # possibly held already (a repeat is accepted silently), so never counted as delivered.
        self.events_resent_by_metric: Counter[str] = Counter()
        self.profiles_upserted = 0
        self.dead_letters: Counter[str] = Counter()  # by reason
        self.duplicates_dropped = 0
        self.values_cut = 0
        self.invalid_phones = 0
        self.invalid_emails = 0
        self.skipped_records: Counter[str] = Counter()
        self.requests = 0
        self.retries = 0
        self.throttled = 0
        # Records sent without an identifier that belongs to another person, by identifier.
        self.identifiers_left_out: Counter[str] = Counter()
        # Resent events Klaviyo refused as repeats of events it stores: delivered before.
        self.already_in_klaviyo = 0
        # Properties dropped so that the rest of a record fits Klaviyo's size limits, by
        # "stream: property.path" (at most MAX_NAMED names; others under "(other)").
        self.fields_dropped: Counter[str] = Counter()
        # State lines written (each after Klaviyo accepted everything before it).
        self.state_lines = 0

    def count_events(self, metrics: Counter[str], resent: Counter[str] | None = None) -> None:
        with self._lock:
            self.events_by_metric.update(metrics)
            if resent:
                self.events_resent_by_metric.update(resent)

    def count_profiles(self, n: int) -> None:
        with self._lock:
            self.profiles_upserted += n

    def count_dead_letter(self, reason: str) -> None:
        with self._lock:
            self.dead_letters[reason] += 1

    def count_duplicates(self, n: int) -> None:
        with self._lock:
            self.duplicates_dropped += n

    def count_cut(self, n: int) -> None:
        with self._lock:
            self.values_cut += n

    def count_invalid_phone(self) -> None:
        with self._lock:
            self.invalid_phones += 1

    def count_invalid_email(self) -> None:
        with self._lock:
            self.invalid_emails += 1

    def count_skipped(self, stream: str, n: int) -> None:
        with self._lock:
            self.skipped_records[stream] += n

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def count_throttled(self) -> None:
        with self._lock:
            self.throttled += 1

    def count_left_out(self, kind: str, n: int) -> None:
        with self._lock:
            self.identifiers_left_out[kind] += n

    def count_fields_dropped(self, stream: str, names: list[str]) -> None:
        with self._lock:
            for name in names:
                key = f"{stream}: {name}"
                if key not in self.fields_dropped and len(self.fields_dropped) >= MAX_NAMED:
                    key = "(other)"
                self.fields_dropped[key] += 1

    def count_already_in_klaviyo(self, n: int) -> None:
        with self._lock:
            self.already_in_klaviyo += n

    def count_state_line(self) -> None:
        with self._lock:
            self.state_lines += 1

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def counts(self) -> dict[str, int | dict[str, int]]:
        """Every counter by its attribute name (a counter added to this class appears too)."""
        with self._lock:
            return {
                name: dict(sorted(value.items())) if isinstance(value, Counter) else value
                for name, value in vars(self).items()
                if not name.startswith("_")
                and name != "started"
                and isinstance(value, (int, Counter))
                and not isinstance(value, bool)
            }

    @property
    def events_sent(self) -> int:
        return sum(self.events_by_metric.values())

    @property
    def events_resent(self) -> int:
        return sum(self.events_resent_by_metric.values())

    def progress_line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        events = self.events_sent
        return (
            f"progress: {events:,} events ({events / elapsed:,.0f}/s), "
            f"{self.profiles_upserted:,} profiles, {sum(self.dead_letters.values()):,} dead letters, "
            f"{self.requests:,} requests, {self.retries:,} retries, {self.throttled:,} throttled (429) "
            f"in {elapsed:,.0f}s"
        )

    def summary_lines(self, *, dry_run: bool = False, elapsed: float | None = None) -> list[str]:
        """The end-of-run summary; `elapsed` is the duration the run report states too."""
        elapsed = self.elapsed if elapsed is None else elapsed
        verb = "written to the dry-run file (nothing sent)" if dry_run else "sent"
        lines = [f"summary: {self.events_sent:,} events {verb} in {elapsed:,.1f}s"]
        lines += [f"  events '{m}': {n:,}" for m, n in sorted(self.events_by_metric.items())]
        resent = self.events_resent_by_metric
        if resent:
            lines.append(
                "  events resent from the tap's lookback (possibly already in Klaviyo; not in "
                f"the count above): {self.events_resent:,}"
            )
            lines += [f"    resent '{m}': {n:,}" for m, n in sorted(resent.items())]
        if (self.events_sent or resent) and not dry_run:
            # Klaviyo accepts a unique_id it already holds without saying so (docs/api-assumptions.md
            # K2): the lookback's resends are counted apart; a rerun's are not known as such.
            lines.append(
                "  events sent exclude the tap's lookback resends; other resends (a rerun after "
                "a crash) Klaviyo accepts without saying it already held them (same unique_id: "
                "it keeps one); a resend it refuses is 'already in Klaviyo'"
            )
        # Records, not profiles: Klaviyo makes one profile of records sharing an email.
        lines.append(
            f"  profiles upserted: {self.profiles_upserted:,} (profile records Klaviyo accepted)"
        )
        total_dead = sum(self.dead_letters.values())
        lines.append(f"  dead-lettered records: {total_dead:,}")
        lines += [f"    {reason}: {n:,}" for reason, n in sorted(self.dead_letters.items())]
        lines.append(
            f"  requests: {self.requests:,}, retries: {self.retries:,}, throttled (429): {self.throttled:,}"
        )
        lines.append(
            f"  duplicates dropped within requests: {self.duplicates_dropped:,}, "
            f"invalid phones dropped: {self.invalid_phones:,}, values cut to Klaviyo's limits: {self.values_cut:,}"
        )
        if self.invalid_emails:
            lines.append(
                f"  invalid emails dropped (sent with another identifier): {self.invalid_emails:,}"
            )
        if self.identifiers_left_out:
            left_out = self.identifiers_left_out
            lines.append(
                "  identifiers left out (they belong to another profile): "
                f"phone {left_out['phone_number']:,}, external_id {left_out['external_id']:,}"
            )
        if self.fields_dropped:
            named = ", ".join(f"{k} ({n:,})" for k, n in self.fields_dropped.most_common(10))
            more = ", ..." if len(self.fields_dropped) > 10 else ""
            lines.append(
                f"  fields dropped to fit Klaviyo's size limits (the rest of each record sent): "
                f"{self.fields_dropped.total():,}: {named}{more}"
            )
        if self.already_in_klaviyo:
            lines.append(
                f"  already in Klaviyo (resent events refused as repeats): {self.already_in_klaviyo:,}"
            )
        if self.skipped_records:
            skipped = ", ".join(f"{s}: {n:,}" for s, n in sorted(self.skipped_records.items()))
            lines.append(f"  skipped streams (records): {skipped}")
        lines.append(f"  state lines written: {self.state_lines:,}")
        return lines


class ProgressReporter:
    """Logs the progress line every `interval` seconds on a daemon thread until stopped."""

    def __init__(self, stats: RunStats, logger: logging.Logger, interval: float) -> None:
        self._stats = stats
        self._logger = logger
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="klaviyo-progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._logger.info(self._stats.progress_line())

    def stop(self) -> None:
        self._stop.set()
