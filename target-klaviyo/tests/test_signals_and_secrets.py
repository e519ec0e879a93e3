"""Signals and secrets (issue #10): a signal exits non-zero with state only for delivered data, and
the key and personal data never reach what a run writes.

Expected values are written out by hand from the input, never computed with the target's code.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from target_klaviyo_testing.cli import TARGET, run_cli, stopped_lines
from target_klaviyo_testing.harness import KEY, Klaviyo
from target_klaviyo_testing.singer import (
    contact,
    conversation_event,
    lines,
    record_message,
    schema_message,
    state_message,
)

# ---- signals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_exits_non_zero_with_state_only_for_delivered_data(
    klaviyo: Klaviyo, tmp_path: Path, signum: int, code: int
) -> None:
    klaviyo.control("faults", {"latency_ms": 40})
    messages: list[dict[str, Any]] = [schema_message("conversation_events")]
    for i in range(1500):
        messages.append(record_message("conversation_events", conversation_event(i, i, part=i)))
        if (i + 1) % 100 == 0:
            messages.append(state_message({"offset": i + 1}))
    source = tmp_path / "input.singer"
    source.write_text(lines(messages))
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            klaviyo.config(
                events_per_request=20,
                batch_size_rows=100,
                max_concurrency=2,
                max_pending_requests=2,
                state_interval_seconds=0.2,
                report_path=str(tmp_path / "report.json"),
            )
        )
    )
    process = subprocess.Popen(
        [str(TARGET), "--config", str(config), "--input", str(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while klaviyo.control("stats")["requests"].get("POST /api/event-bulk-create-jobs", 0) < 30:
        assert time.monotonic() < deadline, "the target sent too few requests"
        time.sleep(0.02)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    [line] = stopped_lines(stderr)
    assert f"received signal {signum}" in line
    states = [json.loads(s) for s in stdout.splitlines() if s.strip()]
    assert states, "no state line before the signal"
    accepted = {e["unique_id"] for e in klaviyo.events()}
    covered = {f"conversation:{i}:part:{i}:replied" for i in range(states[-1]["offset"])}
    assert covered <= accepted
    assert len(accepted) < 1500
    # The run report is written all the same, with what was delivered by then: at least what
    # the state covers, at most what arrived (a request in flight at the signal may have been
    # taken without the target seeing the answer).
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["outcome"], report["exit_code"]) == ("stopped", code)
    assert report["state_lines"] == len(states)
    delivered = report["events_by_metric"]["Replied to Conversation"]
    assert len(covered) <= delivered <= len(accepted)


# ---- secrets and logs --------------------------------------------------------------------------------


@pytest.mark.parametrize("padding", ["\n", "\r\n", " \t", "\n\n"])
def test_the_key_is_in_nothing_a_run_writes(klaviyo: Klaviyo, tmp_path: Path, padding: str) -> None:
    """Stdout (state), stderr at DEBUG, dead letters and the dry-run file, with the key padded
    as when it is pasted from a file; in the config file and in the environment."""
    nobody = conversation_event(2, 2, part=2, contact_email=None, contact_external_id=None)
    text = lines(
        [
            schema_message("conversation_events"),
            schema_message("contacts"),
            record_message("conversation_events", conversation_event(1, 1, part=1)),
            record_message("conversation_events", nobody),
            record_message("contacts", contact(3)),
            state_message({"s": 1}),
        ]
    )
    debug = {"TARGET_KLAVIYO_LOGLEVEL": "DEBUG"}
    letters = tmp_path / "letters.jsonl"
    letters_env = tmp_path / "letters-env.jsonl"
    dry = tmp_path / "dry.jsonl"
    wrong = "pk_wrong_key_7531"
    from_env_config = klaviyo.config(dead_letter_path=str(letters_env))
    del from_env_config["api_key"]
    # Five independent runs, each a child process: started together.
    runs: dict[str, tuple[dict[str, Any], dict[str, str] | None, tuple[str, ...]]] = {
        "in_file": (
            klaviyo.config(api_key=padding + KEY + padding, dead_letter_path=str(letters)),
            debug,
            (),
        ),
        "from_env": (
            from_env_config,
            {**debug, "TARGET_KLAVIYO_API_KEY": KEY + padding},
            ("--config", "ENV"),
        ),
        "dry_run": (
            klaviyo.config(api_key=KEY + padding, dry_run=True, dry_run_path=str(dry)),
            debug,
            (),
        ),
        "refused": (klaviyo.config(api_key=wrong + padding), debug, ()),
        "inside": (klaviyo.config(api_key=KEY[:5] + padding + KEY[5:]), None, ()),
    }
    with ThreadPoolExecutor(len(runs)) as pool:
        futures = {
            name: pool.submit(run_cli, config, text, tmp_path, env=env, args=args)
            for name, (config, env, args) in runs.items()
        }
        done = {name: future.result() for name, future in futures.items()}
    in_file, from_env, dry_run = done["in_file"], done["from_env"], done["dry_run"]
    refused, inside = done["refused"], done["inside"]
    assert in_file.returncode == 0, in_file.stderr[-2000:]
    assert json.loads(in_file.stdout) == {"s": 1}
    assert from_env.returncode == 0, from_env.stderr[-2000:]
    assert dry_run.returncode == 0, dry_run.stderr[-2000:]
    assert refused.returncode == 1
    assert inside.returncode == 1
    [line] = stopped_lines(inside.stderr)
    assert "'api_key' setting (TARGET_KLAVIYO_API_KEY) has whitespace" in line
    assert len(klaviyo.events()) == 1
    assert "DEBUG" in in_file.stderr
    written = [in_file.stdout, in_file.stderr, from_env.stdout, from_env.stderr]
    written += [dry_run.stdout, dry_run.stderr, refused.stdout, refused.stderr]
    written += [inside.stdout, inside.stderr, dry.read_text()]
    written += [letters.read_text(), letters_env.read_text()]
    for secret in (KEY, wrong, KEY[:5], KEY[5:]):
        assert not [text for text in written if secret in text]


def test_debug_logs_hold_counts_and_ids_not_batches(klaviyo: Klaviyo, tmp_path: Path) -> None:
    n = 3000
    messages: list[dict[str, Any]] = [schema_message("conversation_events")]
    messages.append(schema_message("contacts"))
    for i in range(n):
        phone = f"+1415555{i % 10_000:04d}"
        event = conversation_event(i, i, part=i, contact_phone=phone)
        messages.append(record_message("conversation_events", event))
        if i % 10 == 0:
            messages.append(record_message("contacts", contact(i, phone=phone)))
    messages.append(state_message({"s": 1}))
    result = run_cli(
        klaviyo.config(batch_size_rows=500),
        lines(messages),
        tmp_path,
        env={"TARGET_KLAVIYO_LOGLEVEL": "DEBUG"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(klaviyo.events()) == n
    per_record = len(result.stderr.encode()) / (n * 1.1)
    assert per_record < 40, f"{per_record:.0f} bytes of log per record"
    assert "@example.com" not in result.stderr
    assert "+1415555" not in result.stderr
    assert "4155550" not in result.stderr
