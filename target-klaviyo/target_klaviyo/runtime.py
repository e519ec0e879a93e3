"""What every sink of one run shares: the settings (read once), the transport, the pool, the
senders, the counters and the dead letters. `Runtime.from_config` makes it from the config.

Imports run one way: target -> sinks -> runtime -> senders, pool, client -> pure modules.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from target_klaviyo.client import KlaviyoClient, Transport
from target_klaviyo.deadletters import DeadLetters, check_writable
from target_klaviyo.dry_run import DryRunTransport
from target_klaviyo.identities import IdentityBook
from target_klaviyo.pool import Pool
from target_klaviyo.reconcile import Reconciler
from target_klaviyo.senders import EventSender, ProfileJobSender, ProfileSender
from target_klaviyo.settings import Settings
from target_klaviyo.stats import ProgressReporter, RunStats


@dataclass
class Runtime:
    settings: Settings
    stats: RunStats
    dead_letters: DeadLetters
    transport: Transport
    pool: Pool
    events: EventSender
    profiles: ProfileSender
    profile_jobs: ProfileJobSender
    progress: ProgressReporter
    reconcile: Reconciler | None = None  # reconcile mode only

    @classmethod
    def from_config(cls, config: Mapping[str, Any], logger: logging.Logger) -> Runtime:
        """The run's runtime; raises KlaviyoError naming the setting when the config is wrong."""
        settings = Settings.from_config(config)
        compact_malloc()  # before the pool starts its threads
        stats = RunStats()
        dead_letters = DeadLetters(settings.dead_letter_path, stats, settings.api_key)
        if settings.report_path is not None:
            check_writable(Path(settings.report_path), "report_path")
        transport: Transport
        if settings.dry_run:
            transport = DryRunTransport(settings.dry_run_path)
        else:
            transport = KlaviyoClient(
                api_url=settings.api_url,
                api_key=str(settings.api_key),
                revision=settings.revision,
                stats=stats,
                rate_limit_scale=settings.rate_limit_scale,
                max_retries=settings.max_retries,
                timeout=settings.request_timeout,
                backoff_base_seconds=settings.backoff_base_seconds,
            )
        pool = Pool(
            max_concurrency=settings.max_concurrency,
            max_pending=settings.max_pending_requests,
            # Requests still retrying elsewhere give up at once after a permanent failure.
            on_failure=transport.cancel,
            # Items Klaviyo refused alone without naming them are judged once nothing is in
            # flight, before any state line (refusals.py).
            at_barrier=lambda: runtime.settle(),  # noqa: PLW0108 - runtime is built below
        )
        # Who holds which phone number and external_id: one book for the whole run.
        profiles = ProfileSender(transport, dead_letters, stats, IdentityBook())
        runtime = cls(
            settings=settings,
            stats=stats,
            dead_letters=dead_letters,
            transport=transport,
            pool=pool,
            events=EventSender(
                transport,
                dead_letters,
                stats,
                profiles.book,
                carried=[p for p in (settings.unique_id_property, settings.source_property) if p],
            ),
            profiles=profiles,
            profile_jobs=ProfileJobSender(
                transport, dead_letters, stats, profiles=profiles, pool=pool
            ),
            progress=ProgressReporter(stats, logger, settings.progress_interval),
        )
        if settings.reconcile:
            runtime.reconcile = Reconciler(
                transport=transport,
                pool=pool,
                sender=runtime.events,
                stats=stats,
                revision=settings.revision,
                id_property=settings.unique_id_property,
                source_property=settings.source_property,
                report_only=settings.reconcile_report_only,
                report_path=settings.reconcile_report_path,
                fail_on=settings.reconcile_fail_on,
                lookback_days=settings.reconcile_lookback_days,
                events_per_request=settings.events_per_request,
                max_request_bytes=settings.max_request_bytes,
            )
        runtime.progress.start()
        return runtime

    def settle(self) -> None:
        for sender in (self.events, self.profiles, self.profile_jobs):
            sender.settle()

    def close(self) -> None:
        """Stop the job watcher and the pool (finishing what runs), then close the transport
        and the files."""
        self.progress.stop()
        self.profile_jobs.close()
        self.pool.close()
        self.transport.close()
        self.dead_letters.close()
        if self.reconcile is not None:
            self.reconcile.close()


# glibc's mallopt parameters.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def compact_malloc() -> None:
    """Keep the C allocator from holding freed memory (Linux, glibc).

    Request bodies are 1 to 5 MB; glibc's mmap threshold grows to the largest block freed, after
    which such bodies come from the heap and leave it fragmented, and each sending thread gets an
    arena of its own. A fixed 128 KB threshold (bodies mmapped and unmapped when freed) and two
    arenas keep the peak RSS flat at no measurable cost in speed (benchmarks/README.md)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_ARENA_MAX, 2)
        libc.mallopt(_M_MMAP_THRESHOLD, 128 * 1024)
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return


def runtime_of(target: object) -> Runtime:
    """The runtime of the run `target` (the SDK hands sinks the target) is part of."""
    runtime = getattr(target, "runtime", None)
    if not isinstance(runtime, Runtime):
        msg = f"{type(target).__name__} has no target-klaviyo runtime"
        raise TypeError(msg)
    return runtime
