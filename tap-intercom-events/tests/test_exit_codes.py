"""The tap's CLI tells the truth: a stopped or impossible run exits non-zero with one line naming what to fix."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tap_intercom_events_testing import (
    HISTORY_END,
    TOKEN,
    ledger_keys,
    make_config,
    selected_catalog,
)

from api_sandbox.settings import FaultSettings

SELECTION = ("contacts", "conversation_events", "ticket_events")


def run_cli(
    tmp_path: Path, config: dict[str, Any], state: dict[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(selected_catalog(SELECTION)))
    args = ["--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp_path / "state.json")]
    return subprocess.run(
        [sys.executable, "-m", "tap_intercom_events", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line or "rror:" in line]


def test_sigterm_mid_run_exits_143_after_writing_the_state(
    start_intercom: Any, tmp_path: Path
) -> None:
    url = start_intercom(seed=61, conversations=40, faults=FaultSettings(latency_ms=20))
    (tmp_path / "config.json").write_text(
        json.dumps(
            make_config(
                url, page_size=4, max_concurrency=2, report_path=str(tmp_path / "report.json")
            )
        )
    )
    (tmp_path / "catalog.json").write_text(json.dumps(selected_catalog(SELECTION)))
    tap = subprocess.Popen(
        [sys.executable, "-m", "tap_intercom_events", "--config", str(tmp_path / "config.json"),
         "--catalog", str(tmp_path / "catalog.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert tap.stdout is not None
    states = []
    for line in tap.stdout:
        message = json.loads(line)
        if message["type"] == "STATE":
            states.append(message["value"])
            if message["value"]["bookmarks"].get("conversations", {}).get("replication_key_value"):
                tap.send_signal(signal.SIGTERM)
                break
    rest = tap.stdout.read()
    stderr = tap.stderr.read() if tap.stderr else ""
    tap.wait(timeout=30)
    assert tap.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    assert "stopped by SIGTERM before the sync finished" in stderr
    # What came after the signal is at most the SDK's final state line: no record is cut in half.
    for line in rest.splitlines():
        assert json.loads(line)["type"] in ("STATE", "RECORD")
    conversations_state = states[-1]["bookmarks"]["conversations"]
    assert conversations_state["replication_key_value"] < HISTORY_END
    # The run report is written all the same, with what was done by then.
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["outcome"], report["exit_code"]) == ("stopped", 143)
    assert 0 < report["objects_read"]["conversation"] < 40
    assert report["requests"] > 0


@pytest.mark.parametrize(
    ("start_date", "message"),
    [
        ("2100-01-01", "start_date '2100-01-01' is in the future"),
        ("yesterday", "start_date 'yesterday' is not an ISO-8601 date/date-time or epoch seconds"),
    ],
)
def test_a_future_or_unreadable_start_date_stops_with_one_line(
    tmp_path: Path, start_date: str, message: str
) -> None:
    result = run_cli(tmp_path, make_config("http://127.0.0.1:9", start_date=start_date))
    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if message in line], result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_epoch_seconds_and_milliseconds_give_the_same_window(
    start_intercom: Any, tmp_path: Path
) -> None:
    url = start_intercom(seed=62, conversations=8, tickets=2)
    after = HISTORY_END - 3 * 86_400
    outputs = []
    # Settings arrive as strings from Meltano and environment variables.
    for value in (str(after), str(after * 1000), "2026-09-18T10:00:00Z"):
        result = run_cli(tmp_path, make_config(url, start_date=value))
        assert result.returncode == 0, result.stderr[-3000:]
        outputs.append(
            sorted(
                json.loads(line)["record"].get("event_id", "")
                for line in result.stdout.splitlines()
                if json.loads(line)["type"] == "RECORD"
            )
        )
    assert outputs[0] == outputs[1] == outputs[2]
    expected = {k for k, e in ledger_keys(url).items() if e["time"] > after}
    assert expected and expected <= set(outputs[0])


@pytest.mark.parametrize(
    ("bookmark", "message"),
    [
        ("soon", "state bookmark conversations.replication_key_value is 'soon', not epoch seconds"),
        (4_102_444_800, "state bookmark conversations is 2100-01-01T00:00:00+00:00, in the future"),
    ],
)
def test_a_garbage_or_future_bookmark_stops_with_one_line(
    start_intercom: Any, tmp_path: Path, bookmark: Any, message: str
) -> None:
    url = start_intercom(seed=63, conversations=4, tickets=1)
    state = {
        "bookmarks": {
            "conversations": {"replication_key": "updated_at", "replication_key_value": bookmark}
        }
    }
    result = run_cli(tmp_path, make_config(url), state=state)
    assert result.returncode == 1
    assert len([line for line in result.stderr.splitlines() if message in line]) == 1, (
        result.stderr[-3000:]
    )
    assert "Traceback" not in result.stderr


def test_a_closed_port_names_the_host_and_the_settings(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends
    started = time.monotonic()
    report_path = tmp_path / "report.json"
    result = run_cli(
        tmp_path,
        {
            **make_config(f"http://127.0.0.1:{port}"),
            "max_retries": 1,
            "backoff_max_seconds": 1,
            "report_path": str(report_path),
        },
    )
    assert time.monotonic() - started < 60  # the retry settings bound the wait
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if "still failing after 2 tries" in line]
    assert f"http://127.0.0.1:{port}" in line
    assert "api_url" in line and "max_retries" in line
    assert TOKEN not in result.stderr
    assert "Traceback" not in result.stderr
    # The run report says so too, with the same line and no token.
    report = json.loads(report_path.read_text())
    assert (report["outcome"], report["exit_code"]) == ("failed", 1)
    assert line.endswith(report["error"])
    assert TOKEN not in report_path.read_text()
