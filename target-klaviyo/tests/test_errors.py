"""Error paths over HTTP: bad keys and scopes, 429s, 5xx, dropped connections, permanent failures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from target_klaviyo_testing.cli import TARGET
from target_klaviyo_testing.harness import KEY, Klaviyo, run_target
from target_klaviyo_testing.singer import (
    contact,
    conversation_event,
    lines,
    record_message,
    schema_message,
    state_message,
)

from target_klaviyo.errors import KlaviyoConfigError, KlaviyoError


def events_input(n: int, state: dict[str, int] | None = None) -> str:
    messages = [schema_message("conversation_events")]
    messages += [
        record_message("conversation_events", conversation_event(i, i % 4, part=i))
        for i in range(n)
    ]
    if state is not None:
        messages.append(state_message(state))
    return lines(messages)


def test_wrong_key_stops_the_run_naming_the_setting(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "pk_wrong_0000111122223333"
    run = run_target(klaviyo.config(api_key=wrong), events_input(3, {"s": 1}), caplog)
    assert isinstance(run.error, KlaviyoConfigError)
    message = str(run.error)
    assert message.startswith("Klaviyo rejected the API key (401 authentication_failed")
    assert "'api_key' setting (TARGET_KLAVIYO_API_KEY)" in message
    assert wrong not in message
    assert wrong not in run.log
    assert run.state_lines == []


def test_missing_scope_names_the_scope(klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture) -> None:
    limited = "pk_profiles_only_4455"
    klaviyo.control("keys", {"key": limited, "scopes": ["profiles:write"]})
    run = run_target(klaviyo.config(api_key=limited), events_input(2, {"s": 1}), caplog)
    assert isinstance(run.error, KlaviyoConfigError)
    assert "may not call POST /api/event-bulk-create-jobs (403 permission_denied" in str(run.error)
    assert "give the key in 'api_key' the scope(s) events:write" in str(run.error)
    assert limited not in run.log
    assert run.state_lines == []


def test_cli_prints_one_line_and_exits_1(klaviyo: Klaviyo, tmp_path: Path) -> None:
    wrong = "pk_cli_wrong_9988"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(klaviyo.config(api_key=wrong)))
    result = subprocess.run(
        [str(TARGET), "--config", str(config)],
        input=events_input(2, {"s": 1}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""  # no state
    stopped = [line for line in result.stderr.splitlines() if "target-klaviyo stopped:" in line]
    assert len(stopped) == 1
    assert "Klaviyo rejected the API key (401" in stopped[0]
    assert "Traceback" not in result.stderr
    assert wrong not in result.stderr


def test_throttled_requests_wait_for_retry_after(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    # The stand-in allows 1 bulk request a second (scale 0.1); the target does not limit itself.
    klaviyo.control("rate-limits", {"scale": 0.1})
    config = klaviyo.config(events_per_request=2, max_concurrency=3)
    run = run_target(config, events_input(6, {"s": 1}), caplog)
    assert run.error is None
    assert run.state_lines == [{"s": 1}]
    assert len(klaviyo.events()) == 6
    assert klaviyo.report()["throttled"] >= 1
    assert "throttled (429): 0" not in run.log


def test_client_side_limit_avoids_429s(klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture) -> None:
    klaviyo.control("rate-limits", {"scale": 0.2})  # 2 bulk requests a second
    config = klaviyo.config(events_per_request=2, max_concurrency=4, rate_limit_scale=0.2)
    run = run_target(config, events_input(8), caplog)
    assert run.error is None
    assert len(klaviyo.events()) == 8
    assert klaviyo.report()["throttled"] == 0


def test_server_errors_and_dropped_connections_are_retried(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    klaviyo.control("faults", {"error_rate": 0.3, "drop_rate": 0.3, "seed": 4})
    config = klaviyo.config(events_per_request=5, max_retries=10, backoff_base_seconds=0.01)
    run = run_target(config, events_input(40, {"s": 1}), caplog)
    assert run.error is None
    assert run.state_lines == [{"s": 1}]
    events = klaviyo.events()
    assert sorted(e["unique_id"] for e in events) == sorted(
        f"conversation:{i}:part:{i}:replied" for i in range(40)
    )
    injected = klaviyo.control("faults")["injected"]
    assert injected.get("error", 0) + injected.get("drop", 0) >= 2
    assert "retries: 0," not in run.log


def test_empty_job_status_body_is_polled_again(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    klaviyo.control("faults", {"empty_body_rate": 0.7, "seed": 3})
    config = klaviyo.config(profile_import_below=1, backoff_base_seconds=0.01, max_retries=10)
    contacts = [record_message("contacts", contact(i)) for i in range(10)]
    run = run_target(config, lines([schema_message("contacts"), *contacts]), caplog)
    assert run.error is None
    assert len(klaviyo.profiles()) == 10
    assert klaviyo.control("faults")["injected"].get("empty_body", 0) >= 1


def test_a_permanent_failure_emits_no_state(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    klaviyo.control("faults", {"error_rate": 1.0})
    config = klaviyo.config(max_retries=2, backoff_base_seconds=0.01)
    run = run_target(config, events_input(3, {"s": 1}), caplog)
    assert isinstance(run.error, KlaviyoError)
    # The first request is the lookup of who holds the events' phone numbers (holders.py).
    assert str(run.error) == "GET /api/profiles kept failing after retries: HTTP 500"
    assert run.state_lines == []
    assert KEY not in run.log


def test_no_secret_in_logs_errors_or_dead_letters(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    bad = conversation_event(1, 1, part=1, contact_email="broken-email")
    nobody = conversation_event(2, 2, part=2, contact_email=None, contact_external_id=None)
    text = lines(
        [
            schema_message("conversation_events"),
            record_message("conversation_events", bad),
            record_message("conversation_events", nobody),
            record_message("conversation_events", conversation_event(3, 3)),
        ]
    )
    run = run_target(klaviyo.config(), text, caplog)
    assert run.error is None
    # The broken email is left out (the event goes by its external_id); nobody is dead-lettered.
    assert len(run.dead_letters) == 1
    letters = (klaviyo.workdir / "dead-letters.jsonl").read_text()
    assert KEY not in letters
    assert KEY not in run.log


def test_timeouts_are_retried_then_fail_without_state(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture
) -> None:
    klaviyo.control("faults", {"latency_ms": 400})
    config = klaviyo.config(request_timeout=0.1, max_retries=1, backoff_base_seconds=0.01)
    run = run_target(config, events_input(2, {"s": 1}), caplog)
    assert isinstance(run.error, KlaviyoError)
    # The first request is the lookup of who holds the events' phone numbers (holders.py).
    assert str(run.error) == "GET /api/profiles kept failing after retries: ReadTimeout"
    assert "retries: 1," in run.log
    assert run.state_lines == []


@pytest.mark.parametrize(
    ("revision", "message"),
    [
        ("2024-10-15", "Klaviyo has retired API revision 2024-10-15 (410 gone: "),
        ("2026-02-30", "Klaviyo does not accept revision '2026-02-30' (invalid: "),
    ],
)
def test_a_bad_revision_names_the_setting(
    klaviyo: Klaviyo, caplog: pytest.LogCaptureFixture, revision: str, message: str
) -> None:
    run = run_target(klaviyo.config(revision=revision), events_input(1, {"s": 1}), caplog)
    assert isinstance(run.error, KlaviyoConfigError)
    assert str(run.error).startswith(message)
    assert "'revision'" in str(run.error)
    assert run.state_lines == []
