"""State only after acceptance: kill the target mid-run, rerun from its last state, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from target_klaviyo_testing.cli import TARGET
from target_klaviyo_testing.harness import Klaviyo, run_target
from target_klaviyo_testing.singer import (
    conversation_event,
    lines,
    record_message,
    schema_message,
    state_message,
)

from target_klaviyo.sinks import ReentrantDrainError
from target_klaviyo.target import TargetKlaviyo

EVENTS = 1200
PER_STATE = 100


def tap_output(start_offset: int) -> str:
    """What a tap resuming at `start_offset` emits: records, each hundred followed by its state."""
    messages: list[dict[str, Any]] = [schema_message("conversation_events")]
    for i in range(start_offset, EVENTS):
        messages.append(
            record_message("conversation_events", conversation_event(i, i % 50, part=i))
        )
        if (i + 1) % PER_STATE == 0:
            messages.append(state_message({"offset": i + 1}))
    return lines(messages)


def start_target(config_path: Path, text: str) -> subprocess.Popen[str]:
    singer_file = config_path.with_name(f"input-{time.monotonic_ns()}.singer")
    singer_file.write_text(text)
    return subprocess.Popen(
        [str(TARGET), "--config", str(config_path), "--input", str(singer_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_killed_run_then_rerun_delivers_each_event_once(klaviyo: Klaviyo, tmp_path: Path) -> None:
    # Slow responses so that the kill lands mid-run; a state line every 0.2 s of reading.
    klaviyo.control("faults", {"latency_ms": 120})
    config = klaviyo.config(
        events_per_request=20,
        batch_size_rows=100,
        max_concurrency=2,
        max_pending_requests=2,
        state_interval_seconds=0.2,
    )
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))

    first = start_target(config_path, tap_output(0))
    deadline = time.monotonic() + 60
    while klaviyo.control("stats")["requests"].get("POST /api/event-bulk-create-jobs", 0) < 20:
        assert time.monotonic() < deadline, "the target sent too few requests"
        assert first.poll() is None, "the target finished before it could be killed"
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    stdout, _ = first.communicate(timeout=30)
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    accepted_before_kill = {e["unique_id"] for e in klaviyo.events()}
    assert len(accepted_before_kill) < EVENTS
    assert states, "no state line before the kill: nothing to resume from"
    resume_at = states[-1]["offset"]
    # Every event the emitted state covers was accepted before the kill.
    assert {f"conversation:{i}:part:{i}:replied" for i in range(resume_at)} <= accepted_before_kill

    klaviyo.control("faults", {"latency_ms": 0})
    second = start_target(config_path, tap_output(resume_at))
    stdout, _ = second.communicate(timeout=120)
    assert second.returncode == 0
    assert json.loads(stdout.splitlines()[-1]) == {"offset": EVENTS}

    stored = [e["unique_id"] for e in klaviyo.events()]
    assert len(stored) == EVENTS
    assert set(stored) == {f"conversation:{i}:part:{i}:replied" for i in range(EVENTS)}


def test_state_waits_for_requests_still_in_flight(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    # Requests take 0.3 s; process_batch returns before they finish, the state line must not.
    klaviyo.control("faults", {"latency_ms": 300})
    text = lines(
        [
            schema_message("conversation_events"),
            *[
                record_message("conversation_events", conversation_event(i, i, part=i))
                for i in range(30)
            ],
            state_message({"offset": 30}),
        ]
    )
    run = run_target(klaviyo.config(events_per_request=10), text, caplog)
    assert run.error is None
    assert run.state_lines == [{"offset": 30}]
    assert len(klaviyo.events()) == 30


def test_reentered_drain_is_refused(klaviyo: Klaviyo) -> None:
    """A SIGTERM mid-drain makes the SDK call process_batch again with an empty batch
    (meltano/sdk#3775); acknowledging it would cover records never sent."""
    target = TargetKlaviyo(config=klaviyo.config(), validate_config=True)
    schema = schema_message("conversation_events")
    sink = target.get_sink(
        "conversation_events", schema=schema["schema"], key_properties=["event_id"]
    )
    record = conversation_event(1, 1)
    context = sink._get_context(record)
    sink.process_record(record, context)
    sink.tally_record_read()
    draining = sink.start_drain()
    sink._draining = True  # the interrupted drain is still inside process_batch
    with pytest.raises(ReentrantDrainError, match="a drain was interrupted"):
        sink.process_batch(sink.start_drain())
    sink._draining = False
    # The drain the SDK starts from the signal handler has an empty context: refused too.
    with pytest.raises(ReentrantDrainError, match="holds no records"):
        sink.process_batch({})
    sink.process_batch(draining)
    target.runtime.pool.wait_all()
    target.finish()
    assert [e["unique_id"] for e in klaviyo.events()] == ["conversation:1:created"]


def test_sigterm_mid_run_never_acknowledges_unsent_records(
    klaviyo: Klaviyo, tmp_path: Path
) -> None:
    """On SIGTERM the SDK drains every sink and writes state; whatever state comes out must be
    covered by events Klaviyo accepted, and a rerun from it completes the set exactly."""
    klaviyo.control("faults", {"latency_ms": 120})
    config = klaviyo.config(
        events_per_request=20,
        batch_size_rows=100,
        max_concurrency=2,
        max_pending_requests=2,
        state_interval_seconds=0.2,
    )
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    first = start_target(config_path, tap_output(0))
    deadline = time.monotonic() + 60
    while klaviyo.control("stats")["requests"].get("POST /api/event-bulk-create-jobs", 0) < 15:
        assert time.monotonic() < deadline, "the target sent too few requests"
        time.sleep(0.02)
    first.send_signal(signal.SIGTERM)
    stdout, _ = first.communicate(timeout=60)
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    accepted = {e["unique_id"] for e in klaviyo.events()}
    resume_at = states[-1]["offset"] if states else 0
    assert {f"conversation:{i}:part:{i}:replied" for i in range(resume_at)} <= accepted

    klaviyo.control("faults", {"latency_ms": 0})
    second = start_target(config_path, tap_output(resume_at))
    second.communicate(timeout=120)
    assert second.returncode == 0
    stored = [e["unique_id"] for e in klaviyo.events()]
    assert len(stored) == EVENTS
    assert set(stored) == {f"conversation:{i}:part:{i}:replied" for i in range(EVENTS)}
