"""Bulk profile import jobs are waited for outside the sending threads: slow jobs never stall
events, and state still waits for every job (over HTTP, import jobs taking 2 s)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from target_klaviyo_testing.harness import KEY, Klaviyo, run_target
from target_klaviyo_testing.singer import (
    contact,
    conversation_event,
    lines,
    record_message,
    schema_message,
    state_message,
)

from api_sandbox.server import BackgroundSandbox
from api_sandbox.settings import KlaviyoSettings

JOB_SECONDS = 2.0


@pytest.fixture
def slow_jobs(tmp_path: Path) -> Iterator[Klaviyo]:
    settings = KlaviyoSettings(api_key=KEY, job_seconds=JOB_SECONDS, rate_limit_scale=0)
    with BackgroundSandbox(None, settings) as sandbox:
        yield Klaviyo(sandbox.urls["klaviyo"], tmp_path)


def test_slow_jobs_hold_no_sending_thread(
    slow_jobs: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    # Three jobs of 60 profiles (one a batch), then events, on one sending thread: with the
    # thread waiting for each job in turn the run would take three jobs' time.
    contacts = [contact(i) for i in range(180)]
    events = [conversation_event(i, i % 180, part=i) for i in range(300)]
    messages = [schema_message("contacts"), schema_message("conversation_events")]
    messages += [record_message("contacts", c) for c in contacts]
    messages += [record_message("conversation_events", e) for e in events]
    messages.append(state_message({"done": True}))
    config = slow_jobs.config(
        max_concurrency=1, batch_size_rows=60, profile_import_below=1, events_per_request=50
    )
    started = time.monotonic()
    run = run_target(config, lines(messages), caplog)
    elapsed = time.monotonic() - started
    assert run.error is None
    # State only once every job completed; all profiles and events there.
    assert run.state_lines == [{"done": True}]
    assert len(slow_jobs.profiles()) == 180
    assert len(slow_jobs.events()) == 300
    assert "profiles upserted: 180" in run.log
    assert elapsed < 3 * JOB_SECONDS, elapsed
    report = slow_jobs.report()
    assert report["requests"]["POST /api/profile-bulk-import-jobs"] == 3
